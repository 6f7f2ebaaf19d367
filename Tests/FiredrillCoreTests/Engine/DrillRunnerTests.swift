import Foundation
import Testing
@testable import FiredrillCore

/// The runner against fake hosts, fake checks and a journal in memory, on a virtual clock: each
/// fault a real fleet causes — a host that never answers, a connection that drops mid-command, a
/// controller paused between two samples, a journal that stops taking events — as a plain unit
/// test. No sshd, no sleeping; every instant is the clock's.
@Suite struct DrillRunnerTests {
    func offset(_ events: [JournalEvent], where match: (JournalEvent.Payload) -> Bool) -> Double? {
        events.first { match($0.payload) }?.offsetMS
    }

    @Test func aHealthyDrillPassesWithRTOAndRPOTakenFromItsClock() async throws {
        let h = try RunnerHarness()
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .passed, "\(outcome.record.failures)")
        #expect(h.fleet.drillCommands.map(\.text) == ["write-marker", "stop-primary", "promote", "read-marker", "start-primary"])
        // RTO: from the start of the first disruptive step to the first sample of the run that held.
        let rto = try #require(events.first(\.rto))
        let disruption = try #require(offset(events) { $0.stepStarted?.step == "failover.1" })
        #expect(rto.fromOffsetMS == disruption)
        let promoteSamples = events.all(\.checkResult).filter { $0.step == "failover.2" }
        let firstUp = try #require(events.first { $0.payload.checkResult?.step == "failover.2" && $0.payload.checkResult?.met == true })
        #expect(rto.toOffsetMS == firstUp.offsetMS)
        #expect(promoteSamples.first?.met == false, "the API was down right after the promotion")
        // The API came back 3 s after the promotion's 1 s: no sample before that passed.
        #expect((rto.toOffsetMS ?? 0) >= disruption + 2_000 + 3_000 + 1_000 - 0.1)
        #expect(abs((rto.seconds ?? 0) * 1000 - ((rto.toOffsetMS ?? 0) - disruption)) < 0.2)
        #expect(rto.withinObjective == true && rto.objectiveSeconds == 300)
        // RPO: from the marker's write to the failure, on the same clock.
        let rpo = try #require(events.first(\.rpo))
        let written = try #require(events.first(\.markerWritten)?.fromOffsetMS)
        #expect(rpo.passed == true && rpo.fromOffsetMS == written && rpo.toOffsetMS == disruption)
        #expect(await h.journal.sealed)
        #expect(events.first(\.runEnded)?.result == .passed)
    }

    @Test func aHostThatNeverAnswersAtPreflightStopsTheDrillBeforeAnythingIsSent() async throws {
        let h = try RunnerHarness()
        h.fleet.unreachable = ["db2": .connectTimeout]
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .preconditions)
        #expect(h.fleet.drillCommands.isEmpty, "nothing ran: \(h.fleet.sent)")
        #expect(events.first(\.hostUnreachable)?.problem == .connectTimeout)
        #expect(events.first(\.restoreStarted) == nil, "nothing was touched, so nothing is restored")
    }

    @Test func aHostThatStopsAnsweringMidCommandIsNeverSentItAgainAndRestoreRuns() async throws {
        var h = try RunnerHarness()
        let clock = h.clock
        let healthy = h.fleet.behaviour
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "promote" {
                // Sent, then silence: the transport gives up at its deadline, unable to deliver a kill.
                clock.advance(by: CommandBudget(timeout: .seconds(60), grace: .seconds(5)).worstCase)
                throw TransportError(.unresponsive, host: c.host, endpoint: "db2:22", "the host stopped answering; the command could not be killed")
            }
            if c.isLeftoverStop && c.host == "db2" {
                throw TransportError(.connectTimeout, host: c.host, endpoint: "db2:22", "no answer")
            }
            return try await healthy(c, fleet)
        }
        h.options.forks = 1
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .failed)
        #expect(h.fleet.drillCommands.filter { $0.text == "promote" }.count == 1, "a command whose outcome is unknown is never sent again")
        let finished = try #require(events.all(\.commandFinished).first { $0.step == "failover.2" })
        #expect(finished.failure == .unknown && (finished.detail ?? "").contains("not sent again"))
        // Before restore, the runner tries to stop it; the host still does not answer, and that is said.
        let stop = try #require(events.first(\.leftoverStopped))
        #expect(stop.host == "db2" && stop.verdict == .unknown && stop.step == "failover.2")
        let order = events.map(\.kind)
        #expect(order.firstIndex(of: .leftoverStopped)! < order.firstIndex(of: .restoreStarted)!)
        #expect(events.first(\.restoreStarted)?.reason == .stepFailed)
        #expect(h.fleet.drillCommands.last?.text == "start-primary", "restore ran")
        #expect(events.first(\.rto) == nil, "the service was never shown answering again")
    }

    @Test func aConnectionDroppedMidCommandHasAnUnknownOutcomeAndIsStoppedBeforeRestore() async throws {
        let h = try RunnerHarness()
        let healthy = h.fleet.behaviour
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "stop-primary" {
                fleet.set("primary-down")
                throw TransportError(.connectionLost, host: c.host, endpoint: "db1:22", "the connection was lost while the command ran")
            }
            if c.isLeftoverStop { return FakeFleet.ok("killed") }
            return try await healthy(c, fleet)
        }
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .failed)
        #expect(h.fleet.drillCommands.map(\.text) == ["write-marker", "stop-primary", "start-primary"], "nothing after the failed step but restore")
        let stop = try #require(events.first(\.leftoverStopped))
        let started = try #require(events.all(\.commandStarted).first { $0.step == "failover.1" })
        #expect(stop.verdict == .killed && stop.processTag == started.processTag, "the stop looks for the command's own tag")
        #expect(h.fleet.sent.contains { $0.isLeftoverStop && $0.text.contains(started.processTag ?? "?") })
        #expect(outcome.record.failures.contains { $0.contains("outcome unknown") })
    }

    @Test func aJournalThatFailsDuringTheFailoverSendsNoFurtherFailoverCommandButStillRestores() async throws {
        let h = try RunnerHarness()
        // Let the run get to the second step: fail at its command_started.
        let healthy = try RunnerHarness()
        _ = await healthy.run()
        let reference = await healthy.journal.events
        let promoteStart = try #require(reference.firstIndex { $0.payload.commandStarted?.step == "failover.2" })
        await h.journal.failing(after: promoteStart)
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .incomplete)
        #expect(!h.fleet.drillCommands.contains { $0.text == "promote" }, "a failover command whose start is not on disk is not sent")
        #expect(h.fleet.drillCommands.last?.text == "start-primary", "restore still ran: the failover had touched db1")
        #expect(events.first(\.journalFailed) != nil)
        #expect(events.first(\.restoreStarted)?.reason == .journalFailed)
        #expect(outcome.recordIncomplete?.contains("stopped taking events") == true)
        #expect(await !h.journal.sealed)
        // The fallback file holds what the journal could not.
        let notSent = events.all(\.commandFinished).first { $0.step == "failover.2" }
        #expect(notSent?.failure == .notSent && notSent?.detail == "not sent: the journal cannot be written")
    }

    @Test func aJournalThatFailsBeforeAnythingIsTouchedStopsWithNothingToRestore() async throws {
        let h = try RunnerHarness()
        await h.journal.failing(after: 1)
        let outcome = await h.run()
        #expect(outcome.result == .incomplete)
        #expect(h.fleet.drillCommands.isEmpty)
        #expect(await h.events.first(\.restoreStarted) == nil)
    }

    @Test func aSealThatCannotBeWrittenMakesTheRecordIncomplete() async throws {
        let h = try RunnerHarness()
        await h.journal.failingSeal()
        let outcome = await h.run()
        #expect(outcome.result == .incomplete && outcome.recordIncomplete?.contains("could not be sealed") == true)
        #expect(await h.events.first(\.runEnded)?.result == .passed, "the journal says how the drill went; the outcome says the record is not sealed")
    }

    @Test func anInterruptDuringACommandCancelsItAndRestoresWhatWasTouched() async throws {
        let h = try RunnerHarness()
        let box = RunnerBox()
        let healthy = h.fleet.behaviour
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "promote" {
                await box.runner?.interrupt()
                // The interrupt cancelled this command's task: the transport kills it and says so.
                guard Task.isCancelled else { return FakeFleet.ok() }
                throw TransportError(.cancelled, host: c.host, endpoint: "db2:22", "interrupted: the command was killed on the host")
            }
            return try await healthy(c, fleet)
        }
        let runner = h.runner()
        await box.set(runner)
        let outcome = await h.run(runner)
        let events = await h.events
        #expect(outcome.result == .interrupted)
        #expect(events.all(\.commandFinished).first { $0.step == "failover.2" }?.failure == .interrupted)
        #expect(events.all(\.stepFinished).first { $0.step == "failover.2" }?.result == .interrupted)
        #expect(events.first(\.restoreStarted)?.reason == .interrupted)
        #expect(h.fleet.drillCommands.map(\.text) == ["write-marker", "stop-primary", "promote", "start-primary"])
        #expect(events.first(\.interrupted)?.response == .stopping)
        // What the interrupted command started is looked for by its tag, before restore.
        let sweep = try #require(events.first(\.leftoverStopped))
        #expect(sweep.host == "db2" && sweep.step == "failover.2" && sweep.verdict == .alreadyEnded)
    }
}

