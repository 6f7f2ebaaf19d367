/// Text produced by rendering a template: literal pieces and secrets kept apart, so that the
/// display form is always masked and only `reveal(_:)` puts secret values in.
public struct RenderedText: Sendable, Hashable, Encodable, CustomStringConvertible {
    public enum Piece: Sendable, Hashable {
        case text(String)
        /// A secret by name, and whether it is shell-quoted when revealed.
        case secret(name: String, quoted: Bool)
    }

    public var pieces: [Piece]

    public init(_ pieces: [Piece] = []) { self.pieces = pieces }
    public init(text: String) { self.pieces = [.text(text)] }

    /// The form shown to people and written to the journal: secrets masked.
    public var description: String {
        pieces.map { piece in
            switch piece {
            case let .text(t): return t
            case .secret: return Secret.mask
            }
        }.joined()
    }

    public var secretNames: [String] {
        pieces.compactMap { if case let .secret(n, _) = $0 { return n } else { return nil } }
    }

    /// The real text, with secret values in. Missing secrets raise; nothing is guessed.
    public func reveal(_ secrets: [String: Secret]) throws -> String {
        var out = ""
        for piece in pieces {
            switch piece {
            case let .text(t): out += t
            case let .secret(name, quoted):
                guard let s = secrets[name] else { throw Diagnostic.error("secret '\(name)' has no value", hint: "declare it under secrets: and set its source") }
                out += quoted ? ShellQuoting.quote(s.reveal()) : s.reveal()
            }
        }
        return out
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
