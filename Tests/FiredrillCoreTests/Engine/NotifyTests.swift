import Foundation
import Testing
@testable import FiredrillCore

/// Notifications: what the runner tells and when (a fake notifier on the virtual clock), the
/// message's fields, and `notify:` as written.
@Suite struct NotifyTests {
    /// Hears everything, answers at once, remembers what it was told.
    actor FakeNotifier: DrillNotifier {
        private(set) var told: [(NotifyEvent, DrillRecord)] = []
        nonisolated func hears(_ event: NotifyEvent) -> Bool { true }
        func deliver(_ event: NotifyEvent, record: DrillRecord, detail: String) async -> [JournalEvent.NotificationAttempt] {
            told.append((event, record))
            return [.init(on: event.rawValue, target: "webhook http://127.0.0.1:1/…", attempt: 1, delivered: true, detail: "HTTP 200 in 1 ms")]
        }
        var events: [NotifyEvent] { told.map(\.0) }
    }

    func run(_ configure: (inout RunnerHarness) -> Void = { _ in }) async throws -> (DrillOutcome, [JournalEvent], FakeNotifier) {
        var h = try RunnerHarness()
        configure(&h)
        let notifier = FakeNotifier()
        let runner = DrillRunner(plan: h.plan, environment: DrillEnvironment(hosts: h.fleet, checks: h.probe, secrets: [:], pauses: h.pauses, notifier: notifier),
                                 journal: h.journal, observer: h.observer, options: h.options, clock: h.clock,
                                 wallClock: { Date(timeIntervalSince1970: 1_800_000_000) })
        let outcome = await h.run(runner)
        return (outcome, await h.events, notifier)
    }

    @Test func aDrillTellsThatItStartedAndHowItEndedAndJournalsEveryAttemptBeforeItsEnd() async throws {
        let (outcome, events, notifier) = try await run()
        #expect(outcome.result == .passed)
        #expect(await notifier.events == [.started, .passed])
        let told = events.compactMap { if case let .notification(p) = $0.payload { p } else { nil } }
        #expect(told.map(\.on) == ["started", "passed"])
        let end = try #require(events.lastIndex { if case .runEnded = $0.payload { true } else { false } })
        #expect(events.lastIndex { if case .notification = $0.payload { true } else { false } }! < end)
        // The end is told with the run's result and score in hand.
        let last = try #require(await notifier.told.last?.1)
        #expect(last.ending?.result == .passed && Score(last).points > 90)
    }

    @Test func aRestoreThatFailsIsToldAndSoIsTheFailure() async throws {
        let (outcome, _, notifier) = try await run { h in
            let healthy = h.fleet.behaviour
            h.fleet.behaviour = { c, fleet throws(TransportError) in
                if c.text == "start-primary" { return FakeFleet.ok(exit: 3) }
                return try await healthy(c, fleet)
            }
        }
        #expect(outcome.result == .failed)
        #expect(await notifier.events == [.started, .restoreFailed, .failed])
    }

    @Test func aDrillThatCannotStartIsToldAsFailedAndNeverAsStarted() async throws {
        let (outcome, _, notifier) = try await run { h in h.fleet.unreachable["db2"] = .connectionRefused }
        #expect(outcome.result == .preconditions)
        #expect(await notifier.events == [.failed])
    }

    @Test func theMessageCarriesTheDrillItsResultScoreAndWhereItsReportIs() throws {
        var r = DrillRecord()
        r.runID = "ehr-db-20261206-020000-abcd"
        r.name = "EHR database failover"
        r.apply(JournalEvent(.runEnded(.init(result: .failed, detail: "failover.2 Promote: exit 1", restore: "completed", touched: true))))
        let m = Notifier.message(.failed, record: r, detail: "failover.2 Promote: exit 1", runsDir: "/var/lib/firedrill/runs")
        #expect(m["event"] == .string("failed") && m["result"] == .string("failed") && m["run_id"] == .string(r.runID!))
        #expect(m["report"] == .string("firedrill report \(r.runID!) --runs-dir /var/lib/firedrill/runs"))
        guard case let .number(points)? = m["score"], case let .string(text)? = m["text"] else { Issue.record("no score or text: \(m)"); return }
        #expect(points >= 0 && text.contains("EHR database failover") && text.contains("FAILED") && text.contains("exit 1"))
    }

    @Test func aWebhookLabelNeverShowsItsPathOrItsSecret() {
        let at = SourceLocation(file: "c.yml", line: 1, column: 1)
        #expect(NotifyTarget(destination: .webhook(.literal("https://hooks.slack.com/services/T0/B0/XYZ")), file: "c.yml", location: at).label
                == "webhook https://hooks.slack.com/…")
        #expect(NotifyTarget(destination: .webhook(.literal("http://127.0.0.1:8080")), file: "c.yml", location: at).label == "webhook http://127.0.0.1:8080")
        #expect(NotifyTarget(destination: .webhook(.secret(.environment("SLACK_URL"))), file: "c.yml", location: at).label == "webhook env:SLACK_URL")
    }

    @Test(arguments: [
        ("notify: { webhook: \"https://x\" }", "notify must be a list of targets"),
        ("notify:\n  - { on: [failed] }", "a notify target needs 'webhook:' or 'command:'"),
        ("notify:\n  - { webhook: \"https://x.example\", command: \"true\" }", "a webhook or a command, not both"),
        ("notify:\n  - { webhook: \"ftp://x.example\" }", "is not an http(s) URL"),
        ("notify:\n  - { webhook: \"https://x.example\", on: [faild] }", "did you mean 'failed'?"),
        ("notify:\n  - { webhook: \"https://x.example\", timeout: 10m }", "between 100ms and 2m"),
        ("notify:\n  - { command: \"true\", format: slack }", "format applies to webhooks"),
        ("notify:\n  - { webhook: \"https://x.example\", retries: 9 }", "retries"),
    ])
    func notifyAsWrittenSaysWhatIsWrongAndWhere(_ yaml: String, _ expected: String) {
        let text = "name: N\nservice: s\n\(yaml)\nsteps:\n  - { name: s, on: all, run: \"true\" }\n"
        let r = PlaybookLoader().load(text: text, file: "pb.yml")
        let errors = r.diagnostics.filter { $0.severity == .error }
        #expect(errors.contains { $0.message.contains(expected) || ($0.hint ?? "").contains(expected) }, "\(errors.map(\.message))")
        #expect(errors.allSatisfy { $0.location?.line ?? 0 >= 3 }, "each error has its place")
    }

    @Test func theConfigurationFileHoldsTargetsToo() throws {
        let config = try FiredrillConfig.parse("notify:\n  - { webhook: env:SLACK_URL, format: slack, on: [failed, overdue] }\n", file: "/etc/firedrill/config.yml")
        let t = try #require(config.notify.first)
        #expect(t.format == .slack && t.on == [.failed, .overdue] && t.hears(.restoreFailed) && !t.hears(.passed))
    }
}