/// Time and the host's processes: a controller paused mid-verify, a sample after the deadline, a
/// command that timed out leaving a daemon, one that succeeded leaving one.
@Suite struct DrillRunnerTimeTests {
    /// The controller is stopped for 20 s while the promotion (1 s on the host) runs: the
    /// command's recorded duration includes the pause, and its record says so.
    @Test func aPauseDuringACommandIsSaidInItsRecord() async throws {
        let h = try RunnerHarness()
        let healthy = h.fleet.behaviour, pauses = h.pauses, clock = h.clock
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "promote" { pauses.pause(clock, for: .seconds(20)) }
            return try await healthy(c, fleet)
        }
        _ = await h.run()
        let events = await h.events
        let promote = try #require(events.all(\.commandFinished).first { $0.step == "failover.2" })
        #expect((promote.detail ?? "").contains("the controller did not run for 20s while this command ran"), "\(promote)")
        let stop = try #require(events.all(\.commandFinished).first { $0.step == "failover.1" })
        #expect(stop.detail == nil, "a command with no pause says nothing: \(stop)")
    }

    /// The API answers from the start of the promotion; the controller is stopped for 20 s while
    /// the second sample of its verify (hold 4 s) is out, a slow check-sized pause: the sample
    /// starts on time, so only the pause watch (the heartbeat) can tell.
    @Test func aPausedControllerDoesNotPassAVerifyWithoutEvidence() async throws {
        var h = try RunnerHarness(apiBackAfter: .zero)
        let clock = h.clock, fleet = h.fleet, pauses = h.pauses
        let apiSamples = Counter()
        h.probe = FakeProbe { check, _ in
            switch check {
            case "db_port": return fleet.isSet("primary-down") ? .failed : .passed
            default:
                // The answer is taken, then the controller is stopped before it reads it.
                let up = RunnerHarness.apiUp(fleet, clock)
                if fleet.time("api-back") != nil, await apiSamples.next() == 2 { pauses.pause(clock, for: .seconds(20)) }
                return up ? .passed : .failed
            }
        }
        let outcome = await h.run()
        let events = await h.events
        let gap = try #require(events.first(\.verifyGap))
        #expect(gap.step == "failover.2" && (gap.seconds ?? 0) >= 20 && (gap.detail ?? "").contains("did not run"), "\(gap)")
        let verify = try #require(events.all(\.verifyFinished).first { $0.step == "failover.2" })
        let heldFrom = try #require(verify.heldFromOffsetMS)
        #expect(verify.passed && heldFrom > (gap.toOffsetMS ?? 0), "the hold starts after the stale sample, not at the first one nor at the stale one")
        #expect(events.first(\.rto)?.toOffsetMS == heldFrom, "RTO ends where the hold that counted began")
        #expect(outcome.result == .passed)
    }

    /// Stopped while the steady-state check before step 1 was out, and the service broke during
    /// the pause: that sample is not trusted, a fresh one is taken, and it finds the break.
    @Test func aPauseDuringPreflightTakesTheSampleAgain() async throws {
        var h = try RunnerHarness()
        let clock = h.clock, fleet = h.fleet, pauses = h.pauses
        let calls = Counter()
        h.probe = FakeProbe { check, _ in
            switch check {
            case "db_port": return fleet.isSet("primary-down") ? .failed : .passed
            default:
                // First look: healthy, then the controller stops and the API dies meanwhile.
                if await calls.next() == 1 { pauses.pause(clock, for: .seconds(15)); fleet.set("api-down"); return .passed }
                return RunnerHarness.apiUp(fleet, clock) ? .passed : .failed
            }
        }
        let outcome = await h.run()
        #expect(outcome.result == .preconditions, "no failover on a service that broke while nobody looked")
        #expect(h.fleet.drillCommands.isEmpty)
        // Never trusted at all (stopped on every try): the checks are errors, said why.
        var g = try RunnerHarness()
        let (c2, p2) = (g.clock, g.pauses)
        g.probe = FakeProbe { _, _ in p2.pause(c2, for: .seconds(5)); return .passed }
        let never = await g.run()
        #expect(never.result == .preconditions && (never.record.preconditions ?? "").contains("not trusted: the controller did not run"),
                "\(never.record.preconditions ?? "")")
    }

    /// The same pause with no heartbeat to see it: a sample that took 20 s when its checks may take
    /// 3 s is stale all the same.
    @Test func aSampleLongerThanItsChecksMayTakeIsAGap() async throws {
        var h = try RunnerHarness(apiBackAfter: .zero)
        let clock = h.clock, fleet = h.fleet
        let apiSamples = Counter()
        h.probe = FakeProbe { check, _ in
            switch check {
            case "db_port": return fleet.isSet("primary-down") ? .failed : .passed
            default:
                if fleet.time("api-back") != nil, await apiSamples.next() == 2 { clock.advance(by: .seconds(20)) }
                return RunnerHarness.apiUp(fleet, clock) ? .passed : .failed
            }
        }
        let outcome = await h.run()
        let events = await h.events
        let verify = try #require(events.all(\.verifyFinished).first { $0.step == "failover.2" })
        let first = try #require(events.all(\.checkResult).first { $0.step == "failover.2" })
        #expect(verify.passed && outcome.result == .passed)
        #expect(verify.heldFromOffsetMS != nil && verify.heldFromOffsetMS! > 20_000, "not held from the sample before the 20 s: \(first)")
    }

    /// hold 0s within 8s, and the only passing sample comes 12 s in (the controller was paused).
    @Test func aSampleAfterTheDeadlineDoesNotPassTheVerify() async throws {
        let pb = RunnerHarness.playbook.replacingOccurrences(of: "verify: { up: [api], within: 1m, hold: 4s }", with: "verify: { up: [api], within: 8s, hold: 0s }")
        var h = try RunnerHarness(playbook: pb, apiBackAfter: .seconds(11))
        let clock = h.clock, fleet = h.fleet, pauses = h.pauses
        let start = Counter()
        h.probe = FakeProbe { check, _ in
            switch check {
            case "db_port": return fleet.isSet("primary-down") ? .failed : .passed
            default:
                // The controller is stopped for 12 s while the sample due at the deadline is out:
                // it comes back after the deadline, and finds the API up.
                if let back = fleet.time("api-back"), clock.elapsed >= back - .seconds(11) + .seconds(7), await start.next() == 1 {
                    pauses.pause(clock, for: .seconds(12))
                }
                return RunnerHarness.apiUp(fleet, clock) ? .passed : .failed
            }
        }
        let outcome = await h.run()
        let events = await h.events
        let verify = try #require(events.all(\.verifyFinished).first { $0.step == "failover.2" })
        #expect(!verify.passed && (verify.detail ?? "").contains("did not run for 12s"), "\(verify.detail ?? "")")
        #expect(events.first(\.rto) == nil)
        #expect(outcome.result == .failed)
    }

    @Test func aTimedOutCommandIsSweptByItsTagAndWhatSurvivedIsNamed() async throws {
        let h = try RunnerHarness()
        h.stopPrimaryTimesOut { c in c.host == "db1" ? "killed 3021(sleep)" : "gone" }
        let outcome = await h.run()
        let events = await h.events
        let stop = try #require(events.first(\.leftoverStopped))
        #expect(stop.verdict == .killed && stop.host == "db1" && (stop.detail ?? "").contains("3021(sleep)") && (stop.detail ?? "").contains("timed out"))
        let order = events.map(\.kind)
        #expect(order.firstIndex(of: .leftoverStopped)! < order.firstIndex(of: .stepFinished)!, "swept before the step ends")
        #expect(outcome.result == .failed && h.fleet.drillCommands.last?.text == "start-primary")
        #expect(RunSummaryRenderer(style: TerminalStyle(enabled: false)).render(outcome.record, journalPath: "j").contains("3021(sleep)"),
                "the summary says what was still running")
    }

    /// What the sweep could not kill (a process stuck in the kernel) is named, not called killed.
    @Test func whatSurvivesTheSweepIsNamed() async throws {
        let h = try RunnerHarness()
        h.stopPrimaryTimesOut { _ in "killed 2 3021(sleep) 3022(nfs-hang)\nsurvived 3022(nfs-hang)" }
        _ = await h.run()
        let stop = try #require(await h.events.first(\.leftoverStopped))
        #expect(stop.verdict == .survived && (stop.detail ?? "").contains("still running after SIGKILL: 3022(nfs-hang)"), "\(stop.detail ?? "")")
    }

    @Test func aCommandThatSucceedsLeavingADaemonIsNotSweptButNamed() async throws {
        let h = try RunnerHarness()
        let healthy = h.fleet.behaviour
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "promote" {
                var r = try await healthy(c, fleet)
                r.outputHeldOpen = true
                return r
            }
            if c.isLeftoverList { return FakeFleet.ok("running 777(postgres)") }
            return try await healthy(c, fleet)
        }
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .passed)
        #expect(!h.fleet.sent.contains { $0.text.contains("kill -TERM -$g") }, "a successful command is never swept")
        let named = try #require(events.first(\.leftoverStopped))
        #expect(named.verdict == .leftRunning && (named.detail ?? "").contains("777(postgres)") && named.step == "failover.2")
    }
}

