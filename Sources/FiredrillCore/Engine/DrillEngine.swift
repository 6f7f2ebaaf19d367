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

/// Where the engine reports progress and asks the operator. Events arrive after they are journaled.
public protocol DrillObserver: Sendable {
    func record(_ event: JournalEvent) async
    /// A manual step in `ask` mode: show the instruction, return the operator's answer.
    func manual(_ step: PlannedStep) async -> ManualDecision
    /// A second interrupt while restore runs: abandon restore? (false keeps restoring).
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
    public enum Result: String, Sendable { case passed, failed, interrupted, preconditions }
    public var result: Result
    public var runID: String
    public var journalPath: String
    public var rto: Duration?
    public var rtoObjective: Duration?
    public var rpo: Duration?
    public var rpoObjective: Duration?
    /// Why the drill failed: the step, host, check and evidence, one line each.
    public var failures: [String]
    public var restore: String
    /// The state the hosts were left in, in words.
    public var finalState: String

    public var exitCode: Int32 {
        switch result {
        case .passed: return 0
        case .failed: return 1
        case .preconditions: return 3
        case .interrupted: return 130
        }
    }
}

/// Interrupt requests (SIGINT/SIGTERM) as the engine sees them: the first stops the failover
/// and starts restore; later ones ask whether to abandon restore.
public final class Interruption: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var handlers: [@Sendable (Int) -> Void] = []

    public init() {}

    public var requested: Bool { lock.withLock { count > 0 } }

    /// Called from the signal handler's queue.
    public func signal() {
        let (n, hs) = lock.withLock { () -> (Int, [@Sendable (Int) -> Void]) in count += 1; return (count, handlers) }
        for h in hs { h(n) }
    }

    func onSignal(_ h: @escaping @Sendable (Int) -> Void) {
        let n = lock.withLock { handlers.append(h); return count }
        if n > 0 { h(n) }
    }
}

/// Runs one drill: preflight, data marker, failover steps with verification, on_failure hooks,
/// restore (always), steady state again, and the journal of all of it.
///
/// Every event is journaled (written and fsync'd) before the engine acts on what it records.
public final class DrillEngine: Sendable {
    let runtime: DrillRuntime
    let plan: Plan
    let journal: Journal
    let observer: any DrillObserver
    let options: RunOptions
    let interruption: Interruption
    let mask: SecretMasker
    let state = EngineState()

    public init(runtime: DrillRuntime, plan: Plan, journal: Journal, observer: any DrillObserver, options: RunOptions, interruption: Interruption) {
        self.runtime = runtime
        self.plan = plan
        self.journal = journal
        self.observer = observer
        self.options = options
        self.interruption = interruption
        self.mask = SecretMasker(runtime.secrets)
    }

    var runID: String { plan.runID }

    // MARK: - journal

    @discardableResult
    func log(_ kind: JournalEvent.Kind, _ fill: (inout JournalEvent) -> Void = { _ in }) async throws -> JournalEvent {
        var e = JournalEvent(kind)
        fill(&e)
        e.detail = e.detail.map(mask.callAsFunction)
        e.stdout = e.stdout.map(mask.callAsFunction)
        e.stderr = e.stderr.map(mask.callAsFunction)
        let written = try await journal.append(e, run: runID)
        await observer.record(written)
        return written
    }

    // MARK: - run

    /// Runs the drill from the start. `facts` go into `run_started` (hashes, operator, version).
    public func run(facts: [String: String]) async throws -> DrillOutcome {
        try await log(.runStarted) { e in
            e.name = plan.playbook.name
            e.data = facts
        }
        // Preflight: every host reachable, the steady state holds. Otherwise nothing runs.
        let problems = try await preflight(phase: "steady_state")
        if !problems.isEmpty {
            try await log(.preconditionsFailed) { $0.detail = problems.joined(separator: "; ") }
            return try await end(.preconditions, failures: problems, restore: "not needed: nothing ran", finalState: "unchanged: no step ran")
        }
        let failover = Task { try await self.failover() }
        interruption.onSignal { n in if n == 1 { failover.cancel() } }
        let failures = try await failover.value
        return try await restoreAndEnd(failures: failures)
    }

