import Foundation

/// One line of a run's journal (`journal.jsonl`), format `firedrill.journal/1` (docs/journal.md,
/// field by field): the header every line has (`seq`, `time`, `offset_ms`, `run`, `prev`) and a
/// payload of the event's own kind, with its own typed fields and closed sets.
///
/// On disk the line is flat — reports, scoring and auditors read the JSON without knowing Swift
/// types — and `JournalLine` is that flat shape; a typed event encodes to exactly the bytes the
/// flat writer wrote, and every older journal reads (unknown values leave a field empty).
///
/// Every line carries `prev`, the SHA-256 of the previous line's bytes (64 zeros for the
/// first), so a changed, removed or reordered line breaks the chain (`verify-journal`).
public struct JournalEvent: Sendable, Equatable {
    /// The journal format this code writes; readers accept it and every older one.
    public static let format = "firedrill.journal/1"

    public var seq: Int = 0
    /// ISO 8601, UTC, milliseconds (wall clock: for people, never for durations).
    public var time: String = ""
    /// Milliseconds since this runner started, on a monotonic clock (NTP cannot move it). A
    /// resumed run is a new runner: offsets start again at its `resumed` event.
    public var offsetMS: Double?
    public var run: String = ""
    public var prev: String = ""
    public var payload: Payload

    public init(_ payload: Payload, offsetMS: Double? = nil) {
        self.payload = payload
        self.offsetMS = offsetMS
    }

    public var kind: Kind { payload.kind }

    /// The event's kind: its `event` field.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case runStarted = "run_started", resumed
        case hostReady = "host_ready", hostUnreachable = "host_unreachable"
        case checkResult = "check_result"
        case preconditionsFailed = "preconditions_failed"
        case markerWritten = "marker_written", markerRead = "marker_read"
        case stepStarted = "step_started", stepFinished = "step_finished"
        case commandStarted = "command_started", commandRunning = "command_running", commandFinished = "command_finished"
        /// A command left running (by a runner that died, or on a lost connection) was stopped.
        case leftoverStopped = "leftover_stopped"
        case verifyStarted = "verify_started", verifyFinished = "verify_finished"
        /// A verify's checks held, then one stopped holding before the hold window was over: the window restarts.
        case verifyFlapped = "verify_flapped"
        /// A verify's sample came long after it was due (a paused controller, a hung check): the window restarts.
        case verifyGap = "verify_gap"
        case manualPrompt = "manual_prompt", manualResult = "manual_result"
        case rto, rpo
        case interrupted, restoreStarted = "restore_started", restoreFinished = "restore_finished"
        case runEnded = "run_ended"
        /// Written only to the fallback file and stderr: the journal itself could not take it.
        case journalFailed = "journal_failed"
        /// A guard failed for its hold: the failover was stopped (restore runs).
        case guardTripped = "guard_tripped"
        /// One attempt to deliver a notification (webhook or command) and its answer.
        case notification
    }

    /// What happened, by kind.
    public enum Payload: Sendable, Equatable {
        case runStarted(RunStarted)
        case resumed(Resumed)
        case hostReady(HostReady)
        case hostUnreachable(HostUnreachable)
        case checkResult(CheckResult)
        case preconditionsFailed(PreconditionsFailed)
        case markerWritten(MarkerWritten)
        case markerRead(MarkerRead)
        case stepStarted(StepStarted)
        case stepFinished(StepFinished)
        case commandStarted(CommandStarted)
        case commandRunning(CommandRunning)
        case commandFinished(CommandFinished)
        case leftoverStopped(LeftoverStopped)
        case verifyStarted(VerifyStarted)
        case verifyFlapped(VerifyFlapped)
        case verifyGap(VerifyGap)
        case verifyFinished(VerifyFinished)
        case manualPrompt(ManualPrompt)
        case manualResult(ManualResult)
        case rto(Measurement)
        case rpo(Measurement)
        case interrupted(Interrupted)
        case restoreStarted(RestoreStarted)
        case restoreFinished(RestoreFinished)
        case runEnded(RunEnded)
        case journalFailed(JournalFailed)
        case guardTripped(GuardTripped)
        case notification(NotificationAttempt)

        public var kind: Kind {
            switch self {
            case .runStarted: return .runStarted
            case .resumed: return .resumed
            case .hostReady: return .hostReady
            case .hostUnreachable: return .hostUnreachable
            case .checkResult: return .checkResult
            case .preconditionsFailed: return .preconditionsFailed
            case .markerWritten: return .markerWritten
            case .markerRead: return .markerRead
            case .stepStarted: return .stepStarted
            case .stepFinished: return .stepFinished
            case .commandStarted: return .commandStarted
            case .commandRunning: return .commandRunning
            case .commandFinished: return .commandFinished
            case .leftoverStopped: return .leftoverStopped
            case .verifyStarted: return .verifyStarted
            case .verifyFlapped: return .verifyFlapped
            case .verifyGap: return .verifyGap
            case .verifyFinished: return .verifyFinished
            case .manualPrompt: return .manualPrompt
            case .manualResult: return .manualResult
            case .rto: return .rto
            case .rpo: return .rpo
            case .interrupted: return .interrupted
            case .restoreStarted: return .restoreStarted
            case .restoreFinished: return .restoreFinished
            case .runEnded: return .runEnded
            case .journalFailed: return .journalFailed
            case .guardTripped: return .guardTripped
            case .notification: return .notification
            }
        }
    }
}

