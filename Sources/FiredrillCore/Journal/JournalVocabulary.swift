/// The closed sets a journal records, one per question: the engine decides with them, the
/// journal writes their raw values, and the record, the score and every report switch over them
/// (never over strings, never with `default:`). docs/journal.md lists which event uses which.

/// Where in a run an event happened.
public enum Phase: String, Sendable, Codable, CaseIterable {
    case steadyState = "steady_state", resume, dataCheck = "data_check", failover, onFailure = "on_failure", restore, final
    /// A guard's sample (`guards:`), apart from the steps.
    case guards = "guard"
}

/// What a check was expected to show.
public enum Expect: String, Sendable, Codable, CaseIterable { case up, down }

/// How a run ended (`run_ended`): the exit status comes from it (`ExitStatus`).
public enum RunResult: String, Sendable, Codable, CaseIterable {
    case passed, failed, interrupted, preconditions
    /// The journal could not be written: restore was attempted, the record is incomplete.
    case incomplete
}

/// How a step ended (`step_finished`).
public enum StepResult: String, Sendable, Codable, CaseIterable {
    case passed, failed, interrupted
    /// The step selects no host (within `--limit`): nothing ran, it did not pass either.
    case skipped
}

/// Why restore started (`restore_started`).
public enum RestoreReason: String, Sendable, Codable, CaseIterable {
    /// Every failover step passed: restore puts the service back.
    case completed
    case stepFailed = "step_failed"
    case interrupted
    case journalFailed = "journal_failed"
    /// A runner died mid-drill and `--resume` finishes its restore.
    case resumed
    /// A guard failed for its hold: production was being hurt.
    case guardTripped = "guard_tripped"
}

/// What restore did (`restore_finished`, and the run's ending).
public enum RestoreStatus: String, Sendable, Codable, CaseIterable {
    /// Nothing was touched, so nothing needed restoring.
    case notNeeded = "not_needed"
    case completed, failed
    /// The operator confirmed abandoning it.
    case abandoned
    /// Needed, but could not start (a resumed run whose hosts do not answer).
    case notRun = "not_run"
}

/// Why a command did not end with an exit status of its own (`command_finished`'s `result`).
public enum CommandFailure: Sendable, Equatable, Hashable, RawRepresentable, Codable {
    /// The connection broke or the host stopped answering after it was sent: it may have run; never sent again.
    case unknown
    /// Never sent: an empty command, its start could not be journaled, or the drill was stopping.
    case notSent
    /// Cancelled by an interrupt while it ran (its process group was killed).
    case interrupted
    /// The transport could not run it (never sent).
    case transport(TransportFailureKind)

    public init?(rawValue: String) {
        switch rawValue {
        case "unknown": self = .unknown
        case "not_sent": self = .notSent
        case "interrupted": self = .interrupted
        default:
            guard let k = TransportFailureKind(rawValue: rawValue) else { return nil }
            self = .transport(k)
        }
    }

    public var rawValue: String {
        switch self {
        case .unknown: return "unknown"
        case .notSent: return "not_sent"
        case .interrupted: return "interrupted"
        case let .transport(k): return k.rawValue
        }
    }
}

/// What stopping a command left running found (`leftover_stopped`).
public enum LeftoverVerdict: String, Sendable, Codable, CaseIterable {
    /// Every live process carrying the command's tag was found and its process group killed.
    case killed
    /// Nothing carries the tag any more.
    case alreadyEnded = "already_ended"
    /// The host could not be asked, or its answer was not understood.
    case unknown
    /// A command that ended (succeeded or failed) left these running, holding its output: named,
    /// not touched (that is how services start).
    case leftRunning = "left_running"
    /// Killed, but some tagged processes still ran after SIGKILL (stuck in the kernel): named.
    case survived
}

/// The answer to a manual step (`manual_result`).
public enum ManualOutcome: String, Sendable, Codable, CaseIterable {
    case confirmed, skipped, failed
    /// An interrupt, or the terminal closed: never taken for a decision; the step does not pass.
    case noAnswer = "no_answer"
}

/// What an interrupt meant when it came (`interrupted`).
public enum InterruptResponse: String, Sendable, Codable, CaseIterable {
    /// The failover (or the final check, or an abandoned restore) stops; `detail` says whether restore runs.
    case stopping
    case restoreContinues = "restore_continues"
    /// The operator is asked whether to abandon restore.
    case asking
    case ignored
}

/// How a run stands as its journal tells it: its result once it ended, else `unfinished` (no
/// `run_ended`: resume it), or `unknown` (the journal is damaged before it says).
public enum RunStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case passed, failed, interrupted, preconditions, incomplete, unfinished, unknown

    public init(_ result: RunResult) {
        switch result {
        case .passed: self = .passed
        case .failed: self = .failed
        case .interrupted: self = .interrupted
        case .preconditions: self = .preconditions
        case .incomplete: self = .incomplete
        }
    }

    /// A status as stored elsewhere (the history database); anything else is `unknown`.
    public init(text: String) { self = RunStatus(rawValue: text) ?? .unknown }

    public var description: String { rawValue }
}

extension DrillRecord {
    /// The run's status: its result once it ended; `incomplete` when its journal failed mid-run.
    public var status: RunStatus {
        if let r = ending?.result { return RunStatus(r) }
        return journalFailed != nil ? .incomplete : .unfinished
    }
}

extension ExitStatus {
    /// How a run's result ends the command: 0 passed, 1 failed (restore ran), 3 preconditions
    /// not met, 4 the journal could not be written (restore was attempted), 130 interrupted.
    public init(_ result: RunResult) {
        switch result {
        case .passed: self = .passed
        case .failed: self = .failed
        case .preconditions: self = .preconditions
        case .incomplete: self = .recordIncomplete
        case .interrupted: self = .interrupted
        }
    }
}
