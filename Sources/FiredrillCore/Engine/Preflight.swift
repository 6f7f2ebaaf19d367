import Foundation

/// Before a drill (and for `plan --preflight`): can every host be reached and logged in to,
/// and does the steady state hold? Read-only: nothing from `steps` runs.
public struct PreflightReport: Sendable, Encodable {
    public struct HostStatus: Sendable, Encodable {
        public var host: String
        public var endpoint: String
        public var ok: Bool
        public var latencyMS: Double?
        public var error: String?
        public var errorKind: TransportError.Kind?
        public var hint: String?
        /// With `--accept-new`: the key this run trusted and recorded for the host (type and fingerprint).
        public var trustedNewKey: String?
        /// The jump hosts or proxy command the host is reached through, in words.
        public var via: String?
        /// How the host runs commands: the resident executor, or one channel per command (and why).
        public var executor: String?

        enum CodingKeys: String, CodingKey {
            case host, endpoint, ok, latencyMS = "latency_ms", error, errorKind = "error_kind", hint, trustedNewKey = "trusted_new_key", via, executor
        }
    }

    public struct CheckStatus: Sendable, Encodable {
        public var check: String
        public var type: String
        public var from: String?
        public var outcome: CheckOutcome
    }

    public var hosts: [HostStatus]
    public var checks: [CheckStatus]
    /// The guards (`guards:`): one failing (or not checkable, with `on_unknown: abort`) would stop the drill at preflight.
    public var guards: [CheckStatus] = []
    var guardsOnUnknown = GuardSetting.OnUnknown.abort

    public var hostsReady: Bool { hosts.allSatisfy(\.ok) }
    public var steadyStateHolds: Bool { checks.allSatisfy(\.outcome.passed) }
    func guardHolds(_ c: CheckStatus) -> Bool { !GuardWatch.isBad(c.outcome.status, onUnknown: guardsOnUnknown) }
    public var guardsHold: Bool { guards.allSatisfy(guardHolds) }
    public var passed: Bool { hostsReady && steadyStateHolds && guardsHold }

    enum CodingKeys: String, CodingKey { case hosts, checks, guards }

    /// Why a drill may not start, in one line per problem.
    public var problems: [String] {
        hosts.filter { !$0.ok }.map { "\($0.host): \($0.error ?? "unreachable")" }
            + checks.filter { !$0.outcome.passed }.map { "steady state \($0.check): \($0.outcome.detail)" }
            + guards.filter { !guardHolds($0) }.map { "guard \($0.check): \($0.outcome.detail)" }
    }
}

public enum Preflight {
    /// Connects to the plan's hosts (at most `forks` at once), then evaluates the steady-state checks once.
    public static func run(plan: Plan, environment: DrillEnvironment, forks: Int) async -> PreflightReport {
        let hostsAccess = environment.hosts
        let results = await inParallel(plan.hosts.map(\.name), limit: forks) { await hostsAccess.prepare($0, become: plan.become(on: $0)) }
        let hosts = zip(plan.hosts, results).map { c, r -> PreflightReport.HostStatus in
            switch r {
            case let .success(ready):
                return .init(host: c.name, endpoint: c.endpoint, ok: true, latencyMS: DurationText.seconds(ready.latency) * 1000,
                             trustedNewKey: ready.trustedNewKey, via: c.pathDescription, executor: ready.executor)
            case let .failure(e):
                return .init(host: c.name, endpoint: c.endpoint, ok: false, error: e.message, errorKind: e.kind, hint: e.hint, via: c.pathDescription)
            }
        }
        let reachable = Set(hosts.filter(\.ok).map(\.host))
        let outcomes = await evaluate(plan.steadyState, with: environment.checks, reachable: reachable)
        let statuses = zip(plan.steadyState, outcomes).map { PreflightReport.CheckStatus(check: $0.label, type: $0.type, from: $0.from, outcome: $1) }
        var report = PreflightReport(hosts: hosts, checks: statuses)
        if let g = plan.guards {
            let outcomes = await evaluate(g.checks, with: environment.checks, reachable: reachable)
            report.guards = zip(g.checks, outcomes).map { PreflightReport.CheckStatus(check: $0.label, type: $0.type, from: $0.from, outcome: $1) }
            report.guardsOnUnknown = g.onUnknown
        }
        return report
    }