    /// Continues a run whose runner died: tells what completed, re-checks hosts, runs restore.
    public func resume(from events: [JournalEvent]) async throws -> DrillOutcome {
        let finished = events.filter { $0.event == .stepFinished }
        let done = finished.filter { $0.result == "passed" }.compactMap(\.step)
        try await log(.resumed) { e in
            e.detail = "completed before the runner stopped: " + (done.isEmpty ? "no step" : done.joined(separator: ", "))
            e.data = ["last_event": events.last.map { "\($0.seq) \($0.event.rawValue)" } ?? "none"]
        }
        let unreachable = try await preflight(phase: "resume", checks: false)
        if !unreachable.isEmpty {
            try await log(.preconditionsFailed) { $0.detail = unreachable.joined(separator: "; ") }
            return try await end(.preconditions, failures: unreachable, restore: "not run: hosts unreachable",
                                 finalState: "unknown: the drill stopped mid-way and restore could not run; resume again once the hosts answer")
        }
        // Restore steps that already passed are not repeated.
        let restoredBefore = Set(done.filter { $0.hasPrefix("restore.") })
        return try await restoreAndEnd(failures: ["the runner stopped before the drill finished (resumed)"], skipRestore: restoredBefore, resumed: true)
    }

    func restoreAndEnd(failures: [String], skipRestore: Set<String> = [], resumed: Bool = false) async throws -> DrillOutcome {
        var failures = failures
        let wasInterrupted = interruption.requested
        if wasInterrupted && !resumed {
            try await log(.interrupted) { $0.detail = "interrupt received: failover stopped, restore runs" }
        }
        // Restore always runs. A further interrupt asks whether to abandon it.
        try await log(.restoreStarted) { $0.phase = "restore" }
        let restoreTask = Task { try await self.runSteps(self.plan.restore, phase: "restore", skip: skipRestore) }
        let observer = self.observer
        interruption.onSignal { n in
            guard n >= 2 else { return }
            Task { if await observer.confirmAbandonRestore() { restoreTask.cancel() } }
        }
        let restoreFailures = try await restoreTask.value
        let restoreStatus: String
        if restoreTask.isCancelled {
            restoreStatus = "abandoned by the operator"
        } else {
            restoreStatus = restoreFailures.isEmpty ? "completed" : "failed: " + restoreFailures.joined(separator: "; ")
        }
        try await log(.restoreFinished) { e in
            e.phase = "restore"
            e.result = restoreTask.isCancelled ? "abandoned" : restoreFailures.isEmpty ? "passed" : "failed"
            e.detail = restoreStatus
        }
        failures += restoreFailures
        // Steady state again: the hosts must be back where they started.
        let after = restoreTask.isCancelled ? ["restore abandoned"] : try await preflight(phase: "final", connect: false)
        let finalState: String
        if restoreTask.isCancelled {
            finalState = "NOT RESTORED: restore was abandoned; hosts may still be failed over"
        } else if !restoreFailures.isEmpty {
            finalState = "NOT RESTORED: restore failed; hosts may still be failed over — finish restore by hand"
        } else if after.isEmpty {
            finalState = "restored: steady state holds again"
        } else {
            finalState = "restore ran but the steady state does not hold: " + after.joined(separator: "; ")
            failures += after
        }
        let result: DrillOutcome.Result = wasInterrupted ? .interrupted : failures.isEmpty ? .passed : .failed
        return try await end(result, failures: failures, restore: restoreStatus, finalState: finalState)
    }

    func end(_ result: DrillOutcome.Result, failures: [String], restore: String, finalState: String) async throws -> DrillOutcome {
        let s = await state.snapshot()
        try await log(.runEnded) { e in
            e.result = result.rawValue
            e.detail = failures.isEmpty ? nil : failures.joined(separator: "; ")
            var data = ["restore": restore, "final_state": finalState]
            if let rto = s.rto { data["rto_seconds"] = String(format: "%.3f", DurationText.seconds(rto)) }
            if let rpo = s.rpo { data["rpo_seconds"] = String(format: "%.3f", DurationText.seconds(rpo)) }
            e.data = data
        }
        return DrillOutcome(result: result, runID: runID, journalPath: journal.path, rto: s.rto, rtoObjective: plan.objectives.rto?.duration,
                            rpo: s.rpo, rpoObjective: plan.objectives.rpo?.duration, failures: failures.map(mask.callAsFunction),
                            restore: restore, finalState: finalState)
    }

