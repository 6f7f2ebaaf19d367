import Foundation
import Testing
@testable import FiredrillCore
import FiredrillBench

/// The history through the binary: a drill records itself, two writers at once, a database that
/// cannot be written never costs the drill, annotations and action items from the command line.
@Suite struct HistoryCLITests {
    typealias Scenario = DrillScenarioTests

    @Test func aDrillIsRecordedWithItsGradeAndTheScoreAgrees() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let db = lab.dir + "/history.sqlite"
        let r = try Firedrill.run(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass", "--runs-dir", runs,
                                   "--db", db, "--output", "plain"])
        #expect(r.status == 0, "\(r.stderr)")
        let (id, _) = Scenario.journal(runs)
        let listed = try Firedrill.run(["history", "--db", db, "--format", "json"])
        let entries = try JSONDecoder().decode([HistoryEntry].self, from: Data(listed.stdout.utf8))
        let entry = try #require(entries.first)
        #expect(entry.id == id && entry.service == "ehr-db" && entry.result == "passed" && entry.grade == "B" && entry.score == 89,
                "--manual=pass caps at 89: \(entry)")
        let score = try Firedrill.run(["score", "latest", "--runs-dir", runs])
        #expect(score.stdout.contains("Score 89/100 (B)"), "\(score.stdout)")
        #expect(r.stdout.contains("score    89/100 (B)"))
        // Annotate it, list its action, close it; bad input is one clear line and exit 2.
        let ann = try Firedrill.run(["annotate", id ?? "", "--db", db, "--verdict", "partial", "--note", "pharmacy confirmed late",
                                     "--action", "pharmacy-lead: print the list earlier, due 2099-01-15", "--by", "alice"])
        #expect(ann.status == 0, "\(ann.stderr)")
        let actions = try Firedrill.run(["actions", "--open", "--db", db])
        #expect(actions.stdout.contains("pharmacy-lead: print the list earlier") && actions.stdout.contains("due 2099-01-15"))
        let done = try Firedrill.run(["actions", "done", "1", "--db", db, "--by", "bob"])
        let open = try Firedrill.run(["actions", "--open", "--db", db])
        #expect(done.status == 0 && open.stdout.contains("no action items"))
        let chain = try Firedrill.run(["annotations", id ?? "", "--db", db])
        #expect(chain.status == 0 && chain.stdout.contains("chain intact"))
        for bad in [["annotate", "nope", "--db", db, "--verdict", "pass", "--note", "x"],
                    ["annotate", id ?? "", "--db", db, "--verdict", "great", "--note", "x"],
                    ["annotate", id ?? "", "--db", db, "--verdict", "pass", "--note", "x", "--action", "no owner or date"],
                    ["annotate", id ?? "", "--db", db, "--verdict", "pass", "--note", "x", "--action", "a: b, due 2001-01-01"]] {
            let b = try Firedrill.run(bad)
            #expect(b.status == 2 && b.stderr.split(separator: "\n").count <= 2, "\(bad): \(b.stderr)")
        }
    }

    @Test func twoWritersAtOnceAreBothRecorded() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-hist2-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for i in 0..<30 {
            _ = try await SyntheticJournal.write(runs: dir + "/a", id: "a-\(i)")
            _ = try await SyntheticJournal.write(runs: dir + "/b", id: "b-\(i)", service: "dns")
        }
        let db = dir + "/h.sqlite"
        let one = try Firedrill.start(["import", dir + "/a", "--db", db])
        let two = try Firedrill.start(["import", dir + "/b", "--db", db])
        let (r1, r2) = (one.wait(), two.wait())
        #expect(r1.status == 0 && r2.status == 0, "\(r1.stderr)\(r2.stderr)")
        let listed = try Firedrill.run(["history", "--db", db, "--format", "json"])
        #expect(try JSONDecoder().decode([HistoryEntry].self, from: Data(listed.stdout.utf8)).count == 60)
        // Importing again changes nothing; rebuilding gives the same.
        let again = try Firedrill.run(["import", dir + "/a", dir + "/b", "--db", db])
        #expect(again.stdout.contains("0 added, 0 updated, 60 already there"))
        let rebuilt = try Firedrill.run(["history", "--rebuild", "--runs-dir", dir + "/a", "--runs-dir", dir + "/b", "--db", db])
        #expect(rebuilt.status == 0 && rebuilt.stdout.contains("60 runs"), "\(rebuilt.stdout)\(rebuilt.stderr)")
    }

    @Test func aDatabaseThatCannotBeWrittenNeverCostsTheDrill() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let db = lab.dir + "/corrupt.sqlite"
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: db))
        let r = try Firedrill.run(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass", "--runs-dir", runs,
                                   "--db", db, "--output", "plain"])
        #expect(r.status == 0, "the drill's own result: \(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("history was not updated") && r.stderr.contains("firedrill history --rebuild --runs-dir \(runs) --db \(db)"), "\(r.stderr)")
        #expect(!r.stderr.contains("SQLITE_") && !r.stderr.contains("DatabaseError"))
        // Reading it says the same way out, once, with the exit of damage (1), not of bad input.
        let listed = try Firedrill.run(["history", "--db", db])
        #expect(listed.status == 1 && listed.stderr.contains("not a healthy SQLite database") && listed.stderr.contains("history --rebuild"), "\(listed.stderr)")
        // And the way out works in place: the broken file is kept beside the rebuilt one.
        let rebuilt = try Firedrill.run(["history", "--rebuild", "--runs-dir", runs, "--db", db])
        #expect(rebuilt.status == 0 && rebuilt.stdout.contains(": 1 run from") && rebuilt.stderr.contains(".broken-"), "\(rebuilt.stdout)\(rebuilt.stderr)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: lab.dir).filter { $0.hasPrefix("corrupt.sqlite.broken-") }
        #expect(aside.count == 1)
        let after = try Firedrill.run(["history", "--db", db, "--format", "json"])
        #expect(try JSONDecoder().decode([HistoryEntry].self, from: Data(after.stdout.utf8)).count == 1)
    }
}