    /// Evaluates one check, but answers at once (`skipped`, "interrupted") when the task is
    /// cancelled: a probe that does not notice cancellation (an HTTP request in its 30 s timeout)
    /// must not hold up the restore an interrupt starts. The probe is cancelled too (a check run
    /// on a host over SSH kills its command there); one that does not notice goes on to its own
    /// deadline, unobserved.
    static func cancellable(_ probe: any CheckProbe, _ check: PlannedCheck) async -> CheckOutcome {
        let answer = FirstAnswer<CheckOutcome>()
        let work = Task { answer.give(await probe.evaluate(check)) }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { c in answer.wait(c) }
        } onCancel: {
            work.cancel()
            answer.give(CheckOutcome(.skipped, detail: "interrupted before it answered", latency: .zero))
        }
    }

    /// Evaluates `check`, but answers "could not check" once its timeout and `slack` have passed
    /// in real time without an answer: a watchdog for a probe stuck below its own deadline (an
    /// `on:` host frozen under its SSH connection), whatever clock the caller runs on.
    static func watched(_ probe: any CheckProbe, _ check: PlannedCheck, slack: Duration,
                        sleep: @escaping @Sendable (Duration) async throws -> Void) async -> CheckOutcome {
        let answer = FirstAnswer<CheckOutcome>()
        let limit = check.timeout.duration + slack
        let work = Task { answer.give(await cancellable(probe, check)) }
        let watchdog = Task {
            try await sleep(limit)
            answer.give(CheckOutcome(.error, detail: "no answer within \(DurationText.format(limit))"
                                     + (check.from.map { ": \($0) or its connection does not answer" } ?? ""), latency: limit))
        }
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { answer.wait($0) }
        } onCancel: {
            work.cancel()
            answer.give(CheckOutcome(.skipped, detail: "interrupted before it answered", latency: .zero))
        }
        work.cancel()
        watchdog.cancel()
        return outcome
    }

    /// Evaluates checks concurrently; results in the checks' order. A check to run from an unreachable host fails without trying.
    /// `watchdog`: see `watched`.
    public static func evaluate(_ planned: [PlannedCheck], with probe: any CheckProbe, reachable: Set<String>? = nil,
                                watchdog: Duration? = nil,
                                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) async -> [CheckOutcome] {
        await withTaskGroup(of: (Int, CheckOutcome).self) { group in
            for (i, check) in planned.enumerated() {
                group.addTask {
                    if let from = check.from, let reachable, !reachable.contains(from) {
                        return (i, CheckOutcome(.error, detail: "not evaluated: \(from) cannot be used (its connection or sudo failed)", latency: .zero))
                    }
                    if let watchdog { return (i, await watched(probe, check, slack: watchdog, sleep: sleep)) }
                    return (i, await cancellable(probe, check))
                }
            }
            var out = [CheckOutcome?](repeating: nil, count: planned.count)
            for await (i, o) in group { out[i] = o }
            return out.map { $0 ?? CheckOutcome(.skipped, detail: "not evaluated", latency: .zero) }
        }
    }
}

/// The first of several possible answers resumes a waiter, whenever each comes (an answer may
/// come before anyone waits: a task cancelled before it started).
final class FirstAnswer<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var waiter: CheckedContinuation<T, Never>?
    private var answer: T?
    private var done = false

    func wait(_ c: CheckedContinuation<T, Never>) {
        lock.lock()
        if let answer, !done { done = true; lock.unlock(); c.resume(returning: answer); return }
        waiter = c
        lock.unlock()
    }

    func give(_ value: T) {
        lock.lock()
        guard !done else { lock.unlock(); return }
        guard let w = waiter else { if answer == nil { answer = value }; lock.unlock(); return }
        done = true
        waiter = nil
        lock.unlock()
        w.resume(returning: value)
    }
}