// MARK: - Payloads

extension JournalEvent {
    /// The run's scope, who ran it and the plan it runs (secrets masked).
    public struct RunStarted: Sendable, Equatable {
        public var format: String?
        /// The playbook's name.
        public var name: String?
        public var facts: RunFacts?
        public var plan: JSONValue?
        /// Locks taken over from runners that died.
        public var notes: [String]
        public init(format: String? = JournalEvent.format, name: String?, facts: RunFacts?, plan: JSONValue?, notes: [String] = []) {
            self.format = format; self.name = name; self.facts = facts; self.plan = plan; self.notes = notes
        }
    }

    public struct Resumed: Sendable, Equatable {
        public var detail: String?
        /// `SEQ KIND` of the dead runner's last event.
        public var lastEvent: String?
        public var notes: [String]
        public init(detail: String?, lastEvent: String?, notes: [String] = []) {
            self.detail = detail; self.lastEvent = lastEvent; self.notes = notes
        }
    }

    public struct HostReady: Sendable, Equatable {
        public var phase: Phase?
        public var host: String
        public var latencyMS: Double?
        /// The endpoint, or `endpoint: key` when a new host key was trusted.
        public var detail: String?
        /// `--accept-new` trusted the host's key on first use.
        public var trustedNewKey: Bool
        /// How the host runs the drill's commands (`resident executor (pid N)`, `one channel per
        /// command (why)`): `data.executor`.
        public var executor: String?
        public init(phase: Phase?, host: String, latencyMS: Double?, detail: String?, trustedNewKey: Bool = false, executor: String? = nil) {
            self.phase = phase; self.host = host; self.latencyMS = latencyMS; self.detail = detail; self.trustedNewKey = trustedNewKey
            self.executor = executor
        }
    }

    public struct HostUnreachable: Sendable, Equatable {
        public var phase: Phase?
        public var host: String
        public var detail: String?
        public var problem: TransportFailureKind?
        public init(phase: Phase?, host: String, detail: String?, problem: TransportFailureKind?) {
            self.phase = phase; self.host = host; self.detail = detail; self.problem = problem
        }
    }

    public struct CheckResult: Sendable, Equatable {
        public var phase: Phase?
        /// In a verify: the step.
        public var step: String?
        public var check: String
        public var host: String?
        public var from: String?
        public var attempt: Int
        public var outcome: CheckOutcome.Status
        public var expect: Expect
        /// `up` is met by `passed` only, `down` by `failed` only, never by `error`.
        public var met: Bool
        public var detail: String
        public var latencyMS: Double?
        public init(phase: Phase?, step: String? = nil, check: String, host: String? = nil, from: String? = nil, attempt: Int = 1,
                    outcome: CheckOutcome.Status, expect: Expect, met: Bool, detail: String, latencyMS: Double? = nil) {
            self.phase = phase; self.step = step; self.check = check; self.host = host; self.from = from; self.attempt = attempt
            self.outcome = outcome; self.expect = expect; self.met = met; self.detail = detail; self.latencyMS = latencyMS
        }
    }

    public struct PreconditionsFailed: Sendable, Equatable {
        public var phase: Phase?
        public var detail: String?
        public init(phase: Phase? = nil, detail: String?) { self.phase = phase; self.detail = detail }
    }

    public struct MarkerWritten: Sendable, Equatable {
        public var host: String?
        public var passed: Bool
        /// When the write began.
        public var fromOffsetMS: Double?
        public var detail: String?
        public init(host: String?, passed: Bool, fromOffsetMS: Double? = nil, detail: String?) {
            self.host = host; self.passed = passed; self.fromOffsetMS = fromOffsetMS; self.detail = detail
        }
    }

    public struct MarkerRead: Sendable, Equatable {
        public var attempt: Int?
        /// The marker was found.
        public var passed: Bool
        public var detail: String?
        public init(attempt: Int?, passed: Bool, detail: String?) { self.attempt = attempt; self.passed = passed; self.detail = detail }
    }