    // MARK: - preflight

    /// Connects to every host (journaling each) and, if asked, evaluates the steady state once.
    /// Returns the problems, empty when all is well.
    func preflight(phase: String, connect: Bool = true, checks: Bool = true) async throws -> [String] {
        var problems: [String] = []
        if connect {
            let results = await Preflight.connect(plan.hosts, pool: runtime.pool, forks: options.forks)
            for (c, r) in zip(plan.hosts, results) {
                switch r {
                case let .success(d):
                    try await log(.hostReady) { e in e.phase = phase; e.host = c.name; e.latencyMS = DurationText.seconds(d) * 1000; e.detail = c.endpoint }
                case let .failure(err):
                    problems.append("\(c.name): \(err.message)")
                    try await log(.hostUnreachable) { e in
                        e.phase = phase; e.host = c.name; e.detail = err.description + (err.hint.map { " (hint: \($0))" } ?? ""); e.result = err.kind.rawValue
                    }
                }
            }
            if !problems.isEmpty { return problems }
        }
        guard checks else { return problems }
        let outcomes = await Preflight.evaluate(plan.steadyState, with: runtime.checks)
        for (check, o) in zip(plan.steadyState, outcomes) {
            try await logCheck(check, o, phase: phase, step: nil, attempt: 1)
            if !o.passed { problems.append("steady state \(check.label): \(o.detail)") }
        }
        return problems
    }

    func logCheck(_ check: PlannedCheck, _ o: CheckOutcome, phase: String, step: String?, attempt: Int, expectDown: Bool = false) async throws {
        try await log(.checkResult) { e in
            e.phase = phase; e.step = step; e.check = check.name; e.host = check.host; e.from = check.from
            e.attempt = attempt; e.passed = o.passed; e.detail = o.detail; e.latencyMS = o.latencyMS
            if expectDown { e.result = o.passed ? "still up" : "down as expected" }
        }
    }

    // MARK: - failover

    /// Runs the failover steps; returns the failures (empty when every step passed).
    func failover() async throws -> [String] {
        if let dc = plan.dataCheck {
            if let problem = try await writeMarker(dc) { return [problem] }
        }
        let failures = try await runSteps(plan.steps, phase: "failover")
        if failures.isEmpty, !Task.isCancelled, let dc = plan.dataCheck {
            try await readMarker(dc)
        }
        return failures
    }

    /// Runs steps in order until one fails (then its on_failure hooks run); returns the failures.
    func runSteps(_ steps: [PlannedStep], phase: String, skip: Set<String> = []) async throws -> [String] {
        for step in steps where !skip.contains(step.id) {
            if Task.isCancelled { return phase == "restore" ? ["restore abandoned before \(step.id) \(step.name)"] : [] }
            let failures = try await runStep(step, phase: phase)
            if !failures.isEmpty {
                for hook in step.onFailure { _ = try await runStep(hook, phase: "on_failure") }
                return failures
            }
        }
        return []
    }

