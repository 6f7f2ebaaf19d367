import Foundation

/// POSIX shell quoting, as Python's `shlex.quote` does it.
public enum ShellQuoting {
    /// `value` unchanged when it holds only safe characters, else single-quoted with `'` escaped.
    public static func quote(_ value: String) -> String {
        if value.isEmpty { return "''" }
        if value.utf8.allSatisfy(isSafe) { return value }
        // By bytes (a plan renders tens of thousands of these): ' becomes '"'"'.
        var out = [UInt8]()
        out.reserveCapacity(value.utf8.count + 8)
        out.append(quoteByte)
        for b in value.utf8 {
            if b == quoteByte { out.append(contentsOf: closeEscapeOpen) } else { out.append(b) }
        }
        out.append(quoteByte)
        return String(decoding: out, as: UTF8.self)
    }

    /// The length in bytes of `quote(value)`, without building it.
    public static func quotedLength(_ value: String) -> Int {
        if value.isEmpty { return 2 }
        var n = 0, quotes = 0, safe = true
        for b in value.utf8 {
            n += 1
            if b == quoteByte { quotes += 1 }
            if safe && !isSafe(b) { safe = false }
        }
        return safe ? n : n + 2 + quotes * (closeEscapeOpen.count - 1)
    }

    private static let quoteByte = UInt8(ascii: "'")
    private static let closeEscapeOpen = Array("'\"'\"'".utf8)

    /// Letters, digits and `@%+=:,./-_`: left as they are.
    @inline(__always) static func isSafe(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: ","),
             UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_"): return true
        default: return false
        }
    }
}

