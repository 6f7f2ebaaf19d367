import Foundation

/// Performs a drill: asks `DrillStateMachine` what to do, does it (hosts, checks, journal), and
/// feeds the result back. The machine decides; this type only does the I/O and says what it saw.
///
/// Time and the world come in from outside: a `Clock` (monotonic: offsets, deadlines, the verify
/// window), a wall clock for the journal's timestamps, the hosts and checks (`DrillEnvironment`)
/// and the journal (`JournalWriter`) — so every runner behaviour is a unit test with a test clock
/// and fake hosts. Each action runs in a task of its own that an interrupt (or a journal that
/// stops taking events) cancels when the machine says so: cancellation kills remote process
/// groups. Every event is journaled (written and fsync'd) before the runner acts on what it
/// records; once the journal fails, events go to stderr and a fallback file and restore still runs.
public actor DrillRunner<C: Clock> where C.Duration == Duration {
    typealias Machine = DrillStateMachine
    typealias StepRef = Machine.StepRef

    let plan: Plan
    let environment: DrillEnvironment
    let journal: any JournalWriter
    let observer: any DrillObserver
    let options: RunOptions
    let mask: SecretMasker
    let resumePoint: ResumePoint?
    let fallback: JournalFallback
    let clock: C
    let wallClock: @Sendable () -> Date
    /// Offsets in the journal count from here (this runner's start, on `clock`).
    let started: C.Instant

    private var machine: Machine
    private var current: Task<Machine.Action, Never>?
    private var journalProblem: String?
    private var sealProblem: String?
    /// The operator is being asked whether to abandon restore.
    private var asking = false
    /// The run as journaled so far (with the dead runner's part, when resuming): folded as events
    /// are written, the one interpreter of them.
    private var record: DrillRecord
    private var stepStarts: [StepRef: Duration] = [:]
    /// Hosts a failover command was sent to (not an on_failure hook's, which looks, not changes):
    /// an `only_touched` restore step runs on these alone (from the journal, on a resume).
    private var touchedHosts: Set<String> = []
    /// Samples the guards from the first failover action until restore ends (`guards:`).
    private var guardTask: Task<Void, Never>?
    /// Notifications on their way (started, guard tripped, restore failed): their attempts are
    /// journaled as they finish, and all of them before `run_ended`.
    private var notices: [Task<Void, Never>] = []

    public init(plan: Plan, environment: DrillEnvironment, journal: any JournalWriter, observer: any DrillObserver, options: RunOptions,
                resuming: ResumePoint? = nil, clock: C, wallClock: @escaping @Sendable () -> Date = { Date() },
                fallback: JournalFallback? = nil) {
        self.plan = plan
        self.environment = environment
        self.journal = journal
        self.observer = observer
        self.options = options
        self.resumePoint = resuming
        self.mask = SecretMasker(environment.secrets)
        self.fallback = fallback ?? JournalFallback(journalPath: journal.path, runID: plan.runID)
        self.clock = clock
        self.wallClock = wallClock
        self.started = clock.now
        self.record = resuming?.record ?? DrillRecord()
        let shape = Machine.Shape(plan)
        if let r = resuming {
            machine = Machine(resuming: shape, touched: r.touched, restoredBefore: r.restoredBefore, leftovers: r.leftovers)
            touchedHosts = r.touchedHosts
        } else {
            machine = Machine(shape: shape)
        }
    }

    var runID: String { plan.runID }

    /// Time since this runner started, on its monotonic clock.
    var now: Duration { started.duration(to: clock.now) }

    /// Runs the drill (or, when resuming, finishes its restore) and says how it ended.
    /// `facts` go into `run_started` of a new run.
    public func run(facts: RunFacts?, notes: [String] = []) async -> DrillOutcome {
        if let r = resumePoint {
            let done = r.completedSteps
            var detail = "completed before the runner stopped: " + (done.isEmpty ? "no step" : done.joined(separator: ", "))
            detail += r.touched ? "" : "; no failover command had been sent"
            if let torn = r.tornBytes { detail += "; dropped the journal's incomplete last line (\(torn) bytes)" }
            await log(.resumed(.init(detail: detail, lastEvent: r.lastEvent, notes: notes)))
        } else {
            let plan = try? JSONValue.from(self.plan)   // secrets print masked in every encoded form
            await log(.runStarted(.init(name: self.plan.playbook.name, facts: facts, plan: plan, notes: notes)))
        }
        var action = machine.start()
        while true {
            await followGuards()
            if case let .finish(ending) = action {
                await settleNotices()
                return outcome(ending)
            }
            let next = action
            let task = Task { await self.perform(next) }
            current = task
            if machine.cutsShort(next) { task.cancel() }
            action = await task.value
            current = nil
        }
    }

    /// SIGINT or SIGTERM: the machine says what it means now.
    public func interrupt() async {
        await respond(machine.interrupted())
    }

    private func respond(_ response: Machine.Response) async {
        switch response {
        case let .stop(message):
            await log(.interrupted(.init(response: .stopping, detail: message)))
            current?.cancel()
        case let .keepRestoring(message):
            await log(.interrupted(.init(response: .restoreContinues, detail: message)))
        case .confirmAbandon:
            if asking {
                await log(.interrupted(.init(response: .ignored, detail: "already asking whether to abandon restore")))
                return
            }
            guard observer.canConfirm else {
                _ = machine.abandonAnswered(false)
                await log(.interrupted(.init(response: .restoreContinues, detail: "abandoning restore needs a confirmation on a terminal: restore continues")))
                return
            }
            await log(.interrupted(.init(response: .asking, detail: "asking the operator whether to abandon restore")))
            asking = true
            let observer = self.observer
            Task {
                let yes = await observer.confirmAbandonRestore()
                await self.abandonAnswered(yes)
            }
        case let .ignore(message):
            if !message.isEmpty { await log(.interrupted(.init(response: .ignored, detail: message))) }
        }
    }

    private func abandonAnswered(_ yes: Bool) async {
        guard asking else { return }
        asking = false
        await respond(machine.abandonAnswered(yes))
    }

    // MARK: - Journal

    /// Journals an event (secrets masked) and shows it; true when it is in the journal. If the
    /// journal cannot take it, the event goes to the fallback and the machine learns the record is broken.
    @discardableResult
    func log(_ payload: JournalEvent.Payload, at instant: Duration? = nil) async -> Bool {
        var e = JournalEvent(payload.mapText(mask.callAsFunction), offsetMS: Self.milliseconds(instant ?? now))
        e.time = Journal.timestamp(wallClock())
        if journalProblem == nil {
            do {
                let written = try await journal.append(e, run: runID)
                record.apply(written)
                await observer.record(written)
                return true
            } catch {
                await journalBroke("the journal cannot be written (\(Self.describe(error)))", pending: &e)
                return false
            }
        }
        writeFallback(&e)
        await observer.record(e)
        return false
    }

    /// The journal stopped being the record: said (to the fallback and the observer), and the
    /// machine learns it. `pending`, the event that could not be written, follows.
    private func journalBroke(_ problem: String, pending: inout JournalEvent) async {
        journalProblem = problem
        var failed = JournalEvent(.journalFailed(.init(detail: "\(problem): from here on events go to stderr and the fallback file")))
        failed.time = Journal.timestamp(wallClock())
        failed.offsetMS = Self.milliseconds(now)
        writeFallback(&failed)
        failed.payload = .journalFailed(.init(detail: "\(problem): from here on events go to stderr"
            + (fallback.path.map { " and to \($0)" } ?? " (no fallback file could be written either)")))
        await observer.record(failed)
        writeFallback(&pending)
        await observer.record(pending)
        await respond(machine.journalFailed())
    }

    /// The journal is still the file being written (not deleted, replaced or cut under us); if
    /// not, the record is broken from here on, as after a failed write.
    /// `full` (at the end): every line is read back and its chain checked, so a journal edited in
    /// place (same file, same length) is caught too.
    private func checkJournal(full: Bool = false) async {
        guard journalProblem == nil, let problem = await journal.integrity(full: full) else { return }
        journalProblem = problem
        var failed = JournalEvent(.journalFailed(.init(detail: "\(problem): from here on events go to stderr and the fallback file")))
        failed.time = Journal.timestamp(wallClock())
        failed.offsetMS = Self.milliseconds(now)
        writeFallback(&failed)
        await observer.record(failed)
        await respond(machine.journalFailed())
    }

    /// Milliseconds, to a tenth.
    static func milliseconds(_ d: Duration) -> Double {
        (DurationText.seconds(d) * 10_000).rounded() / 10
    }

    /// What went wrong writing, in words (never a type name).
    static func describe(_ error: any Error) -> String {
        (error as? Journal.Failure)?.message ?? String(describing: error)
    }

    private func writeFallback(_ e: inout JournalEvent) {
        e.run = runID
        fallback.write(e)
        record.apply(e)
    }

    // MARK: - Actions

    private func perform(_ action: Machine.Action) async -> Machine.Action {
        switch action {
        case let .preflight(resuming):
            let next = machine.preflightFinished(ok: resuming ? await connectAll(phase: .resume) : await preflight())
            // The failover begins (the guards start with it).
            if !resuming, machine.watchesGuards { notify(.started, detail: "preflight passed: \(plan.hosts.count) host\(plan.hosts.count == 1 ? "" : "s") ready, the steady state holds") }
            return next
        case .writeMarker:
            let (ok, at) = await writeMarker()
            return machine.markerWritten(ok: ok, at: at)
        case let .startStep(ref):
            await checkJournal()
            let at = await stepStarted(ref)
            return machine.stepStarted(ref, at: at)
        case let .runBatch(ref, batch):
            let failed = await runBatch(ref, batch)
            return machine.batchFinished(ref, batch: batch, failed: failed)
        case let .askOperator(ref):
            return machine.operatorAnswered(ref, await manual(ref))
        case let .verify(ref):
            return machine.verifyFinished(ref, heldSince: await verify(ref))
        case let .recordRTO(ref, span):
            await recordRTO(ref, span)
            return machine.measured()
        case let .finishStep(ref, result):
            await stepFinished(ref, result)
            return machine.stepFinished(ref, result)
        case .readMarker:
            let (found, cut) = await readMarker()
            return machine.markerRead(found: found, cut: cut)
        case let .recordRPO(rpo):
            await recordRPO(rpo)
            return machine.measured()
        case let .stopLeftovers(leftovers):
            await stopLeftovers(leftovers)
            return machine.leftoversStopped()
        case let .startRestore(reason):
            await log(.restoreStarted(.init(reason: reason, detail: Self.text(reason))))
            return machine.restoreStarted()
        case let .finishRestore(status):
            await log(.restoreFinished(.init(status: status, detail: Self.restoreText(status, record: record))))
            if status == .failed || status == .abandoned { notify(.restoreFailed, detail: "restore " + Self.restoreText(status, record: record)) }
            return machine.restoreFinished()
        case .checkFinalState:
            return machine.finalStateChecked(holds: await finalCheck())
        case let .endRun(ending):
            return machine.runEnded(sealed: await endRun(ending))
        case let .finish(ending):
            // The loop in `run` ends the run; reaching here would be a programming error, answered safely.
            return .finish(ending)
        }
    }

    // MARK: Preflight

    /// One sample of the steady state that can be trusted: a sample the controller stopped
    /// running around (the heartbeat saw it, or it took longer than its checks may) may be from
    /// before the pause, so it is taken again (up to three times); never trusted, the checks are
    /// errors that say why.
    private func steadyStateSample() async -> [CheckOutcome] {
        let slowest = (plan.steadyState.map { $0.timeout.duration }.max() ?? .zero) + .seconds(1)
        // Why a sample was not trusted: the heartbeat saw the controller stop, or the sample took
        // longer than its checks may (a connection that stalled, or a pause too short to see).
        var stale: [String] = []
        for _ in 0..<3 {
            let mark = environment.pauses.mark()
            let began = now
            let outcomes = await Preflight.evaluate(plan.steadyState, with: environment.checks)
            if Task.isCancelled { return outcomes }
            let took = now - began
            let paused = environment.pauses.stalled(since: mark)
            guard paused != nil || took > slowest else {
                guard let first = stale.first else { return outcomes }
                let note = " (checked again: \(first) while the first sample was out)"
                return outcomes.map { var o = $0; o.detail += note; return o }
            }
            stale.append(paused.map { "the controller did not run for \(DurationText.format($0))" }
                         ?? "the checks took \(DurationText.format(took)), longer than their timeouts allow")
        }
        let why = "not trusted: \(stale.joined(separator: ", then ")) while the checks were out (a paused controller, or a connection that stalled)"
        return plan.steadyState.map { _ in CheckOutcome(.error, detail: why, latency: .zero) }
    }

    /// Every host reachable and the steady state holding; false (and journaled why) otherwise.
    private func preflight() async -> Bool {
        guard await connectAll(phase: .steadyState) else { return false }
        var problems: [String] = []
        let outcomes = await steadyStateSample()
        if Task.isCancelled { return false }   // stopped, not failed: nothing to record of them
        for (check, o) in zip(plan.steadyState, outcomes) {
            await logCheck(check, o, phase: .steadyState, step: nil, attempt: 1)
            if !o.passed { problems.append("steady state \(check.label): \(o.detail)") }
        }
        // A guard already failing: production is hurting before the drill touched it.
        if let g = plan.guards, !g.checks.isEmpty, !Task.isCancelled {
            let outcomes = await Preflight.evaluate(g.checks, with: environment.checks)
            if Task.isCancelled { return false }
            for (check, o) in zip(g.checks, outcomes) {
                await logCheck(check, o, phase: .guards, step: nil, attempt: 1)
                if GuardWatch.isBad(o.status, onUnknown: g.onUnknown) {
                    problems.append("guard \(check.label) \(o.status == .failed ? "fails" : "cannot be checked") before the drill: \(o.detail)")
                }
            }
        }
        // Cut short by an interrupt: the checks did not fail, they were stopped.
        if Task.isCancelled { return false }
        if !problems.isEmpty {
            await log(.preconditionsFailed(.init(detail: problems.joined(separator: "; "))))
        }
        return problems.isEmpty
    }

    private func connectAll(phase: Phase) async -> Bool {
        let hosts = environment.hosts
        let plan = self.plan
        let results = await inParallel(plan.hosts.map(\.name), limit: options.forks) { await hosts.prepare($0, become: plan.become(on: $0)) }
        // Why each host failed, grouped by reason: 100 of 300 hosts refusing is one line, not 100.
        var problems: [Failure] = []
        var down: [(host: String, kind: TransportFailureKind?, reason: String)] = []
        for (c, r) in zip(plan.hosts, results) {
            switch r {
            case let .success(ready):
                if let key = ready.trustedNewKey {
                    await log(.hostReady(.init(phase: phase, host: c.name, latencyMS: DurationText.seconds(ready.latency) * 1000,
                                               detail: "\(c.endpoint): \(key)", trustedNewKey: true, executor: ready.executor)))
                } else {
                    await log(.hostReady(.init(phase: phase, host: c.name, latencyMS: DurationText.seconds(ready.latency) * 1000, detail: c.endpoint,
                                               executor: ready.executor)))
                }
            case let .failure(err):
                // Cut short by an interrupt: the host did not fail, the wait was stopped.
                if err.kind == .cancelled || Task.isCancelled { problems.append(Failure(step: "", host: c.name, reason: "interrupted")); continue }
                let why = err.message + (err.hint.map { " (hint: \($0))" } ?? "")
                down.append((c.name, err.kind, why))
                await log(.hostUnreachable(.init(phase: phase, host: c.name, detail: "\(c.endpoint): \(why)", problem: err.kind)))
            }
        }
        problems += Failure.unreachable(down, step: "")
        if !problems.isEmpty && !Task.isCancelled {
            await log(.preconditionsFailed(.init(phase: phase, detail: Failure.byReason(problems).joined(separator: "; "))))
        }
        return problems.isEmpty
    }

    /// Stops what commands of this run (or of the dead runner) may have left running: every live
    /// process still carrying a command's tag, with its process group; one host at a time, all
    /// hosts at once (up to --forks).
    private func stopLeftovers(_ leftovers: [Machine.Leftover]) async {
        let hosts = environment.hosts
        let plan = self.plan
        let found = await inParallel(leftovers, limit: options.forks) { l -> (LeftoverVerdict, String) in
            let which = l.process.pgid > 0 ? "process group \(l.process.pgid)" : "found by its tag; the host had not reported its process group"
            do throws(TransportError) {
                // With the privileges the command ran with: a root daemon is neither seen nor
                // killable by the login user.
                let r = try await hosts.transport(for: l.host).run(RemoteCommand.stopLeftover(l.process), timeout: .seconds(10),
                                                                   become: plan.become(step: l.step, host: l.host))
                let said = r.stdout.text.trimmingCharacters(in: .whitespacesAndNewlines)
                let lines = said.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                if let first = lines.first, first.hasPrefix("killed") {
                    let what = first.dropFirst("killed".count).trimmingCharacters(in: .whitespaces)
                    let killed = "\(l.step) on \(l.host) (\(which)) was still running \(l.cause.text): killed" + (what.isEmpty ? "" : " \(what)")
                    if let survivors = lines.dropFirst().first(where: { $0.hasPrefix("survived") }) {
                        return (.survived, killed + "; still running after SIGKILL:" + survivors.dropFirst("survived".count))
                    }
                    return (.killed, killed)
                }
                if said == "gone" { return (.alreadyEnded, "\(l.step) on \(l.host) (\(which)): no process carrying its tag was found \(l.cause.text)") }
                return (.unknown, "\(l.step) on \(l.host): could not tell whether it still runs (\(said.isEmpty ? r.outcome.description : String(said.prefix(200))))")
            } catch {
                return (.unknown, "\(l.step) on \(l.host): could not check whether it still runs: \(error.message)")
            }
        }
        for (l, (verdict, detail)) in zip(leftovers, found) {
            await log(.leftoverStopped(.init(phase: l.cause == .deadRunner ? .resume : phaseOf(l.step),
                                             step: l.step, host: l.host, pgid: Int(l.process.pgid), processTag: l.process.tag,
                                             verdict: verdict, detail: detail)))
        }
    }

    /// Names what a command that ended left running (holding its output): touches nothing.
    private func nameLeftRunning(_ ref: StepRef, step: PlannedStep, host: String, tag: String, process: RemoteProcess?) async {
        let detail: String
        let verdict: LeftoverVerdict
        do throws(TransportError) {
            let become = step.commands.first { $0.host == host }?.become
            let r = try await environment.hosts.transport(for: host).run(RemoteCommand.listLeftover(tag), timeout: .seconds(10), become: become)
            let said = r.stdout.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if said.hasPrefix("running") {
                verdict = .leftRunning
                detail = "\(step.id) on \(host) ended, leaving running (not stopped: that is how services start):"
                    + said.dropFirst("running".count)
            } else {
                verdict = .alreadyEnded
                detail = "\(step.id) on \(host) ended; what held its output has ended too"
            }
        } catch {
            verdict = .unknown
            detail = "\(step.id) on \(host) ended, and something it started held its output; could not ask what: \(error.message)"
        }
        await log(.leftoverStopped(.init(phase: ref.phase, step: step.id, host: host, pgid: process.map { Int($0.pgid) }, processTag: tag,
                                         verdict: verdict, detail: detail)))
    }

    /// The phase of a step, by its id.
    func phaseOf(_ step: String) -> Phase {
        if step.hasPrefix("restore.") { return .restore }
        return step.contains(".on_failure.") ? .onFailure : .failover
    }

    // MARK: Guards

    /// Starts the guards when the failover begins, stops them once restore has ended (before
    /// `run_ended`, so nothing is journaled after the seal).
    private func followGuards() async {
        if machine.watchesGuards {
            if guardTask == nil, let g = plan.guards, !g.checks.isEmpty {
                guardTask = Task { await self.watchGuards(g) }
            }
        } else if let task = guardTask {
            task.cancel()
            await task.value
        }
    }

    /// Samples every guard each `every` on the runner's clock until cancelled or one trips.
    /// The first sample of each guard and each change of its status are journaled (`check_result`,
    /// phase `guard`); a trip is `guard_tripped`, and the machine stops the failover.
    private func watchGuards(_ g: PlannedGuards) async {
        let slowest = g.checks.map(\.timeout.duration).max() ?? .zero
        var watch = GuardWatch(guards: g.checks.count, hold: g.hold.duration, onUnknown: g.onUnknown,
                               maxGap: g.every.duration * 2 + slowest + .seconds(1))
        var n = 0
        while !Task.isCancelled {
            n += 1
            let mark = environment.pauses.mark()
            let t = now
            let outcomes = await Preflight.evaluate(g.checks, with: environment.checks, watchdog: options.guardWatchdog,
                                                      sleep: options.guardWatchdogSleep)
            if Task.isCancelled { return }
            let verdict = watch.sample(at: t, outcomes.map(\.status), stalled: environment.pauses.stalled(since: mark) != nil)
            for i in verdict.changed { await logCheck(g.checks[i], outcomes[i], phase: .guards, step: nil, attempt: n) }
            if let trip = verdict.trip {
                await guardTripped(g.checks[trip.index], outcomes[trip.index], trip: trip, at: t)
                return
            }
            do { try await clock.sleep(until: started.advanced(by: t + g.every.duration), tolerance: nil) } catch { return }
        }
    }

    private func guardTripped(_ check: PlannedCheck, _ o: CheckOutcome, trip: GuardWatch.Trip, at t: Duration) async {
        let bad = o.status == .failed ? "failed" : "could not be checked"
        let what = "guard \(check.label) \(bad) for \(DurationText.format(t - trip.since))"
        let response = machine.guardTripped(what)
        let phase: Phase
        switch machine.phase {
        case .dataMarker, .markerRead: phase = .dataCheck
        case .onFailure: phase = .onFailure
        case .restore: phase = .restore
        case .preflight, .failover, .finalCheck, .ending, .ended: phase = .failover
        }
        await log(.guardTripped(.init(phase: phase, check: check.name, host: check.host, from: check.from, outcome: o.status, detail: o.detail,
                                      sinceOffsetMS: Self.milliseconds(trip.since), seconds: DurationText.seconds(t - trip.since), samples: trip.samples)))
        if case .stop = response { current?.cancel() }
        notify(.guardTripped, detail: "\(what): \(o.detail)")
    }

    // MARK: Notifications

    /// Tells whoever hears `event`, without waiting: the attempts are journaled when done.
    private func notify(_ event: NotifyEvent, detail: String) {
        guard let n = environment.notifier, n.hears(event) else { return }
        let record = self.record
        notices.append(Task { await self.journal(n.deliver(event, record: record, detail: detail)) })
    }

    private func journal(_ attempts: [JournalEvent.NotificationAttempt]) async {
        for a in attempts { await log(.notification(a)) }
    }

    /// Waits for the notifications on their way (each bounded by its target's timeout).
    private func settleNotices() async {
        while let first = notices.first {
            notices.removeFirst()
            await first.value
        }
    }

    /// How the drill ended, told before `run_ended` is written (so its attempts are in the
    /// sealed journal): passed, interrupted, or failed (also a drill that could not start).
    private func notifyEnd(_ ending: Machine.Ending, _ ended: JournalEvent.RunEnded) async {
        await settleNotices()
        guard let n = environment.notifier else { return }
        let event: NotifyEvent
        switch ending.result {
        case .passed: event = .passed
        case .interrupted: event = .interrupted
        case .failed, .preconditions, .incomplete: event = .failed
        }
        guard n.hears(event) else { return }
        var r = record
        r.apply(JournalEvent(.runEnded(ended)))
        await journal(await n.deliver(event, record: r, detail: ended.detail ?? ""))
    }

    // MARK: Steps

    func plannedStep(_ ref: StepRef) -> PlannedStep {
        switch ref {
        case let .failover(i): return plan.steps[i]
        case let .hook(s, h): return plan.steps[s].onFailure[h]
        case let .restore(i): return plan.restore[i]
        }
    }

    /// Journals `step_started` and returns the instant it carries (RTO may count from it).
    private func stepStarted(_ ref: StepRef) async -> Duration {
        let step = plannedStep(ref)
        let at = now
        stepStarts[ref] = at
        var detail = step.kind == .manual ? "manual" : step.hosts.isEmpty ? "on no host" : "on \(step.hosts.joined(separator: ", "))"
        if step.onlyTouched {
            // A rollback of what a staged failover touched: the other hosts never changed.
            let touched = step.hosts.filter(touchedHosts.contains)
            detail = touched.isEmpty ? "on no host: the failover touched none of \(step.hosts.joined(separator: ", "))"
                : "on \(touched.joined(separator: ", ")) (only the hosts the failover touched; \(step.hosts.count - touched.count) of \(step.hosts.count) untouched)"
        }
        await log(.stepStarted(.init(phase: ref.phase, step: step.id, name: step.name, detail: detail, spec: StepSpec(step))), at: at)
        return at
    }

    private func stepFinished(_ ref: StepRef, _ result: StepResult) async {
        let step = plannedStep(ref)
        let started = stepStarts[ref] ?? now
        // What went wrong in this step, as the journal tells it.
        var detail = record.failures(ofStep: step.id).joined(separator: "; ")
        if result == .skipped {
            detail = "selects no host" + (plan.limit.map { " within --limit \($0)" } ?? "") + ": nothing ran"
        }
        await log(.stepFinished(.init(phase: ref.phase, step: step.id, name: step.name, result: result,
                                      durationMS: DurationText.seconds(now - started) * 1000, detail: detail.isEmpty ? nil : detail)))
    }

    private func runBatch(_ ref: StepRef, _ batch: Int) async -> Int {
        let step = plannedStep(ref)
        let batches = step.batches.filter { !$0.isEmpty }
        guard batch < batches.count else { return 0 }
        // A rollback of what a staged failover touched: the other hosts never changed.
        let hosts = step.onlyTouched ? batches[batch].filter(touchedHosts.contains) : batches[batch]
        let results = await inParallel(hosts, limit: options.forks) { host in
            await self.command(ref, step, host: host)
        }
        return results.filter { !$0 }.count
    }

    /// One host's command; true when it succeeded.
    private func command(_ ref: StepRef, _ step: PlannedStep, host: String) async -> Bool {
        let phase = ref.phase
        func notSent(_ why: String) async -> Bool {
            await log(.commandFinished(.init(phase: phase, step: step.id, host: host, passed: false, failure: .notSent, detail: why)))
            return false
        }
        guard let planned = step.commands.first(where: { $0.host == host }) else {
            return await notSent("no command was planned for this host")
        }
        let rendered = planned.command
        let text: String
        do { text = try rendered.reveal(environment.secrets) } catch {
            return await notSent("the command could not be prepared: \((error as? Diagnostic)?.message ?? "a secret has no value")")
        }
        if text.allSatisfy(\.isWhitespace) {
            return await notSent("the command is empty after rendering: nothing to run (check the variables in 'run:')")
        }
        guard machine.mayStartCommand(ref) else { return false }
        // The tag is journaled before the command goes out: a later run can find it by that alone.
        let tag = RemoteProcess.newTag()
        let journaled = await log(.commandStarted(.init(phase: phase, step: step.id, host: host, command: rendered.description, processTag: tag)))
        if case let .notSent(why) = machine.commandJournaled(ref, journaled: journaled) {
            return await notSent(why)
        }
        if case .failover = ref { touchedHosts.insert(host) }
        let transport = await environment.hosts.transport(for: host)
        let running = RunningEvent()
        let pauseMark = environment.pauses.mark()
        let r: CommandResult
        do throws(TransportError) {
            r = try await transport.run(text, timeout: step.timeout.duration, tag: tag, become: planned.become) { process in
                running.set(Task { await self.commandRunning(ref, step: step, host: host, process) }, process: process)
            }
        } catch {
            await running.wait()
            let failure = machine.commandFailed(ref, host: host, process: running.process ?? RemoteProcess(pgid: 0, tag: tag),
                                                kind: error.kind, mayHaveRun: error.mayHaveRun)
            let why: String
            switch failure {
            case .unknown: why = "\(error.message) (outcome unknown: not sent again)"
            case .interrupted: why = error.message
            case .notSent, .transport: why = "not sent: \(error.message)"
            }
            await log(.commandFinished(.init(phase: phase, step: step.id, host: host, passed: false, failure: failure, detail: why)))
            return false
        }
        await running.wait()
        var finished = JournalEvent.CommandFinished(phase: phase, step: step.id, host: host, passed: r.succeeded,
                                                    durationMS: DurationText.seconds(r.duration) * 1000,
                                                    stdout: mask.output(r.stdout), stderr: mask.output(r.stderr))
        switch r.outcome {
        case let .exited(code): finished.exit = Int(code)
        case let .signaled(s): finished.signal = s
        case .timedOut:
            finished.timedOut = true
            // It ignored SIGTERM: timed out, then killed.
            if r.killedAfterGrace { finished.signal = "KILL" }
        }
        let cut = r.stdout.droppedBytes + r.stderr.droppedBytes
        finished.outputCutBytes = cut > 0 ? cut : nil
        // A controller stopped while the command ran measures the pause as the command's time
        // (and the RTO with it): said, so no one reads it as the host's.
        if let stalled = environment.pauses.stalled(since: pauseMark) {
            finished.detail = "the controller did not run for \(DurationText.format(stalled)) while this command ran (stopped, suspended or starved of CPU): its duration includes that"
        }
        await log(.commandFinished(finished))
        let process = running.process ?? RemoteProcess(pgid: 0, tag: tag)
        switch machine.commandEnded(ref, host: host, process: process, timedOut: r.outcome == .timedOut, outputHeldOpen: r.outputHeldOpen) {
        case .nothing: break
        case .nameLeftRunning: await nameLeftRunning(ref, step: step, host: host, tag: tag, process: running.process)
        }
        return r.succeeded
    }

    private func commandRunning(_ ref: StepRef, step: PlannedStep, host: String, _ p: RemoteProcess) async {
        await log(.commandRunning(.init(phase: ref.phase, step: step.id, host: host, pgid: Int(p.pgid), processTag: p.tag)))
    }

    /// `exit 3: <the end of stderr>` (stderr already masked, so cutting it cannot expose a secret).
    static func failure(_ outcome: CommandResult.Outcome, stderr: String) -> String {
        let err = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return outcome.description + (err.isEmpty ? "" : ": " + String(err.suffix(200)))
    }

    private func manual(_ ref: StepRef) async -> Machine.ManualAnswer {
        let step = plannedStep(ref)
        let phase = ref.phase
        await log(.manualPrompt(.init(phase: phase, step: step.id, instruction: step.instruction)))
        let decision: ManualDecision
        switch options.manual {
        case .ask: decision = await observer.manual(step)
        case .pass: decision = .confirmed
        case .skip: decision = .skipped
        case .fail: decision = .failed("--manual=fail")
        }
        let mode = options.manual
        // Who answered: a person at the terminal, or a flag given in advance (the score caps the latter).
        let by = mode == .ask ? "operator" : "--manual=\(mode.rawValue)"
        let outcome: ManualOutcome, detail: String
        switch decision {
        case .confirmed: outcome = .confirmed; detail = mode == .pass ? "recorded as confirmed by --manual=pass (not asked)" : "confirmed by the operator"
        case .skipped: outcome = .skipped; detail = mode == .skip ? "skipped by --manual=skip" : "skipped by the operator"
        case let .failed(why): outcome = .failed; detail = why
        case let .noAnswer(why): outcome = .noAnswer; detail = why
        }
        await log(.manualResult(.init(phase: phase, step: step.id, answeredBy: by, outcome: outcome, detail: detail)))
        switch decision {
        case .confirmed: return .confirmed
        case .skipped: return .skipped
        case .failed, .noAnswer: return .failed
        }
    }

    // MARK: Verify

    /// Samples the checks until every `up` check passes and every `down` check fails in
    /// consecutive samples across the hold window (`HoldWindow`), or `within` runs out. A check
    /// that could not be made (`error`) satisfies neither. Each flap inside the window is
    /// journaled. Returns when the run of samples that held began (since the runner started), or
    /// nil when it did not hold.
    private func verify(_ ref: StepRef) async -> Duration? {
        let step = plannedStep(ref)
        guard let v = step.verify else { return now }
        let phase = ref.phase
        var checks = v.up.map { ($0, Expect.up) } + v.down.map { ($0, Expect.down) }
        // After batch N of a staged step: the checks of the hosts reached so far (and those tied
        // to no host of the step), not of hosts whose turn has not come.
        var scope = ""
        if let through = machine.verifyCovers(ref) {
            let batches = step.batches.filter { !$0.isEmpty }
            let stepHosts = Set(step.hosts), reached = Set(batches.prefix(through + 1).joined())
            checks = checks.filter { pair in [pair.0.host, pair.0.from].compactMap { $0 }.allSatisfy { !stepHosts.contains($0) || reached.contains($0) } }
            scope = "after batch \(through + 1) of \(batches.count) (\(reached.count) of \(stepHosts.count) hosts); "
        } else if step.batches.filter({ !$0.isEmpty }).count > 1 {
            scope = "after the last batch; "
        }
        await log(.verifyStarted(.init(phase: phase, step: step.id,
                                       detail: scope + [("up", Expect.up), ("down", Expect.down)].compactMap { word, expect -> String? in
                                           let labels = checks.filter { $0.1 == expect }.map(\.0.label)
                                           return labels.isEmpty ? nil : "\(word): " + labels.joined(separator: ", ")
                                       }.joined(separator: "; ") + "; hold \(v.hold.duration.formatted) within \(v.within.duration.formatted)")))
        let start = now
        // A sample starting more than 1 s late, one the controller stopped running around (the
        // heartbeat saw it), or one longer than its checks may take, is a gap: the hold starts again.
        let slowest = checks.map { $0.0.timeout.duration }.max() ?? .zero
        var window = HoldWindow(hold: v.hold.duration, within: v.within.duration, longestSample: slowest + .seconds(1))
        var pause = options.pollInterval, attempt = 0, lastBad: [String] = [], heldSince: Duration?, flaps = 0
        var mark = environment.pauses.mark()
        while !Task.isCancelled {
            attempt += 1
            let began = now - start
            let outcomes = await Preflight.evaluate(checks.map(\.0), with: environment.checks)
            // Stopped while the checks were out: what they would have said no longer matters.
            if Task.isCancelled { break }
            let t = now - start
            let slowestCheck = slowest + .seconds(1)
            let stalled = environment.pauses.stalled(since: mark) ?? (t - began > slowestCheck ? t - began : nil)
            mark = environment.pauses.mark()
            lastBad = []
            for ((check, expect), o) in zip(checks, outcomes) {
                let met = Self.meets(o, expect)
                await logCheck(check, o, phase: phase, step: step.id, attempt: attempt, expect: expect)
                if !met {
                    switch o.status {
                    case .error, .skipped: lastBad.append("\(check.label): could not check: \(o.detail)")
                    case .passed: lastBad.append("\(check.label) still answers: \(o.detail)")
                    case .failed: lastBad.append("\(check.label): \(o.detail)")
                    }
                }
            }
            let late = began > v.within.duration && lastBad.isEmpty
            let verdict = window.sample(at: t, started: began, passing: lastBad.isEmpty, stalled: stalled)
            if let gap = window.gap {
                let why = stalled != nil
                    ? "the controller did not run for \(DurationText.format(gap)) (stopped, suspended or starved of CPU): this sample may be from before the pause and does not count"
                    : "no sample for \(DurationText.format(gap)) (the controller was paused, or a check took that long): nothing was seen in between"
                await log(.verifyGap(.init(phase: phase, step: step.id, attempt: attempt, fromOffsetMS: Self.milliseconds(start + t - gap),
                                           toOffsetMS: Self.milliseconds(start + t), seconds: DurationText.seconds(gap),
                                           detail: why + "; the hold window starts again")))
            }
            if let stalled, lastBad.isEmpty {
                lastBad = ["the controller did not run for \(DurationText.format(stalled)) around the last sample: what it saw may be from before the pause"]
            }
            if late { lastBad = ["the sample came \(DurationText.format(began - v.within.duration)) after the deadline (within \(v.within.duration.formatted)): too late to count"] }
            switch verdict {
            case let .held(since): heldSince = since
            case let .flapped(since):
                flaps += 1
                await log(.verifyFlapped(.init(phase: phase, step: step.id, attempt: attempt, fromOffsetMS: Self.milliseconds(start + since),
                                               toOffsetMS: Self.milliseconds(start + t),
                                               detail: "held for \(DurationText.format(t - since)) of \(v.hold.duration.formatted), then: " + lastBad.joined(separator: "; "))))
            case .holding, .failing: break
            }
            if heldSince != nil { break }
            // Journaling the results is not lateness: the next sample is late only from now on.
            guard let next = window.next(after: t, now: now - start, pause: pause) else { break }
            do { try await clock.sleep(until: started.advanced(by: start + next), tolerance: nil) } catch { break }
            pause = min(pause * 3 / 2, options.maxPollInterval)
        }
        if Task.isCancelled && heldSince == nil { return nil }
        let held = heldSince != nil
        await log(.verifyFinished(.init(phase: phase, step: step.id, passed: held, attempt: attempt,
                                        durationMS: DurationText.seconds(now - start) * 1000,
                                        heldFromOffsetMS: heldSince.map { Self.milliseconds(start + $0) },
                                        detail: held ? "held for \(v.hold.duration.formatted)"
                                            : "did not hold for \(v.hold.duration.formatted) within \(v.within.duration.formatted): "
                                            + (lastBad.isEmpty ? "it was still holding when the window ended, after \(flaps) flap\(flaps == 1 ? "" : "s")" : lastBad.joined(separator: "; ")))))
        return heldSince.map { start + $0 }
    }

    private func recordRTO(_ ref: StepRef, _ span: Machine.Span) async {
        let step = plannedStep(ref)
        let checks = step.verify?.up.map(\.label).joined(separator: ", ") ?? ""
        let hold = step.verify?.hold.duration.formatted ?? "0s"
        await log(.rto(.init(step: step.id, seconds: DurationText.seconds(span.value), fromOffsetMS: Self.milliseconds(span.from),
                             toOffsetMS: Self.milliseconds(span.to), objectiveSeconds: span.objective.map(DurationText.seconds),
                             withinObjective: span.withinObjective,
                             detail: "from the start of the first disruptive step until \(checks) answered again and held for \(hold)")))
    }

    /// `up`: passed. `down`: failed — a real "not answering"; a check that could not be made is neither.
    static func meets(_ o: CheckOutcome, _ expect: Expect) -> Bool {
        switch expect {
        case .up: return o.status == .passed
        case .down: return o.status == .failed
        }
    }

    func logCheck(_ check: PlannedCheck, _ o: CheckOutcome, phase: Phase, step: String?, attempt: Int, expect: Expect = .up) async {
        await log(.checkResult(.init(phase: phase, step: step, check: check.name, host: check.host, from: check.from, attempt: attempt,
                                     outcome: o.status, expect: expect, met: Self.meets(o, expect), detail: o.detail, latencyMS: o.latencyMS)))
    }

    /// Calls `attempt` (1, 2, …) until it returns true, pausing between attempts (growing by half,
    /// up to `maxPollInterval`); the last attempt is made at `deadline`. Stops when the task is
    /// cancelled. Returns whether it held and how many attempts were made.
    func poll(until deadline: Duration, _ attempt: (Int) async -> Bool) async -> (held: Bool, attempts: Int) {
        var pause = options.pollInterval, n = 0
        while true {
            n += 1
            if await attempt(n) { return (true, n) }
            let t = now
            if Task.isCancelled || t >= deadline { return (false, n) }
            do { try await clock.sleep(until: started.advanced(by: min(t + pause, deadline)), tolerance: nil) } catch { return (false, n) }
            pause = min(pause * 3 / 2, options.maxPollInterval)
        }
    }

    // MARK: Data check (RPO)

    /// Whether the marker was written, and when its write began.
    private func writeMarker() async -> (Bool, Duration) {
        let written = now
        guard let dc = plan.dataCheck else { return (true, written) }
        for cmd in dc.write {
            if let problem = await runDataCommand(cmd, timeout: dc.timeout.duration) {
                await log(.markerWritten(.init(host: cmd.host, passed: false, detail: problem)))
                return (false, written)
            }
        }
        await log(.markerWritten(.init(host: dc.write.map(\.host).joined(separator: ","), passed: true, fromOffsetMS: Self.milliseconds(written),
                                       detail: "marker \(runID) written (the write began at offset \(Int(Self.milliseconds(written))) ms)")))
        return (true, written)
    }

    /// Polls the standby for the marker until found or the data check's timeout; whether it was
    /// found, and whether an interrupt cut the search short.
    private func readMarker() async -> (found: Bool, cut: Bool) {
        guard let dc = plan.dataCheck else { return (true, false) }
        var missing: String?
        let found = await poll(until: now + dc.timeout.duration) { attempt in
            missing = nil
            for cmd in dc.read {
                if let problem = await self.runDataCommand(cmd, timeout: dc.timeout.duration) { missing = "\(cmd.host): \(problem)"; break }
            }
            await self.log(.markerRead(.init(attempt: attempt, passed: missing == nil, detail: missing ?? "marker \(self.runID) found")))
            return missing == nil
        }.held
        lastMissing = missing
        return (found, Task.isCancelled)
    }

    /// Why the last search for the marker did not find it.
    private var lastMissing: String?

    private func recordRPO(_ rpo: Machine.RPO) async {
        switch rpo {
        case let .measured(span):
            await log(.rpo(.init(seconds: DurationText.seconds(span.value), passed: true, fromOffsetMS: Self.milliseconds(span.from),
                                 toOffsetMS: Self.milliseconds(span.to), objectiveSeconds: span.objective.map(DurationText.seconds),
                                 withinObjective: span.withinObjective,
                                 detail: "the marker written before the drill was found on the standby; it was \(DurationText.format(span.value)) old when the failure began")))
        case let .lost(objective):
            let timeout = plan.dataCheck?.timeout.duration.formatted ?? "its timeout"
            await log(.rpo(.init(seconds: nil, passed: false, objectiveSeconds: objective.map(DurationText.seconds),
                                 withinObjective: objective == nil ? nil : false,
                                 detail: "marker not found on the standby within \(timeout): data written before the failure was lost (\(lastMissing ?? ""))")))
        }
    }

    private func runDataCommand(_ cmd: PlannedCommand, timeout: Duration) async -> String? {
        let t = await environment.hosts.transport(for: cmd.host)
        do {
            let r = try await t.run(try cmd.command.reveal(environment.secrets), timeout: timeout, become: cmd.become)
            return r.succeeded ? nil : Self.failure(r.outcome, stderr: mask.output(r.stderr))
        } catch {
            return mask(CheckRunner.describe(error))
        }
    }

    // MARK: Restore and the end

    static func text(_ reason: Machine.RestoreReason) -> String {
        switch reason {
        case .completed: return "every failover step passed: putting the service back"
        case .stepFailed: return "a failover step failed: putting back what the failover changed"
        case .interrupted: return "interrupted: putting back what the failover changed"
        case .journalFailed: return "the journal cannot be written: putting back what the failover changed"
        case .resumed: return "resumed after the runner stopped: putting back what the failover changed"
        case .guardTripped: return "a guard tripped (production was being hurt): putting back what the failover changed"
        }
    }

    /// Whether the steady state holds again; nil when the playbook has none to check.
    private func finalCheck() async -> Bool? {
        if plan.steadyState.isEmpty { return nil }
        let outcomes = await steadyStateSample()
        if Task.isCancelled { return false }   // stopped by an interrupt: says nothing of the hosts
        var holds = true
        for (check, o) in zip(plan.steadyState, outcomes) {
            await logCheck(check, o, phase: .final, step: nil, attempt: 1)
            if !o.passed { holds = false }
        }
        return holds
    }

    static func restoreText(_ status: Machine.RestoreStatus, record: DrillRecord) -> String {
        switch status {
        case .notNeeded: return "not needed: no failover command was sent, nothing was changed on any host"
        case .completed: return "completed"
        case .failed:
            let restoreFailures = record.failures.filter { $0.hasPrefix("restore.") }
            return "failed: " + (restoreFailures.isEmpty ? "see the journal" : restoreFailures.joined(separator: "; "))
        case .abandoned: return "abandoned by the operator"
        case .notRun: return "not run: the hosts could not be reached"
        }
    }

    static func finalState(_ ending: Machine.Ending, hasSteadyState: Bool) -> String {
        if !ending.touched { return "unchanged: no failover command was sent" }
        switch ending.restore {
        case .notNeeded: return "unchanged: no failover command was sent"
        case .abandoned: return "NOT RESTORED: restore was abandoned; hosts may still be failed over — finish restore by hand"
        case .failed: return "NOT RESTORED: restore failed; hosts may still be failed over — finish restore by hand"
        case .notRun: return "NOT RESTORED: restore could not run; resume the run once the hosts answer (firedrill run --resume)"
        case .completed:
            switch ending.steadyStateHolds {
            case true?: return "restored: steady state holds again"
            case false?: return "restore ran but the steady state does not hold"
            case nil: return hasSteadyState ? "restore completed; the steady state was not re-checked (interrupted)"
                : "restore completed (the playbook has no steady-state checks to confirm the service is back)"
            }
        }
    }

    /// Journals `run_ended` and seals the journal: whether the seal was written (nil when the
    /// journal had already failed, so there is nothing to seal).
    private func endRun(_ ending: Machine.Ending) async -> Bool? {
        await checkJournal(full: true)
        if asking {
            asking = false
            await log(.interrupted(.init(response: .ignored, detail: "restore ended before the operator answered whether to abandon it")))
        }
        let ended = JournalEvent.RunEnded(result: ending.result, detail: record.failures.isEmpty ? nil : record.failures.joined(separator: "; "),
                                          restore: Self.restoreText(ending.restore, record: record), finalState: Self.finalState(ending, hasSteadyState: !plan.steadyState.isEmpty),
                                          touched: ending.touched, rtoSeconds: record.rto?.seconds, rpoSeconds: record.rpo.flatMap { $0.passed == true ? $0.seconds : nil })
        await notifyEnd(ending, ended)
        await log(.runEnded(ended))
        guard journalProblem == nil else { return nil }
        do {
            try await journal.seal()
            return true
        } catch {
            sealProblem = Self.describe(error)
            return false
        }
    }

    private func outcome(_ ending: Machine.Ending) -> DrillOutcome {
        var incomplete: String?
        if let problem = journalProblem {
            incomplete = "the journal stopped taking events (\(problem)); the rest of the evidence is on stderr"
                + (fallback.path.map { " and in \($0)" } ?? "")
        } else if let sealProblem {
            incomplete = "the journal could not be sealed: \(sealProblem)"
        }
        return DrillOutcome(result: ending.result, runID: runID, journalPath: journal.path, record: record, recordIncomplete: incomplete)
    }
}

/// The `command_running` event of one command: journaled off the transport's thread, awaited
/// before its `command_finished` so the two stay in order.
private final class RunningEvent: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<Void, Never>?
    private var _process: RemoteProcess?
    var process: RemoteProcess? { lock.withLock { _process } }

    func set(_ t: Task<Void, Never>, process p: RemoteProcess) { lock.withLock { task = t; _process = p } }
    func wait() async {
        let t = lock.withLock { task }
        await t?.value
    }
}
