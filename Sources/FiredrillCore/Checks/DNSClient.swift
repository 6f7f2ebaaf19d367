import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Name resolution for `dns` checks. Both ways block in C, so they run on NIO's thread pool,
/// never on Swift's cooperative threads.
enum DNSClient {
    /// Asks `server` directly (one UDP query, answer within `timeout`).
    static func query(name: String, type: String, server: String, port: Int, timeout: Duration) async throws -> [String] {
        guard let code = DNSMessage.types[type.uppercased()] else { throw CheckFailure("record type \(type) is not supported (A, AAAA, CNAME)") }
        guard DNSMessage.ipv4(server) != nil else { throw CheckFailure("DNS server '\(server)' must be an IPv4 address") }
        return try await NIOThreadPool.singleton.runIfActive {
            let id = UInt16.random(in: 1...UInt16.max)
            let query = DNSMessage.Query(id: id, name: name, type: code).bytes
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw CheckFailure("cannot open a UDP socket") }
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr(server)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            let sent = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, query, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard sent == query.count else { throw CheckFailure("cannot send to DNS server \(server):\(port)") }
            let deadline = ContinuousClock.now + timeout
            var buffer = [UInt8](repeating: 0, count: 1500)
            while true {
                let left = Int32(clamping: max(0, SSHConnection.milliseconds(until: deadline)))
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard left > 0, poll(&pfd, 1, left) > 0 else { throw CheckFailure("no answer from DNS server \(server):\(port) within \(DurationText.format(timeout))", status: .failed) }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n < 0 { throw CheckFailure("DNS server \(server):\(port): \(String(cString: strerror(errno)))", status: errno == ECONNREFUSED ? .failed : .error) }
                guard let answer = DNSMessage.parseResponse(Array(buffer[..<n]), id: id) else { continue }
                guard answer.rcode == 0 else {
                    throw CheckFailure("\(name): \(DNSMessage.rcodeNames[answer.rcode] ?? "error \(answer.rcode)") from \(server):\(port)", status: .failed)
                }
                return answer.values
            }
        }
    }

    /// The system resolver (`getaddrinfo`, as every client on the host would resolve).
    static func resolve(name: String, type: String) async throws -> [String] {
        let family: Int32
        switch type.uppercased() {
        case "A": family = AF_INET
        case "AAAA": family = AF_INET6
        default: throw CheckFailure("the system resolver answers A and AAAA only: add server: to ask for \(type)")
        }
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_family = family
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(name, nil, &hints, &list)
            // For a DNS check the resolver's "no such name" or "try again" is the answer being probed.
            guard rc == 0 else { throw CheckFailure("\(name): \(String(cString: gai_strerror(rc)))", status: rc == EAI_NONAME || rc == EAI_AGAIN ? .failed : .error) }
            defer { freeaddrinfo(list) }
            var out: [String] = []
            var p = list
            while let ai = p {
                var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(ai.pointee.ai_addr, ai.pointee.ai_addrlen, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 {
                    let s = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if !out.contains(s) { out.append(s) }
                }
                p = ai.pointee.ai_next
            }
            return out
        }
    }
}
