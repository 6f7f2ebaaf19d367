/// A variable's value from an inventory, a playbook or the command line.
public indirect enum VarValue: Sendable, Hashable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case list([VarValue])
    case map([String: VarValue])
    case null

    /// The text substituted for `{{ var }}`.
    public var text: String {
        switch self {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .double(d): return String(d)
        case let .bool(b): return b ? "true" : "false"
        case let .list(items): return "[" + items.map(\.quotedText).joined(separator: ", ") + "]"
        case let .map(m): return "{" + m.keys.sorted().map { "\"\($0)\": \(m[$0]!.quotedText)" }.joined(separator: ", ") + "}"
        case .null: return ""
        }
    }

    private var quotedText: String {
        if case let .string(s) = self { return "\"\(s)\"" }
        return text
    }
}

extension VarValue {
    /// YAML 1.1 integers as PyYAML resolves them (Ansible's loader): decimal with `_`, octal
    /// `0644`, hex `0x1F`, binary `0b101`, sexagesimal `1:30`; nil when the text is not one.
    static func yaml11Int(_ s: String) -> Int? {
        var t = Substring(s)
        var sign = 1
        if t.first == "-" { sign = -1; t = t.dropFirst() } else if t.first == "+" { t = t.dropFirst() }
        guard let first = t.first, first.isASCII, first.isNumber else { return nil }
        func digits(_ x: Substring, _ allowed: String) -> Bool { !x.isEmpty && x.allSatisfy { allowed.contains($0) || $0 == "_" } }
        if t.hasPrefix("0b") { let b = t.dropFirst(2); return digits(b, "01") ? Int(b.replacingOccurrences(of: "_", with: ""), radix: 2).map { $0 * sign } : nil }
        if t.hasPrefix("0x") { let h = t.dropFirst(2); return digits(h, "0123456789abcdefABCDEF") ? Int(h.replacingOccurrences(of: "_", with: ""), radix: 16).map { $0 * sign } : nil }
        if t == "0" { return 0 }
        if t.hasPrefix("0") { return digits(t, "01234567") ? Int(t.replacingOccurrences(of: "_", with: ""), radix: 8).map { $0 * sign } : nil }
        if t.contains(":") {
            let parts = t.split(separator: ":", omittingEmptySubsequences: false)
            guard digits(parts[0], "0123456789"), parts.dropFirst().allSatisfy({ (1...2).contains($0.count) && $0.allSatisfy(\.isNumber) && Int($0)! < 60 }),
                  var total = Int(parts[0].replacingOccurrences(of: "_", with: "")) else { return nil }
            for p in parts.dropFirst() { total = total * 60 + Int(p)! }
            return total * sign
        }
        return digits(t, "0123456789") ? Int(t.replacingOccurrences(of: "_", with: "")).map { $0 * sign } : nil
    }

    /// YAML 1.1 floats as PyYAML resolves them: `1.5`, `.5`, `1.0e+5`, `.inf`, `-.inf`, `.nan`
    /// (`1e5`, without a dot, is text in YAML 1.1).
    static func yaml11Float(_ s: String) -> Double? {
        switch s {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        var t = Substring(s)
        if t.first == "-" || t.first == "+" { t = t.dropFirst() }
        guard let dot = t.firstIndex(of: ".") else { return nil }
        let whole = t[..<dot], rest = t[t.index(after: dot)...]
        guard whole.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }), whole.first != "_" else { return nil }
        var fraction = rest, exponent: Substring = ""
        if let e = rest.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            fraction = rest[..<e]
            exponent = rest[rest.index(after: e)...]
            guard let sign = exponent.first, sign == "+" || sign == "-", exponent.count > 1, exponent.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        }
        guard fraction.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }), !(whole.isEmpty && fraction.isEmpty) else { return nil }
        return Double(s.replacingOccurrences(of: "_", with: ""))
    }
}

extension VarValue: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let l = try? c.decode([VarValue].self) { self = .list(l) }
        else { self = .map(try c.decode([String: VarValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .string(s): try c.encode(s)
        case let .int(i): try c.encode(i)
        // JSON has no infinity or NaN: they are written as Python's json writes them, as text.
        case let .double(d) where !d.isFinite: try c.encode(d.isNaN ? "NaN" : d > 0 ? "Infinity" : "-Infinity")
        case let .double(d): try c.encode(d)
        case let .bool(b): try c.encode(b)
        case let .list(l): try c.encode(l)
        case let .map(m): try c.encode(m)
        case .null: try c.encodeNil()
        }
    }
}
