import Foundation
import Testing
@testable import FiredrillCore

/// Guards (`guards:`): the hold rule as values, the machine's answer in every phase, and the
/// runner stopping a failover that hurts production — on the virtual clock, with fake hosts.
@Suite struct GuardTests {
    typealias M = DrillStateMachine

    // MARK: - The hold rule

    @Test func aGuardTripsOnlyAfterFailingInEverySampleForItsHold() {
        var w = GuardWatch(guards: 2, hold: .seconds(4), onUnknown: .abort, maxGap: .seconds(10))
        #expect(w.sample(at: .seconds(0), [.passed, .passed], stalled: false) == .init(changed: [0, 1], trip: nil), "first samples are journaled")
        #expect(w.sample(at: .seconds(2), [.failed, .passed], stalled: false) == .init(changed: [0], trip: nil))
        #expect(w.sample(at: .seconds(4), [.failed, .passed], stalled: false).trip == nil, "failing for 2 s of 4")
        // Recovering starts the run again.
        #expect(w.sample(at: .seconds(6), [.passed, .passed], stalled: false) == .init(changed: [0], trip: nil))
        #expect(w.sample(at: .seconds(8), [.failed, .passed], stalled: false).trip == nil)
        #expect(w.sample(at: .seconds(10), [.failed, .passed], stalled: false).trip == nil)
        let v = w.sample(at: .seconds(12), [.failed, .passed], stalled: false)
        #expect(v.changed.isEmpty && v.trip == .init(index: 0, since: .seconds(8), samples: 3))
    }

    @Test func holdZeroTripsAtTheFirstFailingSample() {
        var w = GuardWatch(guards: 1, hold: .zero, onUnknown: .abort, maxGap: .seconds(10))
        #expect(w.sample(at: .seconds(1), [.failed], stalled: false).trip == .init(index: 0, since: .seconds(1), samples: 1))
    }

