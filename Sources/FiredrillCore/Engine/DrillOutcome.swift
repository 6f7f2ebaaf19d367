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

    public init(forks: Int = 10, manual: ManualMode = .ask, pollInterval: Duration = .milliseconds(200), maxPollInterval: Duration = .seconds(2)) {
        self.forks = forks; self.manual = manual; self.pollInterval = pollInterval; self.maxPollInterval = maxPollInterval
    }
}

/// How a run ended, for the summary and the exit status.
public struct DrillOutcome: Sendable {
    public typealias Result = DrillStateMachine.Result
    public var result: Result
    /// A `--resume` of a run whose runner died.
    public var resumed: Bool
    public var runID: String
    public var journalPath: String
    public var rto: Duration?
    public var rtoObjective: Duration?
    public var rpo: Duration?
    public var rpoObjective: Duration?
    /// Why the drill failed, grouped: one line per step and reason, naming its hosts.
    public var failures: [String]
    /// Steps that ran on no host (they selected none within `--limit`).
    public var skipped: [String]
    public var restore: String
    /// The state the hosts were left in, in words.
    public var finalState: String
    /// Set when the journal could not be written: why, and where the rest of the evidence went.
    public var recordIncomplete: String?
    /// Locks taken over from runners that died, and leftover commands stopped, in words.
    public var notes: [String]

    public var exitCode: Int32 { Self.exitCode(result) }

    /// 0 passed, 1 failed (restore ran), 3 preconditions not met, 4 the journal could not be
    /// written (restore was attempted; the record is incomplete), 130 interrupted.
    public static func exitCode(_ result: Result) -> Int32 {
        switch result {
        case .passed: return 0
        case .failed: return 1
        case .preconditions: return 3
        case .incomplete: return 4
        case .interrupted: return 130
        }
    }
}

/// One thing that went wrong: a step on a host (or its verify), with the evidence.
struct Failure: Sendable, Equatable {
    var step: String
    var host: String?
    var reason: String

    /// Failures with the same step and reason become one line naming their hosts:
    /// `restore.1 Rejoin failed on 6 hosts (db1, db2, db3, …): exit 3: cannot rejoin`.
    static func grouped(_ failures: [Failure]) -> [String] {
        var order: [String] = []
        var groups: [String: (step: String, reason: String, hosts: [String])] = [:]
        for f in failures {
            let key = f.step + "\u{0}" + f.reason
            if groups[key] == nil { order.append(key); groups[key] = (f.step, f.reason, []) }
            if let h = f.host { groups[key]?.hosts.append(h) }
        }
        return order.compactMap { key in
            guard let g = groups[key] else { return nil }
            switch g.hosts.count {
            case 0: return "\(g.step): \(g.reason)"
            case 1: return "\(g.step) on \(g.hosts[0]): \(g.reason)"
            default:
                let names = g.hosts.count > 3 ? g.hosts.prefix(3).joined(separator: ", ") + ", …" : g.hosts.joined(separator: ", ")
                return "\(g.step) failed on \(g.hosts.count) hosts (\(names)): \(g.reason)"
            }
        }
    }
}

/// Runs `body` for each item, at most `limit` at once; results in the items' order.
func inParallel<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async -> R) async -> [R] {
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
