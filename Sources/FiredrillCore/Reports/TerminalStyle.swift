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

    private func wrap(_ s: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
}

enum TextLayout {
    /// Hard-wraps `text` to `width` columns, breaking at spaces where it can; continuation lines get `indent`.
    static func wrap(_ text: String, width: Int, firstIndent: String, indent: String) -> [String] {
        var lines: [String] = []
        var prefix = firstIndent
        for para in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = Substring(para)
            while true {
                let avail = max(20, width - prefix.count)
                if rest.count <= avail {
                    lines.append(prefix + rest)
                    break
                }
                var n = avail
                if let space = rest.prefix(avail).lastIndex(of: " ") {
                    let d = rest.distance(from: rest.startIndex, to: space)
                    if d > avail / 2 { n = d }
                }
                lines.append(prefix + rest.prefix(n))
                rest = rest.dropFirst(n)
                while rest.first == " " { rest = rest.dropFirst() }
                prefix = indent
            }
            prefix = indent
        }
        return lines
    }

    /// `a, b, c +12 more` for long host lists.
    static func hostList(_ hosts: [String], max: Int = 6) -> String {
        if hosts.count <= max { return hosts.joined(separator: ", ") }
        return hosts.prefix(max).joined(separator: ", ") + " +\(hosts.count - max) more"
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
