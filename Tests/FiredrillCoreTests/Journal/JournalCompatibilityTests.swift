import Foundation
import Testing
@testable import FiredrillCore

/// Journals written before the typed record still read, fold and score the same: the recorded
/// lab journals round-trip byte for byte through the typed events, and a format-0 journal (no
/// `format`, facts in `data`, a check's result in `passed`) folds as it always did.
@Suite struct JournalCompatibilityTests {
    static let recorded = ["passed", "failed", "interrupted", "preconditions", "unreachable"]

    @Test(arguments: recorded)
    func everyRecordedLineIsWrittenBackByteForByte(_ name: String) throws {
        let path = Fixtures.path("reports/\(name).jsonl")
        let archive = try RunArchive.open(path)
        #expect(archive.problem == nil && archive.sealed, "\(archive.problem ?? "")")
        let contents = try JournalReader.read(path: path)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == archive.eventCount && lines.count == contents.events.count)
        for (line, event) in zip(lines, contents.events) {
            let again = String(decoding: try Journal.encoder.encode(event), as: UTF8.self)
            #expect(again == String(line), "\(event.kind.rawValue) #\(event.seq)")
        }
    }

    /// What each recorded journal scored when it was recorded (the report goldens hold the rest).
    @Test(arguments: zip(recorded, [(89.0, "B"), (80.0, "B"), (20.0, "F"), (0.0, "F"), (0.0, "F")]))
    func recordedJournalsScoreAsTheyDid(_ name: String, _ expected: (Double, String)) throws {
        let archive = try RunArchive.open(Fixtures.path("reports/\(name).jsonl"))
        let score = Score(archive.record)
        #expect(score.points == expected.0 && score.grade.rawValue == expected.1, "\(name): \(score.points) \(score.grade)")
    }

    @Test func aFormatZeroJournalStillFolds() throws {
        // Lines as runners wrote them before formats were named.
        let raw = [
            #"{"data":{"criticality":"high","inventory":"/inv.yml","operator":"alice","playbook":"/p.yml","playbook_sha256":"abc","service":"ehr-db","rto_objective_seconds":"300"},"event":"run_started","name":"EHR","run":"r0","seq":1,"time":"2025-01-01T00:00:00.000Z"}"#,
            #"{"check":"api","event":"check_result","passed":true,"phase":"steady_state","run":"r0","seq":2,"time":"2025-01-01T00:00:01.000Z"}"#,
            #"{"event":"step_started","name":"Stop","phase":"failover","run":"r0","seq":3,"step":"failover.1","time":"2025-01-01T00:00:02.000Z"}"#,
            #"{"check":"db_port","event":"check_result","passed":false,"phase":"failover","result":"down as expected","run":"r0","seq":4,"step":"failover.1","time":"2025-01-01T00:00:03.000Z"}"#,
            #"{"detail":"recorded as confirmed by --manual=pass (not asked)","event":"manual_result","phase":"failover","result":"confirmed","run":"r0","seq":5,"step":"failover.1","time":"2025-01-01T00:00:04.000Z"}"#,
            #"{"event":"step_finished","phase":"failover","result":"passed","run":"r0","seq":6,"step":"failover.1","time":"2025-01-01T00:00:05.000Z"}"#,
            #"{"data":{"touched":"true"},"event":"run_ended","result":"passed","run":"r0","seq":7,"time":"2025-01-01T00:00:06.000Z"}"#,
        ]
        var prev = Journal.genesis
        var text = ""
        for line in raw {
            let chained = String(line.dropLast()) + #","prev":""# + prev + #""}"#
            prev = Journal.sha256(Data(chained.utf8))
            text += chained + "\n"
        }
        let c = JournalReader.verify(Data(text.utf8))
        #expect(c.problem == nil, "\(c.problem ?? "")")
        let r = DrillRecord.fold(c.events)
        #expect(r.format == nil && r.facts?.service == "ehr-db" && r.facts?.rtoObjectiveSeconds == 300 && r.facts?.operator == "alice")
        #expect(r.steadyState.first?.met == true && r.steadyState.first?.outcome == .passed)
        let down = try #require(r.steps.first?.verify?.samples.first)
        #expect(down.expect == .down && down.outcome == .failed && down.met, "format 0 said 'down as expected'")
        #expect(r.steps.first?.manualAnsweredBy == "--manual", "format 0 said who answered in the detail")
        #expect(r.ending?.result == .passed && r.ending?.touched == true && r.status == .passed)
    }

    @Test func anUnknownValueLeavesItsFieldEmptyInsteadOfRejectingTheLine() throws {
        let line = #"{"event":"step_finished","phase":"failover","result":"a-later-result","run":"r","seq":1,"step":"failover.1","time":"t","prev":"p"}"#
        let decoded = try #require(JournalLineDecoder.decode(ArraySlice(Array(line.utf8))))
        let e = JournalEvent(line: decoded)
        guard case let .stepFinished(p) = e.payload else { Issue.record("not a step_finished: \(e.kind)"); return }
        #expect(p.result == nil && p.step == "failover.1")
    }
}
