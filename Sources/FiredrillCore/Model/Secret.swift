import Foundation

/// A secret value. It prints, debug-prints and encodes as a mask; only `reveal()` gives the value,
/// and only the transport calls it, when it sends a command.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, Encodable {
    public static let mask = "••••••"
    private let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { Secret.mask }
    public var debugDescription: String { Secret.mask }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Secret.mask)
    }

    /// The raw value. Call it only where the value leaves the process for its destination.
    public func reveal() -> String { value }
}

/// Where a secret's value comes from: `env:NAME` or `file:PATH`.
public enum SecretSource: Sendable, Hashable, Codable, CustomStringConvertible {
    case environment(String)
    case file(String)

    public init?(_ text: String) {
        if text.hasPrefix("env:"), text.count > 4 { self = .environment(String(text.dropFirst(4))) }
        else if text.hasPrefix("file:"), text.count > 5 { self = .file(String(text.dropFirst(5))) }
        else { return nil }
    }

    public var description: String {
        switch self {
        case let .environment(n): return "env:\(n)"
        case let .file(p): return "file:\(p)"
        }
    }
}

extension SecretDeclaration {
    /// The secret's value from its source; an error that says how to provide it otherwise.
    /// A file's trailing newline is not part of the value.
    public func resolve(playbookFile: String, environment: [String: String]) -> Result<Secret, Diagnostic> {
        switch source {
        case let .environment(name):
            guard let v = environment[name], !v.isEmpty else {
                return .failure(.error("secret '\(self.name)': environment variable \(name) is not set", at: location, length: self.name.count,
                                       hint: "export \(name)=… before the drill (it is never printed or journaled)"))
            }
            return checked(v)
        case let .file(path):
            let full = resolvePath(path, relativeTo: playbookFile)
            guard let data = FileManager.default.contents(atPath: full) else {
                return .failure(.error("secret '\(self.name)': cannot read \(full)", at: location, length: self.name.count,
                                       hint: "create the file (mode 600) with the value on one line"))
            }
            var text = String(decoding: data, as: UTF8.self)
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            return checked(text)
        }
    }

    /// A value too short to mask could not be kept out of output (masking "ab" would mangle every line).
    private func checked(_ value: String) -> Result<Secret, Diagnostic> {
        guard value.count >= SecretMasker.minimumLength else {
            return .failure(.error("secret '\(name)' is shorter than \(SecretMasker.minimumLength) characters: it could not be masked in output",
                                   at: location, length: name.count, hint: "use the real value; secrets this short are not secret"))
        }
        return .success(Secret(value))
    }
}

/// Replaces secret values wherever they could surface: command output, check evidence, errors.
public struct SecretMasker: Sendable {
    /// Shorter secrets are refused when resolved (`SecretDeclaration.resolve`).
    public static let minimumLength = 3
    let values: [String]
    public init(_ secrets: [String: Secret]) {
        // Longest first, so a secret containing another is masked whole; one-character values would mask everything.
        values = secrets.values.map { $0.reveal() }.filter { $0.count >= Self.minimumLength }.sorted { $0.count > $1.count }
    }
    public func callAsFunction(_ text: String) -> String {
        values.reduce(text) { $0.replacingOccurrences(of: $1, with: Secret.mask) }
    }

    /// Masks `text`, which was cut out of a longer text: before its first character when
    /// `cutBefore`, after its last when `cutAfter`. A secret split by the cut leaves part of its
    /// value at the edge; any end of a value found there is masked too (a few characters of
    /// ordinary output may be masked with it: the safe side).
    public func callAsFunction(_ text: String, cutBefore: Bool, cutAfter: Bool = false) -> String {
        var out = Array(self(text))
        guard !values.isEmpty else { return String(out) }
        let mask = Array(Secret.mask)
        if cutBefore {
            // The longest proper suffix of a value that the text starts with.
            let n = values.map { v -> Int in
                let chars = Array(v)
                return (1..<chars.count).reversed().first { k in out.count >= k && Array(chars.suffix(k)) == Array(out.prefix(k)) } ?? 0
            }.max() ?? 0
            if n > 0 { out = mask + out.dropFirst(n) }
        }
        if cutAfter {
            let n = values.map { v -> Int in
                let chars = Array(v)
                return (1..<chars.count).reversed().first { k in out.count >= k && Array(chars.prefix(k)) == Array(out.suffix(k)) } ?? 0
            }.max() ?? 0
            if n > 0 { out = out.dropLast(n) + mask }
        }
        return String(out)
    }

    /// Captured command output, masked; its tail was cut from the front when bytes were dropped.
    public func output(_ captured: CapturedOutput) -> String {
        self(captured.text, cutBefore: captured.droppedBytes > 0)
    }
}
