import Foundation

/// Renders diagnostics like a compiler: `file:line:col: error: message`, the source line, a caret, a hint.
public struct DiagnosticRenderer: Sendable {
    public var useColor: Bool
    /// Source text by file path, for quoting the offending line.
    public var sources: [String: String]

    public init(useColor: Bool = false, sources: [String: String] = [:]) {
        self.useColor = useColor
        self.sources = sources
    }

    public func render(_ diagnostic: Diagnostic) -> String {
        var out = ""
        let label = diagnostic.severity == .error ? paint("error:", .red) : paint("warning:", .yellow)
        if let loc = diagnostic.location {
            out += paint("\(loc):", .bold) + " "
        }
        out += "\(label) \(diagnostic.message)\n"
        if let loc = diagnostic.location, let line = sourceLine(loc) {
            // A very long line is shown around the column only (a minified or machine-made file).
            var column = loc.column
            var shown = String(line.replacingOccurrences(of: "\t", with: " ").unicodeScalars.map { $0.value < 32 ? " " : Character($0) })
            if shown.count > 120 {
                let start = max(0, column - 60)
                let chars = Array(shown)
                shown = (start > 0 ? "…" : "") + String(chars[start..<min(chars.count, start + 120)]) + (start + 120 < chars.count ? "…" : "")
                column = column - start + (start > 0 ? 1 : 0)
            }
            out += "    \(shown)\n"
            let pad = String(repeating: " ", count: max(0, column - 1))
            let available = max(1, shown.unicodeScalars.count - (column - 1))
            let width = min(diagnostic.length, available)
            out += "    \(pad)" + paint("^" + String(repeating: "~", count: max(0, width - 1)), .green) + "\n"
        }
        if let hint = diagnostic.hint {
            out += paint("hint:", .cyan) + " \(hint)\n"
        }
        return out
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map(render).joined()
    }

    private func sourceLine(_ loc: SourceLocation) -> String? {
        guard let text = sources[loc.file] ?? (try? String(contentsOfFile: loc.file, encoding: .utf8)) else { return nil }
        var n = 1
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if n == loc.line {
                var s = String(line)
                if s.hasSuffix("\r") { s.removeLast() }
                return s
            }
            n += 1
        }
        return nil
    }

    enum Style: String { case red = "31", yellow = "33", green = "32", cyan = "36", bold = "1" }

    private func paint(_ s: String, _ style: Style) -> String {
        useColor ? "\(TerminalText.escape)[\(style.rawValue)m\(s)\(TerminalText.escape)[0m" : s
    }
}
