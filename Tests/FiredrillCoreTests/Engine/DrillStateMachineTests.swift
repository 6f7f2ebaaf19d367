import Testing
@testable import FiredrillCore

/// Every phase × event of the drill's decisions, as plain values: no sshd, no clock, no sleeping.
/// `Sim` plays the runner: it performs each action the machine returns with scripted results,
/// and can inject interrupts, operator answers and journal failures before any action.
@Suite struct DrillStateMachineTests {
    typealias M = DrillStateMachine
    typealias Ref = M.StepRef

    /// Two failover steps on 2 hosts each (the first with verify and an on_failure hook, the
    /// second with two serial batches), a manual step, two restore steps, and a data check.
    static let shape = M.Shape(
        failover: [
            .init(id: "failover.1", batches: [2], verify: true, hooks: [.init(id: "failover.1.on_failure.1", batches: [1])]),
            .init(id: "failover.2", batches: [1, 1], maxFailPercentage: 0),
            .init(id: "failover.3", manual: true, batches: []),
        ],
        restore: [.init(id: "restore.1", batches: [2], verify: true), .init(id: "restore.2", batches: [1])],
        dataCheck: true)

    enum Injection: Equatable { case interrupt, journalFailure, abandonYes, abandonNo, guardTrip }

    struct Sim {
        var machine: M
        var preflightOK = true
        var markerOK = true
        var failingHosts: [Ref: Int] = [:]
        var verifyHolds: [Ref: Bool] = [:]
        /// The n-th verify (1-based) of a step does not hold; earlier ones do.
        var verifyFailsAt: [Ref: Int] = [:]
        var verifies: [Ref: Int] = [:]
        var manual: M.ManualAnswer = .confirmed
        var finalHolds = true
        var sealOK: Bool? = true
        /// Injected before the n-th action (0-based) is performed.
        var inject: [Int: [Injection]] = [:]

        var actions: [M.Action] = []
        var responses: [M.Response] = []
        /// Steps whose commands were sent (once per host).
        var sent: [String] = []
        var sentAfterStop: [String] = []
        var stoppedAt: Int?

        init(_ machine: M) { self.machine = machine }

        mutating func run() -> M.Ending {
            var action = machine.start()
            var n = 0
            while true {
                actions.append(action)
                if case let .finish(ending) = action { return ending }
                for i in inject[n] ?? [] {
                    let r: M.Response
                    switch i {
                    case .interrupt: r = machine.interrupted()
                    case .journalFailure: r = machine.journalFailed()
                    case .abandonYes: r = machine.abandonAnswered(true)
                    case .abandonNo: r = machine.abandonAnswered(false)
                    case .guardTrip: r = machine.guardTripped("guard portal failed for 4s")
                    }
                    responses.append(r)
                    if case .stop = r, stoppedAt == nil { stoppedAt = n }
                }
                action = perform(action, cancelled: machine.cutsShort(action))
                n += 1
                precondition(n < 1000, "the machine did not end")
            }
        }

        /// The instant each action is performed at: one second apart.
        var clock: Duration { .seconds(actions.count) }

