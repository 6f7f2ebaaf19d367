/// Text from hosts, playbooks, journals and the history made safe to print: a control character
/// (an escape sequence that clears the screen or retitles the window, a bell, a NUL) is shown
/// as what it is (`\x1b`), never acted on by the terminal. Every printer goes through here.
public enum TerminalText {
    /// `keepLines`: line breaks and tabs stay (multi-line output); else they become spaces.
    public static func safe(_ s: String, keepLines: Bool = true) -> String {
        // The common case, nothing to do: no copy.
        if !s.unicodeScalars.contains(where: needsEscape) { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if u == "\n" || u == "\t" {
                if keepLines { out.append(u) } else { out.append(" ") }
            } else if u == "\r" {
                out.append(contentsOf: keepLines ? "\\r".unicodeScalars : " ".unicodeScalars)
            } else if needsEscape(u) {
                out.append(contentsOf: (u.value <= 0xFF ? "\\x" + hex(u.value, 2) : "\\u{" + hex(u.value, 4) + "}").unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }

    /// C0 controls (but line breaks and tabs), DEL, C1 controls, and the bidirectional overrides
    /// that make text read other than it is.
    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x09, 0x0A: return false
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }
}
