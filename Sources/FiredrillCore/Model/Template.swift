import Foundation

/// A string with `{{ var }}` placeholders, parsed once, with the position of each placeholder.
public struct Template: Sendable, Equatable, CustomStringConvertible {
    public enum Filter: String, Sendable, Equatable, CaseIterable {
        /// Substitute the value as is, even into a shell command.
        case raw
        /// Shell-quote the value (the default in `run:` commands).
        case quote
    }

    public struct Placeholder: Sendable, Equatable {
        /// The variable path, e.g. `vip` or `secrets.db_password`.
        public var name: String
        public var filters: [Filter]
        public var location: SourceLocation
        public var width: Int
    }

    public enum Segment: Sendable, Equatable {
        case text(String)
        case placeholder(Placeholder)
    }

    public var source: String
    public var segments: [Segment]
    public var location: SourceLocation

    public var description: String { source }
    public var placeholders: [Placeholder] {
        segments.compactMap { if case let .placeholder(p) = $0 { return p } else { return nil } }
    }

    /// A template with no placeholders.
    public init(literal: String, at location: SourceLocation) {
        self.source = literal
        self.segments = [.text(literal)]
        self.location = location
    }

    /// Parses `text`; `columnOffset` is where the text's first character sits on its line
    /// (the node's column, plus one for a quoted scalar).
    public static func parse(_ text: String, at location: SourceLocation, columnOffset: Int? = nil) -> (Template, [Diagnostic]) {
        var segments: [Segment] = []
        var diagnostics: [Diagnostic] = []
        let scalars = Array(text.unicodeScalars)
        var literal = String.UnicodeScalarView()
        var i = 0
        var line = location.line
        var col = columnOffset ?? location.column
        func here(_ c: Int) -> SourceLocation { SourceLocation(file: location.file, line: line, column: c) }
        while i < scalars.count {
            if scalars[i] == "{", i + 1 < scalars.count, scalars[i + 1] == "{" {
                let startCol = col
                var j = i + 2
                var inner = String.UnicodeScalarView()
                var closed = false
                while j < scalars.count {
                    if scalars[j] == "}", j + 1 < scalars.count, scalars[j + 1] == "}" { closed = true; break }
                    if scalars[j] == "\n" { break }
                    inner.append(scalars[j])
                    j += 1
                }
                guard closed else {
                    diagnostics.append(.error("unclosed '{{' in template", at: here(startCol), length: 2,
                                              hint: "write {{ name }}; to use literal braces, quote them in a variable"))
                    literal.append(contentsOf: scalars[i...].prefix(2))
                    i += 2; col += 2
                    continue
                }
                let width = j + 2 - i
                if !literal.isEmpty { segments.append(.text(String(literal))); literal = .init() }
                let parts = String(inner).split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                let name = parts[0]
                var filters: [Filter] = []
                for f in parts.dropFirst() {
                    if let filter = Filter(rawValue: f) { filters.append(filter) }
                    else {
                        let known = Filter.allCases.map(\.rawValue)
                        diagnostics.append(.error("unknown filter '\(f)' in '{{\(String(inner))}}'", at: here(startCol), length: width,
                                                  hint: Suggestions.hint(for: f, among: known, noun: "filter")))
                    }
                }
                if !isValidName(name) {
                    diagnostics.append(.error("'\(name)' is not a variable name", at: here(startCol), length: width,
                                              hint: "variable names use letters, digits, '_' and '.' (e.g. {{ db_host }} or {{ secrets.db_password }})"))
                }
                segments.append(.placeholder(Placeholder(name: name, filters: filters, location: here(startCol), width: width)))
                col += width
                i = j + 2
            } else {
                // Jinja statements and comments: Ansible would evaluate them; sent to a shell as
                // they are, they would run something else than the playbook says.
                if scalars[i] == "{", i + 1 < scalars.count, scalars[i + 1] == "%" || scalars[i + 1] == "#" {
                    let statement = scalars[i + 1] == "%"
                    diagnostics.append(.error(statement ? "'{%' (a Jinja statement: if, for, set…) is not supported in templates"
                                                        : "'{#' (a Jinja comment) is not supported in templates",
                                              at: here(col), length: 2,
                                              hint: statement ? "templates only substitute {{ variables }}: write the logic in the command's shell (if …; then …; fi), or use two steps; to send '{%' as it is, put it in a variable"
                                                              : "use a YAML comment (# …) outside the string; to send '{#' as it is, put it in a variable"))
                }
                if scalars[i] == "\n" { line += 1; col = 1 } else { col += 1 }
                literal.append(scalars[i])
                i += 1
            }
        }
        if !literal.isEmpty { segments.append(.text(String(literal))) }
        return (Template(source: text, segments: segments, location: location), diagnostics)
    }

    private init(source: String, segments: [Segment], location: SourceLocation) {
        self.source = source
        self.segments = segments
        self.location = location
    }

    static func isValidName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.properties.isAlphabetic && first.isASCII) else { return false }
        return s.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" || $0 == "." }
            && !s.hasSuffix(".") && !s.contains("..")
    }
}
