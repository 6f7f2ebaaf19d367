/// Runs commands on one host: over SSH, or locally for `ansible_connection=local`.
public protocol Transport: Sendable {
    /// Runs `command` with a deadline. On timeout or task cancellation the command's whole
    /// process group is killed on the host before this returns.
    func run(_ command: String, timeout: Duration) async throws(TransportError) -> CommandResult
    func close() async
}

public struct CommandResult: Sendable, Equatable, Codable {
    public enum Outcome: Sendable, Equatable, Codable {
        case exited(Int32)
        case signaled(String)
        case timedOut
    }

    public var outcome: Outcome
    public var stdout: CapturedOutput
    public var stderr: CapturedOutput
    public var duration: Duration

    public var succeeded: Bool { outcome == .exited(0) }
}

extension CommandResult.Outcome: CustomStringConvertible {
    /// `exit 3`, `killed by SIGTERM`, `timed out` (killed on the host).
    public var description: String {
        switch self {
        case let .exited(code): return "exit \(code)"
        case let .signaled(s): return "killed by SIG\(s)"
        case .timedOut: return "timed out (killed on the host)"
        }
    }
}

/// Command output, capped: the tail is kept, and how much was cut is counted.
public struct CapturedOutput: Sendable, Equatable, Codable, CustomStringConvertible {
    public static let defaultLimit = 64 * 1024
    public private(set) var bytes: [UInt8] = []
    public private(set) var droppedBytes = 0
    public let limit: Int

    public init(limit: Int = CapturedOutput.defaultLimit) { self.limit = limit }

    public mutating func append(_ chunk: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: chunk)
        if bytes.count > limit * 2 { trim() }
    }

    public mutating func append(_ chunk: [UInt8]) {
        bytes.append(contentsOf: chunk)
        if bytes.count > limit * 2 { trim() }
    }

    public mutating func finish() { if bytes.count > limit { trim() } }

    private mutating func trim() {
        let cut = bytes.count - limit
        droppedBytes += cut
        bytes.removeFirst(cut)
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { droppedBytes > 0 ? "[… \(droppedBytes) bytes cut]\n" + text : text }
}

/// Why a command could not be run: each names the host and what was tried.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable, Codable {
        case connectionRefused, nameResolution, connectTimeout, handshake, hostKeyUnknown, hostKeyChanged
        case authentication, channel, disconnected, timeout, cancelled, local
    }

    public var kind: Kind
    public var host: String
    public var endpoint: String
    public var message: String
    public var hint: String?

    public init(_ kind: Kind, host: String, endpoint: String, _ message: String, hint: String? = nil) {
        self.kind = kind; self.host = host; self.endpoint = endpoint; self.message = message; self.hint = hint
    }

    /// `db-2 (10.0.0.12:22): authentication failed (tried: …)`.
    public var description: String { "\(host) (\(endpoint)): \(message)" }
}
