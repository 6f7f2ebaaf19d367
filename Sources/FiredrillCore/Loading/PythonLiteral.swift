/// Python's `ast.literal_eval` for the values of an INI inventory, as ansible-core's INI plugin
/// types them (`_parse_value`): strings, numbers, `True`/`False`/`None`, lists, tuples, sets and
/// dicts, with comments and whitespace between tokens; anything else is not a literal (nil),
/// and Ansible keeps the text as it is.
enum PythonLiteral {
    static func parse(_ text: String) -> VarValue? {
        // literal_eval (Python 3.10+) strips leading spaces and tabs; trailing space and comments are fine.
        var p = Parser(Array(text.unicodeScalars.drop { $0 == " " || $0 == "\t" }))
        guard !p.chars.isEmpty, let v = p.value() else { return nil }
        p.skipSpace()
        return p.atEnd ? v : nil
    }

    struct Parser {
        let chars: [Unicode.Scalar]
        var i = 0
        init(_ chars: [Unicode.Scalar]) { self.chars = chars }

        var atEnd: Bool { i >= chars.count }
        var peek: Unicode.Scalar? { i < chars.count ? chars[i] : nil }

        /// Spaces, tabs, line continuations and comments.
        mutating func skipSpace() {
            while let c = peek {
                if c == " " || c == "\t" || c == "\u{0C}" { i += 1 }
                else if c == "#" { i = chars.count }
                else { break }
            }
        }

        mutating func value() -> VarValue? {
            skipSpace()
            guard let c = peek else { return nil }
            switch c {
            case "[": return sequence(close: "]")
            case "(": return tuple()
            case "{": return braces()
            case "'", "\"": return concatenated(string())
            case "-", "+":
                i += 1
                skipSpace()
                guard let v = value() else { return nil }
                switch v {
                case let .int(n): return c == "-" ? .int(-n) : .int(n)
                case let .double(d): return c == "-" ? .double(-d) : .double(d)
                case let .bool(b): return .int(c == "-" ? (b ? -1 : 0) : (b ? 1 : 0))
                default: return nil
                }
            default:
                if c.properties.isAlphabetic || c == "_" { return name() }
                if ("0"..."9").contains(c) || c == "." { return number() }
                return nil
            }
        }

        mutating func name() -> VarValue? {
            let start = i
            while let c = peek, c.properties.isAlphabetic || c == "_" || ("0"..."9").contains(c) { i += 1 }
            let word = String(String.UnicodeScalarView(chars[start..<i]))
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .null
            case "r", "R", "u", "U", "b", "B", "rb", "br", "Rb", "bR", "RB", "BR", "rB", "Br":
                // String prefixes: raw, unicode, bytes (Ansible turns bytes into text).
                guard let q = peek, q == "'" || q == "\"" else { return nil }
                return concatenated(string(raw: word.lowercased().contains("r")))
            default: return nil
            }
        }

        /// Adjacent string literals are one string (`'a' 'b'` is `'ab'`).
        mutating func concatenated(_ first: VarValue?) -> VarValue? {
            guard case var .string(text)? = first else { return first }
            while true {
                let save = i
                skipSpace()
                guard let c = peek else { i = save; break }
                var next: VarValue?
                if c == "'" || c == "\"" { next = string() }
                else if c.properties.isAlphabetic {
                    let start = i
                    while let d = peek, d.properties.isAlphabetic { i += 1 }
                    let prefix = String(String.UnicodeScalarView(chars[start..<i])).lowercased()
                    guard ["r", "u", "b", "rb", "br"].contains(prefix), let q = peek, q == "'" || q == "\"" else { i = save; break }
                    next = string(raw: prefix.contains("r"))
                } else { i = save; break }
                guard case let .string(more)? = next else { return nil }
                text += more
            }
            return .string(text)
        }