    public struct StepStarted: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var name: String?
        /// `manual`, `on db1, db2`, `on no host`.
        public var detail: String?
        public var spec: StepSpec?
        public init(phase: Phase?, step: String, name: String?, detail: String? = nil, spec: StepSpec? = nil) {
            self.phase = phase; self.step = step; self.name = name; self.detail = detail; self.spec = spec
        }
    }

    public struct StepFinished: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var name: String?
        public var result: StepResult?
        public var durationMS: Double?
        /// What went wrong.
        public var detail: String?
        public init(phase: Phase?, step: String, name: String? = nil, result: StepResult?, durationMS: Double? = nil, detail: String? = nil) {
            self.phase = phase; self.step = step; self.name = name; self.result = result; self.durationMS = durationMS; self.detail = detail
        }
    }

    public struct CommandStarted: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var host: String
        /// As sent, secrets masked.
        public var command: String?
        /// The tag the command carries in its environment (`FIREDRILL_CMD`).
        public var processTag: String?
        public init(phase: Phase?, step: String, host: String, command: String?, processTag: String?) {
            self.phase = phase; self.step = step; self.host = host; self.command = command; self.processTag = processTag
        }
    }

    public struct CommandRunning: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var host: String
        public var pgid: Int
        public var processTag: String?
        public init(phase: Phase?, step: String, host: String, pgid: Int, processTag: String?) {
            self.phase = phase; self.step = step; self.host = host; self.pgid = pgid; self.processTag = processTag
        }
    }

    public struct CommandFinished: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var host: String
        public var passed: Bool
        /// Set when the command did not end with a status of its own.
        public var failure: CommandFailure?
        public var exit: Int?
        public var signal: String?
        public var timedOut: Bool?
        public var durationMS: Double?
        /// Output tails, secrets masked; how many bytes were cut before the tail.
        public var stdout: String?
        public var stderr: String?
        public var outputCutBytes: Int?
        public var detail: String?
        public init(phase: Phase?, step: String, host: String, passed: Bool, failure: CommandFailure? = nil, exit: Int? = nil,
                    signal: String? = nil, timedOut: Bool? = nil, durationMS: Double? = nil, stdout: String? = nil, stderr: String? = nil,
                    outputCutBytes: Int? = nil, detail: String? = nil) {
            self.phase = phase; self.step = step; self.host = host; self.passed = passed; self.failure = failure; self.exit = exit
            self.signal = signal; self.timedOut = timedOut; self.durationMS = durationMS; self.stdout = stdout; self.stderr = stderr
            self.outputCutBytes = outputCutBytes; self.detail = detail
        }
    }

    public struct LeftoverStopped: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var host: String
        /// 0 when the host never reported it.
        public var pgid: Int?
        public var processTag: String?
        public var verdict: LeftoverVerdict?
        public var detail: String?
        public init(phase: Phase?, step: String, host: String, pgid: Int?, processTag: String?, verdict: LeftoverVerdict?, detail: String?) {
            self.phase = phase; self.step = step; self.host = host; self.pgid = pgid; self.processTag = processTag
            self.verdict = verdict; self.detail = detail
        }
    }

    public struct VerifyStarted: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var detail: String?
        public init(phase: Phase?, step: String, detail: String?) { self.phase = phase; self.step = step; self.detail = detail }
    }

    public struct VerifyFlapped: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var attempt: Int?
        /// The run of passing samples that broke.
        public var fromOffsetMS: Double?
        public var toOffsetMS: Double?
        public var detail: String?
        public init(phase: Phase?, step: String, attempt: Int?, fromOffsetMS: Double?, toOffsetMS: Double?, detail: String?) {
            self.phase = phase; self.step = step; self.attempt = attempt; self.fromOffsetMS = fromOffsetMS; self.toOffsetMS = toOffsetMS
            self.detail = detail
        }
    }

    /// No sample for a while: from the last sample to this one, nothing was seen.
    public struct VerifyGap: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        /// The sample that came late.
        public var attempt: Int?
        /// The last sample before the gap, and the one after it.
        public var fromOffsetMS: Double?
        public var toOffsetMS: Double?
        public var seconds: Double?
        public var detail: String?
        public init(phase: Phase?, step: String, attempt: Int?, fromOffsetMS: Double?, toOffsetMS: Double?, seconds: Double?, detail: String?) {
            self.phase = phase; self.step = step; self.attempt = attempt; self.fromOffsetMS = fromOffsetMS; self.toOffsetMS = toOffsetMS
            self.seconds = seconds; self.detail = detail
        }
    }

    public struct VerifyFinished: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var passed: Bool
        /// Samples taken.
        public var attempt: Int?
        public var durationMS: Double?
        /// The first sample of the run that held.
        public var heldFromOffsetMS: Double?
        public var detail: String?
        public init(phase: Phase?, step: String, passed: Bool, attempt: Int?, durationMS: Double? = nil, heldFromOffsetMS: Double? = nil,
                    detail: String? = nil) {
            self.phase = phase; self.step = step; self.passed = passed; self.attempt = attempt; self.durationMS = durationMS
            self.heldFromOffsetMS = heldFromOffsetMS; self.detail = detail
        }
    }

    public struct ManualPrompt: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        public var instruction: String?
        public init(phase: Phase?, step: String, instruction: String?) { self.phase = phase; self.step = step; self.instruction = instruction }
    }

    public struct ManualResult: Sendable, Equatable {
        public var phase: Phase?
        public var step: String
        /// `operator`, or the flag that answered in advance (`--manual=pass`).
        public var answeredBy: String?
        public var outcome: ManualOutcome?
        public var detail: String?
        public init(phase: Phase?, step: String, answeredBy: String?, outcome: ManualOutcome?, detail: String?) {
            self.phase = phase; self.step = step; self.answeredBy = answeredBy; self.outcome = outcome; self.detail = detail
        }
    }

    /// RTO or RPO.
    public struct Measurement: Sendable, Equatable {
        public var step: String?
        public var seconds: Double?
        /// RPO: the marker was found.
        public var passed: Bool?
        public var fromOffsetMS: Double?
        public var toOffsetMS: Double?
        public var objectiveSeconds: Double?
        public var withinObjective: Bool?
        public var detail: String?
        public init(step: String? = nil, seconds: Double?, passed: Bool? = nil, fromOffsetMS: Double? = nil, toOffsetMS: Double? = nil,
                    objectiveSeconds: Double? = nil, withinObjective: Bool? = nil, detail: String? = nil) {
            self.step = step; self.seconds = seconds; self.passed = passed; self.fromOffsetMS = fromOffsetMS; self.toOffsetMS = toOffsetMS
            self.objectiveSeconds = objectiveSeconds; self.withinObjective = withinObjective; self.detail = detail
        }
    }

    public struct Interrupted: Sendable, Equatable {
        public var response: InterruptResponse?
        public var detail: String?
        public init(response: InterruptResponse?, detail: String?) { self.response = response; self.detail = detail }
    }

    public struct RestoreStarted: Sendable, Equatable {
        public var reason: RestoreReason?
        public var detail: String?
        public init(reason: RestoreReason?, detail: String?) { self.reason = reason; self.detail = detail }
    }

    public struct RestoreFinished: Sendable, Equatable {
        public var status: RestoreStatus?
        public var detail: String?
        public init(status: RestoreStatus?, detail: String?) { self.status = status; self.detail = detail }
    }

    public struct RunEnded: Sendable, Equatable {
        public var result: RunResult?
        /// The failures, grouped.
        public var detail: String?
        /// What restore did and the state the hosts were left in, in words.
        public var restore: String?
        public var finalState: String?
        /// Was any failover command sent.
        public var touched: Bool?
        public var rtoSeconds: Double?
        public var rpoSeconds: Double?
        public init(result: RunResult?, detail: String? = nil, restore: String? = nil, finalState: String? = nil, touched: Bool? = nil,
                    rtoSeconds: Double? = nil, rpoSeconds: Double? = nil) {
            self.result = result; self.detail = detail; self.restore = restore; self.finalState = finalState; self.touched = touched
            self.rtoSeconds = rtoSeconds; self.rpoSeconds = rpoSeconds
        }
    }

    public struct JournalFailed: Sendable, Equatable {
        public var detail: String?
        public init(detail: String?) { self.detail = detail }
    }

    /// A guard failed (or could not be checked, with `on_unknown: abort`) for its hold.
    public struct GuardTripped: Sendable, Equatable {
        /// The drill's phase when it tripped.
        public var phase: Phase?
        public var check: String
        public var host: String?
        public var from: String?
        public var outcome: CheckOutcome.Status
        /// The last failing sample, and what follows.
        public var detail: String
        /// The first failing sample of the run of failing samples.
        public var sinceOffsetMS: Double?
        /// How long it had been failing.
        public var seconds: Double?
        /// Failing samples in a row.
        public var samples: Int
        public init(phase: Phase?, check: String, host: String? = nil, from: String? = nil, outcome: CheckOutcome.Status, detail: String,
                    sinceOffsetMS: Double? = nil, seconds: Double? = nil, samples: Int) {
            self.phase = phase; self.check = check; self.host = host; self.from = from; self.outcome = outcome; self.detail = detail
            self.sinceOffsetMS = sinceOffsetMS; self.seconds = seconds; self.samples = samples
        }

        /// `name` or `name@host`.
        public var label: String { host.map { "\(check)@\($0)" } ?? check }
    }

    /// One delivery attempt of a notification.
    public struct NotificationAttempt: Sendable, Equatable {
        /// What it tells: `started`, `failed`, `restore_failed`…
        public var on: String
        /// Where it went, secrets masked: `webhook https://hooks.example.org/…`, `command mail -s …`.
        public var target: String
        public var attempt: Int
        public var delivered: Bool
        /// The answer: `HTTP 200 in 12 ms`, `HTTP 500: …`, `connection refused`, `exit 0`.
        public var detail: String
        public var latencyMS: Double?
        public init(on: String, target: String, attempt: Int, delivered: Bool, detail: String, latencyMS: Double? = nil) {
            self.on = on; self.target = target; self.attempt = attempt; self.delivered = delivered; self.detail = detail; self.latencyMS = latencyMS
        }
    }
}

