import Foundation
@testable import FiredrillCore

/// Time that moves only when the runner waits on it (a verify's pause between samples) or a fake
/// host or check takes time: a drill of minutes runs in milliseconds and every instant in its
/// journal is known in advance. A wait returns at once, the clock set to its deadline (as
/// swift-clocks' `ImmediateClock` does); nothing sleeps.
final class VirtualClock: Clock, @unchecked Sendable {
    struct Instant: InstantProtocol, Hashable {
        var offset: Duration
        func advanced(by d: Duration) -> Instant { Instant(offset: offset + d) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private let lock = NSLock()
    private var current = Instant(offset: .zero)

    var now: Instant { lock.withLock { current } }
    var minimumResolution: Duration { .zero }
    /// Time since the clock started.
    var elapsed: Duration { now.offset }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        lock.withLock { if deadline > current { current = deadline } }
        await Task.yield()
        try Task.checkCancellation()
    }

    /// A host or check takes this long (or the controller was paused this long).
    func advance(by d: Duration) { lock.withLock { current = current.advanced(by: d) } }
}

/// A command as it reached a fake host.
struct SentCommand: Sendable, Equatable {
    var host: String
    var text: String
    var tag: String
    /// The user the command was run as (sudo), if another.
    var become: Become? = nil
    /// `stopLeftover`: the runner looking for (and killing) what a command left running.
    var isLeftoverStop: Bool { text.hasPrefix("t=") && text.contains("FIREDRILL_CMD") && text.contains("kill -KILL") }
    /// `listLeftover`: the runner naming what a command that ended left running (touching nothing).
    var isLeftoverList: Bool { text.hasPrefix("t=") && text.contains("FIREDRILL_CMD") && !text.contains("kill ") }
}

/// Hosts that answer as a test scripts them: `behaviour` decides each command's fate (it may take
/// time on the clock, report its process group, throw what a real transport throws). Every
/// command that reached a host is kept, in order: "never sent twice" is an assertion on it.
final class FakeFleet: DrillHosts, @unchecked Sendable {
    typealias Behaviour = @Sendable (SentCommand, FakeFleet) async throws(TransportError) -> CommandResult

    let clock: VirtualClock
    private let lock = NSLock()
    private var _sent: [SentCommand] = []
    private var _flags: Set<String> = []
    private var _times: [String: Duration] = [:]
    /// Hosts that do not answer at preflight, and why.
    var unreachable: [String: TransportFailureKind] = [:]
    /// The message of an unreachable host, when it is its own (a port, a name in it).
    var unreachableMessage: [String: String] = [:]
    var behaviour: Behaviour

    init(clock: VirtualClock, behaviour: @escaping Behaviour = { _, _ in FakeFleet.ok() }) {
        self.clock = clock
        self.behaviour = behaviour
    }

    var sent: [SentCommand] { lock.withLock { _sent } }
    /// The commands of the drill (leftover stops and no-ops left out).
    var drillCommands: [SentCommand] { sent.filter { !$0.isLeftoverStop && !$0.isLeftoverList && $0.text != "true" } }

    /// State the fake services follow (`primary-down`, `promoted`…), set by commands.
    func set(_ flag: String, _ on: Bool = true) { lock.withLock { if on { _flags.insert(flag) } else { _flags.remove(flag) } } }
    func isSet(_ flag: String) -> Bool { lock.withLock { _flags.contains(flag) } }
    /// When something happens (or happened), on the clock.
    func mark(_ name: String, at t: Duration) { lock.withLock { _times[name] = t } }
    func time(_ name: String) -> Duration? { lock.withLock { _times[name] } }

    static func ok(_ stdout: String = "", exit: Int32 = 0, took: Duration = .milliseconds(5)) -> CommandResult {
        var out = CapturedOutput()
        out.append(Array(stdout.utf8))
        return CommandResult(outcome: .exited(exit), stdout: out, stderr: CapturedOutput(), duration: took)
    }