/// The record itself going wrong under a run, and waits that an interrupt must cut short.
@Suite struct DrillRunnerRecordTests {
    @Test func aJournalDeletedMidRunIsCaughtBeforeTheNextStep() async throws {
        let h = try RunnerHarness()
        // Checked before each step and at the end: fine before step 1, gone before step 2.
        await h.journal.losing(after: 1, "the journal /runs/x/journal.jsonl was deleted while the run went on")
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .incomplete, "a run whose journal is gone cannot say it passed")
        #expect(outcome.recordIncomplete?.contains("was deleted") == true)
        #expect(!h.fleet.drillCommands.contains { $0.text == "promote" }, "no further failover command once the record is gone")
        #expect(h.fleet.drillCommands.last?.text == "start-primary", "restore still ran")
        #expect(events.first(\.journalFailed)?.detail?.contains("was deleted") == true)
        #expect(await !h.journal.sealed)
    }

    @Test func aJournalCutAtTheEndMakesTheRecordIncomplete() async throws {
        let h = try RunnerHarness()
        // Two steps and one restore step pass the check; the last check, at the end, finds it cut.
        await h.journal.losing(after: 3, "the journal /runs/x/journal.jsonl was cut to 1024 bytes while the run went on (the run had written 20480)")
        let outcome = await h.run()
        #expect(outcome.result == .incomplete && outcome.recordIncomplete?.contains("was cut") == true)
        #expect(h.fleet.drillCommands.map(\.text) == ["write-marker", "stop-primary", "promote", "read-marker", "start-primary"])
    }

    /// SIGTERM while a check that will not answer for a long while is out: restore starts at once.
    @Test(.timeLimit(.minutes(1))) func anInterruptCutsAHangingCheckShort() async throws {
        var h = try RunnerHarness()
        let box = RunnerBox(), gate = Gate(), answered = Gate(), sawCancel = Counter(), hung = Counter()
        let fleet = h.fleet, clock = h.clock
        h.probe = FakeProbe { check, _ in
            switch check {
            case "db_port": return fleet.isSet("primary-down") ? .failed : .passed
            default:
                guard fleet.time("api-back") != nil else { return RunnerHarness.apiUp(fleet, clock) ? .passed : .failed }
                // During the promotion's verify: the operator presses Ctrl-C; this check never answers
                // (one of them: the others are down).
                guard await hung.next() == 1 else { return .failed }
                await box.runner?.interrupt()
                await gate.wait()
                if Task.isCancelled { _ = await sawCancel.next() }
                await answered.open()
                return .passed
            }
        }
        let runner = h.runner()
        await box.set(runner)
        let outcome = await h.run(runner)
        await gate.open()
        await answered.wait()
        let seen = await sawCancel.next()
        #expect(seen == 2, "\(seen): the probe itself was told to stop (an SSH check kills its command)")
        let events = await h.events
        #expect(outcome.result == .interrupted)
        #expect(events.first(\.restoreStarted)?.reason == .interrupted && h.fleet.drillCommands.last?.text == "start-primary")
        #expect(!events.all(\.checkResult).contains { $0.detail.contains("interrupted before it answered") }, "a sample cut short is not journaled as one")
    }
}

