/// Something a user got wrong (or should look at), with where, what, and what to do.
///
/// Every error a user can cause — in a playbook, an inventory, a command-line
/// argument — is a `Diagnostic`. It never carries a Swift type name.
public struct Diagnostic: Error, Sendable, Hashable, Codable {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error, warning
    }

    public var severity: Severity
    public var location: SourceLocation?
    /// How many columns the caret underline spans (at least 1).
    public var length: Int
    /// What is wrong, in the user's words.
    public var message: String
    /// What to do about it.
    public var hint: String?

    public init(
        _ severity: Severity = .error,
        at location: SourceLocation?,
        length: Int = 1,
        _ message: String,
        hint: String? = nil
    ) {
        self.severity = severity
        self.location = location
        self.length = max(1, length)
        self.message = message
        self.hint = hint
    }

    public static func error(_ message: String, at location: SourceLocation? = nil, length: Int = 1, hint: String? = nil) -> Diagnostic {
        Diagnostic(.error, at: location, length: length, message, hint: hint)
    }

    public static func warning(_ message: String, at location: SourceLocation? = nil, length: Int = 1, hint: String? = nil) -> Diagnostic {
        Diagnostic(.warning, at: location, length: length, message, hint: hint)
    }

    public var isError: Bool { severity == .error }
}

/// A failure that carries one or more diagnostics (what loaders and validators throw), with the
/// text of the files they point into (so a diagnostic can show its line).
public struct DiagnosticsError: Error, Sendable {
    public var diagnostics: [Diagnostic]
    public var sources: [String: String]
    public init(_ diagnostics: [Diagnostic], sources: [String: String] = [:]) { self.diagnostics = diagnostics; self.sources = sources }
}

extension Array where Element == Diagnostic {
    public var hasErrors: Bool { contains { $0.isError } }
    public var errors: [Diagnostic] { filter(\.isError) }

    /// Sorted by file, line, column, keeping the original order for ties.
    public func sortedByLocation() -> [Diagnostic] {
        enumerated().sorted { a, b in
            let la = a.element.location, lb = b.element.location
            switch (la, lb) {
            case let (x?, y?):
                if x.file != y.file { return x.file < y.file }
                if x.line != y.line { return x.line < y.line }
                if x.column != y.column { return x.column < y.column }
                return a.offset < b.offset
            case (nil, _?): return true
            case (_?, nil): return false
            case (nil, nil): return a.offset < b.offset
            }
        }.map(\.element)
    }
}
