import Foundation
import Testing
@testable import FiredrillCore

/// The resident executor through the built binary, on a lab: each host says how it runs
/// commands; a host where Python cannot start it runs its commands one channel each, and the
/// drill is the same; `--executor channel` never starts it; a timeout kills the command's
/// group on the host through it.
@Suite(.serialized) struct ExecutorCLITests {
    typealias Scenario = DrillScenarioTests

    func write(_ lab: TestLab, _ name: String, _ text: String) throws -> String {
        let path = "\(lab.dir)/\(name)-\(UUID().uuidString.prefix(6)).yml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The lab's inventory, with db2's Python somewhere it is not.
    func inventoryWithoutPython(_ lab: TestLab) throws -> String {
        let text = try String(contentsOfFile: lab.inventory, encoding: .utf8)
        let changed = text.replacingOccurrences(of: "db2: { ansible_port:", with: "db2: { ansible_python_interpreter: /no/such/python3, ansible_port:")
        #expect(changed != text, "the lab's inventory names db2 as expected")
        return try write(lab, "inventory", changed)
    }

    func playbook(_ lab: TestLab) throws -> String {
        try write(lab, "pb", """
        name: Executor
        service: executor-\(UUID().uuidString.prefix(6))
        steps:
          - { name: Say, on: "db1:db2", run: "echo said-$FIREDRILL_CMD-$(hostname)" }
          - { name: Slow, on: "db1:db2", run: "echo $$ > $FIREDRILL_LAB_DIR/hosts/{{ inventory_hostname }}/state/slow-pid; sleep 30", timeout: 1s }
        restore:
          - { name: Back, on: "db1:db2", run: "true" }
        """)
    }

    func executors(_ events: [JournalLine]) -> [String: String] {
        Dictionary(events.filter { $0.event == .hostReady }.map { ($0.host ?? "", $0.data?["executor"] ?? "") }, uniquingKeysWith: { a, _ in a })
    }

    @Test(arguments: ["auto", "channel"])
    func eachHostSaysHowItRunsCommandsAndTheDrillIsTheSame(executor: String) throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let r = try Firedrill.run(["run", try playbook(lab), "-i", try inventoryWithoutPython(lab), "--yes", "--output", "plain",
                                   "--runs-dir", runs, "--executor", executor])
        // The slow step times out on both hosts: the drill fails, restore runs.
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let (_, events) = Scenario.journal(runs)
        let ways = executors(events)
        if executor == "auto" {
            #expect(ways["db1"]?.hasPrefix("resident executor (pid ") == true, "\(ways)")
            #expect(ways["db2"]?.hasPrefix("one channel per command (/no/such/python3 could not run it: ") == true, "\(ways)")
        } else {
            #expect(ways["db1"] == "one channel per command" && ways["db2"] == "one channel per command", "\(ways)")
        }
        for host in ["db1", "db2"] {
            let finished = events.filter { $0.event == .commandFinished && $0.host == host }
            let said = try #require(finished.first { $0.step == "failover.1" })
            let out: String = said.stdout ?? ""
            #expect(said.exit == 0 && out.hasPrefix("said-"), "\(said)")
            let slow = try #require(finished.first { $0.step == "failover.2" })
            #expect(slow.timedOut == true, "\(slow)")
            // The timeout killed the command's shell on the host.
            let pid = try String(contentsOfFile: "\(lab.dir)/hosts/\(host)/state/slow-pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try lab.runSync(host, "kill -0 \(pid) 2>/dev/null && echo alive || echo gone") == "gone\n")
        }
        #expect(events.contains { $0.event == .restoreFinished && $0.result == "completed" })
    }

    /// Interpreters that are not the executor: one says the greeting, then neither reads nor
    /// answers; one floods standard error (the launch's process id must not be lost in it).
    @Test(arguments: [("echo 'FIREDRILL-EXECUTOR-1 123'", " (it greeted, then did not answer))"),
                      ("head -c 50000 /dev/zero | tr '\\0' e >&2", ")")])
    func anInterpreterThatIsNotTheExecutorIsGivenUpAndStopped(says: String, reason: String) throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let fake = "\(lab.dir)/fake-python"
        try "#!/bin/sh\necho $$ > \(lab.dir)/fake-python.pid\n\(says)\nexec sleep 100\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let text = try String(contentsOfFile: lab.inventory, encoding: .utf8)
        let inventory = try write(lab, "inventory", text.replacingOccurrences(of: "db2: { ansible_port:", with: "db2: { ansible_python_interpreter: \(fake), ansible_port:"))
        let r = try Firedrill.run(["plan", try playbook(lab), "-i", inventory, "--preflight", "--connect-timeout", "2s"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let db2 = r.stdout.split(separator: "\n").first { $0.contains("db2") && $0.contains(" ok ") } ?? ""
        #expect(db2.contains("one channel per command (\(fake) did not start it within 2s\(reason)"), "\(r.stdout)")
        // What it left running was killed with its group.
        let pid = try String(contentsOfFile: "\(lab.dir)/fake-python.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try lab.runSync("db1", "kill -0 \(pid) 2>/dev/null && echo alive || echo gone") == "gone\n")
    }

    @Test func preflightNamesTheWayOfEachHost() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let r = try Firedrill.run(["plan", try playbook(lab), "-i", try inventoryWithoutPython(lab), "--preflight"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let db1 = r.stdout.split(separator: "\n").first { $0.contains("db1") && $0.contains(" ok ") } ?? ""
        let db2 = r.stdout.split(separator: "\n").first { $0.contains("db2") && $0.contains(" ok ") } ?? ""
        #expect(db1.contains("resident executor (pid"), "\(r.stdout)")
        #expect(db2.contains("one channel per command (/no/such/python3 could not run it"), "\(r.stdout)")
    }
}
