import Foundation
import Testing
@testable import FiredrillCore

/// Notifications through the binary, to webhook receivers on loopback (a real HTTP server):
/// one that answers, a Slack-style one, one that answers 500, one that is down, one that never
/// answers; and a command. A failed drill reaches each once, with its fields; the ones that
/// cannot take it cost the drill at most their timeout, and every attempt is journaled.
@Suite struct NotifyCLITests {
    /// A receiver process on loopback; stopped by its PID.
    struct Receiver {
        let pid: pid_t
        let port: Int
        let log: String
        var url: String { "http://127.0.0.1:\(port)/hook/SECRET-TOKEN" }

        static func start(_ mode: String, in dir: String) throws -> Receiver {
            let port = try Lab.freePort()
            let log = "\(dir)/receiver-\(mode)-\(port).jsonl"
            let pid = try ChildProcess.spawn(["/usr/bin/python3", "\(Firedrill.repoRoot)/Tests/IntegrationTests/Fixtures/receiver/webhook_receiver.py",
                                              "\(port)", mode, log], output: .devNull)
            // It says when it listens (a bound, so a broken python fails the test, not hangs it).
            let end = ContinuousClock.now + .seconds(20)
            while !FileManager.default.fileExists(atPath: log + ".ready") && ContinuousClock.now < end { usleep(10_000) }
            return Receiver(pid: pid, port: port, log: log)
        }

        func stop() { stopStarted(pid) }

        /// What it received: each POST's path and body, parsed.
        var entries: [(path: String, body: [String: Any])] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let body = entry["body"] as? String,
                      let parsed = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return nil }
                return (entry["path"] as? String ?? "", parsed)
            }
        }

        var received: [[String: Any]] { entries.map(\.body) }
    }

    @Test func aFailedDrillReachesEachReceiverOnceAndReceiversThatCannotTakeItAreJournaled() throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        let receivers = try ["ok", "slack", "500", "slow"].map { try Receiver.start($0 == "slack" ? "ok" : $0, in: lab.dir) }
        defer { receivers.forEach { $0.stop() } }
        let (ok, slack, failing, slow) = (receivers[0], receivers[1], receivers[2], receivers[3])
        let downPort = try Lab.freePort()
        let mailed = lab.dir + "/mailed.json"
        let notify = """
        notify:
          - { webhook: "\(ok.url)", on: [started, passed, failed] }
          - { webhook: env:FD_TEST_SLACK_URL, format: slack, on: [failed] }
          - { webhook: "http://127.0.0.1:\(failing.port)/hook", on: [failed], timeout: 3s, retries: 2 }
          - { webhook: "http://127.0.0.1:\(downPort)/hook", on: [failed], timeout: 2s, retries: 1 }
          - { webhook: "http://127.0.0.1:\(slow.port)/hook", on: [failed], timeout: 1s, retries: 0 }
          - { command: "cat > \(mailed); (sleep 127 &)", on: [failed] }

        steps:
        """
        try lab.knob("db2", "fail-pg_ctlcluster-promote")
        let playbook = try lab.ehrPlaybook([("\nsteps:", "\n" + notify)])
        // The configuration file's targets are told too.
        let config = lab.dir + "/config.yml"
        try "notify:\n  - { webhook: \"http://127.0.0.1:\(ok.port)/from-config\", on: [failed] }\n".write(toFile: config, atomically: true, encoding: .utf8)
        let d = try DrillScenarioTests().drill(playbook, lab, extra: ["--config", config], environment: ["FD_TEST_SLACK_URL": slack.url])
        #expect(d.result.status == 1, "\(d.result.stdout)\(d.result.stderr)")

        // The receiver that answers: started, then failed, once each, with the drill's fields.
        let entries = ok.entries
        let fromPlaybook = entries.filter { $0.path == "/hook/SECRET-TOKEN" }.map(\.body)
        #expect(fromPlaybook.map { $0["event"] as? String } == ["started", "failed"], "\(entries)")
        #expect(entries.filter { $0.path == "/from-config" }.map { $0.body["event"] as? String } == ["failed"], "\(entries)")
        let failed = try #require(fromPlaybook.last)
        #expect(failed["drill"] as? String == "EHR database failover" && failed["service"] as? String == "ehr-db")
        #expect(failed["result"] as? String == "failed" && failed["run_id"] as? String == d.runID)
        #expect(failed["score"] is Double && failed["grade"] is String && failed["restore"] as? String == "completed")
        #expect((failed["report"] as? String)?.contains("firedrill report \(d.runID ?? "")") == true)
        #expect((failed["failures"] as? [String])?.contains { $0.contains("failover.2") } == true, "\(failed)")
        // Slack's form: a text line only.
        let s = try #require(slack.received.first)
        #expect(s.keys.sorted() == ["text"] && (s["text"] as? String)?.contains("EHR database failover (ehr-db) FAILED") == true, "\(s)")
        // The command got the same JSON on its standard input.
        let mail = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: mailed))) as? [String: Any])
        #expect(mail["event"] as? String == "failed" && mail["run_id"] as? String == d.runID)
        // What it left in the background neither held the drill up nor outlived it.
        let ps = try ChildProcess.capture(["/bin/ps", "-eo", "args"])
        #expect(!ps.output.contains("sleep 127"), "a notification command's background child is still running")

        // Every attempt is journaled, before the end; the token in a URL never is. (The slow
        // receiver answers after 30 s: its attempt ends at its 1 s timeout, well before that.)
        let attempts = d.events(.notification)
        let ended = try #require(d.events.lastIndex { $0.event == .runEnded })
        #expect(d.events.lastIndex { $0.event == .notification }! < ended)
        func of(_ port: Int) -> [JournalLine] { attempts.filter { $0.name?.contains(":\(port)") == true } }
        #expect(of(failing.port).count == 3 && of(failing.port).allSatisfy { $0.passed == false && $0.detail?.hasPrefix("HTTP 500") == true },
                "\(of(failing.port).map { $0.detail ?? "" })")
        #expect(!of(downPort).isEmpty && of(downPort).allSatisfy { $0.passed == false && $0.detail?.contains("refused") == true },
                "\(of(downPort).map { $0.detail ?? "" })")
        let slowAttempt = try #require(of(slow.port).first)
        #expect(slowAttempt.passed == false && slowAttempt.detail == "no answer within 1s" && (slowAttempt.latencyMS ?? 0) < 5_000,
                "\(slowAttempt.detail ?? "") in \(slowAttempt.latencyMS ?? 0) ms")
        #expect(attempts.filter { $0.result == "failed" && $0.passed == true }.count == 4, "ok, the configuration's, slack and the command delivered")
        #expect(attempts.contains { $0.name == "webhook env:FD_TEST_SLACK_URL" })
        let journal = try String(contentsOfFile: RunStore(root: d.runsDir).journalPath(try #require(d.runID)), encoding: .utf8)
        #expect(!journal.contains("SECRET-TOKEN"), "a webhook's token reached the journal")
        #expect(!d.result.stdout.contains("SECRET-TOKEN") && !d.result.stderr.contains("SECRET-TOKEN"))
    }
}