// MARK: - Common fields, for readers that look across kinds

extension JournalEvent {
    /// The step an event belongs to, if any.
    public var step: String? {
        switch payload {
        case let .checkResult(p): return p.step
        case let .stepStarted(p): return p.step
        case let .stepFinished(p): return p.step
        case let .commandStarted(p): return p.step
        case let .commandRunning(p): return p.step
        case let .commandFinished(p): return p.step
        case let .leftoverStopped(p): return p.step
        case let .verifyStarted(p): return p.step
        case let .verifyFlapped(p): return p.step
        case let .verifyGap(p): return p.step
        case let .verifyFinished(p): return p.step
        case let .manualPrompt(p): return p.step
        case let .manualResult(p): return p.step
        case let .rto(p), let .rpo(p): return p.step
        case .runStarted, .resumed, .hostReady, .hostUnreachable, .preconditionsFailed, .markerWritten, .markerRead,
             .interrupted, .restoreStarted, .restoreFinished, .runEnded, .journalFailed, .guardTripped, .notification:
            return nil
        }
    }
}

// MARK: - The flat line on disk

/// The flat JSON object of one journal line, as `firedrill.journal/1` (and format 0) spell it:
/// every field of every kind, optional. Only the journal's reader and writer see it.
struct JournalLine: Sendable, Codable, Equatable {
    var seq: Int = 0
    var time: String = ""
    var offsetMS: Double?
    var event: JournalEvent.Kind
    var run: String = ""
    var format: String?
    var phase: Phase?
    var step: String?
    var name: String?
    var host: String?
    var check: String?
    var from: String?
    var command: String?
    var attempt: Int?
    var passed: Bool?
    var outcome: CheckOutcome.Status?
    var expect: Expect?
    var met: Bool?
    var answeredBy: String?
    var exit: Int?
    var signal: String?
    var pgid: Int?
    var processTag: String?
    var timedOut: Bool?
    var durationMS: Double?
    var latencyMS: Double?
    var stdout: String?
    var stderr: String?
    var outputCutBytes: Int?
    var detail: String?
    /// Raw: each kind reads it into its own closed set (an unknown value leaves that field empty).
    var result: String?
    var seconds: Double?
    var objectiveSeconds: Double?
    var withinObjective: Bool?
    var fromOffsetMS: Double?
    var toOffsetMS: Double?
    var spec: StepSpec?
    var facts: RunFacts?
    var plan: JSONValue?
    var data: [String: String]?
    var prev: String = ""

