extension VarValue {
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
                if let i = VarValue.yaml11Int(s) { self = .int(i) }
                else if let d = VarValue.yaml11Float(s) { self = .double(d) }
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