        mutating func number() -> VarValue? {
            let start = i
            while let c = peek, c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "." || c == "_" ||
                    ((c == "+" || c == "-") && i > start && (chars[i - 1] == "e" || chars[i - 1] == "E") && !isPrefixed(start)) { i += 1 }
            var text = String(String.UnicodeScalarView(chars[start..<i]))
            guard !text.hasPrefix("_"), !text.hasSuffix("_"), !text.contains("__"), !text.contains("._"), !text.contains("_."),
                  !text.lowercased().contains("_e"), !text.lowercased().contains("e_") || text.lowercased().hasPrefix("0x") else { return nil }
            text = text.replacingOccurrences(of: "_", with: "")
            let lower = text.lowercased()
            for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) {
                return Int(lower.dropFirst(2), radix: radix).map(VarValue.int)
            }
            if lower.hasSuffix("j") { return nil }   // complex: not a value Ansible can use
            if lower.allSatisfy({ ("0"..."9").contains($0) }) {
                // Python refuses 0-prefixed decimals other than 0 (`0123` is a SyntaxError).
                if lower.count > 1 && lower.hasPrefix("0") && lower.contains(where: { $0 != "0" }) { return nil }
                return Int(lower).map(VarValue.int)
            }
            guard lower.contains(where: { $0 == "." || $0 == "e" }), lower.allSatisfy({ ("0"..."9").contains($0) || $0 == "." || $0 == "e" || $0 == "+" || $0 == "-" }),
                  let d = Double(lower) else { return nil }
            return .double(d)
        }

        func isPrefixed(_ start: Int) -> Bool {
            start + 1 < chars.count && chars[start] == "0" && ["x", "X"].contains(chars[start + 1])
        }

        mutating func string(raw: Bool = false) -> VarValue? {
            guard let q = peek else { return nil }
            let triple = i + 2 < chars.count && chars[i + 1] == q && chars[i + 2] == q
            i += triple ? 3 : 1
            var out = String.UnicodeScalarView()
            while let c = peek {
                if c == q {
                    if !triple { i += 1; return .string(String(out)) }
                    if i + 2 < chars.count && chars[i + 1] == q && chars[i + 2] == q { i += 3; return .string(String(out)) }
                    out.append(c); i += 1; continue
                }
                if c == "\n" && !triple { return nil }
                if c == "\\" && !raw {
                    i += 1
                    guard let e = peek else { return nil }
                    i += 1
                    switch e {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "0"..."7":
                        // Octal: up to three digits.
                        var n = Int(e.value - 48)
                        var digits = 1
                        while digits < 3, let d = peek, ("0"..."7").contains(d) { n = n * 8 + Int(d.value - 48); i += 1; digits += 1 }
                        guard let s = Unicode.Scalar(UInt32(n)) else { return nil }
                        out.append(s)
                    case "N":
                        // A character by name: not something to guess; the value stays text.
                        return nil
                    case "\\": out.append("\\")
                    case "'": out.append("'")
                    case "\"": out.append("\"")
                    case "a": out.append("\u{07}")
                    case "b": out.append("\u{08}")
                    case "f": out.append("\u{0C}")
                    case "v": out.append("\u{0B}")
                    case "x", "u", "U":
                        let n = e == "x" ? 2 : e == "u" ? 4 : 8
                        guard i + n <= chars.count, let v = UInt32(String(String.UnicodeScalarView(chars[i..<(i + n)])), radix: 16),
                              let s = Unicode.Scalar(v) else { return nil }
                        out.append(s); i += n
                    default:
                        // Unknown escapes keep the backslash (Python warns, then does the same).
                        out.append("\\"); out.append(e)
                    }
                    continue
                }
                if c == "\\" && raw, let next = chars.dropFirst(i + 1).first {
                    out.append(c); out.append(next); i += 2; continue
                }
                out.append(c); i += 1
            }
            return nil
        }

        mutating func sequence(close: Unicode.Scalar) -> VarValue? {
            i += 1
            var items: [VarValue] = []
            while true {
                skipSpace()
                if peek == close { i += 1; return .list(items) }
                guard let v = value() else { return nil }
                items.append(v)
                skipSpace()
                if peek == "," { i += 1; continue }
                if peek == close { i += 1; return .list(items) }
                return nil
            }
        }

        /// `(1, 2)` is a tuple (a list to Ansible), `(1)` is 1, `()` the empty tuple.
        mutating func tuple() -> VarValue? {
            i += 1
            skipSpace()
            if peek == ")" { i += 1; return .list([]) }
            guard let first = value() else { return nil }
            skipSpace()
            if peek == ")" { i += 1; return first }
            guard peek == "," else { return nil }
            i += 1
            var items = [first]
            while true {
                skipSpace()
                if peek == ")" { i += 1; return .list(items) }
                guard let v = value() else { return nil }
                items.append(v)
                skipSpace()
                if peek == "," { i += 1; continue }
                if peek == ")" { i += 1; return .list(items) }
                return nil
            }
        }

        /// `{}` and `{k: v, …}` are dicts; `{a, b}` is a set (a list to Ansible).
        mutating func braces() -> VarValue? {
            i += 1
            skipSpace()
            if peek == "}" { i += 1; return .map([:]) }
            guard let first = value() else { return nil }
            skipSpace()
            if peek != ":" {
                var items = [first]
                while true {
                    skipSpace()
                    if peek == "}" { i += 1; return .list(items) }
                    guard peek == "," else { return nil }
                    i += 1
                    skipSpace()
                    if peek == "}" { i += 1; return .list(items) }
                    guard let v = value() else { return nil }
                    items.append(v)
                }
            }
            var map: [String: VarValue] = [:]
            var key = first
            while true {
                guard peek == ":" else { return nil }
                i += 1
                guard let v = value(), let k = Self.keyText(key) else { return nil }
                map[k] = v
                skipSpace()
                if peek == "}" { i += 1; return .map(map) }
                guard peek == "," else { return nil }
                i += 1
                skipSpace()
                if peek == "}" { i += 1; return .map(map) }
                guard let next = value() else { return nil }
                key = next
                skipSpace()
            }
        }

        /// A dict key as JSON would name it.
        static func keyText(_ v: VarValue) -> String? {
            switch v {
            case let .string(s): return s
            case let .int(n): return String(n)
            case let .double(d): return String(d)
            case let .bool(b): return b ? "true" : "false"
            case .null: return "null"
            case .list, .map: return nil
            }
        }
    }
}
