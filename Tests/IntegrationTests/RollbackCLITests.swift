import Foundation
import Testing
@testable import FiredrillCore

/// The bad-update case on a lab of 24 hosts (`Playbooks/endpoint-agent-rollback.yml`): the
/// update goes out as a canary, a quarter, then the rest, verified after each batch; a batch that
/// crosses max_fail_percentage, or a canary that crashes, halts it, and restore rolls back
/// exactly the hosts it reached. Asked of the hosts themselves (their agent's version).
@Suite(.serialized) struct RollbackCLITests {
    func versions(_ lab: TestLab) throws -> [String: String] {
        var out: [String: String] = [:]
        for h in lab.state.hosts {
            out[h.name] = try String(contentsOfFile: "\(lab.dir)/hosts/\(h.name)/state/agent-version", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return out
    }

    @Test func aBatchThatCrossesMaxFailHaltsTheRolloutAndOnlyTheTouchedHostsAreRolledBack() throws {
        let lab = try TestLab.start(hosts: 24)
        defer { lab.stop() }
        let runs = "\(lab.dir)/runs"
        // The example, with a verify window of 5 s instead of a minute (a crashed canary is
        // known when the window ends).
        let text = try String(contentsOfFile: "\(Firedrill.repoRoot)/Playbooks/endpoint-agent-rollback.yml", encoding: .utf8)
        #expect(text.contains("verify: { up: [agent_healthy], within: 1m, hold: 0s }"))
        let pb = "\(lab.dir)/rollback.yml"
        try text.replacingOccurrences(of: "within: 1m", with: "within: 5s").write(toFile: pb, atomically: true, encoding: .utf8)
        func drill() throws -> (Firedrill.Result, [JournalLine]) {
            let r = try Firedrill.run(["run", pb, "-i", lab.inventory, "--yes", "--output", "plain", "--runs-dir", runs])
            return (r, DrillScenarioTests.journal(runs).1)
        }
        func hosts(_ events: [JournalLine], _ step: String) -> Set<String> {
            Set(events.filter { $0.event == .commandStarted && $0.step == step }.compactMap(\.host))
        }
        // A clean rollout: every batch verified, then every host rolled back.
        let (ok, okEvents) = try drill()
        #expect(ok.status == 0 && ok.stdout.contains("Drill PASSED"), "\(ok.stdout)")
        #expect(okEvents.filter { $0.event == .verifyStarted && $0.step == "failover.1" }.map { $0.detail ?? "" }.map { String($0.prefix(30)) }
                == ["after batch 1 of 3 (1 of 24 ho", "after batch 2 of 3 (7 of 24 ho", "after the last batch; up: agen"])
        #expect(hosts(okEvents, "restore.1").count == 24)
        #expect(Set(try versions(lab).values) == ["7.10"])

        // The second batch's app1 cannot take the update: 1 of 24 hosts is more than 4%.
        try lab.knob("app1", "fail-endpoint-agent-install-7.11")
        let (halted, events) = try drill()
        #expect(halted.status == 1 && halted.stdout.contains("Drill FAILED"), "\(halted.stdout)")
        let batch1and2: Set<String> = ["db1", "db2", "app1", "app2", "dns1", "dns2", "node007"]
        #expect(hosts(events, "failover.1") == batch1and2, "the third batch never started")
        #expect(hosts(events, "restore.1") == batch1and2, "exactly the touched hosts are rolled back")
        #expect(events.first { $0.event == .stepStarted && $0.step == "restore.1" }?.detail?.contains("17 of 24 untouched") == true)
        #expect(Set(try versions(lab).values) == ["7.10"])
        // The run's summary lists every deduction the score has.
        let score = try Firedrill.run(["score", "latest", "--runs-dir", runs, "--format", "json"])
        struct Out: Decodable { var score: Score }
        let deductions = try JSONDecoder().decode(Out.self, from: Data(score.stdout.utf8)).score.deductions.count
        let listed = halted.stdout.split(separator: "\n").filter { $0.hasPrefix("           −") }.count
        #expect(deductions >= 2 && listed == deductions, "\(listed) of \(deductions) deductions listed: \(halted.stdout)")
        let report = try Firedrill.run(["report", "latest", "--runs-dir", runs, "--format", "text"])
        #expect(report.stdout.contains("batches 1: 1 host passed · 2: 6 hosts 1 failed · 3: 17 hosts not run"), "\(report.stdout)")
        let html = "\(lab.dir)/report.html"
        _ = try Firedrill.run(["report", "latest", "--runs-dir", runs, "--format", "html", "-o", html])
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("data-batch=\"1\"") && page.contains("data-batch=\"2\"") && !page.contains("data-batch=\"3\""), "the batches that ran are on the timeline")
        try FileManager.default.removeItem(atPath: "\(lab.dir)/hosts/app1/state/fail-endpoint-agent-install-7.11")

        // The canary takes the update and crashes with it: the verify after the first batch
        // halts the rollout, and only the canary is rolled back.
        try lab.knob("db1", "agent-crashes-7.11")
        let (canary, canaryEvents) = try drill()
        #expect(canary.status == 1, "\(canary.stdout)")
        #expect(hosts(canaryEvents, "failover.1") == ["db1"] && hosts(canaryEvents, "restore.1") == ["db1"])
        #expect(Set(try versions(lab).values) == ["7.10"])
    }
}
