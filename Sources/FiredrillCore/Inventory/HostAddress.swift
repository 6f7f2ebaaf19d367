import Foundation

/// Host names, ports and `[x:y]` ranges as Ansible parses them
/// (ansible/parsing/utils/addresses.py and plugins/inventory/__init__.py).
public enum HostAddress {
    private static let numericRange = #"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]"#
    private static let hexRange = #"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]"#
    private static let alnumRange = #"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"#
    private static let label = #"(?:[\w]|\#(alnumRange))(?:[\w_-]|\#(alnumRange))*(?<![_-])"#
    private static let ipv4Part = #"(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|\#(numericRange))"#
    private static let ipv6Part = #"(?:[0-9a-f]{1,4}|\#(hexRange))"#

    private static func regex(_ p: String) -> NSRegularExpression {
        // The patterns are constants; failing to compile one is a programmer error.
        guard let r = try? NSRegularExpression(pattern: p, options: [.caseInsensitive]) else {
            preconditionFailure("invalid built-in host address pattern: \(p)")
        }
        return r
    }

    private static let bracketedHostPort = regex(#"^\[(.+)\]:([0-9]+)$"#)
    private static let hostPort = regex(#"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$"#)
    private static let ipv4 = regex("^(?:\(ipv4Part)\\.){3}\(ipv4Part)$")
    private static let ipv6 = regex({
        let c = ipv6Part
        return "^((?:\(c):){7}\(c)|(?:\(c):){1,6}:|(?:\(c):)(?::\(c)){1,6}|(?:\(c):){2}(?::\(c)){1,5}|(?:\(c):){3}(?::\(c)){1,4}|(?:\(c):){4}(?::\(c)){1,3}|(?:\(c):){5}(?::\(c)){1,2}|(?:\(c):){6}(?::\(c))|:(?::\(c)){1,6}|\(c)?::|(?:0:){6}(?:\(c)\\.){3}\(c)|::(?:ffff:)?(?:\(c)\\.){3}\(c)|(?:0:){5}ffff:(?:\(c)\\.){3}\(c))$"
    }())
    private static let hostname = regex("^\(label)(?:\\.\(label))*$")

    private static func matches(_ r: NSRegularExpression, _ s: String) -> NSTextCheckingResult? {
        r.firstMatch(in: s, range: NSRange(s.startIndex..., in: s))
    }

    private static func group(_ m: NSTextCheckingResult, _ i: Int, in s: String) -> String {
        guard let r = Range(m.range(at: i), in: s) else { return "" }
        return String(s[r])
    }

    /// parse_address(address, allow_ranges=True): the host part and optional port, or nil
    /// when the text is not a host identifier.
    public static func parse(_ address: String) -> (host: String, port: Int?)? {
        var host = address
        var port: Int?
        for r in [bracketedHostPort, hostPort] {
            if let m = matches(r, host) {
                let h = group(m, 1, in: host), p = group(m, 2, in: host)
                host = h
                port = Int(p)
            }
        }
        for r in [ipv4, ipv6, hostname] where matches(r, host) != nil {
            return (host, port)
        }
        return nil
    }

    /// _expand_hostpattern: a host key of an inventory → host names and port.
    public static func expand(_ pattern: String) throws -> (hosts: [String], port: Int?) {
        var name = pattern
        var port: Int?
        if let (h, p) = parse(pattern) { name = h; port = p }
        if pattern.trimmingCharacters(in: .whitespaces).hasSuffix(":") && port == nil {
            throw RangeError(message: "host '\(pattern)' ends in ':'", hint: "':' introduces a port, e.g. db1:2222")
        }
        return (try expandRange(name), port)
    }

    public struct RangeError: Error, Equatable {
        public var message: String
        public var hint: String
    }

    /// detect_range + expand_hostname_range: `db[01:03]`, `[a:c]`, `web[1:9:2]`, nested left to right.
    public static func expandRange(_ line: String) throws -> [String] {
        guard let open = line.firstIndex(of: "["), let close = line[open...].firstIndex(of: "]"),
              line.distance(from: open, to: close) > 1, line[open..<close].contains(":") else {
            return [line]
        }
        let head = String(line[..<open])
        let range = String(line[line.index(after: open)..<close])
        let tail = String(line[line.index(after: close)...])
        let bounds = range.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard bounds.count == 2 || bounds.count == 3 else {
            throw RangeError(message: "host range [\(range)] must be [begin:end] or [begin:end:step]", hint: "e.g. db[01:20] or web[a:f]")
        }
        let beg = bounds[0].isEmpty ? "0" : bounds[0]
        let end = bounds[1]
        guard !end.isEmpty else { throw RangeError(message: "host range [\(range)] has no end", hint: "e.g. db[01:20]") }
        let stepText = bounds.count == 3 ? bounds[2] : "1"
        guard let step = Int(stepText), step > 0 else {
            throw RangeError(message: "host range step '\(stepText)' must be a positive number", hint: "e.g. web[1:9:2]")
        }
        var width = 0
        if beg.first == "0" && beg.count > 1 {
            guard beg.count == end.count else {
                throw RangeError(message: "host range [\(range)] mixes widths", hint: "with leading zeros, begin and end must have the same length, e.g. [01:20]")
            }
            width = beg.count
        }
        var values: [String] = []
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if beg.count == 1, end.count == 1, let b = letters.firstIndex(of: beg.first!), let e = letters.firstIndex(of: end.first!) {
            guard b <= e else { throw RangeError(message: "host range [\(range)] runs backwards", hint: "put the smaller bound first") }
            values = stride(from: b, through: e, by: step).map { String(letters[$0]) }
        } else {
            guard let b = Int(beg), let e = Int(end) else {
                throw RangeError(message: "host range [\(range)] is neither numeric nor a single-letter range", hint: "e.g. db[01:20] or rack[a:d]")
            }
            guard e - b <= 100_000 else { throw RangeError(message: "host range [\(range)] is too large", hint: "split it into several lines") }
            values = b <= e ? stride(from: b, through: e, by: step).map { v in
                let s = String(v)
                return width > s.count ? String(repeating: "0", count: width - s.count) + s : s
            } : []
        }
        var out: [String] = []
        for v in values {
            out += try expandRange(head + v + tail)
        }
        return out
    }
}
