import Foundation

/// Performs a drill: asks `DrillStateMachine` what to do, does it (transport, checks, journal),
/// and feeds the result back. Every decision is the machine's; this type only does the I/O.
///
/// Each action runs in a task of its own that an interrupt (or a journal that stops taking
/// events) cancels when the machine says so: cancellation kills remote process groups. Every
/// event is journaled (written and fsync'd) before the runner acts on what it records; once the
/// journal fails, events go to stderr and a fallback file and restore still runs.
public actor DrillRunner {
    typealias Machine = DrillStateMachine
    typealias StepRef = Machine.StepRef

    let runtime: DrillRuntime
    let plan: Plan
    let journal: Journal
    let observer: any DrillObserver
    let options: RunOptions
    let mask: SecretMasker
    let resumePoint: ResumePoint?
    let fallback: JournalFallback
    let clock = ContinuousClock()
    /// Offsets in the journal count from here (this runner's start, on the monotonic clock).
    let started: ContinuousClock.Instant

    private var machine: Machine
    private var current: Task<Machine.Action, Never>?
    private var journalProblem: String?
    /// The operator is being asked whether to abandon restore.
    private var asking = false
    /// Every event of this runner, as journaled (or, once the journal failed, as sent to the fallback).
    private var events: [JournalEvent] = []
    private var notes: [String] = []
    private var stepStarts: [StepRef: ContinuousClock.Instant] = [:]
    /// Commands whose connection broke while they ran: stopped (if still ours) before restore.
    private var orphans: [ResumePoint.Leftover] = []
    // Measurements.
    private var disruptionAt: ContinuousClock.Instant?
    /// A failover step ran on no host (outside --limit): the service was not really failed over, so no RTO.
    private var failoverSkipped = false
    private var rto: Duration?
    private var rpo: Duration?
    /// When the data marker's write began (the newest data known to exist on the primary).
    private var markerWrittenAt: ContinuousClock.Instant?

    public init(runtime: DrillRuntime, plan: Plan, journal: Journal, observer: any DrillObserver, options: RunOptions,
                resuming: ResumePoint? = nil) {
        self.runtime = runtime
        self.plan = plan
        self.journal = journal
        self.observer = observer
        self.options = options
        self.resumePoint = resuming
        self.mask = SecretMasker(runtime.secrets)
        self.fallback = JournalFallback(journalPath: journal.path, runID: plan.runID)
        self.started = clock.now
        let shape = Machine.Shape(plan)
        if let r = resuming {
            machine = Machine(resuming: shape, touched: r.touched, restoredBefore: r.restoredBefore)
        } else {
            machine = Machine(shape: shape)
        }
    }

    var runID: String { plan.runID }

    /// Runs the drill (or, when resuming, finishes its restore) and says how it ended.
    /// `facts` go into `run_started` of a new run.
    public func run(facts: RunFacts?, notes: [String] = []) async -> DrillOutcome {
        self.notes = notes
        if let r = resumePoint {
            let done = r.completedSteps
            await log(.resumed) { e in
                e.phase = .resume
                var detail = "completed before the runner stopped: " + (done.isEmpty ? "no step" : done.joined(separator: ", "))
                detail += r.touched ? "" : "; no failover command had been sent"
                if let torn = r.tornBytes { detail += "; dropped the journal's incomplete last line (\(torn) bytes)" }
                e.detail = detail
                e.data = ["last_event": r.events.last.map { "\($0.seq) \($0.event.rawValue)" } ?? "none"]
                if !notes.isEmpty { e.data?["notes"] = notes.joined(separator: "\n") }
            }
        } else {
            let plan = try? JSONValue.from(self.plan)   // secrets print masked in every encoded form
            await log(.runStarted) { e in
                e.format = JournalEvent.format
                e.name = self.plan.playbook.name
                e.facts = facts
                e.plan = plan
                if !notes.isEmpty { e.data = ["notes": notes.joined(separator: "\n")] }
            }
        }
        var action = machine.start()
        while true {
            if case let .finish(ending) = action { return await end(ending) }
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
            await log(.interrupted) { $0.result = .stopping; $0.detail = message }
            current?.cancel()
        case let .keepRestoring(message):
            await log(.interrupted) { $0.result = .restoreContinues; $0.detail = message }
        case .confirmAbandon:
            if asking {
                await log(.interrupted) { $0.result = .ignored; $0.detail = "already asking whether to abandon restore" }
                return
            }
            guard observer.canConfirm else {
                _ = machine.abandonAnswered(false)
                await log(.interrupted) { $0.result = .restoreContinues; $0.detail = "abandoning restore needs a confirmation on a terminal: restore continues" }
                return
            }
            await log(.interrupted) { $0.result = .asking; $0.detail = "asking the operator whether to abandon restore" }
            asking = true
            let observer = self.observer
            Task {
                let yes = await observer.confirmAbandonRestore()
                await self.abandonAnswered(yes)
            }
        case let .ignore(message):
            if !message.isEmpty { await log(.interrupted) { $0.result = .ignored; $0.detail = message } }
        }
    }

    private func abandonAnswered(_ yes: Bool) async {
        guard asking else { return }
        asking = false
        let response = machine.abandonAnswered(yes)
        if case .stop = response { notes.append("restore was abandoned by the operator") }
        await respond(response)
    }

    // MARK: - Journal

    /// Journals an event (secrets masked) and shows it. If the journal cannot take it, the event
    /// goes to the fallback and the machine learns the record is broken.
    @discardableResult
    func log(_ kind: JournalEvent.Kind, at instant: ContinuousClock.Instant? = nil, _ fill: (inout JournalEvent) -> Void = { _ in }) async -> JournalEvent {
        var e = JournalEvent(kind)
        e.offsetMS = offset(instant ?? clock.now)
        fill(&e)
        e.detail = e.detail.map(mask.callAsFunction)
        e.stdout = e.stdout.map(mask.callAsFunction)
        e.stderr = e.stderr.map(mask.callAsFunction)
        e.command = e.command.map(mask.callAsFunction)
        if journalProblem == nil {
            do {
                let written = try await journal.append(e, run: runID)
                events.append(written)
                await observer.record(written)
                return written
            } catch {
                journalProblem = "\(error)"
                var failed = JournalEvent(.journalFailed)
                failed.detail = "the journal cannot be written (\(error)): from here on events go to stderr and the fallback file"
                writeFallback(&failed)
                failed.detail = "the journal cannot be written (\(error)): from here on events go to stderr" + (fallback.path.map { " and to \($0)" } ?? " (no fallback file could be written either)")
                await observer.record(failed)
                writeFallback(&e)
                await observer.record(e)
                await respond(machine.journalFailed())
                return e
            }
        }
        writeFallback(&e)
        await observer.record(e)
        return e
    }

    /// Milliseconds since this runner started, to a tenth.
    func offset(_ t: ContinuousClock.Instant) -> Double {
        (DurationText.seconds(t - started) * 10_000).rounded() / 10
    }

    private func writeFallback(_ e: inout JournalEvent) {
        e.run = runID
        if e.time.isEmpty { e.time = Journal.timestamp(Date()) }
        fallback.write(e)
        events.append(e)
    }

    // MARK: - Actions

    private func perform(_ action: Machine.Action) async -> Machine.Action {
        switch action {
        case let .preflight(resuming):
            return machine.preflightFinished(ok: resuming ? await reconnect() : await preflight())
        case .writeMarker:
            return machine.markerWritten(ok: await writeMarker())
        case let .startStep(ref):
            await stepStarted(ref)
            return machine.stepStarted(ref)
        case let .runBatch(ref, batch):
            let failed = await runBatch(ref, batch)
            return machine.batchFinished(ref, batch: batch, failed: failed)
        case let .askOperator(ref):
            return machine.operatorAnswered(ref, await manual(ref))
        case let .verify(ref):
            return machine.verifyFinished(ref, held: await verify(ref))
        case let .finishStep(ref, result):
            await stepFinished(ref, result)
            return machine.stepFinished(ref, result)
        case .readMarker:
            await readMarker()
            return machine.markerRead()
        case let .startRestore(reason):
            await startRestore(reason)
            return machine.restoreStarted()
        case let .finishRestore(status):
            // Restore commands whose connection broke while they ran: stopped before the final check.
            if !orphans.isEmpty {
                await stopLeftovers(orphans, phase: .restore, why: "its connection broke while it ran")
                orphans = []
            }
            await log(.restoreFinished) { e in
                e.phase = .restore
                e.result = JournalEvent.Result(rawValue: status.rawValue)
                e.detail = Self.restoreText(status, record: DrillRecord.fold(self.events))
            }
            return machine.restoreFinished()
        case .checkFinalState:
            return machine.finalStateChecked(holds: await finalCheck())
        case let .finish(ending):
            // The loop in `run` ends the run; reaching here would be a programming error, answered safely.
            return .finish(ending)
        }
    }

    // MARK: Preflight

    /// Every host reachable and the steady state holding; false (and journaled why) otherwise.
    private func preflight() async -> Bool {
        guard await connectAll(phase: .steadyState) else { return false }
        var problems: [String] = []
        let outcomes = await Preflight.evaluate(plan.steadyState, with: runtime.checks)
        if Task.isCancelled { return false }   // stopped, not failed: nothing to record of them
        for (check, o) in zip(plan.steadyState, outcomes) {
            await logCheck(check, o, phase: .steadyState, step: nil, attempt: 1)
            if !o.passed { problems.append("steady state \(check.label): \(o.detail)") }
        }
        // Cut short by an interrupt: the checks did not fail, they were stopped.
        if Task.isCancelled { return false }
        if !problems.isEmpty {
            await log(.preconditionsFailed) { $0.detail = problems.joined(separator: "; ") }
        }
        return problems.isEmpty
    }

    /// A resume: every host reachable again, then what the dead runner left running is stopped.
    private func reconnect() async -> Bool {
        guard await connectAll(phase: .resume) else { return false }
        await stopLeftovers(resumePoint?.leftovers ?? [], phase: .resume, why: "left running by the runner that stopped")
        return true
    }

    private func connectAll(phase: JournalEvent.Phase) async -> Bool {
        let results = await Preflight.connect(plan.hosts, pool: runtime.pool, forks: options.forks)
        var problems: [String] = []
        for (c, r) in zip(plan.hosts, results) {
            switch r {
            case let .success(ready):
                await log(.hostReady) { e in
                    e.phase = phase; e.host = c.name; e.latencyMS = DurationText.seconds(ready.latency) * 1000; e.detail = c.endpoint
                    if let key = ready.trustedNewKey { e.result = .trustedNewKey; e.detail = "\(c.endpoint): \(key)" }
                }
            case let .failure(err):
                // Cut short by an interrupt: the host did not fail, the wait was stopped.
                if err.kind == .cancelled || Task.isCancelled { problems.append("\(c.name): interrupted"); continue }
                problems.append("\(c.name): \(err.message)")
                await log(.hostUnreachable) { e in
                    e.phase = phase; e.host = c.name; e.detail = err.description + (err.hint.map { " (hint: \($0))" } ?? ""); e.result = JournalEvent.Result(err.kind)
                }
            }
        }
        if !problems.isEmpty && !Task.isCancelled {
            await log(.preconditionsFailed) { e in
                e.phase = phase
                e.detail = problems.joined(separator: "; ")
            }
        }
        return problems.isEmpty
    }

    /// Stops commands still running that this run (or the dead runner) started: only a process
    /// group that still carries its tag is killed.
    private func stopLeftovers(_ leftovers: [ResumePoint.Leftover], phase: JournalEvent.Phase, why: String) async {
        for l in leftovers {
            let transport = await runtime.pool.transport(for: runtime.definition.inventory.connection(of: l.host))
            let verdict: JournalEvent.Result
            let detail: String
            do {
                let r = try await transport.run(RemoteCommand.stopLeftover(l.process), timeout: .seconds(10))
                let said = r.stdout.text.trimmingCharacters(in: .whitespacesAndNewlines)
                let which = l.process.pgid > 0 ? "process group \(l.process.pgid)" : "found by its tag; the host had not reported its process group"
                switch said {
                case "killed": verdict = .killed; detail = "\(l.step) on \(l.host) (\(which)) was still running, \(why): killed"
                case "gone": verdict = .alreadyEnded; detail = "\(l.step) on \(l.host) (\(which)) had already ended"
                default: verdict = .unknown; detail = "\(l.step) on \(l.host): could not tell whether it still runs (\(said.isEmpty ? r.outcome.description : said))"
                }
            } catch {
                verdict = .unknown; detail = "\(l.step) on \(l.host): could not check whether it still runs: \(error.message)"
            }
            if verdict == .killed || verdict == .unknown { notes.append(detail) }
            await log(.leftoverStopped) { e in
                e.phase = phase; e.step = l.step; e.host = l.host; e.pgid = Int(l.process.pgid); e.processTag = l.process.tag
                e.result = verdict; e.detail = detail
            }
        }
    }

    // MARK: Steps

    func plannedStep(_ ref: StepRef) -> PlannedStep {
        switch ref {
        case let .failover(i): return plan.steps[i]
        case let .hook(s, h): return plan.steps[s].onFailure[h]
        case let .restore(i): return plan.restore[i]
        }
    }

    static func phase(_ ref: StepRef) -> JournalEvent.Phase {
        switch ref {
        case .failover: return .failover
        case .hook: return .onFailure
        case .restore: return .restore
        }
    }

    private func stepStarted(_ ref: StepRef) async {
        let step = plannedStep(ref)
        let now = clock.now
        stepStarts[ref] = now
        if step.disruptive, !step.hosts.isEmpty || step.kind == .manual, case .failover = ref, disruptionAt == nil { disruptionAt = now }
        // The step's start is the instant RTO counts from: the event carries exactly that offset.
        await log(.stepStarted, at: now) { e in
            e.phase = Self.phase(ref); e.step = step.id; e.name = step.name
            e.detail = step.kind == .manual ? "manual" : step.hosts.isEmpty ? "on no host" : "on \(step.hosts.joined(separator: ", "))"
            e.spec = StepSpec(step)
        }
    }

    private func stepFinished(_ ref: StepRef, _ result: Machine.StepResult) async {
        let step = plannedStep(ref)
        let started = stepStarts[ref] ?? clock.now
        // What went wrong in this step, as the journal tells it (the one interpreter: DrillRecord).
        var detail = DrillRecord.fold(events.filter { $0.step == step.id }).failures.joined(separator: "; ")
        if result == .skipped {
            if ref.isFailover { failoverSkipped = true }
            detail = "selects no host" + (plan.limit.map { " within --limit \($0)" } ?? "") + ": nothing ran"
        }
        await log(.stepFinished) { e in
            e.phase = Self.phase(ref); e.step = step.id; e.name = step.name
            e.result = JournalEvent.Result(rawValue: result.rawValue)
            e.durationMS = DurationText.seconds(self.clock.now - started) * 1000
            e.detail = detail.isEmpty ? nil : detail
        }
    }

    private func runBatch(_ ref: StepRef, _ batch: Int) async -> Int {
        let step = plannedStep(ref)
        let batches = step.batches.filter { !$0.isEmpty }
        guard batch < batches.count else { return 0 }
        let results = await inParallel(batches[batch], limit: options.forks) { host in
            await self.command(ref, step, host: host)
        }
        return results.filter { !$0 }.count
    }

    /// One host's command; true when it succeeded.
    private func command(_ ref: StepRef, _ step: PlannedStep, host: String) async -> Bool {
        let phase = Self.phase(ref)
        func notSent(_ why: String) async -> Bool {
            await log(.commandFinished) { e in
                e.phase = phase; e.step = step.id; e.host = host; e.passed = false; e.result = .notSent; e.detail = why
            }
            return false
        }
        guard let rendered = step.commands.first(where: { $0.host == host })?.command else {
            return await notSent("no command was planned for this host")
        }
        let text: String
        do { text = try rendered.reveal(runtime.secrets) } catch {
            return await notSent("the command could not be prepared: \((error as? Diagnostic)?.message ?? "a secret has no value")")
        }
        if text.allSatisfy(\.isWhitespace) {
            return await notSent("the command is empty after rendering: nothing to run (check the variables in 'run:')")
        }
        guard machine.mayStartCommand(ref) else { return false }
        // The tag is journaled before the command goes out: a later run can find it by that alone.
        let tag = RemoteProcess.newTag()
        let recorded = await log(.commandStarted) { e in
            e.phase = phase; e.step = step.id; e.host = host; e.command = rendered.description; e.processTag = tag
        }
        // The rule is journal first: a failover command whose start could not be recorded is not
        // sent (and so touches nothing); restore commands go out regardless, their record in the fallback.
        if recorded.seq == 0, ref.isFailover {
            return await notSent("not sent: the journal cannot be written")
        }
        // An interrupt may have come while the start was journaled.
        guard machine.sending(ref) else {
            await log(.commandFinished) { e in
                e.phase = phase; e.step = step.id; e.host = host; e.passed = false; e.result = .notSent
                e.detail = "not sent: the drill was stopping"
            }
            return false
        }
        let connection = runtime.definition.inventory.connection(of: host)
        let transport = await runtime.pool.transport(for: connection)
        let running = RunningEvent()
        let r: CommandResult
        do throws(TransportError) {
            r = try await transport.run(text, timeout: step.timeout.duration, tag: tag) { process in
                running.set(Task { await self.commandRunning(ref, step: step, host: host, process) }, process: process)
            }
        } catch {
            await running.wait()
            let unknown = error.mayHaveRun && error.kind != .cancelled
            let why = unknown ? "\(error.message) (outcome unknown: not sent again)" : error.kind == .cancelled ? error.message : "not sent: \(error.message)"
            if unknown { orphans.append(.init(host: host, step: step.id, process: running.process ?? RemoteProcess(pgid: 0, tag: tag))) }
            await log(.commandFinished) { e in
                e.phase = phase; e.step = step.id; e.host = host; e.passed = false
                e.result = error.kind == .cancelled ? .interrupted : unknown ? .unknown : JournalEvent.Result(error.kind)
                e.detail = why
            }
            return false
        }
        await running.wait()
        let stdout = mask.output(r.stdout), stderr = mask.output(r.stderr)
        await log(.commandFinished) { e in
            e.phase = phase; e.step = step.id; e.host = host
            switch r.outcome {
            case let .exited(code): e.exit = Int(code)
            case let .signaled(s): e.signal = s
            case .timedOut: e.timedOut = true
            }
            e.passed = r.succeeded
            e.durationMS = DurationText.seconds(r.duration) * 1000
            e.stdout = stdout
            e.stderr = stderr
            let cut = r.stdout.droppedBytes + r.stderr.droppedBytes
            e.outputCutBytes = cut > 0 ? cut : nil
        }
        if r.succeeded { return true }
        return false
    }

    private func commandRunning(_ ref: StepRef, step: PlannedStep, host: String, _ p: RemoteProcess) async {
        await log(.commandRunning) { e in
            e.phase = Self.phase(ref); e.step = step.id; e.host = host; e.pgid = Int(p.pgid); e.processTag = p.tag
        }
    }

    /// `exit 3: <the end of stderr>` (stderr already masked, so cutting it cannot expose a secret).
    static func failure(_ outcome: CommandResult.Outcome, stderr: String) -> String {
        let err = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return outcome.description + (err.isEmpty ? "" : ": " + String(err.suffix(200)))
    }

    private func manual(_ ref: StepRef) async -> Machine.ManualAnswer {
        let step = plannedStep(ref)
        let phase = Self.phase(ref)
        await log(.manualPrompt) { e in e.phase = phase; e.step = step.id; e.detail = step.instruction }
        let decision: ManualDecision
        switch options.manual {
        case .ask: decision = await observer.manual(step)
        case .pass: decision = .confirmed
        case .skip: decision = .skipped
        case .fail: decision = .failed("--manual=fail")
        }
        let mode = options.manual
        await log(.manualResult) { e in
            e.phase = phase; e.step = step.id
            // Who answered: a person at the terminal, or a flag given in advance (the score caps the latter).
            e.answeredBy = mode == .ask ? "operator" : "--manual=\(mode.rawValue)"
            switch decision {
            case .confirmed: e.result = .confirmed; e.detail = mode == .pass ? "recorded as confirmed by --manual=pass (not asked)" : "confirmed by the operator"
            case .skipped: e.result = .skipped; e.detail = mode == .skip ? "skipped by --manual=skip" : "skipped by the operator"
            case let .failed(why): e.result = .failed; e.detail = why
            case let .noAnswer(why): e.result = .noAnswer; e.detail = why
            }
        }
        switch decision {
        case .confirmed: return .confirmed
        case .skipped: return .skipped
        case .failed, .noAnswer: return .failed
        }
    }

    // MARK: Verify

    /// Samples the checks until every `up` check passes and every `down` check fails in
    /// consecutive samples across the hold window (`HoldWindow`), or `within` runs out. A check
    /// that could not be made (`error`) satisfies neither. Each flap inside the window is journaled.
    private func verify(_ ref: StepRef) async -> Bool {
        let step = plannedStep(ref)
        guard let v = step.verify else { return true }
        let phase = Self.phase(ref)
        let checks = v.up.map { ($0, JournalEvent.Expect.up) } + v.down.map { ($0, JournalEvent.Expect.down) }
        await log(.verifyStarted) { e in
            e.phase = phase; e.step = step.id
            e.detail = "up: \(v.up.map(\.label).joined(separator: ", ")); down: \(v.down.map(\.label).joined(separator: ", ")); "
                + "hold \(v.hold.duration.formatted) within \(v.within.duration.formatted)"
        }
        let start = clock.now
        var window = HoldWindow(hold: v.hold.duration, within: v.within.duration)
        var pause = options.pollInterval, attempt = 0, lastBad: [String] = [], heldSince: Duration?, flaps = 0
        while !Task.isCancelled {
            attempt += 1
            let outcomes = await Preflight.evaluate(checks.map(\.0), with: runtime.checks)
            let t = clock.now - start
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
            switch window.sample(at: t, passing: lastBad.isEmpty) {
            case let .held(since): heldSince = since
            case let .flapped(since):
                flaps += 1
                await log(.verifyFlapped) { e in
                    e.phase = phase; e.step = step.id; e.attempt = attempt
                    e.fromOffsetMS = self.offset(start + since); e.toOffsetMS = self.offset(start + t)
                    e.detail = "held for \(DurationText.format(t - since)) of \(v.hold.duration.formatted), then: " + lastBad.joined(separator: "; ")
                }
            case .holding, .failing: break
            }
            if heldSince != nil { break }
            guard let next = window.next(after: t, pause: pause) else { break }
            do { try await clock.sleep(until: start + next) } catch { break }
            pause = min(pause * 3 / 2, options.maxPollInterval)
        }
        if Task.isCancelled && heldSince == nil { return false }
        let held = heldSince != nil
        await log(.verifyFinished) { e in
            e.phase = phase; e.step = step.id; e.passed = held; e.attempt = attempt
            e.durationMS = DurationText.seconds(self.clock.now - start) * 1000
            if let heldSince { e.fromOffsetMS = self.offset(start + heldSince) }
            e.detail = held ? "held for \(v.hold.duration.formatted)"
                : "did not hold for \(v.hold.duration.formatted) within \(v.within.duration.formatted): "
                    + (lastBad.isEmpty ? "it was still holding when the window ended, after \(flaps) flap\(flaps == 1 ? "" : "s")" : lastBad.joined(separator: "; "))
        }
        guard let heldSince else {
            return false
        }
        if phase == .failover, !v.up.isEmpty, rto == nil, !failoverSkipped, let d = disruptionAt {
            // RTO: from the start of the first disruptive step to the first sample of the run that held.
            let recovered = start + heldSince
            let value = recovered - d
            rto = value
            await log(.rto) { e in
                e.step = step.id
                e.seconds = DurationText.seconds(value)
                e.fromOffsetMS = self.offset(d); e.toOffsetMS = self.offset(recovered)
                e.objectiveSeconds = self.plan.objectives.rto.map { DurationText.seconds($0.duration) }
                e.withinObjective = self.plan.objectives.rto.map { value <= $0.duration }
                e.detail = "from the start of the first disruptive step until \(v.up.map(\.label).joined(separator: ", ")) answered again and held for \(v.hold.duration.formatted)"
            }
        }
        return true
    }

    /// `up`: passed. `down`: failed — a real "not answering"; a check that could not be made is neither.
    static func meets(_ o: CheckOutcome, _ expect: JournalEvent.Expect) -> Bool {
        switch expect {
        case .up: return o.status == .passed
        case .down: return o.status == .failed
        }
    }

    func logCheck(_ check: PlannedCheck, _ o: CheckOutcome, phase: JournalEvent.Phase, step: String?, attempt: Int, expect: JournalEvent.Expect = .up) async {
        await log(.checkResult) { e in
            e.phase = phase; e.step = step; e.check = check.name; e.host = check.host; e.from = check.from
            e.attempt = attempt; e.detail = o.detail; e.latencyMS = o.latencyMS
            e.outcome = o.status; e.expect = expect; e.met = Self.meets(o, expect)
        }
    }

    /// Calls `attempt` (1, 2, …) until it returns true, pausing between attempts (growing by half,
    /// up to `maxPollInterval`); the last attempt is made at `deadline`. Stops when the task is
    /// cancelled. Returns whether it held and how many attempts were made.
    func poll(until deadline: ContinuousClock.Instant, _ attempt: (Int) async -> Bool) async -> (held: Bool, attempts: Int) {
        var pause = options.pollInterval, n = 0
        while true {
            n += 1
            if await attempt(n) { return (true, n) }
            let now = clock.now
            if Task.isCancelled || now >= deadline { return (false, n) }
            do { try await clock.sleep(until: min(now + pause, deadline)) } catch { return (false, n) }
            pause = min(pause * 3 / 2, options.maxPollInterval)
        }
    }

    // MARK: Data check (RPO)

    private func writeMarker() async -> Bool {
        guard let dc = plan.dataCheck else { return true }
        let written = clock.now
        for cmd in dc.write {
            if let problem = await runDataCommand(cmd, timeout: dc.timeout.duration) {
                await log(.markerWritten) { e in e.phase = .dataCheck; e.host = cmd.host; e.passed = false; e.detail = problem }
                return false
            }
        }
        markerWrittenAt = written
        await log(.markerWritten) { e in
            e.phase = .dataCheck; e.host = dc.write.map(\.host).joined(separator: ","); e.passed = true
            e.fromOffsetMS = self.offset(written)
            e.detail = "marker \(self.runID) written (the write began at offset \(Int(self.offset(written))) ms)"
        }
        return true
    }

    /// Polls the standby for the marker until found or the data check's timeout.
    private func readMarker() async {
        guard let dc = plan.dataCheck else { return }
        var missing: String?
        _ = await poll(until: clock.now + dc.timeout.duration) { attempt in
            missing = nil
            for cmd in dc.read {
                if let problem = await self.runDataCommand(cmd, timeout: dc.timeout.duration) { missing = "\(cmd.host): \(problem)"; break }
            }
            await self.log(.markerRead) { e in e.phase = .dataCheck; e.attempt = attempt; e.passed = missing == nil; e.detail = missing ?? "marker \(self.runID) found" }
            return missing == nil
        }
        if Task.isCancelled && missing != nil { return }
        let objective = plan.objectives.rpo?.duration
        if missing == nil, let w = markerWrittenAt {
            // RPO: how old the newest data that survived was when the failure began, on the monotonic clock.
            let failure = disruptionAt ?? w
            let value = max(.zero, failure - w)
            rpo = value
            await log(.rpo) { e in
                e.seconds = DurationText.seconds(value); e.passed = true
                e.fromOffsetMS = self.offset(w); e.toOffsetMS = self.offset(failure)
                e.objectiveSeconds = objective.map(DurationText.seconds); e.withinObjective = objective.map { value <= $0 }
                e.detail = "the marker written before the drill was found on the standby; it was \(DurationText.format(value)) old when the failure began"
            }
        } else {
            await log(.rpo) { e in
                e.passed = false; e.withinObjective = objective == nil ? nil : false
                e.objectiveSeconds = objective.map(DurationText.seconds)
                e.detail = "marker not found on the standby within \(dc.timeout.duration.formatted): data written before the failure was lost (\(missing ?? ""))"
            }
        }
    }

    private func runDataCommand(_ cmd: PlannedCommand, timeout: Duration) async -> String? {
        let t = await runtime.pool.transport(for: runtime.definition.inventory.connection(of: cmd.host))
        do {
            let r = try await t.run(try cmd.command.reveal(runtime.secrets), timeout: timeout)
            return r.succeeded ? nil : Self.failure(r.outcome, stderr: mask.output(r.stderr))
        } catch {
            return mask(CheckRunner.describe(error))
        }
    }

    // MARK: Restore and the end

    private func startRestore(_ reason: Machine.RestoreReason) async {
        if !orphans.isEmpty {
            await stopLeftovers(orphans, phase: .restore, why: "its connection broke while it ran")
            orphans = []
        }
        let text: String
        switch reason {
        case .completed: text = "every failover step passed: putting the service back"
        case .stepFailed: text = "a failover step failed: putting back what the failover changed"
        case .interrupted: text = "interrupted: putting back what the failover changed"
        case .journalFailed: text = "the journal cannot be written: putting back what the failover changed"
        case .resumed: text = "resumed after the runner stopped: putting back what the failover changed"
        }
        await log(.restoreStarted) { e in e.phase = .restore; e.result = JournalEvent.Result(rawValue: reason.rawValue); e.detail = text }
    }

    private func finalCheck() async -> Bool {
        let outcomes = await Preflight.evaluate(plan.steadyState, with: runtime.checks)
        if Task.isCancelled { return false }   // stopped by an interrupt: says nothing of the hosts
        var holds = true
        for (check, o) in zip(plan.steadyState, outcomes) {
            await logCheck(check, o, phase: .final, step: nil, attempt: 1)
            if !o.passed {
                holds = false
            }
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

    static func finalState(_ ending: Machine.Ending) -> String {
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
            case nil: return "restore completed; the steady state was not re-checked"
            }
        }
    }

    private func end(_ ending: Machine.Ending) async -> DrillOutcome {
        if asking {
            asking = false
            await log(.interrupted) { $0.result = .ignored; $0.detail = "restore ended before the operator answered whether to abandon it" }
        }
        let before = DrillRecord.fold((resumePoint?.events ?? []) + events)
        let restore = Self.restoreText(ending.restore, record: before)
        let finalState = Self.finalState(ending)
        let grouped = before.failures.map(mask.callAsFunction)
        if ending.endsRun {
            let rto = self.rto, rpo = self.rpo
            await log(.runEnded) { e in
                e.result = JournalEvent.Result(rawValue: ending.result.rawValue)
                e.detail = grouped.isEmpty ? nil : grouped.joined(separator: "; ")
                var data = ["restore": restore, "final_state": finalState, "touched": ending.touched ? "true" : "false"]
                if let rto { data["rto_seconds"] = String(format: "%.3f", DurationText.seconds(rto)) }
                if let rpo { data["rpo_seconds"] = String(format: "%.3f", DurationText.seconds(rpo)) }
                e.data = data
            }
        }
        var incomplete: String?
        if let problem = journalProblem {
            incomplete = "the journal stopped taking events (\(problem)); the rest of the evidence is on stderr"
                + (fallback.path.map { " and in \($0)" } ?? "")
        } else if ending.endsRun {
            do { try await journal.seal() } catch { incomplete = "the journal could not be sealed: \(error)" }
        }
        return DrillOutcome(result: incomplete != nil && ending.result != .incomplete ? .incomplete : ending.result,
                            runID: runID, journalPath: journal.path, record: DrillRecord.fold((resumePoint?.events ?? []) + events),
                            recordIncomplete: incomplete)
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