/// What the run says of itself: one line per reason, and no contradiction.
@Suite struct DrillRunnerWordsTests {
    @Test func manyHostsDownForOneReasonAreOneLine() async throws {
        let pb = RunnerHarness.playbook.replacingOccurrences(of: "    on: db_primary\n    run: stop-primary", with: "    on: web\n    run: stop-primary")
        let h = try RunnerHarness(playbook: pb)
        h.fleet.unreachable = ["web1": .connectionRefused, "web2": .connectionRefused, "web3": .connectionRefused, "web4": .connectTimeout]
        let outcome = await h.run()
        #expect(outcome.result == .preconditions)
        let detail = try #require(outcome.record.preconditions)
        #expect(detail.contains("no answer (connectionRefused) on 3 hosts: web1, web2, web3") && detail.contains("web4: no answer (connectTimeout)"), "\(detail)")
        #expect(outcome.record.failures.contains { $0.contains("failed on 3 hosts") }, "\(outcome.record.failures)")
    }

    /// Hosts failing the same way with their own particulars (each its port, its name) are still
    /// one line per kind, with one host's message as the example.
    @Test func hostsDownTheSameWayWithTheirOwnWordsAreOneLinePerKind() async throws {
        let pb = RunnerHarness.playbook.replacingOccurrences(of: "    on: db_primary\n    run: stop-primary", with: "    on: web\n    run: stop-primary")
        let h = try RunnerHarness(playbook: pb)
        h.fleet.unreachable = ["web1": .connectionRefused, "web2": .connectionRefused, "web3": .nameResolution, "web4": .nameResolution]
        h.fleet.unreachableMessage = ["web1": "no SSH server listens on port 60001", "web2": "no SSH server listens on port 60002",
                                      "web3": "cannot resolve 'web3.invalid'", "web4": "cannot resolve 'web4.invalid'"]
        let outcome = await h.run()
        let detail = try #require(outcome.record.preconditions)
        #expect(detail.contains("connection refused (no SSH server listens) (e.g. web1: no SSH server listens on port 60001) on 2 hosts: web1, web2"), "\(detail)")
        #expect(detail.contains("the host name does not resolve (e.g. web3: cannot resolve 'web3.invalid') on 2 hosts: web3, web4"), "\(detail)")
        #expect(outcome.record.failures.count == 2, "\(outcome.record.failures)")
    }