    init(_ event: JournalEvent.Kind) { self.event = event }

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

extension JournalEvent: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(line: try JournalLine(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try line.encode(to: encoder)
    }

    /// The typed event of a flat line. Older formats read too: format 0 kept the run's facts in
    /// `run_started`'s `data`, and a check's result in `passed` (with `still up`/`down as
    /// expected` for `down` checks).
    init(line l: JournalLine) {
        let detail = l.detail
        let payload: Payload
        switch l.event {
        case .runStarted:
            payload = .runStarted(RunStarted(format: l.format, name: l.name, facts: l.facts ?? l.data.flatMap(RunFacts.init(legacy:)),
                                             plan: l.plan, notes: Self.lines(l.data?["notes"])))
        case .resumed:
            payload = .resumed(Resumed(detail: detail, lastEvent: l.data?["last_event"], notes: Self.lines(l.data?["notes"])))
        case .hostReady:
            payload = .hostReady(HostReady(phase: l.phase, host: l.host ?? "", latencyMS: l.latencyMS, detail: detail,
                                           trustedNewKey: l.result == "trusted_new_key", executor: l.data?["executor"]))
        case .hostUnreachable:
            payload = .hostUnreachable(HostUnreachable(phase: l.phase, host: l.host ?? "", detail: detail,
                                                       problem: l.result.flatMap(TransportFailureKind.init(rawValue:))))
        case .checkResult:
            let expect = l.expect ?? (l.result == "still up" || l.result == "down as expected" ? .down : .up)
            let outcome = l.outcome ?? (l.passed == true ? .passed : .failed)
            let met = l.met ?? (expect == .up ? outcome == .passed : outcome == .failed)
            payload = .checkResult(CheckResult(phase: l.phase, step: l.step, check: l.check ?? "", host: l.host, from: l.from,
                                               attempt: l.attempt ?? 1, outcome: outcome, expect: expect, met: met, detail: detail ?? "",
                                               latencyMS: l.latencyMS))
        case .preconditionsFailed:
            payload = .preconditionsFailed(PreconditionsFailed(phase: l.phase, detail: detail))
        case .markerWritten:
            payload = .markerWritten(MarkerWritten(host: l.host, passed: l.passed == true, fromOffsetMS: l.fromOffsetMS, detail: detail))
        case .markerRead:
            payload = .markerRead(MarkerRead(attempt: l.attempt, passed: l.passed == true, detail: detail))
        case .stepStarted:
            payload = .stepStarted(StepStarted(phase: l.phase, step: l.step ?? "", name: l.name, detail: detail, spec: l.spec))
        case .stepFinished:
            payload = .stepFinished(StepFinished(phase: l.phase, step: l.step ?? "", name: l.name, result: l.result.flatMap(StepResult.init(rawValue:)),
                                                 durationMS: l.durationMS, detail: detail))
        case .commandStarted:
            payload = .commandStarted(CommandStarted(phase: l.phase, step: l.step ?? "", host: l.host ?? "", command: l.command, processTag: l.processTag))
        case .commandRunning:
            payload = .commandRunning(CommandRunning(phase: l.phase, step: l.step ?? "", host: l.host ?? "", pgid: l.pgid ?? 0, processTag: l.processTag))
        case .commandFinished:
            payload = .commandFinished(CommandFinished(
                phase: l.phase, step: l.step ?? "", host: l.host ?? "", passed: l.passed == true,
                failure: l.result.flatMap(CommandFailure.init(rawValue:)), exit: l.exit, signal: l.signal, timedOut: l.timedOut,
                durationMS: l.durationMS, stdout: l.stdout, stderr: l.stderr, outputCutBytes: l.outputCutBytes, detail: detail))
        case .leftoverStopped:
            payload = .leftoverStopped(LeftoverStopped(phase: l.phase, step: l.step ?? "", host: l.host ?? "", pgid: l.pgid, processTag: l.processTag,
                                                       verdict: l.result.flatMap(LeftoverVerdict.init(rawValue:)), detail: detail))
        case .verifyStarted:
            payload = .verifyStarted(VerifyStarted(phase: l.phase, step: l.step ?? "", detail: detail))
        case .verifyFlapped:
            payload = .verifyFlapped(VerifyFlapped(phase: l.phase, step: l.step ?? "", attempt: l.attempt, fromOffsetMS: l.fromOffsetMS,
                                                   toOffsetMS: l.toOffsetMS, detail: detail))
        case .verifyGap:
            payload = .verifyGap(VerifyGap(phase: l.phase, step: l.step ?? "", attempt: l.attempt, fromOffsetMS: l.fromOffsetMS,
                                           toOffsetMS: l.toOffsetMS, seconds: l.seconds, detail: detail))
        case .verifyFinished:
            payload = .verifyFinished(VerifyFinished(phase: l.phase, step: l.step ?? "", passed: l.passed == true, attempt: l.attempt,
                                                     durationMS: l.durationMS, heldFromOffsetMS: l.fromOffsetMS, detail: detail))
        case .manualPrompt:
            payload = .manualPrompt(ManualPrompt(phase: l.phase, step: l.step ?? "", instruction: detail))
        case .manualResult:
            // Format 0 had no `answered_by`: who answered is read from the detail.
            let by = l.answeredBy ?? ((detail ?? "").contains("--manual=") ? "--manual" : "operator")
            payload = .manualResult(ManualResult(phase: l.phase, step: l.step ?? "", answeredBy: by,
                                                 outcome: l.result.flatMap(ManualOutcome.init(rawValue:)), detail: detail))
        case .rto, .rpo:
            let m = Measurement(step: l.step, seconds: l.seconds, passed: l.passed, fromOffsetMS: l.fromOffsetMS, toOffsetMS: l.toOffsetMS,
                                objectiveSeconds: l.objectiveSeconds, withinObjective: l.withinObjective, detail: detail)
            payload = l.event == .rto ? .rto(m) : .rpo(m)
        case .interrupted:
            payload = .interrupted(Interrupted(response: l.result.flatMap(InterruptResponse.init(rawValue:)), detail: detail))
        case .restoreStarted:
            payload = .restoreStarted(RestoreStarted(reason: l.result.flatMap(RestoreReason.init(rawValue:)), detail: detail))
        case .restoreFinished:
            payload = .restoreFinished(RestoreFinished(status: l.result.flatMap(RestoreStatus.init(rawValue:)), detail: detail))
        case .runEnded:
            payload = .runEnded(RunEnded(result: l.result.flatMap(RunResult.init(rawValue:)), detail: detail, restore: l.data?["restore"],
                                         finalState: l.data?["final_state"], touched: l.data?["touched"].map { $0 == "true" },
                                         rtoSeconds: l.data?["rto_seconds"].flatMap(Double.init), rpoSeconds: l.data?["rpo_seconds"].flatMap(Double.init)))
        case .journalFailed:
            payload = .journalFailed(JournalFailed(detail: detail))
        case .guardTripped:
            payload = .guardTripped(GuardTripped(phase: l.phase, check: l.check ?? "", host: l.host, from: l.from, outcome: l.outcome ?? .failed,
                                                 detail: detail ?? "", sinceOffsetMS: l.fromOffsetMS, seconds: l.seconds, samples: l.attempt ?? 1))
        case .notification:
            payload = .notification(NotificationAttempt(on: l.result ?? "", target: l.name ?? "", attempt: l.attempt ?? 1, delivered: l.passed == true,
                                                        detail: detail ?? "", latencyMS: l.latencyMS))
        }
        self.init(payload, offsetMS: l.offsetMS)
        seq = l.seq; time = l.time; run = l.run; prev = l.prev
    }

    static func lines(_ text: String?) -> [String] { (text ?? "").split(separator: "\n").map(String.init) }

    /// The flat line of this event: the fields its kind writes, as the runner has always written them.
    var line: JournalLine {
        var l = JournalLine(kind)
        l.seq = seq; l.time = time; l.offsetMS = offsetMS; l.run = run; l.prev = prev
        switch payload {
        case let .runStarted(p):
            l.format = p.format; l.name = p.name; l.facts = p.facts; l.plan = p.plan
            if !p.notes.isEmpty { l.data = ["notes": p.notes.joined(separator: "\n")] }
        case let .resumed(p):
            l.phase = .resume; l.detail = p.detail
            var data: [String: String] = [:]
            data["last_event"] = p.lastEvent
            if !p.notes.isEmpty { data["notes"] = p.notes.joined(separator: "\n") }
            l.data = data.isEmpty ? nil : data
        case let .hostReady(p):
            l.phase = p.phase; l.host = p.host; l.latencyMS = p.latencyMS; l.detail = p.detail
            if p.trustedNewKey { l.result = "trusted_new_key" }
            if let executor = p.executor { l.data = ["executor": executor] }
        case let .hostUnreachable(p):
            l.phase = p.phase; l.host = p.host; l.detail = p.detail; l.result = p.problem?.rawValue
        case let .checkResult(p):
            l.phase = p.phase; l.step = p.step; l.check = p.check; l.host = p.host; l.from = p.from; l.attempt = p.attempt
            l.detail = p.detail; l.latencyMS = p.latencyMS; l.outcome = p.outcome; l.expect = p.expect; l.met = p.met
        case let .preconditionsFailed(p):
            l.phase = p.phase; l.detail = p.detail
        case let .markerWritten(p):
            l.phase = .dataCheck; l.host = p.host; l.passed = p.passed; l.fromOffsetMS = p.fromOffsetMS; l.detail = p.detail
        case let .markerRead(p):
            l.phase = .dataCheck; l.attempt = p.attempt; l.passed = p.passed; l.detail = p.detail
        case let .stepStarted(p):
            l.phase = p.phase; l.step = p.step; l.name = p.name; l.detail = p.detail; l.spec = p.spec
        case let .stepFinished(p):
            l.phase = p.phase; l.step = p.step; l.name = p.name; l.result = p.result?.rawValue; l.durationMS = p.durationMS; l.detail = p.detail
        case let .commandStarted(p):
            l.phase = p.phase; l.step = p.step; l.host = p.host; l.command = p.command; l.processTag = p.processTag
        case let .commandRunning(p):
            l.phase = p.phase; l.step = p.step; l.host = p.host; l.pgid = p.pgid; l.processTag = p.processTag
        case let .commandFinished(p):
            l.phase = p.phase; l.step = p.step; l.host = p.host; l.passed = p.passed; l.result = p.failure?.rawValue
            l.exit = p.exit; l.signal = p.signal; l.timedOut = p.timedOut; l.durationMS = p.durationMS
            l.stdout = p.stdout; l.stderr = p.stderr; l.outputCutBytes = p.outputCutBytes; l.detail = p.detail
        case let .leftoverStopped(p):
            l.phase = p.phase; l.step = p.step; l.host = p.host; l.pgid = p.pgid; l.processTag = p.processTag
            l.result = p.verdict?.rawValue; l.detail = p.detail
        case let .verifyStarted(p):
            l.phase = p.phase; l.step = p.step; l.detail = p.detail
        case let .verifyFlapped(p):
            l.phase = p.phase; l.step = p.step; l.attempt = p.attempt; l.fromOffsetMS = p.fromOffsetMS; l.toOffsetMS = p.toOffsetMS
            l.detail = p.detail
        case let .verifyGap(p):
            l.phase = p.phase; l.step = p.step; l.attempt = p.attempt; l.fromOffsetMS = p.fromOffsetMS; l.toOffsetMS = p.toOffsetMS
            l.seconds = p.seconds; l.detail = p.detail
        case let .verifyFinished(p):
            l.phase = p.phase; l.step = p.step; l.passed = p.passed; l.attempt = p.attempt; l.durationMS = p.durationMS
            l.fromOffsetMS = p.heldFromOffsetMS; l.detail = p.detail
        case let .manualPrompt(p):
            l.phase = p.phase; l.step = p.step; l.detail = p.instruction
        case let .manualResult(p):
            l.phase = p.phase; l.step = p.step; l.answeredBy = p.answeredBy; l.result = p.outcome?.rawValue; l.detail = p.detail
        case let .rto(m), let .rpo(m):
            l.step = m.step; l.seconds = m.seconds; l.passed = m.passed; l.fromOffsetMS = m.fromOffsetMS; l.toOffsetMS = m.toOffsetMS
            l.objectiveSeconds = m.objectiveSeconds; l.withinObjective = m.withinObjective; l.detail = m.detail
        case let .interrupted(p):
            l.result = p.response?.rawValue; l.detail = p.detail
        case let .restoreStarted(p):
            l.phase = .restore; l.result = p.reason?.rawValue; l.detail = p.detail
        case let .restoreFinished(p):
            l.phase = .restore; l.result = p.status?.rawValue; l.detail = p.detail
        case let .runEnded(p):
            l.result = p.result?.rawValue; l.detail = p.detail
            var data: [String: String] = [:]
            data["restore"] = p.restore
            data["final_state"] = p.finalState
            data["touched"] = p.touched.map { $0 ? "true" : "false" }
            data["rto_seconds"] = p.rtoSeconds.map { String(format: "%.3f", $0) }
            data["rpo_seconds"] = p.rpoSeconds.map { String(format: "%.3f", $0) }
            l.data = data.isEmpty ? nil : data
        case let .journalFailed(p):
            l.detail = p.detail
        case let .guardTripped(p):
            l.phase = p.phase; l.check = p.check; l.host = p.host; l.from = p.from; l.outcome = p.outcome; l.detail = p.detail
            l.fromOffsetMS = p.sinceOffsetMS; l.seconds = p.seconds; l.attempt = p.samples
        case let .notification(p):
            l.result = p.on; l.name = p.target; l.attempt = p.attempt; l.passed = p.delivered; l.detail = p.detail; l.latencyMS = p.latencyMS
        }
        return l
    }
}

/// What a step will do, as `step_started` records it.
public struct StepSpec: Sendable, Codable, Equatable {
    public struct Check: Sendable, Codable, Equatable {
        public var name: String
        public var type: String
        public var host: String?
        public var from: String?
        public var expect: Expect