    /// One step: its commands in batches (parallel up to --forks), then its verification.
    func runStep(_ step: PlannedStep, phase: String) async throws -> [String] {
        let started = ContinuousClock.now
        if step.disruptive, phase == "failover" { await state.disruptionStarted(at: started, date: Date()) }
        try await log(.stepStarted) { e in
            e.phase = phase; e.step = step.id; e.name = step.name
            e.detail = step.kind == .manual ? "manual" : "on \(step.hosts.joined(separator: ", "))"
        }
        var failures: [String] = []
        if step.kind == .manual {
            failures = try await manual(step, phase: phase)
        } else {
            failures = try await commands(step, phase: phase)
        }
        if failures.isEmpty, !Task.isCancelled, let verify = step.verify {
            failures = try await self.verify(verify, step: step, phase: phase)
        }
        let cancelled = Task.isCancelled
        try await log(.stepFinished) { e in
            e.phase = phase; e.step = step.id; e.name = step.name
            e.result = cancelled ? "interrupted" : failures.isEmpty ? "passed" : "failed"
            e.durationMS = DurationText.seconds(ContinuousClock.now - started) * 1000
            e.detail = failures.isEmpty ? nil : failures.joined(separator: "; ")
        }
        if cancelled { return phase == "restore" ? ["\(step.id) \(step.name): abandoned"] : [] }
        return failures
    }

    func manual(_ step: PlannedStep, phase: String) async throws -> [String] {
        try await log(.manualPrompt) { e in e.phase = phase; e.step = step.id; e.detail = step.instruction }
        let decision: ManualDecision
        switch options.manual {
        case .ask: decision = await observer.manual(step)
        case .pass: decision = .confirmed
        case .skip: decision = .skipped
        case .fail: decision = .failed("--manual=fail")
        }
        try await log(.manualResult) { e in
            e.phase = phase; e.step = step.id
            switch decision {
            case .confirmed: e.result = "confirmed"; e.detail = options.manual == .pass ? "recorded as confirmed by --manual=pass (not asked)" : "confirmed by the operator"
            case .skipped: e.result = "skipped"; e.detail = options.manual == .skip ? "skipped by --manual=skip" : "skipped by the operator"
            case let .failed(why): e.result = "failed"; e.detail = why
            }
        }
        if case let .failed(why) = decision { return ["\(step.id) \(step.name): operator reported failure: \(why)"] }
        return []
    }

    func commands(_ step: PlannedStep, phase: String) async throws -> [String] {
        let byHost = Dictionary(step.commands.map { ($0.host, $0.command) }, uniquingKeysWith: { a, _ in a })
        var failedHosts: [String] = [], failures: [String] = []
        for batch in step.batches {
            if Task.isCancelled { break }
            let results = try await inParallel(batch, limit: options.forks) { host in
                try await self.command(host: host, command: byHost[host] ?? RenderedText(), step: step, phase: phase)
            }
            for (host, failure) in zip(batch, results) {
                if let failure { failedHosts.append(host); failures.append("\(step.id) \(step.name) on \(host): \(failure)") }
            }
            // Ansible's rule: stop when more than max_fail_percentage of the step's hosts failed.
            if !failedHosts.isEmpty, Double(failedHosts.count) * 100 / Double(step.hosts.count) > Double(step.maxFailPercentage) { return failures }
        }
        return []
    }

    /// Runs one host's command; nil on success, else why it failed.
    func command(host: String, command: RenderedText, step: PlannedStep, phase: String) async throws -> String? {
        try await log(.commandStarted) { e in e.phase = phase; e.step = step.id; e.host = host; e.command = command.description }
        let connection = runtime.definition.inventory.connection(of: host)
        let transport = await runtime.pool.transport(for: connection)
        let r: CommandResult
        do throws(TransportError) {
            // Secrets were resolved before the run started (DrillRuntime.make): revealing cannot fail here.
            r = try await transport.run((try? command.reveal(runtime.secrets)) ?? "", timeout: step.timeout.duration)
        } catch {
            try await log(.commandFinished) { e in
                e.phase = phase; e.step = step.id; e.host = host; e.passed = false
                e.result = error.kind == .cancelled ? "interrupted" : error.kind.rawValue
                e.detail = error.description
            }
            return error.kind == .cancelled ? "interrupted" : mask(error.description)
        }
        try await log(.commandFinished) { e in
            e.phase = phase; e.step = step.id; e.host = host
            switch r.outcome {
            case let .exited(code): e.exit = Int(code)
            case let .signaled(s): e.signal = s
            case .timedOut: e.timedOut = true
            }
            e.passed = r.succeeded
            e.durationMS = DurationText.seconds(r.duration) * 1000
            e.stdout = r.stdout.text
            e.stderr = r.stderr.text
            let cut = r.stdout.droppedBytes + r.stderr.droppedBytes
            e.outputCutBytes = cut > 0 ? cut : nil
        }
        if r.succeeded { return nil }
        return mask(Self.failure(r))
    }