    /// A playbook with no steady-state checks, interrupted mid-failover: restore completes, and
    /// neither the summary nor the score pretends the steady state was (or should have been) checked.
    @Test func noSteadyStateIsNeitherClaimedNorCharged() async throws {
        let pb = RunnerHarness.playbook.replacingOccurrences(of: "steady_state: [api]\n", with: "")
        let h = try RunnerHarness(playbook: pb)
        let box = RunnerBox()
        let healthy = h.fleet.behaviour
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "promote" {
                await box.runner?.interrupt()
                throw TransportError(.cancelled, host: c.host, endpoint: "db2:22", "interrupted: the command was killed on the host")
            }
            return try await healthy(c, fleet)
        }
        let runner = h.runner()
        await box.set(runner)
        let outcome = await h.run(runner)
        #expect(outcome.result == .interrupted)
        let ended = try #require(outcome.record.ending)
        #expect(ended.finalState?.contains("steady state holds again") == false && ended.finalState?.contains("no steady-state checks") == true, "\(ended)")
        #expect(!Score(outcome.record).deductions.contains { $0.reason.contains("not re-checked") }, "\(Score(outcome.record).deductions)")
    }
}

/// Holds a waiter until opened.
actor Gate {
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var isOpen = false
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func open() {
        isOpen = true
        for w in waiters { w.resume() }
        waiters = []
    }
}

/// Counts calls, across tasks.
actor Counter {
    private var n = 0
    func next() -> Int { n += 1; return n }
}

/// Lets a fake host reach the runner it belongs to (to interrupt it mid-command).
actor RunnerBox {
    private(set) var runner: DrillRunner<VirtualClock>?
    func set(_ r: DrillRunner<VirtualClock>) { runner = r }
}