        mutating func perform(_ action: M.Action, cancelled: Bool) -> M.Action {
            switch action {
            case .preflight: return machine.preflightFinished(ok: preflightOK && !cancelled)
            case .writeMarker: return machine.markerWritten(ok: markerOK && !cancelled, at: clock)
            case let .startStep(ref): return machine.stepStarted(ref, at: clock)
            case let .runBatch(ref, batch):
                let hosts = machine.step(ref).batches[batch]
                var failed = 0
                for h in 0..<hosts {
                    // As the runner does: ask, journal the start, ask again and send.
                    if machine.mayStartCommand(ref), machine.commandJournaled(ref, journaled: !machine.recordIncomplete) == .send {
                        let id = machine.step(ref).id
                        sent.append(id)
                        if stoppedAt != nil && ref.isFailover { sentAfterStop.append(id) }
                        if h < (failingHosts[ref] ?? 0) { failed += 1 }
                    } else {
                        failed += 1
                    }
                }
                return machine.batchFinished(ref, batch: batch, failed: failed)
            case let .askOperator(ref): return machine.operatorAnswered(ref, manual)
            case let .verify(ref):
                verifies[ref, default: 0] += 1
                let holds = (verifyHolds[ref] ?? true) && verifyFailsAt[ref] != verifies[ref]
                return machine.verifyFinished(ref, heldSince: !cancelled && holds ? clock : nil)
            case .recordRTO, .recordRPO: return machine.measured()
            case let .finishStep(ref, result): return machine.stepFinished(ref, result)
            case .readMarker: return machine.markerRead(found: !cancelled, cut: cancelled)
            case .stopLeftovers: return machine.leftoversStopped()
            case .startRestore: return machine.restoreStarted()
            case .finishRestore: return machine.restoreFinished()
            case .checkFinalState: return machine.finalStateChecked(holds: finalHolds && !cancelled)
            case .endRun: return machine.runEnded(sealed: sealOK)
            case .finish: return action
            }
        }

        var restoreStarted: M.RestoreReason? {
            for a in actions { if case let .startRestore(r) = a { return r } }
            return nil
        }
        var steps: [Ref] { actions.compactMap { if case let .startStep(r) = $0 { return r } else { return nil } } }
        func index(of action: M.Action) -> Int? { actions.firstIndex(of: action) }
    }

    func sim(_ configure: (inout Sim) -> Void = { _ in }) -> (Sim, M.Ending) {
        var s = Sim(M(shape: Self.shape))
        configure(&s)
        let ending = s.run()
        return (s, ending)
    }

    // MARK: - The whole drill

    @Test func healthyDrillRunsEveryStepThenRestoreThenTheSteadyState() {
        let (s, end) = sim()
        #expect(end == M.Ending(result: .passed, touched: true, restore: .completed, steadyStateHolds: true, endsRun: true, recordIncomplete: false))
        #expect(s.steps == [.failover(0), .failover(1), .failover(2), .restore(0), .restore(1)])
        #expect(s.actions.first == .preflight(resuming: false))
        #expect(s.actions.contains(.writeMarker) && s.actions.contains(.readMarker))
        #expect(s.restoreStarted == .completed)
        let batches = s.actions.filter { if case .runBatch(.failover(1), _) = $0 { return true } else { return false } }
        #expect(batches == [.runBatch(.failover(1), batch: 0), .runBatch(.failover(1), batch: 1)], "serial batches in order")
        #expect(s.index(of: .checkFinalState)! > s.index(of: .finishRestore(.completed))!)
    }

