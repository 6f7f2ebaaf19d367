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

    /// Reads a YAML node the way Ansible's YAML loader types it (YAML 1.1 core scalars).
    public init(yaml node: YAMLNode) {
        switch node.kind {
        case let .scalar(s, plain):
            guard plain else { self = .string(s); return }
            if node.isNull { self = .null; return }
            switch s {
            case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": self = .bool(true)
            case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": self = .bool(false)
            default:
                if let i = Int(s) { self = .int(i) }
                else if s.contains("."), s.first != ".", let d = Double(s), !s.contains(where: { $0.isLetter }) { self = .double(d) }
                else { self = .string(s) }
            }
        case let .sequence(items):
            self = .list(items.map(VarValue.init(yaml:)))
        case let .mapping(pairs):
            var m: [String: VarValue] = [:]
            for p in pairs { m[p.key.scalar ?? ""] = VarValue(yaml: p.value) }
            self = .map(m)
        }
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
        case let .double(d): try c.encode(d)
        case let .bool(b): try c.encode(b)
        case let .list(l): try c.encode(l)
        case let .map(m): try c.encode(m)
        case .null: try c.encodeNil()
        }
    }
}
