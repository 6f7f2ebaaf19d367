import Foundation
import Testing
@testable import FiredrillCore

/// The five scenarios of docs/scoring.md on the lab, each with the score and the deduction it
/// should explain itself with; and the score recomputed from the journal alone, anywhere.
@Suite struct ScoreScenarioTests {
    typealias Scenario = DrillScenarioTests

    /// The EHR playbook without its manual step (answered by a flag, it would cap the score).
    func playbook(_ lab: TestLab, _ replacements: [(String, String)] = []) throws -> String {
        try lab.ehrPlaybook([(TestLab.ehrManualStep, "")] + replacements)
    }

    func drill(_ lab: TestLab, _ pb: String) throws -> (Firedrill.Result, String, Score) {
        let runs = Scenario.runsDir(in: lab)
        let r = try Firedrill.run(["run", pb, "-i", lab.inventory, "--yes", "--output", "plain", "--runs-dir", runs])
        let json = try Firedrill.run(["score", "latest", "--runs-dir", runs, "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        struct Out: Decodable { var run: String; var score: Score }
        let score = try JSONDecoder().decode(Out.self, from: Data(json.stdout.utf8)).score
        return (r, runs, score)
    }

    func earned(_ s: Score, _ id: Score.ComponentID) -> Double { s.components.first { $0.id == id }?.earned ?? -1 }

    @Test func aHealthyDrillScores100AndTheJournalAloneGivesTheSameScoreAnywhere() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let (r, runs, score) = try drill(lab, try playbook(lab))
        #expect(r.status == 0, "\(r.stdout)")
        #expect(score.points == 100 && score.grade == .A && score.deductions.isEmpty)
        #expect(r.stdout.contains("score    100/100 (A)"), "\(r.stdout)")
        // The journal copied elsewhere, scored by path: the same JSON.
        let (id, _) = Scenario.journal(runs)
        let elsewhere = lab.dir + "/archive"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: RunStore(root: runs).journalPath(id ?? ""), toPath: elsewhere + "/journal.jsonl")
        let here = try Firedrill.run(["score", id ?? "", "--runs-dir", runs, "--format", "json"])
        let there = try Firedrill.run(["score", elsewhere + "/journal.jsonl", "--format", "json"])
        #expect(here.status == 0 && here.stdout == there.stdout)
        // A damaged journal is not scored.
        var lines = try String(contentsOfFile: elsewhere + "/journal.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        lines[4] = lines[4].replacingOccurrences(of: "\"host\":\"db1\"", with: "\"host\":\"db9\"")
        try (lines.joined(separator: "\n") + "\n").write(toFile: elsewhere + "/journal.jsonl", atomically: true, encoding: .utf8)
        let damaged = try Firedrill.run(["score", elsewhere + "/journal.jsonl"])
        #expect(damaged.status == 1 && damaged.stderr.contains("damaged") && damaged.stderr.contains("line"), "\(damaged.stderr)")
    }

    @Test func aFailoverSlowerThanItsRTOLosesPointsInProportion() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        try lab.knob("db2", "delay-pg_ctlcluster", "2")
        let (r, runs, score) = try drill(lab, try playbook(lab, [("objectives: { rto: 5m, rpo: 30s }", "objectives: { rto: 4s, rpo: 30s }")]))
        #expect(r.status == 0, "\(r.stdout)")
        let rto = try #require(DrillRecord.fold(Scenario.journal(runs).1.map(JournalEvent.init(line:))).rto?.seconds)
        #expect(rto > 4, "the promotion and the holds take longer than 4 s")
        let expected = max(0, 20 * (1 - (rto - 4) / 4))
        #expect(abs(earned(score, .rto) - expected) < 0.06)
        let d = try #require(score.deductions.first { $0.component == "rto" })
        #expect(d.reason.contains("> objective 4s") && d.step == "failover.2", "\(d.reason)")
        #expect(abs(score.points - (100 - (20 - expected))) < 0.06)
    }

    @Test func aStandbyThatNeverAnswersScores32AndAHalf() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let (r, _, score) = try drill(lab, try playbook(lab, [("    on: db_standby\n    run: pg_ctlcluster 15 main promote", "    on: db_standby\n    run: \"true\""),
                                                                ("      within: 3m", "      within: 6s")]))
        #expect(r.status == 1)
        #expect(score.points == 32.5 && score.grade == .F, "\(score.deductions)")
        #expect(earned(score, .failover) == 0 && earned(score, .redundancy) == 12.5 && earned(score, .rto) == 0 && earned(score, .restore) == 20)
        #expect(score.deductions.contains { $0.component == "failover" && $0.step == "failover.2" && ($0.evidence ?? "").contains("HTTP 503") })
    }

    @Test func aRestoreThatFailsScores80() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        try lab.knob("db1", "fail-rejoin")
        let (r, _, score) = try drill(lab, try playbook(lab))
        #expect(r.status == 1)
        #expect(score.points == 80 && score.grade == .B, "\(score.deductions)")
        let d = try #require(score.deductions.first { $0.component == "restore" })
        #expect(d.reason.contains("restore.1 Rejoin old primary as standby failed on db1") && d.evidence?.contains("simulated failure") == true, "\(d.reason)")
    }

    @Test func aServiceNotBackAfterRestoreScores80() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        // Restore "completes" but never demotes the standby: two primaries, the steady state is not back.
        let (r, _, score) = try drill(lab, try playbook(lab, [
            ("    run: pg_ctlcluster 15 main demote", "    run: \"true\""),
            ("    verify: { up: [ehr_api, primary_is_primary, standby_is_replica], within: 5m }", "    verify: { up: [ehr_api], within: 5m }"),
        ]))
        #expect(r.status == 1)
        #expect(score.points == 80, "\(score.deductions)")
        #expect(score.deductions.contains { $0.component == "restore" && $0.reason.contains("steady state is not back: standby_is_replica@db2") })
    }
}