    func prepare(_ host: String, become: [Become]) async -> Result<HostPool.Connected, TransportError> {
        if let kind = unreachable[host] {
            return .failure(TransportError(kind, host: host, endpoint: "\(host):22", unreachableMessage[host] ?? "no answer (\(kind.rawValue))"))
        }
        clock.advance(by: .milliseconds(10))
        return .success(HostPool.Connected(latency: .milliseconds(10), trustedNewKey: nil))
    }

    func transport(for host: String) async -> any Transport { FakeTransport(host: host, fleet: self) }
    func closeAll() async {}

    fileprivate func run(_ c: SentCommand) async throws(TransportError) -> CommandResult {
        lock.withLock { _sent.append(c) }
        return try await behaviour(c, self)
    }
}

struct FakeTransport: Transport {
    let host: String
    let fleet: FakeFleet

    func run(_ command: String, timeout: Duration, tag: String, become: Become?, started: (@Sendable (RemoteProcess) -> Void)?) async throws(TransportError) -> CommandResult {
        if Task.isCancelled { throw TransportError(.cancelled, host: host, endpoint: "\(host):22", "interrupted before it was sent") }
        started?(RemoteProcess(pgid: 4000 + Int32(fleet.sent.count), tag: tag))
        return try await fleet.run(SentCommand(host: host, text: command, tag: tag, become: become))
    }

    func close() async {}
}

/// Checks that answer from the fleet's state: `answer` says whether a check (by name, on a host)
/// passes now. A check may take time, or find the controller paused.
struct FakeProbe: CheckProbe {
    var answer: @Sendable (_ check: String, _ host: String?) async -> CheckOutcome.Status

    func evaluate(_ check: PlannedCheck) async -> CheckOutcome {
        let status = await answer(check.name, check.host)
        return CheckOutcome(status, detail: status == .passed ? "fine" : status == .error ? "could not check" : "not answering", latency: .milliseconds(1))
    }
}

/// The controller "paused" (SIGSTOP, a suspended VM) on the virtual clock: time jumps, and the
/// runner's pause watch saw it, as the real heartbeat would.
final class VirtualPauses: PauseWatch, @unchecked Sendable {
    private let lock = NSLock()
    private var stalls: [Duration] = []

    func pause(_ clock: VirtualClock, for d: Duration) {
        lock.withLock { stalls.append(d) }
        clock.advance(by: d)
    }

    func mark() -> Int { lock.withLock { stalls.count } }
    func stalled(since mark: Int) -> Duration? { lock.withLock { stalls.dropFirst(mark).max() } }
}

/// A journal in memory that can be told to stop taking events (as a full disk does).
actor MemoryJournal: JournalWriter {
    nonisolated let path: String
    private(set) var events: [JournalEvent] = []
    /// Appends after this many fail (and every later one: a failed journal takes nothing more).
    var failAfter: Int?
    var sealFails = false
    private(set) var sealed = false
    /// What happened to the file under the run (deleted, cut), from the `n`-th check on.
    private var lost: (after: Int, what: String)?
    private var checks = 0

    init(path: String) { self.path = path }

    func failing(after n: Int) { failAfter = n }
    func failingSeal() { sealFails = true }
    func losing(after checks: Int, _ what: String) { lost = (checks, what) }

    func integrity(full: Bool) async -> String? {
        checks += 1
        guard let lost, checks > lost.after else { return nil }
        return lost.what
    }

    func append(_ event: JournalEvent, run: String) async throws -> JournalEvent {
        if let n = failAfter, events.count >= n { throw Journal.Failure(message: "journal write failed: No space left on device") }
        var e = event
        e.seq = events.count + 1
        e.run = run
        events.append(e)
        return e
    }

    func seal() async throws {
        if sealFails { throw Journal.Failure(message: "cannot write the seal: No space left on device") }
        sealed = true
    }
}

/// Sees what the runner reports, answers manual steps as told, never confirms abandoning restore.
actor RecordingObserver: DrillObserver {
    private(set) var events: [JournalEvent] = []
    var manualAnswer: ManualDecision = .confirmed

    func record(_ event: JournalEvent) async { events.append(event) }
    func manual(_ step: PlannedStep) async -> ManualDecision { manualAnswer }
    nonisolated var canConfirm: Bool { false }
    func confirmAbandonRestore() async -> Bool { false }
}

/// A drill to run against fakes: a plan from a real playbook, a virtual clock, fake hosts and
/// checks, an in-memory journal. `run()` returns the outcome; the journal, the fleet's log and
/// the clock tell the rest.
struct RunnerHarness {
    static let playbook = """
    name: Runner drill
    service: ehr-db
    criticality: critical
    objectives: { rto: 5m, rpo: 30s }
    checks:
      api: { http: "http://{{ vip }}/health", timeout: 3s }
      db_port: { tcp: "{{ host }}:{{ pg_port }}", targets: db_primary, timeout: 2s }
    steady_state: [api]
    data_check:
      write: { on: db_primary, run: write-marker }
      read: { on: db_standby, run: read-marker }
      timeout: 30s
    steps:
      - name: Stop primary
        on: db_primary
        run: stop-primary
        timeout: 60s
        verify: { down: [db_port], within: 30s, hold: 2s }
      - name: Promote standby
        on: db_standby
        run: promote
        timeout: 60s
        verify: { up: [api], within: 1m, hold: 4s }
    restore:
      - name: Start primary
        on: db_primary
        run: start-primary
        timeout: 60s
        verify: { up: [db_port], within: 1m, hold: 2s }
    """