    // MARK: - verify

    /// Polls the checks until every `up` passes and every `down` fails, or `within` runs out.
    func verify(_ v: PlannedVerify, step: PlannedStep, phase: String) async throws -> [String] {
        let checks = v.up.map { ($0, false) } + v.down.map { ($0, true) }
        try await log(.verifyStarted) { e in
            e.phase = phase; e.step = step.id
            e.detail = "up: \(v.up.map(\.label).joined(separator: ", ")); down: \(v.down.map(\.label).joined(separator: ", ")); within \(v.within.duration.formatted)"
        }
        let started = ContinuousClock.now
        var lastBad: [String] = [], at = started, atDate = Date()
        let (held, attempts) = try await poll(until: started + v.within.duration) { attempt in
            let outcomes = await Preflight.evaluate(checks.map(\.0), with: runtime.checks)
            at = ContinuousClock.now
            atDate = Date()
            lastBad = []
            for ((check, down), o) in zip(checks, outcomes) {
                try await logCheck(check, o, phase: phase, step: step.id, attempt: attempt, expectDown: down)
                if o.passed == down { lastBad.append(down ? "\(check.label) still answers: \(o.detail)" : "\(check.label): \(o.detail)") }
            }
            return lastBad.isEmpty
        }
        if Task.isCancelled && !held { return [] }
        try await log(.verifyFinished) { e in
            e.phase = phase; e.step = step.id; e.passed = held; e.attempt = attempts
            e.durationMS = DurationText.seconds((held ? at : ContinuousClock.now) - started) * 1000
            e.detail = held ? nil : "not true within \(v.within.duration.formatted): " + lastBad.joined(separator: "; ")
        }
        guard held else { return lastBad.map { "\(step.id) \(step.name): verify failed after \(attempts) attempts: \($0)" } }
        if phase == "failover", !v.up.isEmpty, let rto = await state.recovered(at: at) {
            try await log(.rto) { e in
                e.step = step.id
                e.seconds = DurationText.seconds(rto)
                e.objectiveSeconds = plan.objectives.rto.map { DurationText.seconds($0.duration) }
                e.withinObjective = plan.objectives.rto.map { rto <= $0.duration }
                e.detail = "from the start of the first disruptive step to \(Journal.timestamp(atDate)), when \(v.up.map(\.label).joined(separator: ", ")) answered again"
            }
        }
        return []
    }

    /// Calls `attempt` (1, 2, …) until it returns true, pausing between attempts (growing by half,
    /// up to `maxPollInterval`) while another attempt can start before `deadline` and the task is
    /// not cancelled. Returns whether it held and how many attempts were made.
    func poll(until deadline: ContinuousClock.Instant, _ attempt: (Int) async throws -> Bool) async throws -> (held: Bool, attempts: Int) {
        var pause = options.pollInterval, n = 0
        while true {
            n += 1
            if try await attempt(n) { return (true, n) }
            if Task.isCancelled || ContinuousClock.now + pause > deadline { return (false, n) }
            do { try await Task.sleep(for: pause) } catch { return (false, n) }
            pause = min(pause * 3 / 2, options.maxPollInterval)
        }
    }

    // MARK: - data check (RPO)

    func writeMarker(_ dc: PlannedDataCheck) async throws -> String? {
        let written = Date()
        for cmd in dc.write {
            let r = try await runDataCommand(cmd, timeout: dc.timeout.duration)
            if let problem = r { 
                try await log(.markerWritten) { e in e.phase = "data_check"; e.host = cmd.host; e.passed = false; e.detail = problem }
                return "data check: cannot write the marker on \(cmd.host): \(problem)"
            }
        }
        await state.markerWritten(at: written)
        try await log(.markerWritten) { e in
            e.phase = "data_check"; e.host = dc.write.map(\.host).joined(separator: ","); e.passed = true
            e.detail = "marker \(runID) written at \(Journal.timestamp(written))"
        }
        return nil
    }

