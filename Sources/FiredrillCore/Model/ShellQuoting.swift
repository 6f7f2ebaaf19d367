import Foundation

/// POSIX shell quoting, as Python's `shlex.quote` does it.
public enum ShellQuoting {
    /// `value` unchanged when it holds only safe characters, else single-quoted with `'` escaped.
    public static func quote(_ value: String) -> String {
        if value.isEmpty { return "''" }
        let safe = value.unicodeScalars.allSatisfy { c in
            c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "@%+=:,./-_".unicodeScalars.contains(c))
        }
        if safe { return value }
        return "'" + value.replacingOccurrences(of: "'", with: "'\"'\"'") + "'"
    }
}

