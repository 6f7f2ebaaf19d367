import Foundation
import Testing
@testable import FiredrillCore

/// The journal as the record (format 1): what it holds, that it alone rebuilds the run, and
/// verification that neither a flapping service nor a check that could not be made can fool.
@Suite struct JournalRecordTests {
    typealias Scenario = DrillScenarioTests

    func start(_ playbook: String, _ lab: TestLab, runs: String) throws -> Firedrill.Running {
        try Firedrill.start(["run", playbook, "-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
    }

    @Test func theJournalAloneRebuildsTheRunAndItsMeasurements() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let pb = try lab.ehrPlaybook()
        let r = try start(pb, lab, runs: runs).wait()
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let (id, events) = Scenario.journal(runs)
        // Format 1: the run's facts and its plan are inside the chain.
        let started = try #require(events.first)
        #expect(started.event == .runStarted && started.format == "firedrill.journal/1")
        #expect(started.facts?.service == "ehr-db" && started.facts?.criticality == "critical" && started.facts?.exercise == "functional")
        #expect(started.facts?.rtoObjectiveSeconds == 300 && started.facts?.inventorySHA256.count == 64)
        #expect(started.plan?["steps"] != nil && started.plan?["format"] == .string("firedrill.plan/1"))
        #expect(events.allSatisfy { $0.offsetMS != nil }, "every event has its monotonic offset")
        // step_started says what a reader needs without the playbook.
        let step1 = try #require(events.first { $0.event == .stepStarted && $0.step == "failover.1" }?.spec)
        #expect(step1.disruptive && step1.timeoutSeconds == 60 && step1.hosts == ["db1"] && step1.kind == .command)
        #expect(step1.verify?.withinSeconds == 30 && step1.verify?.holdSeconds == 3)
        #expect(step1.verify?.checks == [StepSpec.Check(name: "db_port", type: "tcp", host: "db1", from: nil, expect: .down)])
        let down = try #require(events.last { $0.event == .checkResult && $0.step == "failover.1" })
        #expect(down.expect == .down && down.outcome == .failed && down.met == true)
        // RTO and RPO from offsets on the monotonic clock.
        let record = DrillRecord.fold(events.map(JournalEvent.init(line:)))
        let rto = try #require(record.rto)
        let disruption = try #require(events.first { $0.event == .stepStarted && $0.step == "failover.1" }?.offsetMS)
        #expect(rto.fromOffsetMS == disruption)
        #expect(abs((rto.seconds ?? 0) - ((rto.toOffsetMS ?? 0) - (rto.fromOffsetMS ?? 0)) / 1000) < 0.001)
        #expect(record.steps.first { $0.id == "failover.2" }?.verify?.heldFromOffsetMS == rto.toOffsetMS)
        let rpo = try #require(record.rpo)
        #expect(rpo.toOffsetMS == disruption && rpo.fromOffsetMS == events.first { $0.event == .markerWritten }?.fromOffsetMS)
        // The playbook gone, the journal alone gives the same summary the drill printed.
        try FileManager.default.removeItem(atPath: pb)
        let shown = try Firedrill.run(["runs", id ?? "", "--runs-dir", runs])
        #expect(shown.status == 0)
        let printed = try #require(r.stdout.range(of: "\nDrill ").map { String(r.stdout[$0.lowerBound...]) })
        // Headed by which run it is (id, drill, service, start, playbook).
        #expect(shown.stdout.hasPrefix("Run \(id ?? ""): ") && shown.stdout.hasSuffix(printed), "\(shown.stdout)")
        #expect(shown.stdout.components(separatedBy: "\n").first?.contains("EHR database failover (ehr-db), started ") == true, "\(shown.stdout)")
        // The fast line reader and Codable agree on every line of a real journal.
        let raw = try String(contentsOfFile: RunStore(root: runs).journalPath(id ?? ""), encoding: .utf8).split(separator: "\n")
        for line in raw {
            let bytes = ArraySlice(Array(line.utf8))
            #expect(JournalLineDecoder.decode(bytes) == (try JSONDecoder().decode(JournalLine.self, from: Data(bytes))), "\(line.prefix(80))")
            // The typed event writes back exactly the bytes the runner wrote.
            #expect(try Journal.encoder.encode(JournalEvent(line: JournalLineDecoder.decode(bytes)!)) == Data(bytes), "\(line.prefix(80))")
        }
        // Any prefix of the journal folds, and says the run is unfinished.
        for k in 0..<events.count {
            #expect(!DrillRecord.fold(events.prefix(k).map(JournalEvent.init(line:))).isFinished, "prefix \(k)")
        }
        #expect(record.isFinished && record.steps.map(\.id) == ["failover.1", "failover.2", "failover.3", "restore.1", "restore.2", "restore.3"])
    }

    @Test func aDownCheckThatCouldNotBeMadeFailsTheVerifyWithItsReason() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let pb = try lab.ehrPlaybook([
            ("checks:\n", "checks:\n  broken_probe: { command: \"no-such-probe --postgres\", on: db_primary }\n"),
            ("      down: [db_port]           # the primary is really gone…\n      within: 30s", "      down: [broken_probe]\n      within: 6s"),
        ])
        let r = try start(pb, lab, runs: runs).wait()
        #expect(r.status == 1, "a probe that cannot run is not 'down': \(r.stdout)")
        let (_, events) = Scenario.journal(runs)
        let sample = try #require(events.first { $0.event == .checkResult && $0.check == "broken_probe" })
        #expect(sample.outcome == .error && sample.expect == .down && sample.met == false)
        let verify = try #require(events.first { $0.event == .verifyFinished && $0.step == "failover.1" })
        #expect(verify.passed == false && (verify.detail ?? "").contains("could not check"), "\(verify.detail ?? "")")
        #expect(events.contains { $0.event == .restoreFinished && $0.result == "completed" })
    }

    /// The lab's `flap-postgresql` knob makes a database alternate up/down every 0.7 s.
    @Test(arguments: ["up", "down"])
    func aFlappingServicePassesNeitherAnUpNorADownVerify(_ which: String) throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let pb = try lab.ehrPlaybook([("      within: 30s", "      within: 8s"), ("      within: 3m", "      within: 8s")])
        let host = which == "up" ? "db2" : "db1"
        let step = which == "up" ? "failover.2" : "failover.1"
        let runner = try start(pb, lab, runs: runs)
        // Flapping starts once the step runs (the steady state before it was healthy) and ends with restore.
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .stepStarted && $0.step == step })
        try lab.knob(host, "flap-postgresql", "1.4")
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .restoreStarted })
        try FileManager.default.removeItem(atPath: "\(lab.dir)/hosts/\(host)/state/flap-postgresql")
        let r = runner.wait()
        #expect(r.status == 1, "\(r.stdout)")
        let (_, events) = Scenario.journal(runs)
        let verify = try #require(events.first { $0.event == .verifyFinished && $0.step == step })
        #expect(verify.passed == false, "a flapping service must not verify \(which)")
        #expect(events.contains { $0.event == .verifyFlapped && $0.step == step }, "each flap inside the window is journaled")
        #expect(!events.contains { $0.event == .rto }, "no recovery was shown to hold")
    }
}