    /// Polls the standby for the marker until found or the data check's timeout.
    func readMarker(_ dc: PlannedDataCheck) async throws {
        var missing: String?
        _ = try await poll(until: ContinuousClock.now + dc.timeout.duration) { attempt in
            missing = nil
            for cmd in dc.read {
                if let problem = try await runDataCommand(cmd, timeout: dc.timeout.duration) { missing = "\(cmd.host): \(problem)"; break }
            }
            try await log(.markerRead) { e in e.phase = "data_check"; e.attempt = attempt; e.passed = missing == nil; e.detail = missing ?? "marker \(runID) found" }
            return missing == nil
        }
        let s = await state.snapshot()
        let objective = plan.objectives.rpo?.duration
        if missing == nil, let w = s.markerWrittenAt {
            // RPO: how old the newest data that survived was when the failure began.
            let rpo = Duration.milliseconds(Int64(max(0, (s.disruptionDate ?? Date()).timeIntervalSince(w)) * 1000))
            await state.setRPO(rpo)
            try await log(.rpo) { e in
                e.seconds = DurationText.seconds(rpo); e.passed = true
                e.objectiveSeconds = objective.map(DurationText.seconds); e.withinObjective = objective.map { rpo <= $0 }
                e.detail = "marker written \(Journal.timestamp(w)) found on the standby; failure began \(s.disruptionDate.map(Journal.timestamp) ?? "-")"
            }
        } else {
            try await log(.rpo) { e in
                e.passed = false; e.withinObjective = objective == nil ? nil : false
                e.objectiveSeconds = objective.map(DurationText.seconds)
                e.detail = "marker not found on the standby within \(dc.timeout.duration.formatted): data written before the failure was lost (\(missing ?? ""))"
            }
        }
    }

    /// `exit 3: <the end of stderr>`.
    static func failure(_ r: CommandResult) -> String {
        let err = r.stderr.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return r.outcome.description + (err.isEmpty ? "" : ": " + String(err.suffix(200)))
    }

    func runDataCommand(_ cmd: PlannedCommand, timeout: Duration) async throws -> String? {
        let t = await runtime.pool.transport(for: runtime.definition.inventory.connection(of: cmd.host))
        do {
            let r = try await t.run(try cmd.command.reveal(runtime.secrets), timeout: timeout)
            return r.succeeded ? nil : mask(Self.failure(r))
        } catch {
            return mask(CheckRunner.describe(error))
        }
    }
}

/// Measurements shared by the engine's tasks.
actor EngineState {
    struct Snapshot { var rto: Duration?; var rpo: Duration?; var markerWrittenAt: Date?; var disruptionDate: Date? }
    private var disruption: ContinuousClock.Instant?
    private var disruptionDate: Date?
    private var rto: Duration?
    private var rpo: Duration?
    private var marker: Date?

    func disruptionStarted(at t: ContinuousClock.Instant, date: Date) {
        if disruption == nil { disruption = t; disruptionDate = date }
    }

    /// The RTO, the first time the service is seen answering after the disruption began.
    func recovered(at t: ContinuousClock.Instant) -> Duration? {
        guard rto == nil, let d = disruption else { return nil }
        rto = t - d
        return rto
    }

    func markerWritten(at d: Date) { marker = d }
    func setRPO(_ d: Duration) { rpo = d }
    func snapshot() -> Snapshot { Snapshot(rto: rto, rpo: rpo, markerWrittenAt: marker, disruptionDate: disruptionDate) }
}

/// Runs `body` for each item, at most `limit` at once; results in the items' order.
func inParallel<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
    try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        while next < min(limit, items.count) {
            let i = next
            group.addTask { (i, try await body(items[i])) }
            next += 1
        }
        for try await (i, r) in group {
            results[i] = r
            if next < items.count {
                let j = next
                group.addTask { (j, try await body(items[j])) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}

extension Duration {
    var formatted: String { DurationText.format(self) }
}
