/// Text from hosts, playbooks, journals and the history made safe to print: a control character
/// (an escape sequence that clears the screen, retitles the window or paints "ALL GOOD" green, a
/// bell, a NUL, a lone carriage return that overwrites a line) or a bidirectional override is
/// shown as what it is (`\x1b`, `\u202e`), never acted on by the terminal.
///
/// Every printer goes through `forTerminal` (the executable's output queue, and `-o` files).
/// Firedrill's own styling cannot be told from a host's escape sequences by looking at them, so
/// it is written with `escape`/`carriageReturn`: markers with a nonce drawn when the process
/// starts, that only `forTerminal` turns into the real characters.
public enum TerminalText {
    static let nonce: String = {
        var g = SystemRandomNumberGenerator()
        return String((0..<12).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &g)! })
    }()

    /// Stands for ESC in Firedrill's own styling.
    public static let escape = "\u{E000}" + nonce + "\u{E001}"
    /// Stands for a carriage return in Firedrill's own status line.
    public static let carriageReturn = "\u{E000}" + nonce + "\u{E002}"

    /// Text ready for a terminal (or a text file): every control character shown, Firedrill's
    /// own markers turned into what they stand for.
    public static func forTerminal(_ s: String) -> String {
        // One pass over the scalars (Foundation's range(of:) folds grapheme clusters: slow on
        // megabytes of a host's output).
        var hasMarker = false, unsafe = false
        for u in s.unicodeScalars {
            if u == "\u{E000}" { hasMarker = true; break }
            if !unsafe && (needsEscape(u) || u == "\r") { unsafe = true }
        }
        if !hasMarker { return unsafe ? safe(s) : s }
        let marker = Array(("\u{E000}" + nonce).unicodeScalars)
        let scalars = Array(s.unicodeScalars)
        var out = ""
        var plain = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if scalars[i] == "\u{E000}", i + marker.count < scalars.count, Array(scalars[i..<(i + marker.count)]) == marker {
                let kind = scalars[i + marker.count]
                if kind == "\u{E001}" || kind == "\u{E002}" {
                    out += safe(String(plain)); plain = String.UnicodeScalarView()
                    out += kind == "\u{E001}" ? "\u{1B}" : "\r"
                    i += marker.count + 1
                    continue
                }
            }
            plain.append(scalars[i])
            i += 1
        }
        return out + safe(String(plain))
    }

    /// The columns `s` takes on a terminal: Firedrill's escape sequences take none.
    public static func visibleCount(_ s: String) -> Int {
        guard s.unicodeScalars.contains("\u{E000}") else { return s.count }
        var n = 0
        var rest = Substring(s)
        while let r = rest.range(of: escape) {
            n += rest[..<r.lowerBound].count
            rest = rest[r.upperBound...]
            // The control sequence that follows: `[`, parameters, one final letter.
            if rest.first == "[" {
                rest = rest.dropFirst()
                while let c = rest.first, c.isNumber || c == ";" { rest = rest.dropFirst() }
                rest = rest.dropFirst()
            }
        }
        return n + rest.count
    }

    /// `keepLines`: line breaks (and a CR before one) and tabs stay (multi-line output); else
    /// they become spaces.
    public static func safe(_ s: String, keepLines: Bool = true) -> String {
        // The common case, nothing to do: no copy.
        if !s.unicodeScalars.contains(where: { needsEscape($0) || $0 == "\r" || (!keepLines && ($0 == "\n" || $0 == "\t")) }) { return s }
        var out = String.UnicodeScalarView()
        let scalars = Array(s.unicodeScalars)
        for (i, u) in scalars.enumerated() {
            if u == "\n" || u == "\t" {
                if keepLines { out.append(u) } else { out.append(" ") }
            } else if u == "\r" {
                // CRLF line ends (a calendar, a Windows host's output) are line breaks; a lone CR
                // would overwrite the line already printed.
                if keepLines && i + 1 < scalars.count && scalars[i + 1] == "\n" { out.append(u) }
                else { out.append(contentsOf: (keepLines ? "\\r" : " ").unicodeScalars) }
            } else if needsEscape(u) {
                out.append(contentsOf: (u.value <= 0xFF ? "\\x" + hex(u.value, 2) : "\\u" + hex(u.value, 4)).unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }

    /// The first character of `s` a name may not hold (controls, line breaks, bidi overrides), if any.
    public static func firstControl(_ s: String, allowLines: Bool = false) -> Unicode.Scalar? {
        s.unicodeScalars.first { u in
            if allowLines && (u == "\n" || u == "\t") { return false }
            return u == "\n" || u == "\t" || u == "\r" || needsEscape(u)
        }
    }

    /// C0 controls (but line breaks, tabs and CR, handled apart), DEL, C1 controls, the
    /// bidirectional overrides, isolates and marks that make text read other than it is, and the private markers
    /// (a host's text must not pose as Firedrill's styling).
    public static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x202A...0x202E, 0x2066...0x2069: return true
        // The invisible direction marks (LRM, RLM, ALM): reorder what is around them.
        case 0x200E, 0x200F, 0x061C: return true
        // Line and paragraph separators (a line break to some viewers), and the invisible ones
        // that make two names look the same: zero-width space, word joiner, BOM, tag characters.
        case 0x2028, 0x2029, 0x200B, 0x2060, 0xFEFF, 0xE0000...0xE007F: return true
        case 0xE000...0xE002: return true
        default: return false
        }
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }
}
