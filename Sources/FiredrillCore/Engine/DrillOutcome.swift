import Foundation

/// How a run treats manual steps.
public enum ManualMode: String, Sendable, CaseIterable {
    /// Ask the operator (needs a terminal).
    case ask
    /// Record as confirmed without asking (`--manual=pass`), or as skipped, or as failed.
    case pass, skip, fail
}

public enum ManualDecision: Sendable, Equatable {
    case confirmed
    case failed(String)
    case skipped
    /// Nobody answered: an interrupt, or the terminal closed. Never taken for a decision.
    case noAnswer(String)
}

/// Where the runner reports progress and asks the operator. Events arrive after they are journaled
/// (or, once the journal cannot be written, after they went to the fallback file).
public protocol DrillObserver: Sendable {
    func record(_ event: JournalEvent) async
    /// A manual step in `ask` mode: show the instruction, return the operator's answer.
    func manual(_ step: PlannedStep) async -> ManualDecision
    /// Whether the operator can be asked (a terminal): without one, abandoning restore is refused.
    var canConfirm: Bool { get }
    /// A further interrupt while restore runs: abandon restore? (false keeps restoring).
    func confirmAbandonRestore() async -> Bool
}

public struct RunOptions: Sendable {
    public var forks: Int
    public var manual: ManualMode
    /// First pause between verify attempts; it grows by half each attempt, up to `maxPollInterval`.
    public var pollInterval: Duration
    public var maxPollInterval: Duration
    /// A guard's sample that has not answered by its check's timeout plus this much real time
    /// (a host frozen under its SSH connection) is "could not check"; nil: no watchdog (a
    /// runner on a virtual clock, whose probes answer at once, must not race real time).
    public var guardWatchdog: Duration? = .seconds(2)
    /// How the watchdog waits (real time; a test gives it a gate it opens itself).
    public var guardWatchdogSleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }

    public init(forks: Int = 10, manual: ManualMode = .ask, pollInterval: Duration = .milliseconds(200), maxPollInterval: Duration = .seconds(2)) {
        self.forks = forks; self.manual = manual; self.pollInterval = pollInterval; self.maxPollInterval = maxPollInterval
    }
}

/// How a run ended: its result (the exit status) and its record, which the summary is drawn from.
public struct DrillOutcome: Sendable {
    public typealias Result = DrillStateMachine.Result
    public var result: Result
    public var runID: String
    public var journalPath: String
    /// The run as its journal tells it (with the events that went to the fallback, if any).
    public var record: DrillRecord
    /// Set when the journal could not be written: why, and where the rest of the evidence went.
    public var recordIncomplete: String?

    public var exitStatus: ExitStatus { ExitStatus(result) }
}

/// Runs `body` for each item, at most `limit` at once; results in the items' order.
public func inParallel<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async -> R) async -> [R] {
    await withTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        func add() {
            let i = next
            group.addTask { (i, await body(items[i])) }
            next += 1
        }
        while next < min(max(1, limit), items.count) { add() }
        for await (i, r) in group {
            results[i] = r
            if next < items.count { add() }
        }
        return results.compactMap { $0 }
    }
}

extension Duration {
    var formatted: String { DurationText.format(self) }
}