    let clock = VirtualClock()
    let pauses = VirtualPauses()
    let fleet: FakeFleet
    let journal = MemoryJournal(path: "/nonexistent/fd-runner-test/journal.jsonl")
    let observer = RecordingObserver()
    let plan: Plan
    let fallbackDir: String
    var probe: FakeProbe
    var options: RunOptions = {
        var o = RunOptions(forks: 4, manual: .pass, pollInterval: .milliseconds(200), maxPollInterval: .seconds(2))
        o.guardWatchdog = nil   // real time has no say on the virtual clock (a test of the watchdog sets it)
        return o
    }()

    /// The healthy fleet: each command takes `took`; stopping the primary takes its port down,
    /// promoting brings the API back after `apiBackAfter`; starting the primary brings it back.
    init(playbook: String = RunnerHarness.playbook, took: Duration = .seconds(1), apiBackAfter: Duration = .seconds(3)) throws {
        let (plan, diagnostics) = FiredrillCoreTests.plan(playbook)
        guard let plan else { throw Journal.Failure(message: "the test playbook does not plan: \(diagnostics.map(\.message))") }
        self.plan = plan
        fallbackDir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-runner-\(UUID().uuidString.prefix(8))").path
        let clock = self.clock
        fleet = FakeFleet(clock: clock) { c, fleet in
            switch c.text {
            case "stop-primary": fleet.set("primary-down"); fleet.set("api-down"); clock.advance(by: took)
            case "promote":
                clock.advance(by: took)
                fleet.mark("api-back", at: clock.elapsed + apiBackAfter)
            case "start-primary": fleet.set("primary-down", false); clock.advance(by: took)
            default: clock.advance(by: .milliseconds(5))
            }
            if c.isLeftoverStop { return FakeFleet.ok("gone") }
            return FakeFleet.ok(took: took)
        }
        let fleet = self.fleet
        probe = FakeProbe { check, _ in
            switch check {
            case "db_port": return fleet.isSet("primary-down") ? .failed : .passed
            case "api": return RunnerHarness.apiUp(fleet, clock) ? .passed : .failed
            default: return .error
            }
        }
    }

    /// Stopping the primary times out on its host (the primary does go down); the sweep that
    /// follows answers `sweep(command)`.
    func stopPrimaryTimesOut(sweep: @escaping @Sendable (SentCommand) -> String) {
        let healthy = fleet.behaviour
        fleet.behaviour = { c, fleet throws(TransportError) in
            if c.text == "stop-primary" {
                fleet.set("primary-down")
                return CommandResult(outcome: .timedOut, stdout: CapturedOutput(), stderr: CapturedOutput(), duration: .seconds(60))
            }
            if c.isLeftoverStop { return FakeFleet.ok(sweep(c)) }
            return try await healthy(c, fleet)
        }
    }

