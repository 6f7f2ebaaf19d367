import Yams

/// A YAML node with the position it came from: what every loader reads instead of Yams' types.
public struct YAMLNode: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A scalar; `plain` is false for quoted or block scalars (so `"5"` stays a string).
        case scalar(String, plain: Bool)
        case mapping([Pair])
        case sequence([YAMLNode])
    }

    public struct Pair: Sendable, Equatable {
        public var key: YAMLNode
        public var value: YAMLNode
    }

    public var kind: Kind
    public var location: SourceLocation
    /// Column where a single-line scalar's text starts (after an opening quote); nil for block scalars.
    public var textColumn: Int?

    public init(_ kind: Kind, at location: SourceLocation, textColumn: Int? = nil) {
        self.kind = kind
        self.location = location
        self.textColumn = textColumn
    }

    /// The scalar text, or nil for collections.
    public var scalar: String? {
        if case let .scalar(s, _) = kind { return s }
        return nil
    }

    public var isNull: Bool {
        if case let .scalar(s, plain) = kind { return plain && (s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL") }
        return false
    }

    public var pairs: [Pair]? {
        if case let .mapping(p) = kind { return p }
        return nil
    }

    public var items: [YAMLNode]? {
        if case let .sequence(s) = kind { return s }
        return nil
    }

    /// The value for `key` in a mapping.
    public subscript(key: String) -> YAMLNode? {
        pairs?.first { $0.key.scalar == key }?.value
    }

    /// Width of the node on its first line, for caret underlines.
    public var displayWidth: Int {
        if let s = scalar, !s.isEmpty, !s.contains("\n") { return s.unicodeScalars.count }
        return 1
    }

    /// A word for the node's type, as users know YAML.
    public var typeName: String {
        switch kind {
        case .scalar: return isNull ? "nothing (null)" : "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}

/// Parses YAML text into `YAMLNode`s, turning every YAML error into a positioned diagnostic.
public enum YAMLReader {
    public static func parse(_ text: String, file: String) -> (YAMLNode?, [Diagnostic]) {
        var diagnostics = tabDiagnostics(text, file: file)
        if !diagnostics.isEmpty { return (nil, diagnostics) }
        do {
            guard let root = try Yams.compose(yaml: text) else { return (nil, []) }
            var budget = Budget()
            let node = convert(root, file: file, diagnostics: &diagnostics, depth: 0, budget: &budget)
            // A document cut short (too many nodes, too deep) is not worth checking further: every
            // other error would be about the parts that were cut.
            if diagnostics.hasErrors { return (nil, diagnostics) }
            return (node, diagnostics)
        } catch let error as YamlError {
            return (nil, [diagnostic(for: error, file: file, text: text)])
        } catch {
            return (nil, [.error("the file could not be read as YAML", at: SourceLocation(file: file, line: 1, column: 1))])
        }
    }

    /// YAML forbids tabs in indentation; libyaml's message for it is cryptic, so say it plainly.
    static func tabDiagnostics(_ text: String, file: String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        var lineNo = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            var col = 0
            for ch in line.unicodeScalars {
                col += 1
                if ch == " " { continue }
                if ch == "\t" {
                    out.append(.error("tab character in indentation", at: SourceLocation(file: file, line: lineNo, column: col),
                                      hint: "YAML indents with spaces only; replace the tab with spaces"))
                }
                break
            }
        }
        return out
    }

    static func diagnostic(for error: YamlError, file: String, text: String) -> Diagnostic {
        func loc(_ m: Mark) -> SourceLocation { SourceLocation(file: file, line: m.line, column: max(1, m.column)) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            if problem.contains("Maximum nesting level") {
                return .error("nesting is too deep", at: loc(mark), hint: "a playbook or inventory needs only a few levels of lists and mappings")
            }
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return .error(message, at: loc(mark), hint: yamlHint(problem))
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            // Yams reports where the mapping starts; point at the repeated key when the block layout lets us find it.
            let at = duplicates.first.flatMap { secondOccurrence(of: $0, in: text, from: context.mark.line, file: file) } ?? loc(context.mark)
            return .error("duplicate key \(keys) in a mapping", at: at, length: duplicates.first?.count ?? 1,
                          hint: "each key may appear once; remove or rename the duplicate")
        case let .reader(problem, _, _, _):
            return .error("the file is not readable text: \(problem)", at: SourceLocation(file: file, line: 1, column: 1), hint: "save the file as UTF-8")
        case .dataCouldNotBeDecoded:
            return .error("the file is not valid UTF-8", at: SourceLocation(file: file, line: 1, column: 1), hint: "save the file as UTF-8")
        default:
            return .error("invalid YAML", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    /// Where `key:` starts a line (block mapping) for the second time at or after `line`.
    static func secondOccurrence(of key: String, in text: String, from line: Int, file: String) -> SourceLocation? {
        var seen: Int?
        var n = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            n += 1
            guard n >= line else { continue }
            var body = Substring(raw)
            var column = 1
            while body.first == " " || body.first == "-" { body = body.dropFirst(); column += 1 }
            guard body.hasPrefix(key + ":") else { continue }
            if let indent = seen {
                if indent == column { return SourceLocation(file: file, line: n, column: column) }
            } else {
                seen = column
            }
        }
        return nil
    }

    static func yamlHint(_ problem: String) -> String {
        if problem.contains("mapping values are not allowed") {
            return "a value containing ': ' must be quoted, or the indentation is off"
        }
        if problem.contains("did not find expected key") || problem.contains("expected <block end>") {
            return "check the indentation: items of one mapping must start in the same column"
        }
        if problem.contains("found undefined alias") { return "define the anchor (&name) before using *name" }
        if problem.contains("found character that cannot start any token") {
            return "quote the value: characters such as @ and ` cannot start a plain YAML scalar"
        }
        return "check the YAML syntax near this position"
    }

    /// How much a document may expand to once its aliases are resolved: in nodes, and in bytes of
    /// text (one anchored 2 MB scalar used by 300 steps is 600 MB to validate and plan).
    struct Budget {
        static let maxNodes = 1_000_000
        static let maxBytes = 16 << 20
        var nodes = 0
        var bytes = 0
        var exceeded: Bool { nodes > Self.maxNodes || bytes > Self.maxBytes }
    }

    static func convert(_ node: Node, file: String, diagnostics: inout [Diagnostic], depth: Int, budget: inout Budget) -> YAMLNode {
        let mark = node.mark
        let location = SourceLocation(file: file, line: mark?.line ?? 1, column: max(1, mark?.column ?? 1))
        let wasExceeded = budget.exceeded
        budget.nodes += 1
        if case let .scalar(s) = node { budget.bytes += s.string.utf8.count }
        if budget.exceeded {
            if !wasExceeded {
                diagnostics.append(budget.nodes > Budget.maxNodes
                    ? .error("the document expands to too many nodes (more than \(Budget.maxNodes))", at: location,
                             hint: "YAML aliases (*name) can expand exponentially; use fewer")
                    : .error("the document expands to more than \(Budget.maxBytes >> 20) MB of text once its aliases (*name) are resolved", at: location,
                             hint: "an anchored (&name) text is copied wherever it is used: keep long text in one place, or use fewer aliases"))
            }
            return YAMLNode(.scalar("", plain: true), at: location)
        }
        if depth > 200 {
            diagnostics.append(.error("nesting is too deep", at: location, hint: "a playbook or inventory needs only a few levels"))
            return YAMLNode(.scalar("", plain: true), at: location)
        }
        switch node {
        case let .scalar(s):
            let textColumn: Int?
            switch s.style {
            case .singleQuoted, .doubleQuoted: textColumn = location.column + 1
            case .literal, .folded: textColumn = nil
            default: textColumn = location.column
            }
            return YAMLNode(.scalar(s.string, plain: s.style == .plain || s.style == .any), at: location, textColumn: textColumn)
        case let .mapping(m):
            var pairs: [YAMLNode.Pair] = []
            var seen: [String: SourceLocation] = [:]
            for (k, v) in m {
                let key = convert(k, file: file, diagnostics: &diagnostics, depth: depth + 1, budget: &budget)
                // Past the budget keys are placeholders: comparing them would invent duplicates.
                if let name = key.scalar, !budget.exceeded {
                    if let first = seen[name] {
                        diagnostics.append(.error("duplicate key '\(name)' (first defined at line \(first.line))", at: key.location,
                                                  length: key.displayWidth, hint: "each key may appear once in a mapping; remove or rename one"))
                    } else {
                        seen[name] = key.location
                    }
                }
                let value = convert(v, file: file, diagnostics: &diagnostics, depth: depth + 1, budget: &budget)
                pairs.append(.init(key: key, value: value))
            }
            return YAMLNode(.mapping(pairs), at: location)
        case let .sequence(seq):
            return YAMLNode(.sequence(seq.map { convert($0, file: file, diagnostics: &diagnostics, depth: depth + 1, budget: &budget) }), at: location)
        case let .alias(a):
            // Yams resolves aliases while composing; keep this for completeness.
            return YAMLNode(.scalar(a.anchor.rawValue, plain: true), at: location)
        }
    }
}