    @Test func aGuardThatCannotBeCheckedTripsOnlyWithOnUnknownAbort() {
        var abort = GuardWatch(guards: 1, hold: .seconds(2), onUnknown: .abort, maxGap: .seconds(10))
        _ = abort.sample(at: .seconds(0), [.error], stalled: false)
        #expect(abort.sample(at: .seconds(2), [.error], stalled: false).trip?.samples == 2)
        var carryOn = GuardWatch(guards: 1, hold: .seconds(2), onUnknown: .continue, maxGap: .seconds(10))
        for t in 0..<10 { #expect(carryOn.sample(at: .seconds(t * 2), [.error], stalled: false).trip == nil) }
        // A real failure still trips it.
        _ = carryOn.sample(at: .seconds(30), [.failed], stalled: false)
        #expect(carryOn.sample(at: .seconds(32), [.failed], stalled: false).trip != nil)
    }

    /// Two failing samples 60 s apart (the controller was stopped in between) are not 60 s of
    /// failure: nothing was seen in between, so the run starts again from the later one.
    @Test func samplesAcrossAPauseOrAGapDoNotMakeAHold() {
        var gap = GuardWatch(guards: 1, hold: .seconds(4), onUnknown: .abort, maxGap: .seconds(5))
        _ = gap.sample(at: .seconds(0), [.failed], stalled: false)
        #expect(gap.sample(at: .seconds(60), [.failed], stalled: false).trip == nil)
        #expect(gap.sample(at: .seconds(64), [.failed], stalled: false).trip == .init(index: 0, since: .seconds(60), samples: 2))
        var paused = GuardWatch(guards: 1, hold: .seconds(4), onUnknown: .abort, maxGap: .seconds(100))
        _ = paused.sample(at: .seconds(0), [.failed], stalled: false)
        #expect(paused.sample(at: .seconds(5), [.failed], stalled: true).trip == nil, "the controller did not run around this sample")
    }

    // MARK: - The machine

    @Test func aGuardTripDuringTheFailoverStopsItRestoresAndFails() {
        var s = DrillStateMachineTests.Sim(M(shape: DrillStateMachineTests.shape))
        // Actions: preflight, writeMarker, startStep(f0), runBatch(f0)… — trip before the second step starts.
        s.inject[5] = [.guardTrip]
        let end = s.run()
        #expect(end.result == .failed && end.touched && end.restore == .completed)
        #expect(s.restoreStarted == .guardTripped)
        #expect(s.sentAfterStop.isEmpty, "no failover command after the trip")
        #expect(!s.steps.contains(.failover(2)))
        guard case let .stop(message)? = s.responses.first else { Issue.record("no stop"); return }
        #expect(message.contains("guard portal failed for 4s") && message.contains("restore will run"))
    }

    /// The operator pressing Ctrl-C during the restore a guard started does not turn the
    /// drill the guard failed into an interrupted one.
    @Test func anInterruptAfterAGuardTrippedLeavesTheDrillFailed() {
        var s = DrillStateMachineTests.Sim(M(shape: DrillStateMachineTests.shape))
        s.inject[5] = [.guardTrip, .interrupt]
        let end = s.run()
        #expect(end.result == .failed && end.restore == .completed)
        var first = DrillStateMachineTests.Sim(M(shape: DrillStateMachineTests.shape))
        first.inject[5] = [.interrupt, .guardTrip]
        #expect(first.run().result == .interrupted, "an operator who stopped first decided it")
    }

    @Test(arguments: [
        ("guards: { checks: [portal, portal] }", "guard 'portal' is listed twice"),
        ("guards: { checks: [portal], every: 2m }", "between 100ms and 1m"),
        ("guards: { every: 2s }", "guards names no checks"),
        ("guards: { checks: [portal], on_unknown: ignore }", "on_unknown is one of: abort, continue"),
    ])
    func guardsAsWrittenSayWhatIsWrong(_ yaml: String, _ expected: String) {
        let text = "name: N\nservice: s\nchecks:\n  portal: { http: \"http://x/\" }\n\(yaml)\nsteps:\n  - { name: s, on: all, run: \"true\" }\n"
        let r = PlaybookLoader().load(text: text, file: "pb.yml")
        let errors = r.diagnostics.filter { $0.severity == .error }
        #expect(errors.contains { $0.message.contains(expected) || ($0.hint ?? "").contains(expected) }, "\(errors.map(\.message))")
        #expect(errors.allSatisfy { $0.location?.line == 5 }, "\(errors.map { $0.location })")
    }

    @Test func aGuardTripBeforeAnythingIsTouchedEndsWithoutRestore() {
        var s = DrillStateMachineTests.Sim(M(shape: DrillStateMachineTests.shape))
        s.inject[1] = [.guardTrip]   // while the data marker is written
        let end = s.run()
        #expect(end.result == .failed && !end.touched && end.restore == .notNeeded && s.sent.isEmpty)
    }

    @Test func aGuardTripDuringRestoreLetsRestoreFinishAndFailsTheRun() {
        var m = M(shape: DrillStateMachineTests.shape)
        var s = DrillStateMachineTests.Sim(m)
        var probe = s
        _ = probe.run()
        let restoreAt = probe.actions.firstIndex { if case .startRestore = $0 { return true } else { return false } }!
        s.inject[restoreAt + 1] = [.guardTrip]
        let end = s.run()
        #expect(end.result == .failed && end.restore == .completed)
        #expect(s.steps.contains(.restore(1)), "restore ran to its end")
        guard case .keepRestoring? = s.responses.first else { Issue.record("restore must continue: \(s.responses)"); return }
        m = s.machine
        #expect(!m.watchesGuards)
    }

    // MARK: - The runner

    static let playbook = """
    name: Guarded drill
    service: ehr-db
    criticality: critical
    checks:
      api: { http: "http://{{ vip }}/health" }
      portal: { http: "http://{{ vip }}/portal" }
    steady_state: [api]
    guards: { checks: [portal], every: 2s, hold: 4s }
    steps:
      - { name: Stop primary, on: db_primary, run: stop-primary }
      - { name: Promote standby, on: db_standby, run: promote }
      - { name: Repoint clients, on: db_standby, run: repoint }
    restore:
      - { name: Start primary, on: db_primary, run: start-primary }
    """

    func harness(portal: @escaping @Sendable (FakeFleet) -> CheckOutcome.Status) throws -> RunnerHarness {
        var h = try RunnerHarness(playbook: Self.playbook)
        let fleet = h.fleet
        h.probe = FakeProbe { check, _ in check == "portal" ? portal(fleet) : .passed }
        return h
    }

    /// Promoting the standby breaks the patient portal and hangs until it is stopped: the guard
    /// fails in three samples 2 s apart (4 s), the promotion is cancelled, nothing more is sent,
    /// restore runs, the drill fails and its score names the guard.
    @Test(.timeLimit(.minutes(1))) func aGuardThatTripsStopsTheFailoverAtThatStepAndRestores() async throws {
        let h = try harness { $0.isSet("portal-broken") ? .failed : .passed }
        let healthy = h.fleet.behaviour
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "promote" {
                fleet.set("portal-broken")
                while !Task.isCancelled { await Task.yield() }
                throw TransportError(.cancelled, host: c.host, endpoint: "db2:22", "interrupted: the command was killed on the host")
            }
            if c.text == "start-primary" { fleet.set("portal-broken", false) }
            return try await healthy(c, fleet)
        }
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .failed)
        let trip = try #require(events.first { if case .guardTripped = $0.payload { true } else { false } })
        guard case let .guardTripped(g) = trip.payload else { return }
        #expect(g.check == "portal" && g.outcome == .failed && g.samples == 3 && g.seconds == 4 && g.phase == .failover)
        #expect(g.detail == "not answering")
        #expect(events.all(\.stepFinished).first { $0.step == "failover.2" }?.result == .interrupted)
        #expect(events.first(\.restoreStarted)?.reason == .guardTripped)
        #expect(h.fleet.drillCommands.map(\.text) == ["stop-primary", "promote", "start-primary"], "repoint is never sent")
        #expect(events.first(\.interrupted) == nil, "a guard is not an operator's interrupt")
        // Guard samples: the preflight one, then the first of the watch and the change to failed.
        let samples = events.all(\.checkResult).filter { $0.phase == .guards }
        #expect(samples.map(\.outcome) == [.passed, .passed, .failed])
        let runEnded = try #require(events.first(\.runEnded))
        #expect(runEnded.detail?.contains("guard: portal failed for 4s: not answering") == true, "\(runEnded.detail ?? "")")
        let score = Score(outcome.record)
        #expect(score.deductions.contains { $0.component == "failover" && $0.reason.contains("stopped by guard portal") })
        #expect(score.points <= 59)
    }

    /// Restore breaks the portal (and finishes once the guard has tripped): restore is not
    /// stopped, the drill fails, and a failover that passed still cannot grade above D.
    @Test(.timeLimit(.minutes(1))) func aGuardTrippingDuringRestoreFailsTheDrillButRestoreFinishes() async throws {
        let h = try harness { $0.isSet("portal-broken") ? .failed : .passed }
        let healthy = h.fleet.behaviour
        let observer = h.observer
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "start-primary" {
                fleet.set("portal-broken")
                while await !observer.events.contains(where: { if case .guardTripped = $0.payload { true } else { false } }) {
                    await Task.yield()
                }
                fleet.set("portal-broken", false)
            }
            return try await healthy(c, fleet)
        }
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .failed)
        #expect(events.first(\.restoreFinished)?.status == .completed)
        #expect(events.all(\.stepFinished).allSatisfy { $0.result == .passed })
        let score = Score(outcome.record)
        #expect(score.deductions.contains { $0.component == "cap" && $0.reason.contains("guard portal tripped") }, "\(score.deductions)")
        #expect(score.points <= 59)
    }

    /// A guard whose probe never answers (its `on:` host frozen under the SSH connection, below
    /// the check's own deadline) is "could not check" after its timeout and the watchdog's slack,
    /// and with on_unknown: abort it trips: a guard must never go blind.
    @Test(.timeLimit(.minutes(1))) func aGuardThatNeverAnswersIsCouldNotCheckAndTrips() async throws {
        var h = try RunnerHarness(playbook: Self.playbook.replacingOccurrences(of: "portal: { http: \"http://{{ vip }}/portal\" }",
                                                                                  with: "portal: { http: \"http://{{ vip }}/portal\", timeout: 100ms }"))
        // The watchdog's wait ends when the probe says it is stuck (not on real time, which a
        // loaded machine stretches): only a stuck probe is given up on.
        let stuck = CancellableGate()
        h.options.guardWatchdog = .milliseconds(10)
        h.options.guardWatchdogSleep = { _ in try await stuck.wait() }
        let fleet = h.fleet
        h.probe = FakeProbe { check, _ in
            guard check == "portal", fleet.isSet("frozen") else { return .passed }
            stuck.open()
            while !Task.isCancelled { await Task.yield() }   // stuck until given up on
            return .passed
        }
        let healthy = h.fleet.behaviour
        h.fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "promote" {
                fleet.set("frozen")
                while !Task.isCancelled { await Task.yield() }
                throw TransportError(.cancelled, host: c.host, endpoint: "db2:22", "interrupted: the command was killed on the host")
            }
            return try await healthy(c, fleet)
        }
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .failed)
        let trip = try #require(events.compactMap { if case let .guardTripped(g) = $0.payload { g } else { nil } }.first)
        #expect(trip.check == "portal" && trip.outcome == .error && trip.detail.contains("no answer within 110ms"), "\(trip)")
        #expect(h.fleet.drillCommands.map(\.text) == ["stop-primary", "promote", "start-primary"])
    }

    @Test(.timeLimit(.minutes(1))) func aHealthyGuardLetsTheDrillPass() async throws {
        let h = try harness { _ in .passed }
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .passed, "\(outcome.record.failures)")
        #expect(!events.contains { if case .guardTripped = $0.payload { true } else { false } })
        #expect(h.fleet.drillCommands.map(\.text) == ["stop-primary", "promote", "repoint", "start-primary"])
        let samples = events.all(\.checkResult).filter { $0.phase == .guards }
        #expect(samples.count >= 2 && samples.allSatisfy { $0.outcome == .passed }, "the preflight sample, then the watch's first")
        // Nothing is journaled after the run ended.
        #expect(events.last.map { if case .runEnded = $0.payload { true } else { false } } == true)
    }

    @Test(.timeLimit(.minutes(1))) func aGuardFailingBeforeTheDrillStopsItAtPreflight() async throws {
        let h = try harness { _ in .failed }
        let outcome = await h.run()
        let events = await h.events
        #expect(outcome.result == .preconditions)
        #expect(h.fleet.drillCommands.isEmpty && events.first(\.restoreStarted) == nil)
        #expect(outcome.record.preconditions?.contains("guard portal fails before the drill") == true)
        #expect(outcome.record.failures.contains { $0.contains("guard portal") })
    }

    @Test(.timeLimit(.minutes(1))) func aGuardThatCannotBeCheckedStopsTheDrillUnlessOnUnknownContinue() async throws {
        let abort = try harness { _ in .error }
        #expect(await abort.run().result == .preconditions)
        var h = try RunnerHarness(playbook: Self.playbook.replacingOccurrences(of: "hold: 4s }", with: "hold: 4s, on_unknown: continue }"))
        h.probe = FakeProbe { check, _ in check == "portal" ? .error : .passed }
        #expect(await h.run().result == .passed)
    }
}

/// Waiters wait until it is opened (or they are cancelled); once open, it stays open.
final class CancellableGate: @unchecked Sendable {
    private let lock = NSLock()
    private var isOpen = false
    private var waiters: [UUID: CheckedContinuation<Void, any Error>] = [:]

    func open() {
        let waiting = lock.withLock { () -> [CheckedContinuation<Void, any Error>] in
            isOpen = true
            defer { waiters = [:] }
            return Array(waiters.values)
        }
        waiting.forEach { $0.resume() }
    }

    func wait() async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let now = lock.withLock { () -> Bool in
                    if isOpen { return true }
                    waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let c = lock.withLock { waiters.removeValue(forKey: id) }
            c?.resume(throwing: CancellationError())
        }
    }
}