    /// A staged step (`serial: [1, 25%, 100%]`) is verified after each batch, on what it reached
    /// so far; a batch whose verify does not hold halts the step: the next batch never starts.
    @Test func aStagedStepIsVerifiedAfterEachBatchAndHaltsAtTheFirstThatDoesNotHold() {
        let staged = M.Shape(failover: [.init(id: "failover.1", batches: [1, 6, 17], maxFailPercentage: 4, verify: true)],
                             restore: [.init(id: "restore.1", batches: [24])], dataCheck: false)
        var ok = Sim(M(shape: staged))
        _ = ok.run()
        let f = Ref.failover(0)
        #expect(ok.actions.filter { if case .runBatch(f, _) = $0 { return true }; return $0 == .verify(f) }
                == [.runBatch(f, batch: 0), .verify(f), .runBatch(f, batch: 1), .verify(f), .runBatch(f, batch: 2), .verify(f)])
        var halted = Sim(M(shape: staged))
        halted.verifyFailsAt[f] = 2
        let end = halted.run()
        #expect(end.result == .failed && end.restore == .completed)
        #expect(!halted.actions.contains(.runBatch(f, batch: 2)), "the third batch never starts")
        #expect(halted.actions.contains(.finishStep(f, .failed)))
        #expect(!halted.actions.contains { if case .recordRTO = $0 { return true }; return false }, "a batch's verify is not the service answering again")
        // More than 4% of 24 hosts failing (the canary) halts it too, before any verify.
        var crossed = Sim(M(shape: staged))
        crossed.failingHosts[f] = 1
        _ = crossed.run()
        #expect(crossed.actions.contains(.runBatch(f, batch: 0)) && !crossed.actions.contains(.verify(f)) && !crossed.actions.contains(.runBatch(f, batch: 1)))
    }

    @Test func preflightFailingRunsNothing() {
        let (s, end) = sim { $0.preflightOK = false }
        #expect(end.result == .preconditions && end.restore == .notNeeded && !end.touched)
        #expect(s.sent.isEmpty && s.restoreStarted == nil)
    }

    @Test func markerThatCannotBeWrittenRunsNothing() {
        let (s, end) = sim { $0.markerOK = false }
        #expect(end.result == .preconditions && !end.touched && s.sent.isEmpty && s.restoreStarted == nil)
    }

    @Test func failedStepRunsItsHooksThenRestore() {
        let (s, end) = sim { $0.failingHosts[.failover(0)] = 1 }
        #expect(end.result == .failed && end.restore == .completed)
        #expect(s.steps == [.failover(0), .hook(step: 0, hook: 0), .restore(0), .restore(1)], "nothing after the failed step but its hook and restore")
        #expect(s.actions.contains(.finishStep(.failover(0), .failed)))
        #expect(!s.actions.contains(.verify(.failover(0))), "a step whose command failed is not verified")
        #expect(s.restoreStarted == .stepFailed)
    }

    @Test func failuresWithinMaxFailPercentageLetTheStepGoOn() {
        var shape = Self.shape
        shape.failover[0].batches = [4]
        shape.failover[0].maxFailPercentage = 25
        var s = Sim(M(shape: shape))
        s.failingHosts[.failover(0)] = 1
        #expect(s.run().result == .passed)
        var t = Sim(M(shape: shape))
        t.failingHosts[.failover(0)] = 2
        #expect(t.run().result == .failed, "2 of 4 is more than 25%")
    }

    @Test func aFailedSerialBatchStopsTheStepBeforeTheNextBatch() {
        let (s, end) = sim { $0.failingHosts[.failover(1)] = 1 }
        #expect(end.result == .failed)
        #expect(s.actions.contains(.runBatch(.failover(1), batch: 0)) && !s.actions.contains(.runBatch(.failover(1), batch: 1)))
    }

    @Test func verifyThatDoesNotHoldFailsTheStep() {
        let (s, end) = sim { $0.verifyHolds[.failover(0)] = false }
        #expect(end.result == .failed && s.actions.contains(.finishStep(.failover(0), .failed)) && s.restoreStarted == .stepFailed)
    }

    @Test func operatorReportingFailureFailsTheManualStep() {
        let (s, end) = sim { $0.manual = .failed }
        #expect(end.result == .failed && s.actions.contains(.finishStep(.failover(2), .failed)))
        let (_, skipped) = sim { $0.manual = .skipped }
        #expect(skipped.result == .passed)
    }

    @Test func failedRestoreStopsRestoreAndTheDrillFails() {
        let (s, end) = sim { $0.failingHosts[.restore(0)] = 1 }
        #expect(end.result == .failed && end.restore == .failed)
        #expect(!s.steps.contains(.restore(1)), "later restore steps could make things worse")
        #expect(s.actions.contains(.checkFinalState), "the final state is still checked, as evidence")
    }

    @Test func steadyStateNotBackAfterRestoreFailsTheDrill() {
        let (_, end) = sim { $0.finalHolds = false }
        #expect(end.result == .failed && end.steadyStateHolds == false && end.restore == .completed)
    }

    @Test func stepThatSelectsNoHostIsSkippedNotPassed() {
        var shape = Self.shape
        shape.failover[1].batches = []
        var s = Sim(M(shape: shape))
        let end = s.run()
        #expect(s.actions.contains(.finishStep(.failover(1), .skipped)))
        #expect(!s.actions.contains { if case .runBatch(.failover(1), _) = $0 { return true } else { return false } })
        #expect(end.result == .failed && s.machine.skippedSteps == 1, "a drill with a skipped step does not pass")
    }

    // MARK: - Interrupts

    /// The action index at which `action` is performed in the healthy drill.
    func at(_ action: M.Action) -> Int { sim().0.index(of: action)! }

    @Test func interruptDuringPreflightChangesNothingAndRestoresNothing() {
        for count in 1...3 {
            let (s, end) = sim { $0.inject[0] = Array(repeating: .interrupt, count: count) }
            #expect(end.result == .interrupted && !end.touched && end.restore == .notNeeded, "\(count) interrupt(s)")
            #expect(s.sent.isEmpty, "no failover after \(count) interrupt(s)")
            #expect(s.restoreStarted == nil, "no restore on untouched hosts")
            #expect(!s.actions.contains(.writeMarker))
            if case let .stop(message) = s.responses[0] { #expect(message.contains("nothing was changed")) } else { Issue.record("first interrupt must stop") }
            for r in s.responses.dropFirst() { if case .ignore = r {} else { Issue.record("later interrupts while stopping change nothing: \(r)") } }
        }
    }

    @Test func interruptWhileTheMarkerIsWrittenChangesNothing() {
        let (s, end) = sim { $0.inject[self.at(.writeMarker)] = [.interrupt] }
        #expect(end.result == .interrupted && !end.touched && s.sent.isEmpty && s.restoreStarted == nil)
    }

    @Test func interruptDuringTheFirstStepsCommandsRestoresWhatWasTouched() {
        let (s, end) = sim { $0.inject[self.at(.verify(.failover(0)))] = [.interrupt] }
        #expect(end.result == .interrupted && end.touched && end.restore == .completed)
        #expect(s.restoreStarted == .interrupted)
        #expect(s.actions.contains(.finishStep(.failover(0), .interrupted)))
        #expect(!s.steps.contains(.failover(1)), "the failover stops")
        #expect(s.sentAfterStop.isEmpty)
        if case let .stop(message) = s.responses[0] { #expect(message.contains("restore will run")) } else { Issue.record("must stop") }
    }

    @Test func interruptBetweenActionsStopsTheNextOne() {
        // After step 1 passed and before step 2 starts: step 2 sends nothing and is interrupted.
        let (s, end) = sim { $0.inject[self.at(.startStep(.failover(1)))] = [.interrupt] }
        #expect(end.result == .interrupted && end.restore == .completed)
        #expect(!s.sent.contains("failover.2") && s.actions.contains(.finishStep(.failover(1), .interrupted)))
    }

    @Test func interruptDuringAManualStepBeforeAnyCommandRestoresNothing() {
        let shape = M.Shape(failover: [.init(id: "failover.1", manual: true, batches: []), .init(id: "failover.2", batches: [1])],
                            restore: [.init(id: "restore.1", batches: [1])], dataCheck: false)
        var s = Sim(M(shape: shape))
        s.inject[2] = [.interrupt]   // preflight, startStep, askOperator
        #expect(s.actions.isEmpty)
        let end = s.run()
        #expect(s.actions[2] == .askOperator(.failover(0)))
        #expect(end.result == .interrupted && !end.touched && s.restoreStarted == nil && s.sent.isEmpty)
    }

    @Test func interruptWhileReadingTheMarkerGoesToRestore() {
        let (s, end) = sim { $0.inject[self.at(.readMarker)] = [.interrupt] }
        #expect(end.result == .interrupted && s.restoreStarted == .interrupted && end.restore == .completed)
    }

    @Test func interruptDuringHooksGoesToRestore() {
        var s = Sim(M(shape: Self.shape))
        s.failingHosts[.failover(0)] = 1
        let hook = { () -> Int in var t = Sim(M(shape: Self.shape)); t.failingHosts[.failover(0)] = 1; _ = t.run(); return t.index(of: .runBatch(.hook(step: 0, hook: 0), batch: 0))! }()
        s.inject[hook] = [.interrupt]
        let end = s.run()
        #expect(end.result == .interrupted && s.restoreStarted == .interrupted && !s.sent.contains("failover.1.on_failure.1"))
    }

    @Test func firstInterruptDuringRestoreKeepsRestoringAndTheRunSaysInterrupted() {
        let (s, end) = sim { $0.inject[self.at(.runBatch(.restore(0), batch: 0))] = [.interrupt] }
        #expect(s.responses.first.map { if case .keepRestoring = $0 { return true } else { return false } } == true)
        #expect(s.steps.contains(.restore(1)), "restore went on")
        #expect(end.result == .interrupted && end.restore == .completed, "an interrupted drill says so")
    }

    @Test func furtherInterruptDuringRestoreAsksAndOnlyAYesAbandons() {
        let i = at(.runBatch(.restore(0), batch: 0))
        let (kept, keptEnd) = sim { $0.inject[i] = [.interrupt, .interrupt, .abandonNo] }
        #expect(kept.responses[1] == .confirmAbandon)
        #expect(keptEnd.restore == .completed && kept.steps.contains(.restore(1)))
        let (abandoned, end) = sim { $0.inject[i] = [.interrupt, .interrupt, .abandonYes] }
        #expect(end.restore == .abandoned && end.result == .interrupted)
        #expect(!abandoned.steps.contains(.restore(1)) && !abandoned.actions.contains(.checkFinalState))
        // Interrupted during the failover, then once more during restore: that second one asks.
        let (s, _) = sim { $0.inject[self.at(.verify(.failover(0)))] = [.interrupt]; $0.inject[self.at(.verify(.failover(0))) + 6] = [.interrupt] }
        #expect(s.responses.last == .confirmAbandon, "\(s.responses)")
    }

    @Test func interruptDuringTheFinalCheckEndsWithoutAVerdictOnTheHosts() {
        let (_, end) = sim { $0.inject[self.at(.checkFinalState)] = [.interrupt] }
        #expect(end.result == .interrupted && end.restore == .completed && end.steadyStateHolds == nil)
    }

    @Test func interruptAfterTheEndIsIgnored() {
        var m = M(shape: Self.shape)
        _ = m.start()
        _ = m.preflightFinished(ok: false)
        if case .ignore = m.interrupted() {} else { Issue.record("an ended run ignores interrupts") }
    }

    // MARK: - The journal failing

    @Test func journalFailingBeforeTheFailoverStopsWithNothingChanged() {
        let (s, end) = sim { $0.inject[0] = [.journalFailure] }
        #expect(end.result == .incomplete && end.recordIncomplete && !end.touched && s.restoreStarted == nil)
    }

    @Test func journalFailingDuringTheFailoverStillRestores() {
        let (s, end) = sim { $0.inject[self.at(.verify(.failover(0)))] = [.journalFailure] }
        #expect(end.result == .incomplete && s.restoreStarted == .journalFailed && end.restore == .completed)
        #expect(s.sentAfterStop.isEmpty)
    }

    @Test func journalFailingDuringRestoreKeepsRestoring() {
        let (s, end) = sim { $0.inject[self.at(.runBatch(.restore(0), batch: 0))] = [.journalFailure] }
        #expect(end.result == .incomplete && end.restore == .completed && s.steps.contains(.restore(1)))
    }

    @Test func aCommandWhoseStartCouldNotBeJournaledTouchesNothing() {
        let shape = M.Shape(failover: [.init(id: "failover.1", batches: [1])], restore: [.init(id: "restore.1", batches: [1])], dataCheck: false)
        var m = M(shape: shape)
        _ = m.start()
        let afterPreflight = m.preflightFinished(ok: true)
        #expect(afterPreflight == .startStep(.failover(0)))
        let afterStart = m.stepStarted(.failover(0), at: .seconds(1))
        #expect(afterStart == .runBatch(.failover(0), batch: 0))
        #expect(m.mayStartCommand(.failover(0)), "the start may be journaled")
        #expect(!m.touched, "asking is not sending")
        _ = m.journalFailed()   // the command_started write failed: the runner does not send it
        let sent = m.commandJournaled(.failover(0), journaled: false)
        #expect(sent == .notSent("not sent: the journal cannot be written"))
        let afterBatch = m.batchFinished(.failover(0), batch: 0, failed: 1)
        #expect(afterBatch == .finishStep(.failover(0), .interrupted))
        guard case let .endRun(end) = m.stepFinished(.failover(0), .interrupted) else { Issue.record("must end"); return }
        #expect(!end.touched && end.restore == .notNeeded && end.result == .incomplete)
    }

    @Test func anInterruptWhileACommandsStartIsJournaledStopsItBeforeItIsSent() {
        let shape = M.Shape(failover: [.init(id: "failover.1", batches: [1])], restore: [.init(id: "restore.1", batches: [1])], dataCheck: false)
        var m = M(shape: shape)
        _ = m.start(); _ = m.preflightFinished(ok: true); _ = m.stepStarted(.failover(0), at: .seconds(1))
        #expect(m.mayStartCommand(.failover(0)))
        _ = m.interrupted()
        let sent = m.commandJournaled(.failover(0), journaled: true)
        #expect(sent == .notSent("not sent: the drill was stopping") && !m.touched)
    }

    // MARK: - Resume

    @Test func resumeOfATouchedRunRestoresWhatIsLeftAndFails() {
        var s = Sim(M(resuming: Self.shape, touched: true, restoredBefore: [0]))
        let end = s.run()
        #expect(s.actions.first == .preflight(resuming: true))
        #expect(s.steps == [.restore(1)], "restore steps that passed are not repeated")
        #expect(s.restoreStarted == .resumed && end.result == .failed && end.endsRun)
    }

    @Test func resumeOfAnUntouchedRunRestoresNothing() {
        var s = Sim(M(resuming: Self.shape, touched: false, restoredBefore: []))
        let end = s.run()
        #expect(s.actions.count == 2 && end.result == .interrupted && end.restore == .notNeeded && end.endsRun, "\(s.actions)")
    }

    @Test func resumeThatCannotReachTheHostsStaysResumable() {
        var s = Sim(M(resuming: Self.shape, touched: true, restoredBefore: []))
        s.preflightOK = false
        let end = s.run()
        #expect(end.result == .preconditions && end.restore == .notRun && !end.endsRun)
        var t = Sim(M(resuming: Self.shape, touched: true, restoredBefore: []))
        t.inject[0] = [.interrupt]
        let interrupted = t.run()
        #expect(interrupted.result == .interrupted && !interrupted.endsRun && t.restoreStarted == nil)
    }

    // MARK: - Invariants, at every point

    /// Whatever happens before whichever action: restore runs if and only if a failover command
    /// was sent; nothing is sent in the failover after it was told to stop; every run ends.
    @Test(arguments: [[Injection.interrupt], [.interrupt, .interrupt], [.journalFailure], [.interrupt, .interrupt, .abandonYes]])
    func restoreRunsExactlyWhenTheFailoverTouchedAHost(_ injection: [Injection]) {
        let healthy = sim().0.actions.count
        for failing in [false, true] {
            for k in 0..<healthy {
                var s = Sim(M(shape: Self.shape))
                if failing { s.failingHosts[.failover(1)] = 1 }
                s.inject[k] = injection
                let end = s.run()
                let touched = s.sent.contains { $0.hasPrefix("failover.") }
                #expect(end.touched == touched, "at \(k)")
                #expect((s.restoreStarted != nil) == touched, "restore iff touched, at \(k): \(s.actions)")
                #expect(s.sentAfterStop.isEmpty, "sent after stop at \(k)")
                guard !s.responses.isEmpty else { continue }   // this run ended before action k
                // While run_ended is written, an interrupt changes nothing (and says so).
                if s.responses.first == .ignore("the run is ending") {
                    #expect(s.responses.allSatisfy { if case .ignore = $0 { true } else { false } }, "at \(k): \(s.responses)")
                    continue
                }
                #expect(end.result == (injection.contains(.journalFailure) ? .incomplete : .interrupted), "at \(k)")
            }
        }
    }
}
