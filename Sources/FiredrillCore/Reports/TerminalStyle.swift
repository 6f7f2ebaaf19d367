import Foundation

/// ANSI styling that turns itself off when output is not a terminal or `NO_COLOR` is set.
public struct TerminalStyle: Sendable {
    public var enabled: Bool

    public init(enabled: Bool) { self.enabled = enabled }

    /// Colour only on a TTY, never with NO_COLOR or --no-color.
    public static func detect(fileDescriptor: Int32 = STDOUT_FILENO, noColorFlag: Bool = false,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> TerminalStyle {
        let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        return TerminalStyle(enabled: !noColorFlag && !noColor && isatty(fileDescriptor) == 1 && environment["TERM"] != "dumb")
    }

    public func bold(_ s: String) -> String { wrap(s, "1") }
    public func dim(_ s: String) -> String { wrap(s, "2") }
    public func red(_ s: String) -> String { wrap(s, "31") }
    public func green(_ s: String) -> String { wrap(s, "32") }
    public func yellow(_ s: String) -> String { wrap(s, "33") }
    public func cyan(_ s: String) -> String { wrap(s, "36") }

    // Firedrill's own escape sequences, which only the output turns into ESC (TerminalText).
    private func wrap(_ s: String, _ code: String) -> String { enabled ? "\(TerminalText.escape)[\(code)m\(s)\(TerminalText.escape)[0m" : s }
}

enum TextLayout {
    /// Hard-wraps `text` to `width` columns, breaking at spaces where it can; continuation lines
    /// get `indent`. Columns are counted as a terminal shows them: styling takes none, and a line
    /// is never cut inside it.
    static func wrap(_ text: String, width: Int, firstIndent: String, indent: String) -> [String] {
        var lines: [String] = []
        var prefix = firstIndent
        for para in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = Substring(para)
            while true {
                let avail = max(20, width - TerminalText.visibleCount(prefix))
                // Only the next line's worth is looked at (a 100 KB command is not re-counted
                // for each of its lines).
                var cut = visibleIndex(rest, avail)
                if cut == rest.endIndex {
                    lines.append(prefix + rest)
                    break
                }
                if let space = rest[..<cut].lastIndex(of: " "), TerminalText.visibleCount(String(rest[..<space])) > avail / 2 { cut = space }
                lines.append(prefix + rest[..<cut])
                rest = rest[cut...]
                while rest.first == " " { rest = rest.dropFirst() }
                prefix = indent
            }
            prefix = indent
        }
        return lines
    }

    /// Where `n` visible columns of `s` end: styling sequences are skipped whole, never cut.
    static func visibleIndex(_ s: Substring, _ n: Int) -> Substring.Index {
        var i = s.startIndex
        var seen = 0
        while i < s.endIndex {
            if s.unicodeScalars[i] == "\u{E000}", s[i...].hasPrefix(TerminalText.escape) {
                i = s.index(i, offsetBy: TerminalText.escape.count)
                if i < s.endIndex, s[i] == "[" {
                    i = s.index(after: i)
                    while i < s.endIndex, s[i].isNumber || s[i] == ";" { i = s.index(after: i) }
                    if i < s.endIndex { i = s.index(after: i) }
                }
                continue
            }
            if seen == n { break }
            seen += 1
            i = s.index(after: i)
        }
        return i
    }

    /// `a, b, c +12 more` for long host lists.
    static func hostList(_ hosts: [String], max: Int = 6) -> String {
        if hosts.count <= max { return hosts.joined(separator: ", ") }
        return hosts.prefix(max).joined(separator: ", ") + " +\(hosts.count - max) more"
    }

    static func pad(_ s: String, _ width: Int) -> String {
        let n = TerminalText.visibleCount(s)
        return n >= width ? s : s + String(repeating: " ", count: width - n)
    }
}
