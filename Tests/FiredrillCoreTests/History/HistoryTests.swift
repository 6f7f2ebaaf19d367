import Foundation
import GRDB
import Testing
@testable import FiredrillCore
import FiredrillBench

/// The history database on real SQLite files: migrations, idempotent import, refusals,
/// annotations chained and tamper-evident.
@Suite struct HistoryTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-history-\(UUID().uuidString.prefix(8))").path

    /// A finished run's journal, hash-chained like a runner writes it.
    static func writeJournal(runs: String, id: String, service: String = "ehr-db", rto: Double = 60, started: String = "2026-11-01T02:00:00.000Z",
                             result: RunResult = .passed, finish: Bool = true) async throws -> String {
        try await SyntheticJournal.write(runs: runs, id: id, service: service, rto: rto, started: started, result: result, finish: finish)
    }

    @Test func migratesAnEmptyFileAndOpensItAgain() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/h.sqlite"
        _ = try History(path: path)
        let again = try History(path: path)
        let applied = try again.pool.read { db in try History.migrator.appliedIdentifiers(db) }
        #expect(Set(applied) == ["v1: runs, steps, checks, deductions, annotations, action items", "v2: index runs by service and start, for trends",
                                "v3: score components per run, for the scorecard", "v4: each run's annotation count and chain tip, kept apart from the chain"])
        let tables = try again.pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }
        for t in ["action_item", "annotation", "annotation_tip", "check_result", "deduction", "run", "score_component", "step"] { #expect(tables.contains(t)) }
    }

    @Test func aDatabaseOfTheFirstVersionIsMigratedWithItsRunsKept() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/v1.sqlite"
        do {
            let v1 = try DatabasePool(path: path)
            try History.migrator.migrate(v1, upTo: "v1: runs, steps, checks, deductions, annotations, action items")
            let journal = try await Self.writeJournal(runs: dir + "/runs", id: "old")
            // A v1 database with a run in it (written as v1 would: the v1 tables are unchanged).
            let record = DrillRecord.fold(try JournalReader.read(path: journal).events)
            try await v1.write { db in try RunRow(record, journal: journal, head: "h", events: 1).insert(db, score: Score(record)) }
        }
        let db = try History(path: path)
        let applied = try await db.pool.read { d in try History.migrator.appliedIdentifiers(d) }
        #expect(applied.count == 4)
        #expect(try await db.entries().map(\.id) == ["old"])
        let indexes = try await db.pool.read { d in try String.fetchAll(d, sql: "SELECT name FROM sqlite_master WHERE type = 'index'") }
        #expect(indexes.contains("run_by_service_started"))
    }

    @Test func importIsIdempotentAndRefusesDamagedOrUnfinishedJournals() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runs = dir + "/runs"
        let path = try await Self.writeJournal(runs: runs, id: "r1")
        let db = try History(path: dir + "/h.sqlite")
        #expect(try await db.ingest(journal: path).result == .added)
        #expect(try await db.ingest(journal: path).result == .unchanged)
        #expect(await db.ingest(runsFolder: runs).unchanged == 1)
        let count = try await db.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM run") }
        #expect(count == 1)
        let entry = try #require(try await db.entries().first)
        #expect(entry.id == "r1" && entry.score == 100 && entry.grade == "A" && entry.rtoSeconds == 60)
        // Unfinished, then damaged: refused with the reason.
        let open = try await Self.writeJournal(runs: runs, id: "r2", finish: false)
        await #expect { try await db.ingest(journal: open) } throws: { ($0 as? History.Failure)?.message.contains("has not ended") == true }
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"host1\"", with: "\"host9\"")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        await #expect { try await db.ingest(journal: path) } throws: { ($0 as? History.Failure)?.message.contains("damaged") == true }
    }

    @Test func trendComparesWithTheServicesPreviousRun() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runs = dir + "/runs"
        let db = try History(path: dir + "/h.sqlite")
        _ = try await db.ingest(journal: try await Self.writeJournal(runs: runs, id: "a1", rto: 60, started: "2026-09-01T02:00:00.000Z"))
        _ = try await db.ingest(journal: try await Self.writeJournal(runs: runs, id: "a2", rto: 450, started: "2026-12-01T02:00:00.000Z"))
        _ = try await db.ingest(journal: try await Self.writeJournal(runs: runs, id: "b1", service: "dns", started: "2026-11-01T02:00:00.000Z"))
        let all = try await db.entries()
        #expect(all.map(\.id) == ["a2", "b1", "a1"])
        #expect(all[0].trend == .down && all[0].previousScore == 100 && all[1].trend == .first)
        #expect(try await db.entries(service: "ehr-db", since: "2026-10-01").map(\.id) == ["a2"])
        #expect(try await db.entries(limit: 1).count == 1)
    }

    @Test func annotationsAreChainedAndAChangeIsDetected() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try History(path: dir + "/h.sqlite")
        _ = try await db.ingest(journal: try await Self.writeJournal(runs: dir + "/runs", id: "r1"))
        let first = try await db.annotate(run: "r1", verdict: .partial, note: "rejoin needed pg_rewind",
                                          actions: [.init(owner: "dba", item: "script pg_rewind", due: "2027-01-15")], by: "alice")
        let second = try await db.annotate(run: "r1", verdict: .pass, note: "re-checked", actions: [], by: "bob")
        #expect(second.prevHash == first.hash && first.prevHash == Journal.genesis && first.journalHead.count == 64)
        let (list, broken) = try await db.annotations(of: "r1")
        #expect(list.count == 2 && broken == nil)
        #expect(try await db.actions(openOnly: true, service: "ehr-db").map(\.item) == ["script pg_rewind"])
        let itemID = try #require(try await db.actions(openOnly: true, service: nil).first?.id)
        let done = try await db.completeAction(itemID, by: "carol")
        #expect(done.status == "done" && done.doneBy == "carol")
        let open = try await db.actions(openOnly: true, service: nil), all = try await db.actions(openOnly: false, service: nil)
        #expect(open.isEmpty && all.count == 1, "closed, not deleted")
        await #expect { try await db.completeAction(itemID, by: "carol") } throws: { ($0 as? History.Failure)?.message.contains("already done") == true }
        // Someone edits the first annotation in the database.
        try await db.pool.write { d in try d.execute(sql: "UPDATE annotation SET verdict = 'pass' WHERE id = ?", arguments: [first.id]) }
        let (_, tampered) = try await db.annotations(of: "r1")
        #expect(tampered?.contains("annotation \(first.id ?? 0)") == true)
        await #expect { try await db.annotate(run: "nope", verdict: .pass, note: "x", actions: [], by: "a") } throws: {
            ($0 as? History.Failure)?.message.contains("not in the history") == true
        }
    }

    @Test func removingTheLastAnnotationsOrEditingAValueIsDetectedNotACrash() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try History(path: dir + "/h.sqlite")
        _ = try await db.ingest(journal: try await Self.writeJournal(runs: dir + "/runs", id: "r1"))
        _ = try await db.annotate(run: "r1", verdict: .partial, note: "first", actions: [], by: "a")
        let last = try await db.annotate(run: "r1", verdict: .pass, note: "second", actions: [], by: "b")
        #expect(try await db.annotations(of: "r1").broken == nil)
        try await db.pool.write { d in try d.execute(sql: "DELETE FROM annotation WHERE id = ?", arguments: [last.id]) }
        #expect(try await db.annotations(of: "r1").broken?.contains("had 2 annotations, 1 remain") == true)
        try await db.pool.write { d in try d.execute(sql: "DELETE FROM annotation") }
        #expect(try await db.annotations(of: "r1").broken?.contains("removed") == true)
        // A value Firedrill never writes is a failure with a message, not a crash.
        try await db.pool.write { d in try d.execute(sql: "UPDATE run SET score = 'abc'") }
        await #expect { try await db.entries() } throws: { ($0 as? History.Failure)?.message.contains("edited by hand") == true }
    }

    @Test func anEditedCopyOfAnIndexedJournalIsRefusedAndAGrownOneReplacesIt() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try History(path: dir + "/h.sqlite")
        let path = try await Self.writeJournal(runs: dir + "/runs", id: "r1", result: .failed)
        _ = try await db.ingest(journal: path)
        // The copy's last line says the drill passed; without the seal file nothing else says otherwise.
        let copy = dir + "/copy/journal.jsonl"
        try FileManager.default.createDirectory(atPath: dir + "/copy", withIntermediateDirectories: true)
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[lines.count - 1] = lines[lines.count - 1].replacingOccurrences(of: "\"result\":\"failed\"", with: "\"result\":\"passed\"")
        try (lines.joined(separator: "\n") + "\n").write(toFile: copy, atomically: true, encoding: .utf8)
        await #expect { try await db.ingest(journal: copy) } throws: { ($0 as? History.Failure)?.message.contains("does not extend") == true }
        #expect(try await db.entries().first?.result == "failed")
        // The same run's journal grown by more events (a resume) replaces the indexed one.
        let grown = try await Self.writeJournal(runs: dir + "/grown", id: "r1", result: .failed)
        var g = try String(contentsOfFile: grown, encoding: .utf8)
        let contents = try JournalReader.read(path: grown)
        var extra = JournalEvent(.resumed(.init(detail: nil, lastEvent: nil)))
        extra.seq = contents.events.count + 1
        extra.run = "r1"
        extra.time = "2026-11-01T03:00:00.000Z"
        extra.prev = contents.lastHash
        var ended = JournalEvent(.runEnded(.init(result: .passed)))
        ended.seq = extra.seq + 1
        ended.run = "r1"
        ended.time = extra.time
        let extraLine = try Journal.encoder.encode(extra)
        ended.prev = Journal.sha256(extraLine)
        g += String(decoding: extraLine, as: UTF8.self) + "\n" + String(decoding: try Journal.encoder.encode(ended), as: UTF8.self) + "\n"
        try g.write(toFile: grown, atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: grown + ".head")
        let r = try await db.ingest(journal: grown)
        #expect(r.result == .replaced && !r.sealed)
    }

    @Test func aRebuildFromNothingChangesNothingAndIsAllOrNothing() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try History(path: dir + "/h.sqlite")
        _ = try await db.ingest(journal: try await Self.writeJournal(runs: dir + "/runs", id: "r1"))
        await #expect { try await db.rebuild(from: [dir + "/missing"]) } throws: { ($0 as? History.Failure)?.message.contains("not a folder") == true }
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        await #expect { try await db.rebuild(from: [dir + "/empty"]) } throws: { ($0 as? History.Failure)?.message.contains("nothing rebuilt") == true }
        #expect(try await db.entries().count == 1)
        let r = try await db.rebuild(from: [dir + "/runs", dir + "/runs"])
        #expect(r.added == 1, "a folder given twice counts once")
    }

    @Test func anExistingDatabaseThatCannotBeWrittenIsReadAsItIs() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/h.sqlite"
        do {
            let db = try History(path: path)
            _ = try await db.ingest(journal: try await Self.writeJournal(runs: dir + "/runs", id: "r1"))
        }
        #expect(throws: History.Failure.self) { try History(path: dir + "/none.sqlite", existing: true) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/none.sqlite"), "reading never creates a database")
        // Made read-only for everyone (root ignores file modes, so the check is whether it opens read-only).
        chmod(path, 0o444)
        let ro = try History(path: path, existing: true)
        if getuid() != 0 { #expect(ro.readOnly) }
        #expect(try await ro.entries().map(\.id) == ["r1"])
    }

    @Test(arguments: [
        ("dba: fix it, due 2027-01-15", true),
        ("fix it, due 2027-01-15", false),          // no owner
        ("dba: fix it", false),                     // no due date
        ("dba: fix it, due 2027-02-30", false),     // not a date
        ("dba: fix it, due 2026-11-30", false),     // in the past
        (": fix it, due 2027-01-15", false),
    ])
    func actionItemsAreParsedOrRefusedInWords(_ text: String, _ ok: Bool) {
        switch Annotation.Action.parse(text, today: "2026-12-01") {
        case .success: #expect(ok, "\(text)")
        case let .failure(d): #expect(!ok && d.message.contains("--action"), "\(text): \(d.message)")
        }
    }
}
