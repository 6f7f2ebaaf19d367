import Foundation

/// One line of a run's journal (`journal.jsonl`), format `firedrill.journal/1` (docs/journal.md,
/// field by field). Flat on purpose: reports, scoring and auditors read these lines without
/// knowing Swift types. Absent fields are omitted. Closed sets (`event`, `phase`, `result`,
/// `outcome`, `expect`) are enums here and plain strings in the JSON.
///
/// Every line carries `prev`, the SHA-256 of the previous line's bytes (64 zeros for the
/// first), so a changed, removed or reordered line breaks the chain (`verify-journal`).
public struct JournalEvent: Sendable, Codable, Equatable {
    /// The journal format this code writes; readers accept it and every older one.
    public static let format = "firedrill.journal/1"

    public enum Kind: String, Sendable, Codable {
        case runStarted = "run_started", resumed
        case hostReady = "host_ready", hostUnreachable = "host_unreachable"
        case checkResult = "check_result"
        case preconditionsFailed = "preconditions_failed"
        case markerWritten = "marker_written", markerRead = "marker_read"
        case stepStarted = "step_started", stepFinished = "step_finished"
        case commandStarted = "command_started", commandRunning = "command_running", commandFinished = "command_finished"
        /// A command left running (by a runner that died, or on a lost connection) was stopped before restore.
        case leftoverStopped = "leftover_stopped"
        case verifyStarted = "verify_started", verifyFinished = "verify_finished"
        /// A verify's checks held, then one stopped holding before the hold window was over: the window restarts.
        case verifyFlapped = "verify_flapped"
        case manualPrompt = "manual_prompt", manualResult = "manual_result"
        case rto, rpo
        case interrupted, restoreStarted = "restore_started", restoreFinished = "restore_finished"
        case runEnded = "run_ended"
        /// Written only to the fallback file and stderr: the journal itself could not take it.
        case journalFailed = "journal_failed"
    }

    public enum Phase: String, Sendable, Codable {
        case steadyState = "steady_state", resume, dataCheck = "data_check", failover, onFailure = "on_failure", restore, final
    }

    /// Every value `result` takes, whatever the event (docs/journal.md lists which event uses which).
    public enum Result: String, Sendable, Codable, Equatable {
        // run_ended, step_finished
        case passed, failed, interrupted, preconditions, incomplete, skipped
        // command_finished
        case unknown, notSent = "not_sent"
        // command_finished / host_unreachable: why a command could not be run (TransportError.Kind)
        case connectionRefused, nameResolution, connectTimeout, handshake, hostKeyUnknown, hostKeyChanged
        case authentication, channel, disconnected, timeout, cancelled, local, connectionLost, unresponsive
        // host_ready
        case trustedNewKey = "trusted_new_key"
        // manual_result
        case confirmed, noAnswer = "no_answer"
        // interrupted
        case stopping, restoreContinues = "restore_continues", asking, restoreAbandoned = "restore_abandoned", ignored
        // leftover_stopped
        case killed, alreadyEnded = "already_ended", notOurs = "not_ours"
        // restore_started (why), restore_finished (what it did)
        case completed, stepFailed = "step_failed", journalFailed = "journal_failed", resumed
        case abandoned, notNeeded = "not_needed", notRun = "not_run"
        // Written by journals before format 1 (check_result of a `down` check); read, never written.
        case legacyStillUp = "still up", legacyDownAsExpected = "down as expected"

        public init(_ kind: TransportError.Kind) {
            self = Result(rawValue: kind.rawValue) ?? .unknown
        }
    }

    /// What a check was expected to show.
    public enum Expect: String, Sendable, Codable { case up, down }

