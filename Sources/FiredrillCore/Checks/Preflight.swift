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

        enum CodingKeys: String, CodingKey {
            case host, endpoint, ok, latencyMS = "latency_ms", error, errorKind = "error_kind", hint, trustedNewKey = "trusted_new_key"
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

    public var hostsReady: Bool { hosts.allSatisfy(\.ok) }
    public var steadyStateHolds: Bool { checks.allSatisfy(\.outcome.passed) }
    public var passed: Bool { hostsReady && steadyStateHolds }

    /// Why a drill may not start, in one line per problem.
    public var problems: [String] {
        hosts.filter { !$0.ok }.map { "\($0.host): \($0.error ?? "unreachable")" }
            + checks.filter { !$0.outcome.passed }.map { "steady state \($0.check): \($0.outcome.detail)" }
    }
}

public enum Preflight {
    /// Connects to the plan's hosts (at most `forks` at once), then evaluates the steady-state checks once.
    public static func run(plan: Plan, pool: HostPool, checks: CheckRunner, forks: Int) async -> PreflightReport {
        let results = await connect(plan.hosts, pool: pool, forks: forks)
        let hosts = zip(plan.hosts, results).map { c, r -> PreflightReport.HostStatus in
            switch r {
            case let .success(ready):
                return .init(host: c.name, endpoint: c.endpoint, ok: true, latencyMS: DurationText.seconds(ready.latency) * 1000,
                             trustedNewKey: ready.trustedNewKey)
            case let .failure(e):
                return .init(host: c.name, endpoint: c.endpoint, ok: false, error: e.message, errorKind: e.kind, hint: e.hint)
            }
        }
        let reachable = Set(hosts.filter(\.ok).map(\.host))
        let outcomes = await evaluate(plan.steadyState, with: checks, reachable: reachable)
        let statuses = zip(plan.steadyState, outcomes).map { PreflightReport.CheckStatus(check: $0.label, type: $0.type, from: $0.from, outcome: $1) }
        return PreflightReport(hosts: hosts, checks: statuses)
    }

    /// Evaluates checks concurrently; results in the checks' order. A check to run from an unreachable host fails without trying.
    public static func evaluate(_ planned: [PlannedCheck], with runner: CheckRunner, reachable: Set<String>? = nil) async -> [CheckOutcome] {
        await withTaskGroup(of: (Int, CheckOutcome).self) { group in
            for (i, check) in planned.enumerated() {
                group.addTask {
                    if let from = check.from, let reachable, !reachable.contains(from) {
                        return (i, CheckOutcome(.error, detail: "not evaluated: \(from) is unreachable", latency: .zero))
                    }
                    return (i, await runner.evaluate(check))
                }
            }
            var out = [CheckOutcome?](repeating: nil, count: planned.count)
            for await (i, o) in group { out[i] = o }
            return out.map { $0! }
        }
    }

    /// A host that answered: how long connecting took, and the key trusted on first use, if any.
    public struct Ready: Sendable, Equatable {
        public var latency: Duration
        public var trustedNewKey: String?
    }

    /// Connects (fresh connection + authentication + a no-op) with at most `forks` at once; results in host order.
    public static func connect(_ connections: [HostConnection], pool: HostPool, forks: Int) async -> [Result<Ready, TransportError>] {
        await withTaskGroup(of: (Int, Result<Ready, TransportError>).self) { group in
            var results = [Result<Ready, TransportError>?](repeating: nil, count: connections.count)
            var next = 0
            func add() {
                let i = next
                let c = connections[i]
                next += 1
                group.addTask {
                    let start = ContinuousClock.now
                    do throws(TransportError) {
                        let trusted = try await pool.connect(c)
                        let t = await pool.transport(for: c)
                        let r = try await t.run("true", timeout: .seconds(10))
                        guard r.succeeded else {
                            return (i, .failure(TransportError(.channel, host: c.name, endpoint: c.endpoint, "the no-op command failed: \(r.stderr.text)")))
                        }
                        return (i, .success(Ready(latency: ContinuousClock.now - start, trustedNewKey: trusted)))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            while next < min(forks, connections.count) { add() }
            for await (i, r) in group {
                results[i] = r
                if next < connections.count { add() }
            }
            return results.map { $0! }
        }
    }
}