        public init(name: String, type: String, host: String?, from: String?, expect: Expect) {
            self.name = name; self.type = type; self.host = host; self.from = from; self.expect = expect
        }
    }

    public struct Verify: Sendable, Codable, Equatable {
        public var withinSeconds: Double
        public var holdSeconds: Double
        public var checks: [Check]

        public init(withinSeconds: Double, holdSeconds: Double, checks: [Check]) {
            self.withinSeconds = withinSeconds; self.holdSeconds = holdSeconds; self.checks = checks
        }

        enum CodingKeys: String, CodingKey { case withinSeconds = "within_seconds", holdSeconds = "hold_seconds", checks }
    }

    /// `command` or `manual`.
    public var kind: Kind
    public var pattern: String?
    public var hosts: [String]
    public var batches: [[String]]
    public var timeoutSeconds: Double
    public var maxFailPercentage: Int
    public var disruptive: Bool
    public var instruction: String?
    public var verify: Verify?

    public enum Kind: String, Sendable, Codable, CaseIterable { case command, manual }

    public init(kind: Kind, pattern: String?, hosts: [String], batches: [[String]], timeoutSeconds: Double, maxFailPercentage: Int,
                disruptive: Bool, instruction: String?, verify: Verify?) {
        self.kind = kind; self.pattern = pattern; self.hosts = hosts; self.batches = batches; self.timeoutSeconds = timeoutSeconds
        self.maxFailPercentage = maxFailPercentage; self.disruptive = disruptive; self.instruction = instruction; self.verify = verify
    }

    enum CodingKeys: String, CodingKey {
        case kind, pattern, hosts, batches, timeoutSeconds = "timeout_seconds", maxFailPercentage = "max_fail_percentage"
        case disruptive, instruction, verify
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
