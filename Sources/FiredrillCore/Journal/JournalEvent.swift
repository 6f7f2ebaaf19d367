import Foundation

/// One line of a run's journal (`journal.jsonl`). Flat on purpose: reports, scoring and
/// auditors read these lines without knowing Swift types. Absent fields are omitted.
///
/// Every line carries `prev`, the SHA-256 of the previous line's bytes (64 zeros for the
/// first), so a changed, removed or reordered line breaks the chain (`verify-journal`).
public struct JournalEvent: Sendable, Codable, Equatable {
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

    public var seq: Int = 0
    /// ISO 8601, UTC, milliseconds.
    public var time: String = ""
    public var event: Kind
    public var run: String = ""
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
    /// `passed`, `failed`, `skipped`, `interrupted`, `preconditions`, …
    public var result: String?
    public var seconds: Double?
    public var objectiveSeconds: Double?
    public var withinObjective: Bool?
    /// Free-form facts of `run_started` / `run_ended` (hashes, operator, version, state left in).
    public var data: [String: String]?
    public var prev: String = ""

    public init(_ event: Kind) { self.event = event }

    enum CodingKeys: String, CodingKey {
        case seq, time, event, run, phase, step, name, host, check, from, command, attempt, passed, exit, signal, pgid
        case processTag = "process_tag"
        case timedOut = "timed_out", durationMS = "duration_ms", latencyMS = "latency_ms", stdout, stderr
        case outputCutBytes = "output_cut_bytes", detail, result, seconds
        case objectiveSeconds = "objective_seconds", withinObjective = "within_objective", data, prev
    }
}
