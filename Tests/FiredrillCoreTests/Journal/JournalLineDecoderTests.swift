import Foundation
import Testing
@testable import FiredrillCore

/// The fast line reader must give exactly what Codable gives, or step aside.
@Suite struct JournalLineDecoderTests {
    func encoded(_ e: JournalLine) throws -> ArraySlice<UInt8> { ArraySlice(try Journal.encoder.encode(e)) }

    @Test func readsWhatCodableReadsForEveryKindOfField() throws {
        var e = JournalLine(.commandFinished)
        e.seq = 42; e.time = "2026-12-01T02:00:00.000Z"; e.offsetMS = 1234.5; e.run = "r-1"; e.prev = String(repeating: "a", count: 64)
        e.phase = .failover; e.step = "failover.2"; e.host = "db1"; e.passed = false; e.exit = 3; e.timedOut = false; e.durationMS = 12.25
        e.stdout = "quote \" backslash \\ tab \t newline \n unicode é€😀 control \u{01}"
        e.stderr = "slash / and \u{2028}"; e.outputCutBytes = 7; e.result = "unknown"; e.detail = "x"; e.pgid = 4242; e.processTag = "t1"
        e.outcome = .error; e.expect = .down; e.met = false; e.answeredBy = "operator"; e.seconds = 0.001; e.fromOffsetMS = 0; e.toOffsetMS = 1e6
        e.data = ["touched": "true", "restore": "completed"]
        e.spec = try JSONDecoder().decode(StepSpec.self, from: Data(#"{"kind":"command","hosts":["db1"],"batches":[["db1"]],"timeout_seconds":60,"max_fail_percentage":0,"disruptive":true,"verify":{"within_seconds":30,"hold_seconds":3,"checks":[{"name":"api","type":"http","expect":"up"}]}}"#.utf8))
        e.plan = .object(["a": .array([.number(1), .null, .bool(true), .string("x")])])
        let bytes = try encoded(e)
        #expect(JournalLineDecoder.decode(bytes) == e)
        #expect(JournalLineDecoder.decode(bytes) == (try JSONDecoder().decode(JournalLine.self, from: Data(bytes))))
    }

    @Test(arguments: [
        #"{"event":"no_such_event","seq":1}"#,          // an unknown kind: Codable decides (and refuses)
        #"{"event":"rto","seq":1.5}"#,                   // not an integer
        #"{"event":"rto","seq":1"#,                      // cut short
        #"{"event":"rto","phase":"nowhere","seq":1}"#,   // an unknown phase
    ])
    func whatItIsNotSureOfIsLeftToCodable(_ line: String) {
        #expect(JournalLineDecoder.decode(ArraySlice(Array(line.utf8))) == nil)
    }

    @Test func unknownKeysAreSkippedAsCodableSkipsThem() throws {
        let line = #"{"event":"rto","future":{"x":[1,"}"]},"seconds":2,"seq":3,"run":"r","time":"t","prev":"p"}"#
        let fast = try #require(JournalLineDecoder.decode(ArraySlice(Array(line.utf8))))
        #expect(fast == (try JSONDecoder().decode(JournalLine.self, from: Data(line.utf8))))
        #expect(fast.seconds == 2 && fast.seq == 3)
    }
}