    public var seq: Int = 0
    /// ISO 8601, UTC, milliseconds.
    public var time: String = ""
    /// Milliseconds since this runner started, on a monotonic clock (NTP cannot move it). A
    /// resumed run is a new runner: offsets start again at its `resumed` event.
    public var offsetMS: Double?
    public var event: Kind
    public var run: String = ""
    /// `run_started` only: the journal format (`firedrill.journal/1`).
    public var format: String?
    public var phase: Phase?
    /// Step id (`failover.2`, `restore.1`, `failover.2.on_failure.1`) and name.
    public var step: String?
    public var name: String?
    public var host: String?
    public var check: String?
    public var from: String?
    /// The command as sent, secrets masked.
    public var command: String?
    public var attempt: Int?
    public var passed: Bool?
    /// `check_result`: what the probe found, what was expected, and whether that was met.
    public var outcome: CheckOutcome.Status?
    public var expect: Expect?
    public var met: Bool?
    /// `manual_result`: `operator` (asked on the terminal) or the flag that answered (`--manual=pass`).
    public var answeredBy: String?
    public var exit: Int?
    public var signal: String?
    /// `command_running`: the command's process group on its host, and the tag proving it is ours.
    public var pgid: Int?
    public var processTag: String?
    public var timedOut: Bool?
    public var durationMS: Double?
    public var latencyMS: Double?
    /// Output tails, secrets masked; how many bytes were cut before the tail.
    public var stdout: String?
    public var stderr: String?
    public var outputCutBytes: Int?
    public var detail: String?
    public var result: Result?
    public var seconds: Double?
    public var objectiveSeconds: Double?
    public var withinObjective: Bool?
    /// `rto`/`rpo`: the offsets the measurement spans (from, to).
    public var fromOffsetMS: Double?
    public var toOffsetMS: Double?
    /// `step_started`: what the step will do, so a reader needs no playbook.
    public var spec: StepSpec?
    /// `run_started`: the run's scope and who ran it; the plan it runs (secrets masked).
    public var facts: RunFacts?
    public var plan: JSONValue?
    /// Free-form facts (`run_ended`: restore, final state, RTO/RPO; `resumed`: last event, notes).
    public var data: [String: String]?
    public var prev: String = ""

    public init(_ event: Kind) { self.event = event }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case seq, time, offsetMS = "offset_ms", event, run, format, phase, step, name, host, check, from, command, attempt, passed
        case outcome, expect, met, exit, signal, pgid, answeredBy = "answered_by"
        case processTag = "process_tag"
        case timedOut = "timed_out", durationMS = "duration_ms", latencyMS = "latency_ms", stdout, stderr
        case outputCutBytes = "output_cut_bytes", detail, result, seconds
        case objectiveSeconds = "objective_seconds", withinObjective = "within_objective"
        case fromOffsetMS = "from_offset_ms", toOffsetMS = "to_offset_ms"
        case spec, facts, plan, data, prev
    }
}

/// What a step will do, as `step_started` records it.
public struct StepSpec: Sendable, Codable, Equatable {
    public struct Check: Sendable, Codable, Equatable {
        public var name: String
        public var type: String
        public var host: String?
        public var from: String?
        public var expect: JournalEvent.Expect
    }

    public struct Verify: Sendable, Codable, Equatable {
        public var withinSeconds: Double
        public var holdSeconds: Double
        public var checks: [Check]

        enum CodingKeys: String, CodingKey { case withinSeconds = "within_seconds", holdSeconds = "hold_seconds", checks }
    }

    /// `command` or `manual`.
    public var kind: String
    public var pattern: String?
    public var hosts: [String]
    public var batches: [[String]]
    public var timeoutSeconds: Double
    public var maxFailPercentage: Int
    public var disruptive: Bool
    public var instruction: String?
    public var verify: Verify?

    enum CodingKeys: String, CodingKey {
        case kind, pattern, hosts, batches, timeoutSeconds = "timeout_seconds", maxFailPercentage = "max_fail_percentage"
        case disruptive, instruction, verify
    }

    public init(_ step: PlannedStep) {
        kind = step.kind.rawValue
        pattern = step.pattern
        hosts = step.hosts
        batches = step.batches
        timeoutSeconds = DurationText.seconds(step.timeout.duration)
        maxFailPercentage = step.maxFailPercentage
        disruptive = step.disruptive
        instruction = step.instruction
        verify = step.verify.map { v in
            Verify(withinSeconds: DurationText.seconds(v.within.duration), holdSeconds: DurationText.seconds(v.hold.duration),
                   checks: v.up.map { Check(name: $0.name, type: $0.type, host: $0.host, from: $0.from, expect: .up) }
                       + v.down.map { Check(name: $0.name, type: $0.type, host: $0.host, from: $0.from, expect: .down) })
        }
    }
}

/// Any JSON value: how `run_started` carries the plan, so it is inside the hash chain and a
/// reader needs no `plan.json`.
public enum JSONValue: Sendable, Codable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(n): try c.encode(n)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    /// Any Encodable value, as JSON.
    public static func from<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    public subscript(key: String) -> JSONValue? {
        if case let .object(o) = self { return o[key] }
        return nil
    }
}
