/// Runs commands on one host: over SSH, or locally for `ansible_connection=local`.
public protocol Transport: Sendable {
    /// Runs `command` with a deadline. On timeout or task cancellation the command's whole
    /// process group is killed on the host before this returns (or the error says it could not be).
    /// `tag` goes into the command's environment (`FIREDRILL_CMD`): the caller journals it before
    /// sending, so a later run can find and stop the command even if this runner dies before the
    /// host reports anything. `started` is called once the host reports the command's process
    /// group (on a transport's own thread). With `become`, the command runs as another user
    /// (sudo); so do its kill and everything the transport does about it.
    ///
    /// The command is sent at most once: an error of a kind where `mayHaveRun` is true means it
    /// may have started, and its outcome is unknown.
    func run(_ command: String, timeout: Duration, tag: String, become: Become?, started: (@Sendable (RemoteProcess) -> Void)?) async throws(TransportError) -> CommandResult
    func close() async
}

extension Transport {
    public func run(_ command: String, timeout: Duration, become: Become? = nil) async throws(TransportError) -> CommandResult {
        try await run(command, timeout: timeout, tag: RemoteProcess.newTag(), become: become, started: nil)
    }
}

/// A host's transport whose commands all run as another user (a check with become).
struct BecomingTransport: Transport {
    let base: any Transport
    let become: Become

    func run(_ command: String, timeout: Duration, tag: String, become other: Become?, started: (@Sendable (RemoteProcess) -> Void)?) async throws(TransportError) -> CommandResult {
        try await base.run(command, timeout: timeout, tag: tag, become: other ?? become, started: started)
    }

    /// The connection is the host's, shared: not this view's to close.
    func close() async {}
}

/// A command's process group on its host, and the tag in its environment that proves a group
/// with that id is still ours (ids are reused).
public struct RemoteProcess: Sendable, Equatable, Codable {
    /// 0 when the host never reported it (the runner died first): found by its tag then.
    public var pgid: Int32
    public var tag: String

    public init(pgid: Int32, tag: String) { self.pgid = pgid; self.tag = tag }

    /// A fresh tag for one command (letters and digits only: it is written into shell text).
    public static func newTag() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36) + String(UInt32.random(in: 0...UInt32.max), radix: 36)
    }
}

/// How long the controller waits on a command, beyond the command's own timeout; every part has
/// a deadline, so a host that stops answering costs at most `worstCase` (docs/journal.md).
public struct CommandBudget: Sendable, Equatable {
    /// The command's `timeout`, enforced on the host by GNU `timeout`.
    public var timeout: Duration
    /// After `timeout`, how long the host gives the command to end before SIGKILL.
    public var grace: Duration
    /// Margin for the end of the command to reach the controller.
    public static let slack: Duration = .seconds(1)
    /// Delivering a kill from a second channel: opening it, running `kill`, closing it.
    public static let kill: Duration = .seconds(3)
    /// Closing the channel politely.
    public static let close: Duration = .seconds(1)

    public init(timeout: Duration, grace: Duration) { self.timeout = timeout; self.grace = grace }

    /// Until when the controller waits for the command to end on its own (counted from its start).
    public var waitForEnd: Duration { timeout + grace + Self.slack }
    /// The longest `run` takes, also when the host stops answering mid-command.
    public var worstCase: Duration { waitForEnd + Self.kill + Self.close }
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
    /// Timed out and ignored SIGTERM: the host killed it with SIGKILL after the grace.
    public var killedAfterGrace = false
    /// The command ended, but something it started still held its output open (a daemon): the
    /// status is the command's own, taken after the output grace.
    public var outputHeldOpen = false

    public init(outcome: Outcome, stdout: CapturedOutput, stderr: CapturedOutput, duration: Duration,
                killedAfterGrace: Bool = false, outputHeldOpen: Bool = false) {
        self.outcome = outcome; self.stdout = stdout; self.stderr = stderr; self.duration = duration
        self.killedAfterGrace = killedAfterGrace; self.outputHeldOpen = outputHeldOpen
    }

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

    /// The status in the last end marker (`\nMARKER<digits>\n`) within the last `window` bytes.
    public func endStatus(marker: [UInt8], window: Int) -> Int32? {
        guard let r = lastMarker(marker, from: max(0, bytes.count - window)) else { return nil }
        return r.status
    }

    /// Takes the last end marker out of the output (it is ours, not the command's).
    public mutating func removeEndMarker(_ marker: [UInt8]) {
        guard let r = lastMarker(marker, from: 0) else { return }
        bytes.removeSubrange(r.range)
    }

    private func lastMarker(_ marker: [UInt8], from start: Int) -> (range: Range<Int>, status: Int32)? {
        let needle = [UInt8(ascii: "\n")] + marker
        guard bytes.count >= needle.count + 2 else { return nil }
        var i = bytes.count - needle.count
        while i >= start {
            if bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                var j = i + needle.count
                var digits = 0
                var value: Int32 = 0
                while j < bytes.count, (0x30...0x39).contains(bytes[j]), digits < 4 {
                    value = value * 10 + Int32(bytes[j] - 0x30); j += 1; digits += 1
                }
                if digits > 0, j < bytes.count, bytes[j] == UInt8(ascii: "\n") { return (i..<(j + 1), value) }
            }
            i -= 1
        }
        return nil
    }

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
    public typealias Kind = TransportFailureKind

    /// Whether the command may have started on the host: its outcome is unknown, and it must not
    /// be sent again.
    public var mayHaveRun: Bool {
        switch kind {
        case .connectionLost, .unresponsive, .cancelled: return true
        case .connectionRefused, .nameResolution, .connectTimeout, .handshake, .hostKeyUnknown, .hostKeyChanged,
             .authentication, .channel, .disconnected, .timeout, .local, .unsupported, .become:
            return false
        }
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

extension SecretMasker {
    /// Captured command output, masked; its tail was cut from the front when bytes were dropped.
    public func output(_ captured: CapturedOutput) -> String {
        String(decoding: mask(captured.bytes, cutBefore: captured.droppedBytes > 0, cutAfter: false), as: UTF8.self)
    }
}
