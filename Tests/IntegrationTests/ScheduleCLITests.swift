import Foundation
import Testing
@testable import FiredrillCore
import FiredrillBench

/// `schedule`, `due` and `due --run` through the binary, with the clock given (`--now`), never
/// the wall clock; the calendar read back by an independent parser (python3-icalendar).
@Suite struct ScheduleCLITests {
    typealias Scenario = DrillScenarioTests
    static let now = "2026-12-20T00:00:00Z"

    func calendar(from: String, until: String) throws -> String {
        let r = try Firedrill.run(["schedule", "--dir", "Playbooks", "--from", from, "--until", until, "--now", Self.now, "--ics"])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    @Test func theCalendarMatchesItsGoldenFileAndFollowsRFC5545() throws {
        let ics = try calendar(from: "2027-01-01", until: "2027-06-30")
        let golden = Firedrill.repoRoot + "/Tests/IntegrationTests/Fixtures/drills.ics"
        let normalised = ics.replacingOccurrences(of: "firedrill \(FiredrillCore.version)//", with: "firedrill VERSION//")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" { try normalised.write(toFile: golden, atomically: true, encoding: .utf8) }
        #expect(normalised == (try String(contentsOfFile: golden, encoding: .utf8)), "drills.ics differs from its golden file (UPDATE_GOLDEN=1 after a deliberate change)")
        // CRLF everywhere, no line over 75 octets.
        let lines = ics.components(separatedBy: "\r\n")
        #expect(!ics.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        for l in lines { #expect(l.utf8.count <= 75, "\(l)") }
        // The same drill keeps its UID from one export to another.
        func uids(_ text: String) -> Set<String> {
            Set(text.components(separatedBy: "\r\n").filter { $0.hasPrefix("UID:") })
        }
        let wider = try calendar(from: "2026-12-01", until: "2027-12-31")
        #expect(uids(ics).isSubset(of: uids(wider)) && uids(wider).count > uids(ics).count)
    }

    @Test func anIndependentParserReadsTheCalendar() throws {
        let ics = try calendar(from: "2027-01-01", until: "2027-12-31")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-ics-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ics.write(toFile: dir + "/drills.ics", atomically: true, encoding: .utf8)
        let script = """
        import icalendar, sys
        cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
        for ev in cal.walk('VEVENT'):
            s = ev['DTSTART'].dt
            print(ev['UID'], s.isoformat(), str(ev['SUMMARY']), 'Run it: firedrill run' in str(ev['DESCRIPTION']))
        print('zones', len(cal.walk('VTIMEZONE')))
        """
        try script.write(toFile: dir + "/read.py", atomically: true, encoding: .utf8)
        let out = try Chromium.exec("/usr/bin/python3", [dir + "/read.py", dir + "/drills.ics"])
        #expect(out.status == 0, "python3-icalendar could not read it")
        let events = out.stdout.split(separator: "\n").filter { $0.contains("@firedrill") }
        #expect(events.count == ics.components(separatedBy: "BEGIN:VEVENT").count - 1 && events.count > 10)
        // The EHR drill: first Saturday of the quarter, 02:00 in Los Angeles, in winter and in summer.
        #expect(events.contains { $0.contains("2027-01-02T02:00:00-08:00") && $0.contains("EHR database failover") })
        #expect(events.contains { $0.contains("2027-07-03T02:00:00-07:00") && $0.contains("EHR database failover") })
        #expect(events.allSatisfy { $0.hasSuffix("True") }, "every description says how to run the drill")
        #expect(out.stdout.contains("zones 1"))
    }

    @Test func scheduleMistakesAreInvalidInputWithWhereAndHow() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-sched-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try String(contentsOfFile: Firedrill.repoRoot + "/Playbooks/ehr-db-failover.yml", encoding: .utf8)
            .replacingOccurrences(of: "inventory: ../Inventory/hospital.yml", with: "inventory: \(Firedrill.repoRoot)/Inventory/hospital.yml")
            .replacingOccurrences(of: "include: [checks/common.yml]", with: "include: [\(Firedrill.repoRoot)/Playbooks/checks/common.yml]")
        let line = "schedule: { every: quarter, window: \"Sat 02:00-04:00\", timezone: America/Los_Angeles }"
        #expect(base.contains(line))
        for (schedule, says, hint) in [
            ("schedule: { every: quarter, timezone: America/Los_Angles }", "unknown time zone 'America/Los_Angles'", "did you mean 'America/Los_Angeles'?"),
            ("schedule: { every: quarter, window: \"Sat 02:00-02:00\" }", "is empty", "Sat 02:00-04:00"),
            ("schedule: { every: quarter, blackout: [\"2027-01-05..2026-12-15\"] }", "ends (2026-12-15) before it starts (2027-01-05)", "2026-12-15..2027-01-05"),
            ("schedule: { every: fortnight }", "'fortnight' is not a drill interval", "N weeks"),
            ("schedule: { every: quarter, start: 2027-02-30 }", "start '2027-02-30' is not a date", "YYYY-MM-DD"),
        ] {
            let pb = dir + "/pb.yml"
            try base.replacingOccurrences(of: line, with: schedule).write(toFile: pb, atomically: true, encoding: .utf8)
            let r = try Firedrill.run(["validate", pb])
            #expect(r.status == 2 && r.stderr.contains(says) && r.stderr.contains(hint), "\(schedule): \(r.stderr)")
            let written = base.components(separatedBy: "\n").firstIndex { $0.hasPrefix("schedule:") }.map { $0 + 1 } ?? 0
            #expect(r.stderr.contains("pb.yml:\(written):"), "names the line: \(r.stderr)")
        }
        let bad = try Firedrill.run(["due", "--dir", "Playbooks", "--run"])
        #expect(bad.status == 2 && bad.stderr.contains("--yes"))
        let badNow = try Firedrill.run(["due", "--dir", "Playbooks", "--now", "tomorrow"])
        #expect(badNow.status == 2 && badNow.stderr.contains("--now"))
    }

