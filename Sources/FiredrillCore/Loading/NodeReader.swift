import Foundation

/// Reads typed values out of `YAMLNode`s, collecting a diagnostic for every mistake
/// (wrong type, unknown key, bad duration) instead of stopping at the first.
public struct NodeReader {
    public var diagnostics: [Diagnostic] = []

    public init() {}

    mutating func error(_ message: String, at node: YAMLNode, hint: String? = nil) {
        diagnostics.append(.error(message, at: node.location, length: node.displayWidth, hint: hint))
    }

    mutating func warning(_ message: String, at node: YAMLNode, hint: String? = nil) {
        diagnostics.append(.warning(message, at: node.location, length: node.displayWidth, hint: hint))
    }

    /// The mapping's entries by key; reports keys not in `allowed` with a did-you-mean hint.
    mutating func mapping(_ node: YAMLNode, _ what: String, allowed: [String]) -> [String: YAMLNode]? {
        guard let pairs = node.pairs else {
            error("\(what) must be a mapping (key: value), found \(node.typeName)", at: node,
                  hint: "expected keys: \(allowed.joined(separator: ", "))")
            return nil
        }
        var out: [String: YAMLNode] = [:]
        for pair in pairs {
            guard let key = pair.key.scalar else {
                error("keys in \(what) must be plain words", at: pair.key)
                continue
            }
            if allowed.contains(key) {
                out[key] = pair.value
            } else {
                error("unknown key '\(key)' in \(what)", at: pair.key,
                      hint: Suggestions.hint(for: key, among: allowed, noun: "key", listLabel: "allowed keys"))
            }
        }
        return out
    }

    /// Entries of a mapping whose keys are names chosen by the user (checks, vars, secrets).
    mutating func namedEntries(_ node: YAMLNode, _ what: String) -> [(name: String, key: YAMLNode, value: YAMLNode)] {
        if node.isNull { return [] }
        guard let pairs = node.pairs else {
            error("\(what) must be a mapping of names to values, found \(node.typeName)", at: node)
            return []
        }
        var out: [(String, YAMLNode, YAMLNode)] = []
        for pair in pairs {
            guard let key = pair.key.scalar, !key.isEmpty else {
                error("names in \(what) must be plain words", at: pair.key)
                continue
            }
            guard acceptable(key, in: pair.key, what: "a name in \(what)", maxLength: Self.maxNameLength) else { continue }
            out.append((key, pair.key, pair.value))
        }
        return out
    }

    mutating func string(_ node: YAMLNode, _ what: String) -> String? {
        guard let s = node.scalar, !node.isNull else {
            error("\(what) must be text, found \(node.typeName)", at: node)
            return nil
        }
        return s
    }

    mutating func nonEmptyString(_ node: YAMLNode, _ what: String) -> String? {
        guard let s = string(node, what) else { return nil }
        if s.allSatisfy(\.isWhitespace) {
            error("\(what) must not be empty", at: node)
            return nil
        }
        return s
    }

    mutating func located(_ node: YAMLNode, _ what: String) -> Located<String>? {
        guard let s = nonEmptyString(node, what) else { return nil }
        return Located(s, at: textLocation(node), width: node.displayWidth)
    }

    /// Names are printed on terminals and in reports, and journaled with every event of their
    /// step: one line of printable text, of a sensible length.
    static let maxNameLength = 200
    /// Prose (an instruction, a scenario): a few paragraphs at most.
    static let maxProseLength = 4_000

    /// A name (a step's, a check's, the drill's): not empty, no control characters, not too long.
    /// A refused name is still returned (its error is recorded, so the playbook does not load):
    /// the step or check it names is read on, without follow-on errors ("no steps").
    mutating func name(_ node: YAMLNode, _ what: String) -> Located<String>? {
        guard let l = located(node, what) else { return nil }
        _ = acceptable(l.value, in: node, what: what, maxLength: Self.maxNameLength)
        return l
    }

    /// Text of a few lines (line breaks and tabs allowed).
    mutating func prose(_ node: YAMLNode, _ what: String) -> String? {
        guard let s = nonEmptyString(node, what), acceptable(s, in: node, what: what, maxLength: Self.maxProseLength, allowLines: true) else { return nil }
        return s
    }

    /// True when `s` is fine; else says why, at `node`.
    mutating func acceptable(_ s: String, in node: YAMLNode, what: String, maxLength: Int, allowLines: Bool = false) -> Bool {
        if let c = TerminalText.firstControl(s, allowLines: allowLines) {
            let shown = String(format: c.value <= 0xFF ? "\\x%02x" : "\\u%04x", c.value)
            error("\(what) holds a control character (\(shown))\(allowLines ? "" : " or a line break")", at: node,
                  hint: "names are printed on terminals and in reports: use printable text on one line")
            return false
        }
        if s.count > maxLength {
            error("\(what) is \(s.count) characters long (at most \(maxLength))", at: node, hint: "keep it short; put detail in a comment")
            return false
        }
        return true
    }

    mutating func int(_ node: YAMLNode, _ what: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard let s = node.scalar, let i = Int(s) else {
            error("\(what) must be a whole number, found \(node.scalar.map { "'\($0)'" } ?? node.typeName)", at: node)
            return nil
        }
        if let range, !range.contains(i) {
            error("\(what) must be between \(range.lowerBound) and \(range.upperBound), found \(i)", at: node)
            return nil
        }
        return i
    }

    mutating func bool(_ node: YAMLNode, _ what: String) -> Bool? {
        switch node.scalar {
        case "true", "True", "yes", "on": return true
        case "false", "False", "no", "off": return false
        default:
            error("\(what) must be true or false, found \(node.scalar.map { "'\($0)'" } ?? node.typeName)", at: node)
            return nil
        }
    }

    mutating func duration(_ node: YAMLNode, _ what: String) -> Duration? {
        guard let s = node.scalar, !node.isNull else {
            error("\(what) must be a duration such as 90s, 5m or 1h30m, found \(node.typeName)", at: node)
            return nil
        }
        guard let d = DurationText.parse(s) else {
            error("'\(s)' is not a duration", at: node,
                  hint: "write a number and a unit: ms, s, m, h or d — e.g. 500ms, 90s, 5m, 1h30m")
            return nil
        }
        return d
    }

    mutating func enumValue<E: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ what: String, _ type: E.Type) -> E? where E.RawValue == String {
        guard let s = string(node, what) else { return nil }
        if let v = E(rawValue: s) { return v }
        let all = E.allCases.map(\.rawValue)
        let guess = Suggestions.closest(to: s, in: all).map { "did you mean '\($0)'? " } ?? ""
        error("'\(s)' is not a valid \(what)", at: node, hint: "\(guess)\(what) is one of: \(all.joined(separator: ", "))")
        return nil
    }

    mutating func template(_ node: YAMLNode, _ what: String) -> Template? {
        guard let s = nonEmptyString(node, what) else { return nil }
        let (t, d) = Template.parse(s, at: textLocation(node), columnOffset: node.textColumn)
        diagnostics += d
        return t
    }

    /// A list of names; a single scalar counts as a one-element list.
    mutating func nameList(_ node: YAMLNode, _ what: String) -> [Located<String>] {
        if node.isNull { return [] }
        if node.scalar != nil { return located(node, what).map { [$0] } ?? [] }
        guard let items = node.items else {
            error("\(what) must be a list of names, found \(node.typeName)", at: node)
            return []
        }
        return items.compactMap { located($0, "an entry of \(what)") }
    }

    func textLocation(_ node: YAMLNode) -> SourceLocation {
        var loc = node.location
        if let c = node.textColumn { loc.column = c }
        return loc
    }
}