    /// The API answers unless the primary was stopped and the standby not yet serving.
    static func apiUp(_ fleet: FakeFleet, _ clock: VirtualClock) -> Bool {
        guard fleet.isSet("api-down") else { return true }
        return fleet.time("api-back").map { clock.elapsed >= $0 } ?? false
    }

    func runner(resuming: ResumePoint? = nil) -> DrillRunner<VirtualClock> {
        try? FileManager.default.createDirectory(atPath: fallbackDir, withIntermediateDirectories: true)
        return DrillRunner(plan: plan, environment: DrillEnvironment(hosts: fleet, checks: probe, secrets: [:], pauses: pauses), journal: journal,
                           observer: observer, options: options, resuming: resuming, clock: clock, wallClock: { Date(timeIntervalSince1970: 1_800_000_000) },
                           fallback: JournalFallback(journalPath: fallbackDir + "/journal.jsonl", runID: plan.runID))
    }

    func run(_ runner: DrillRunner<VirtualClock>? = nil) async -> DrillOutcome {
        defer { try? FileManager.default.removeItem(atPath: fallbackDir) }
        return await (runner ?? self.runner()).run(facts: nil)
    }

    /// The events the runner journaled (or, after the journal failed, reported).
    var events: [JournalEvent] { get async { await observer.events } }
}

extension Array where Element == JournalEvent {
    func first<P>(_ kind: (JournalEvent.Payload) -> P?) -> P? {
        for e in self { if let p = kind(e.payload) { return p } }
        return nil
    }
    func all<P>(_ kind: (JournalEvent.Payload) -> P?) -> [P] { compactMap { kind($0.payload) } }
}

/// Payload extractors, for `events.first(\.stepFinished)`-style reading.
extension JournalEvent.Payload {
    var stepFinished: JournalEvent.StepFinished? { if case let .stepFinished(p) = self { p } else { nil } }
    var commandFinished: JournalEvent.CommandFinished? { if case let .commandFinished(p) = self { p } else { nil } }
    var commandStarted: JournalEvent.CommandStarted? { if case let .commandStarted(p) = self { p } else { nil } }
    var leftoverStopped: JournalEvent.LeftoverStopped? { if case let .leftoverStopped(p) = self { p } else { nil } }
    var verifyFinished: JournalEvent.VerifyFinished? { if case let .verifyFinished(p) = self { p } else { nil } }
    var verifyFlapped: JournalEvent.VerifyFlapped? { if case let .verifyFlapped(p) = self { p } else { nil } }
    var verifyGap: JournalEvent.VerifyGap? { if case let .verifyGap(p) = self { p } else { nil } }
    var checkResult: JournalEvent.CheckResult? { if case let .checkResult(p) = self { p } else { nil } }
    var rto: JournalEvent.Measurement? { if case let .rto(p) = self { p } else { nil } }
    var rpo: JournalEvent.Measurement? { if case let .rpo(p) = self { p } else { nil } }
    var restoreStarted: JournalEvent.RestoreStarted? { if case let .restoreStarted(p) = self { p } else { nil } }
    var restoreFinished: JournalEvent.RestoreFinished? { if case let .restoreFinished(p) = self { p } else { nil } }
    var runEnded: JournalEvent.RunEnded? { if case let .runEnded(p) = self { p } else { nil } }
    var interrupted: JournalEvent.Interrupted? { if case let .interrupted(p) = self { p } else { nil } }
    var journalFailed: JournalEvent.JournalFailed? { if case let .journalFailed(p) = self { p } else { nil } }
    var hostUnreachable: JournalEvent.HostUnreachable? { if case let .hostUnreachable(p) = self { p } else { nil } }
    var stepStarted: JournalEvent.StepStarted? { if case let .stepStarted(p) = self { p } else { nil } }
    var markerWritten: JournalEvent.MarkerWritten? { if case let .markerWritten(p) = self { p } else { nil } }
}
