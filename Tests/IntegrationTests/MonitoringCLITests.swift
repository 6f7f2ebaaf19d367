import Foundation
import Testing
@testable import FiredrillCore

/// For monitoring: `firedrill metrics` as Prometheus text (checked by Debian's `promtool`),
/// `due --fail-on-overdue` for cron and CI, `due --notify` telling a receiver about each overdue
/// service. Two recorded ehr-db drills in a history; the other example services never drilled.
@Suite struct MonitoringCLITests {
    static let now = "2026-12-02T00:00:00Z"

    @Test func metricsAreTextPromtoolAcceptsWithAServiceScoreAndWhatIsOverdue() throws {
        let s = try EvidenceCLITests.Setup()
        defer { s.remove() }
        let folder = s.dir + "/textfile"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let out = folder + "/firedrill.prom"
        let r = try Firedrill.run(["metrics", "--dir", "Playbooks", "--db", s.db, "-o", out, "--now", Self.now])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        let promtool = try ChildProcess.capture(["/usr/bin/promtool", "check", "metrics"], input: out)
        #expect(promtool.status == 0, "promtool: \(promtool.output)\n\(text)")
        #expect(text.contains("# TYPE firedrill_readiness_score gauge\nfiredrill_readiness_score "))
        #expect(text.contains("firedrill_service_score{service=\"ehr-db\",criticality=\"critical\"} "), "\(text)")
        #expect(text.contains("firedrill_service_last_drill_timestamp_seconds{service=\"ehr-db\",criticality=\"critical\"} 17"), "\(text)")
        #expect(text.contains("firedrill_service_overdue{service=\"patient-portal\",criticality=\"high\"} 1"), "never drilled: \(text)")
        #expect(!text.contains("firedrill_service_score{service=\"patient-portal\""), "no score for a service never drilled")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["firedrill.prom"], "nothing half written is left beside it")
        // On standard output too, the same families.
        let stdout = try Firedrill.run(["metrics", "--dir", "Playbooks", "--db", s.db, "--now", Self.now])
        #expect(stdout.status == 0 && stdout.stdout.contains("firedrill_service_status{service=\"ehr-db\""))
    }

    @Test func dueFailsOnOverdueForCronAndTellsTheConfiguredReceiverOfEachOverdueService() throws {
        let s = try EvidenceCLITests.Setup()
        defer { s.remove() }
        let receiver = try NotifyCLITests.Receiver.start("ok", in: s.dir)
        defer { receiver.stop() }
        let config = s.dir + "/config.yml"
        try "notify:\n  - { webhook: \"\(receiver.url)\", on: [overdue] }\n".write(toFile: config, atomically: true, encoding: .utf8)
        // The ehr-db drill ran the day before: not due. Without the flag, listing is not failing.
        let fresh = try Firedrill.run(["due", "Playbooks/ehr-db-failover.yml", "--db", s.db, "--now", Self.now, "--fail-on-overdue"])
        #expect(fresh.status == 0, "\(fresh.stdout)\(fresh.stderr)")
        let listed = try Firedrill.run(["due", "--dir", "Playbooks", "--db", s.db, "--now", Self.now])
        #expect(listed.status == 0 && listed.stdout.contains("NEVER DRILLED"), "\(listed.stdout)")
        // The others were never drilled: exit 1 naming them, and one overdue notification each.
        let r = try Firedrill.run(["due", "--dir", "Playbooks", "--db", s.db, "--now", "2027-06-01T00:00:00Z", "--fail-on-overdue", "--notify", "--config", config])
        #expect(r.status == 1 && r.stderr.contains("overdue or never drilled: "), "\(r.stdout)\(r.stderr)")
        let overdue = r.stdout.split(separator: "\n").filter { $0.contains("OVERDUE") }.count
        let got = receiver.received
        #expect(overdue > 0 && got.count == overdue, "\(got.count) notifications for \(overdue) overdue services:\n\(r.stdout)")
        #expect(got.allSatisfy { $0["event"] as? String == "overdue" && $0["service"] is String && ($0["text"] as? String)?.contains("is overdue") == true })
        #expect(got.contains { $0["service"] as? String == "ehr-db" }, "ehr-db's last drill is two quarters old by then")
        #expect(r.stderr.contains("notified webhook http://127.0.0.1:\(receiver.port)/… that ehr-db is overdue"), "\(r.stderr)")
    }
}
