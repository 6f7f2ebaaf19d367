import Foundation

/// The few DNS messages Firedrill needs (RFC 1035): a one-question query, and the A/AAAA/CNAME
/// answers of a response. Used by the `dns` check when it asks a named server, and by the lab.
enum DNSMessage {
    static let types: [String: UInt16] = ["A": 1, "CNAME": 5, "AAAA": 28]

    struct Query: Equatable {
        var id: UInt16
        var name: String
        var type: UInt16
        /// The question section as received, echoed in the response.
        var question: [UInt8]

        init(id: UInt16, name: String, type: UInt16) {
            self.id = id; self.name = name; self.type = type
            var q: [UInt8] = []
            for label in name.split(separator: ".") {
                let bytes = Array(label.utf8.prefix(63))
                q.append(UInt8(bytes.count)); q += bytes
            }
            q += [0, UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
            question = q
        }

        init?(parsing p: [UInt8]) {
            guard p.count >= 12, DNSMessage.u16(p, 4) == 1 else { return nil }
            var i = 12
            guard let (name, end) = DNSMessage.name(p, at: i), end + 4 <= p.count else { return nil }
            i = end
            self.id = DNSMessage.u16(p, 0)
            self.name = name
            self.type = DNSMessage.u16(p, i)
            self.question = Array(p[12..<(i + 4)])
        }

        /// The query packet: recursion desired.
        var bytes: [UInt8] { [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + question }
    }

    static func response(to q: Query, rcode: UInt8, addresses: [String]) -> [UInt8] {
        var records: [[UInt8]] = []
        for a in addresses {
            guard let raw = q.type == 28 ? ipv6(a) : ipv4(a) else { continue }
            // Pointer to the question name at offset 12, type, class IN, TTL 60, data.
            records.append([0xc0, 12, UInt8(q.type >> 8), UInt8(q.type & 0xff), 0, 1, 0, 0, 0, 60, 0, UInt8(raw.count)] + raw)
        }
        let flags: [UInt8] = [0x85, 0x80 | rcode]   // response, authoritative, RD, RA
        let counts: [UInt8] = [0, 1, 0, UInt8(records.count), 0, 0, 0, 0]
        return [UInt8(q.id >> 8), UInt8(q.id & 0xff)] + flags + counts + q.question + records.flatMap { $0 }
    }

    struct Answer: Equatable {
        var rcode: Int
        /// Addresses (A/AAAA) and names (CNAME) in the answer section.
        var values: [String]
    }

    /// Parses a response to the query with `id`; nil when it is not one.
    static func parseResponse(_ p: [UInt8], id: UInt16) -> Answer? {
        guard p.count >= 12, u16(p, 0) == id, p[2] & 0x80 != 0 else { return nil }
        let rcode = Int(p[3] & 0x0f)
        var i = 12
        for _ in 0..<u16(p, 4) {
            guard let (_, end) = name(p, at: i) else { return nil }
            i = end + 4
        }
        var values: [String] = []
        for _ in 0..<u16(p, 6) {
            guard let (_, end) = name(p, at: i), end + 10 <= p.count else { return nil }
            let type = u16(p, end), length = Int(u16(p, end + 8))
            let data = end + 10
            guard data + length <= p.count else { return nil }
            switch type {
            case 1 where length == 4: values.append(p[data..<data + 4].map(String.init).joined(separator: "."))
            case 28 where length == 16:
                values.append(stride(from: data, to: data + 16, by: 2).map { String(u16(p, $0), radix: 16) }.joined(separator: ":"))
            case 5: if let (n, _) = name(p, at: data) { values.append(n) }
            default: break
            }
            i = data + length
        }
        return Answer(rcode: rcode, values: values)
    }

    static let rcodeNames = [0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"]

    // MARK: helpers

    static func u16(_ p: [UInt8], _ i: Int) -> UInt16 { i + 1 < p.count ? UInt16(p[i]) << 8 | UInt16(p[i + 1]) : 0 }

    /// Reads a (possibly compressed) name; returns it and the offset after it in the original position.
    static func name(_ p: [UInt8], at start: Int) -> (String, Int)? {
        var labels: [String] = []
        var i = start, end: Int?, jumps = 0
        while i < p.count {
            let len = Int(p[i])
            if len == 0 { return (labels.joined(separator: "."), end ?? i + 1) }
            if len & 0xc0 == 0xc0 {
                guard i + 1 < p.count, jumps < 16 else { return nil }
                if end == nil { end = i + 2 }
                i = (len & 0x3f) << 8 | Int(p[i + 1])
                jumps += 1
                continue
            }
            guard i + 1 + len <= p.count else { return nil }
            labels.append(String(decoding: p[(i + 1)..<(i + 1 + len)], as: UTF8.self))
            i += 1 + len
        }
        return nil
    }

    static func ipv4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".").compactMap { UInt8($0) }
        return parts.count == 4 ? parts : nil
    }

    static func ipv6(_ s: String) -> [UInt8]? {
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        let head = halves[0].split(separator: ":").compactMap { UInt16($0, radix: 16) }
        let tail = halves.count == 2 ? halves[1].split(separator: ":").compactMap { UInt16($0, radix: 16) } : []
        let fill = 8 - head.count - tail.count
        guard fill >= 0, halves.count == 2 || fill == 0 else { return nil }
        return (head + Array(repeating: 0, count: fill) + tail).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}