    @Test func dueReadsTheHistoryAndItsGrace() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-due-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try History(path: dir + "/h.sqlite")
        // ehr-db drilled this quarter, ehr-dns last quarter (due, within grace), patient-portal two quarters ago (overdue),
        // bca-medication-list only ever failed to start (preconditions: not a drill), and an interrupted drill of ehr-dns
        // this quarter does not count either.
        for (id, service, started, result) in [("r1", "ehr-db", "2027-01-02T10:30:00.000Z", RunResult.passed),
                                               ("r2", "ehr-dns", "2026-10-03T12:00:00.000Z", .failed),
                                               ("r3", "patient-portal", "2026-07-05T10:00:00.000Z", .passed),
                                               ("r4", "bca-medication-list", "2027-01-05T22:10:00.000Z", .preconditions),
                                               ("r5", "ehr-dns", "2027-01-02T12:05:00.000Z", .interrupted)] {
            _ = try await db.ingest(journal: try await SyntheticJournal.write(runs: dir + "/runs", id: id, service: service, started: started, result: result))
        }
        let r = try Firedrill.run(["due", "--dir", "Playbooks", "--db", dir + "/h.sqlite", "--now", "2027-01-10T00:00:00Z", "--all", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        struct Entry: Decodable { var service: String; var state: String; var never_drilled: Bool; var next_due: String }
        let entries = try JSONDecoder().decode([Entry].self, from: Data(r.stdout.utf8))
        func state(_ s: String) -> String? { entries.first { $0.service == s }?.state }
        #expect(state("ehr-db") == "scheduled", "drilled this quarter: next due in April")
        #expect(entries.first { $0.service == "ehr-db" }?.next_due.hasPrefix("2027-04-03") == true)
        #expect(state("ehr-dns") == "due", "Q1's window was 2027-01-02, grace runs to the 16th")
        #expect(state("patient-portal") == "overdue", "Q4 2026 was missed")
        #expect(state("bca-medication-list") == "overdue" && entries.first { $0.service == "bca-medication-list" }?.never_drilled == true,
                "a run that never started is not a drill")
        // Without --all only what is due is listed.
        let text = try Firedrill.run(["due", "--dir", "Playbooks", "--db", dir + "/h.sqlite", "--now", "2027-01-10T00:00:00Z"])
        #expect(!text.stdout.contains("ehr-db ") && text.stdout.contains("patient-portal  OVERDUE") && text.stdout.contains("ehr-dns  DUE"), "\(text.stdout)")
    }

    @Test func dueRunRunsWhatIsOpenAndSkipsTheWindowAndTheBlackout() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let db = lab.dir + "/history.sqlite"
        let books = lab.dir + "/due"
        try FileManager.default.createDirectory(atPath: books, withIntermediateDirectories: true)
        let line = "schedule: { every: quarter, window: \"Sat 02:00-04:00\", timezone: America/Los_Angeles }"
        for (name, schedule) in [("open", line),
                                 ("later", "schedule: { every: quarter, window: \"Sun 03:00-04:00\", timezone: America/Los_Angeles }"),
                                 ("frozen", "schedule: { every: quarter, window: \"Sat 02:00-04:00\", timezone: America/Los_Angeles, blackout: [\"2027-01-01..2027-01-03\"] }")] {
            _ = try lab.ehrPlaybook([(line, schedule), ("service: ehr-db", "service: ehr-db-\(name)")], at: "\(books)/\(name).yml")
        }
        // Saturday 2027-01-02 02:30 in Los Angeles: "open" is in its window, "later" waits for Sunday, "frozen" is in a blackout.
        let r = try Firedrill.run(["due", "--dir", books, "-i", lab.inventory, "--db", db, "--now", "2027-01-02T10:30:00Z",
                                   "--run", "--yes", "--manual=pass", "--runs-dir", runs])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("running ehr-db-open") && r.stdout.contains("Drill PASSED"), "\(r.stdout)")
        #expect(r.stdout.contains("skipped ehr-db-later: outside its window"), "\(r.stdout)")
        #expect(r.stdout.contains("skipped ehr-db-frozen: in blackout 2027-01-01..2027-01-03"), "\(r.stdout)")
        #expect(r.stdout.contains("1 drill run, 2 skipped"))
        // It ran as a drill does: a journal, and a run in the history.
        let history = try Firedrill.run(["history", "--db", db, "--format", "json"])
        let entries = try JSONDecoder().decode([HistoryEntry].self, from: Data(history.stdout.utf8))
        #expect(entries.map(\.service) == ["ehr-db-open"] && entries.first?.result == "passed")
        // A service being drilled (its lock held by a live process) is skipped, not run twice.
        let holder = RunLock.Holder(run: "held-by-test", runs: runs, user: "test", controller: "test")
        let held = try RunLock.acquire([.service("ehr-db-open")], in: runs + "/.locks", holder: holder).get()
        defer { held.release() }
        let again = try Firedrill.run(["due", "--dir", books, "-i", lab.inventory, "--db", db, "--now", "2027-01-02T10:45:00Z",
                                       "--run", "--yes", "--manual=pass", "--runs-dir", runs], environment: ["FIREDRILL_LOCK_DIR": runs + "/.locks"])
        #expect(again.status == 0 && again.stdout.contains("skipped ehr-db-open: already being drilled (run held-by-test"), "\(again.stdout)")
    }
}
