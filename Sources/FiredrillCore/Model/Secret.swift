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
///
/// Works on UTF-8 bytes, not characters: a combining mark written after a value, or a cut
/// through a multi-byte character, must not hide the value from the match. Besides each value it
/// masks the forms a shell shows it in (`'it'\''s'` as `set -x` prints a quoted value).
public struct SecretMasker: Sendable {
    /// Shorter secrets are refused when resolved (`SecretDeclaration.resolve`).
    public static let minimumLength = 3
    static let maskBytes = Array(Secret.mask.utf8)
    /// Byte forms to mask, longest first (so a form containing another is masked whole).
    let forms: [[UInt8]]

    public init(_ secrets: [String: Secret]) {
        var forms = Set<[UInt8]>()
        for secret in secrets.values {
            let value = secret.reveal()
            guard value.count >= Self.minimumLength else { continue }
            forms.insert(Array(value.utf8))
            // As we quote it in commands (shlex style), as bash's `set -x` shows a quoted value, and
            // as bash writes values with special bytes (`$'…'`: `printf %q`, `${v@Q}`, `set -x`).
            for quoted in [ShellQuoting.quote(value), "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'", Self.ansiC(value)]
                where quoted != value {
                forms.insert(Array(quoted.utf8))
                if quoted.hasPrefix("'"), quoted.hasSuffix("'"), quoted.count > 2 { forms.insert(Array(quoted.dropFirst().dropLast().utf8)) }
                if quoted.hasPrefix("$'"), quoted.count > 3 { forms.insert(Array(quoted.dropFirst(2).dropLast().utf8)) }
            }
            // A multi-line value (a key, a certificate): each line is secret material on its own.
            for line in value.split(whereSeparator: \.isNewline) where line.count >= Self.minimumLength && line.count < value.count {
                forms.insert(Array(line.utf8))
            }
        }
        self.forms = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
    }

    /// Bash's ANSI-C quoting of a value: `$'h\303\251llo\tx'`.
    static func ansiC(_ value: String) -> String {
        var out = "$'"
        for b in value.utf8 {
            switch b {
            case 0x09: out += "\\t"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x1b: out += "\\E"
            case 0x27: out += "\\'"
            case 0x5c: out += "\\\\"
            case 0x20...0x7e: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\" + String(b, radix: 8).leftPadded(to: 3)
            }
        }
        return out + "'"
    }

    public func callAsFunction(_ text: String) -> String {
        guard !forms.isEmpty else { return text }
        return String(decoding: mask(Array(text.utf8), cutBefore: false, cutAfter: false), as: UTF8.self)
    }

    /// Masks `text`, which was cut out of a longer text: before its first byte when `cutBefore`,
    /// after its last when `cutAfter`. A secret split by the cut leaves part of its value at the
    /// edge; any end of a value found there is masked too (a few bytes of ordinary output may be
    /// masked with it: the safe side).
    public func callAsFunction(_ text: String, cutBefore: Bool, cutAfter: Bool = false) -> String {
        String(decoding: mask(Array(text.utf8), cutBefore: cutBefore, cutAfter: cutAfter), as: UTF8.self)
    }

    func mask(_ input: [UInt8], cutBefore: Bool, cutAfter: Bool) -> [UInt8] {
        guard !forms.isEmpty else { return input }
        var bytes = input
        // Edges first, on the bytes as cut: a value's end at the start, a value's start at the end.
        var head = 0, tail = 0
        if cutBefore {
            head = forms.map { f in (1..<f.count).reversed().first { k in bytes.count >= k && bytes[..<k].elementsEqual(f.suffix(k)) } ?? 0 }.max() ?? 0
        }
        if cutAfter {
            tail = forms.map { f in (1..<f.count).reversed().first { k in bytes.count >= k && bytes.suffix(k).elementsEqual(f.prefix(k)) } ?? 0 }.max() ?? 0
        }
        if head + tail > bytes.count { return Self.maskBytes }
        var out: [UInt8] = head > 0 ? Self.maskBytes : []
        let body = Array(bytes[head..<(bytes.count - tail)])
        out += replaceAll(body)
        if tail > 0 { out += Self.maskBytes }
        bytes = out
        return bytes
    }

    private func replaceAll(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        scan: while i < bytes.count {
            for f in forms where f.count <= bytes.count - i && bytes[i] == f[0] && bytes[i..<(i + f.count)].elementsEqual(f) {
                out += Self.maskBytes
                i += f.count
                continue scan
            }
            out.append(bytes[i])
            i += 1
        }
        return out
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
