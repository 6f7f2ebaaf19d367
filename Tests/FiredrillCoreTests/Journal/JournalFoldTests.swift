import Foundation
import Testing
@testable import FiredrillCore

/// Reading a journal in one pass without keeping its events gives what reading it whole gives:
/// the same record, count, head and verdict — intact, torn, edited, cut, extended past its seal.
@Suite struct JournalFoldTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/Fixtures/reports"

    /// A copy of a fixture journal (and its seal), changed by `damage`.
    static func journal(_ name: String, _ damage: (inout [String], inout String?) -> Void = { _, _ in }) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-fold-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var lines = try String(contentsOfFile: "\(fixtures)/\(name).jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        var head: String? = try? String(contentsOfFile: "\(fixtures)/\(name).jsonl.head", encoding: .utf8)
        damage(&lines, &head)
        try (lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")).write(toFile: dir + "/journal.jsonl", atomically: true, encoding: .utf8)
        if let head { try head.write(toFile: dir + "/journal.jsonl.head", atomically: true, encoding: .utf8) }
        return dir + "/journal.jsonl"
    }

    func expectSame(_ path: String, _ what: String) throws {
        let whole = try JournalReader.read(path: path)
        let folded = try JournalReader.fold(path: path)
        #expect(folded.record == DrillRecord.fold(whole.events), "\(what): records differ")
        #expect(folded.count == whole.events.count && folded.lastHash == whole.lastHash, "\(what): \(folded.count)/\(whole.events.count)")
        #expect(folded.problem == whole.problem, "\(what): \(folded.problem ?? "intact") vs \(whole.problem ?? "intact")")
        #expect(folded.tornTail == whole.tornTail, "\(what)")
        // Each kept line's hash is the next line's prev.
        let archive = try RunArchive.open(path)
        for (i, e) in whole.events.enumerated() { #expect(archive.prev(ofLine: i) == e.prev, "\(what): prev of line \(i + 1)") }
    }

    @Test(arguments: ["passed", "failed", "interrupted", "preconditions", "unreachable"])
    func anIntactJournalFoldsAsReadWhole(_ name: String) throws {
        try expectSame(try Self.journal(name), name)
    }

    @Test func aDamagedJournalIsSaidAndFoldedAsReadWhole() throws {
        try expectSame(try Self.journal("failed") { lines, _ in lines[lines.count - 1] = String(lines[lines.count - 1].prefix(40)) + "\n" }, "torn")
        try expectSame(try Self.journal("failed") { lines, _ in lines[lines.count - 1].removeLast(); lines.append("{\"seq\": 9") }, "torn, unsealed")
        try expectSame(try Self.journal("failed") { lines, _ in lines.remove(at: 5) }, "a line removed")
        try expectSame(try Self.journal("failed") { lines, _ in lines[7] = lines[7].replacingOccurrences(of: "\"detail\":\"", with: "\"detail\":\"x") }, "a line edited")
        try expectSame(try Self.journal("failed") { lines, _ in lines.removeLast(3) }, "cut before its seal")
        try expectSame(try Self.journal("failed") { lines, _ in lines[lines.count - 1] = "not json" }, "not an event")
        try expectSame(try Self.journal("failed") { _, head in head = "nonsense" }, "a seal that is not one")
        try expectSame(try Self.journal("failed") { lines, _ in
            lines[lines.count - 1] = lines[lines.count - 1].replacingOccurrences(of: "\"result\":\"failed\"", with: "\"result\":\"passed\"")
        }, "the sealed last line changed")
        try expectSame(try Self.journal("passed") { lines, head in
            // A line added after the seal, chained correctly.
            let last = try! JSONSerialization.jsonObject(with: Data(lines[lines.count - 1].utf8)) as! [String: Any]
            let digest = Journal.sha256(Array(lines[lines.count - 1].utf8))
            lines.append("{\"seq\":\((last["seq"] as! Int) + 1),\"time\":\"2026-12-01T18:00:00.000Z\",\"event\":\"journal_failed\",\"run\":\"\(last["run"] as! String)\",\"detail\":\"added\",\"prev\":\"\(digest)\"}")
        }, "a line added after the seal")
        try expectSame(try Self.journal("passed") { lines, head in lines = []; head = nil }, "empty")
    }
}
