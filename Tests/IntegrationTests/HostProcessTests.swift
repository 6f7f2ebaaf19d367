import Foundation
import Testing
@testable import FiredrillCore

/// What a step's command leaves on its host, through the binary on a lab of its own (the lab's
/// hosts run their commands on this machine, so /proc shows what survived): a daemon that
/// escaped a timed-out step is found by its tag and stopped; a command that ignores SIGTERM is
/// recorded as timed out, then killed; one that succeeds leaving a daemon ends with its own
/// status, the daemon named and left alone; a command that reads its input gets end of input.
@Suite struct HostProcessTests {
    typealias Scenario = DrillScenarioTests

    /// PIDs of live processes whose command line is exactly `cmdline` (NUL-separated in /proc).
    static func pids(running cmdline: [String]) -> [Int32] {
        let want = Data(cmdline.joined(separator: "\u{0}").utf8 + [0])
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return all.compactMap(Int32.init).filter { pid in
            guard let c = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), c == want else { return false }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
        }
    }

    func run(_ lab: TestLab, _ playbook: String) throws -> (Firedrill.Result, [JournalLine]) {
        let path = "\(lab.dir)/pb-\(UUID().uuidString.prefix(8)).yml"
        try playbook.write(toFile: path, atomically: true, encoding: .utf8)
        let runs = Scenario.runsDir(in: lab)
        let r = try Firedrill.run(["run", path, "-i", lab.inventory, "--yes", "--output", "plain", "--runs-dir", runs, "--db", "\(lab.dir)/h.sqlite"])
        return (r, Scenario.journal(runs).1)
    }

    @Test func aDaemonThatEscapesATimedOutStepIsFoundByItsTagAndStopped() throws {
        let lab = try TestLab.start(hosts: 1)
        defer { lab.stop() }
        let seconds = String(Int.random(in: 30_000...39_999))
        let (r, events) = try run(lab, """
            name: Escaping daemon
            service: escape-\(seconds)
            criticality: low
            steps:
              - name: Start a daemon, then hang
                on: db1
                run: |
                  setsid sleep \(seconds) & (setsid sh -c 'exec sleep \(seconds)1' &)
                  setsid sh -c 'while :; do setsid sleep \(seconds)2 & sleep 0.02; done' &
                  setsid sh -c "trap '' TERM HUP INT; sleep \(seconds)3" &
                  sleep 300
                timeout: 2s
            restore:
              - name: Nothing to put back
                on: db1
                run: "true"
            """)
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let finished = try #require(events.first { $0.event == .commandFinished && $0.step == "failover.1" })
        #expect(finished.timedOut == true)
        let swept = try #require(events.first { $0.event == .leftoverStopped && $0.step == "failover.1" })
        #expect(swept.result == "killed" && (swept.detail ?? "").contains("(sleep)"), "\(swept.detail ?? "")")
        // Swept before restore, and nothing survived: neither the setsid'd daemon nor the double fork.
        let order = events.map(\.event)
        #expect(order.firstIndex(of: .leftoverStopped)! < order.firstIndex(of: .restoreStarted)!)
        // Nor a loop that keeps starting daemons while the sweep runs, nor one that ignores SIGTERM.
        for s in [seconds, seconds + "1", seconds + "2", seconds + "3"] {
            #expect(Self.pids(running: ["sleep", s]).isEmpty, "the daemons the timed-out step started are gone: sleep \(s)")
        }
        #expect(r.stdout.contains("was still running after the command timed out: killed"), "the summary says what was still running: \(r.stdout)")
    }

    @Test func whatACommandLeavesBehindIsRecordedAsItIs() throws {
        let lab = try TestLab.start(hosts: 1)
        defer { lab.stop() }
        let seconds = String(Int.random(in: 40_000...49_999))
        let (r, events) = try run(lab, """
            name: Leftovers
            service: leftovers-\(seconds)
            criticality: low
            steps:
              - name: Ignores its timeout
                on: db1
                run: "trap '' TERM; sleep 300"
                timeout: 1s
                max_fail_percentage: 100
              - name: Starts a service and returns
                on: db1
                run: "nohup sleep \(seconds) >/dev/null 2>&1 & sleep \(seconds)1 & exit 0"
                timeout: 60s
              - name: Reads its input
                on: db1
                run: "read line || echo end-of-input"
                timeout: 60s
            restore:
              - name: Nothing to put back
                on: db1
                run: "true"
            """)
        defer { for pid in Self.pids(running: ["sleep", seconds]) + Self.pids(running: ["sleep", seconds + "1"]) { kill(pid, SIGKILL) } }
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        func finished(_ step: String) -> JournalLine? { events.first { $0.event == .commandFinished && $0.step == step } }
        // Ignored SIGTERM: timed out, then killed after the grace — both said.
        let stubborn = try #require(finished("failover.1"))
        #expect(stubborn.timedOut == true && stubborn.signal == "KILL", "\(stubborn)")
        // Exited 0 at once while a daemon kept its output: its own status, not a timeout.
        let service = try #require(finished("failover.2"))
        #expect(service.exit == 0 && service.timedOut == nil && service.passed == true, "\(service)")
        let named = try #require(events.first { $0.event == .leftoverStopped && $0.step == "failover.2" })
        #expect(named.result == "left_running" && (named.detail ?? "").contains("(sleep)"), "\(named.detail ?? "")")
        #expect(!Self.pids(running: ["sleep", seconds + "1"]).isEmpty, "a successful step's daemon is left running")
        // Input closed: `read` sees the end at once.
        let reader = try #require(finished("failover.3"))
        #expect(reader.exit == 0 && (reader.stdout ?? "").contains("end-of-input"), "\(reader)")
        #expect(!(reader.stderr ?? "").contains("FIREDRILL-END"), "the end marker is ours, not the command's output")
    }

    /// The runner stopped (SIGSTOP) for 3 s inside a verify hold whose check may take 20 s: the
    /// real heartbeat sees it, the sample around the pause does not count, the hold starts again.
    /// (The 3 s is the fault injected, not a wait for something: the test waits on the journal.)
    @Test func aStoppedRunnerCannotHoldAVerifyOnASampleFromBeforeThePause() throws {
        let lab = try TestLab.start(hosts: 1)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let flag = "\(lab.dir)/flag-\(UUID().uuidString.prefix(8))"
        let path = "\(lab.dir)/paused.yml"
        try """
            name: Paused runner
            service: paused
            criticality: low
            checks:
              flag: { command: "test -f \(flag)", on: db1, timeout: 20s }
            steps:
              - name: Bring it up
                on: db1
                run: "touch \(flag)"
                timeout: 5s
                verify: { up: [flag], hold: 4s, within: 60s }
            restore:
              - name: Put it back
                on: db1
                run: "rm -f \(flag)"
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let runner = try Firedrill.start(["run", path, "-i", lab.inventory, "--yes", "--output", "plain", "--runs-dir", runs, "--db", "\(lab.dir)/h.sqlite"])
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .checkResult && $0.step == "failover.1" })
        kill(runner.process.processIdentifier, SIGSTOP)
        usleep(3_000_000)
        kill(runner.process.processIdentifier, SIGCONT)
        let r = runner.wait()
        let events = Scenario.journal(runs).1
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let gap = try #require(events.first { $0.event == .verifyGap }, "\(r.stdout)")
        #expect((gap.detail ?? "").contains("did not run") && (gap.seconds ?? 0) >= 2.5, "\(gap.detail ?? "")")
        let verify = try #require(events.first { $0.event == .verifyFinished && $0.step == "failover.1" })
        #expect(verify.passed == true && (verify.fromOffsetMS ?? 0) > (gap.toOffsetMS ?? .infinity),
                "the hold counts only samples after the pause: \(verify)")
    }

    /// A host whose output clears the screen, retitles the window and paints "ALL GOOD" green:
    /// every output (live, the summary, `runs RUN`, the text and Markdown reports, a report file)
    /// shows the escapes as text.
    @Test func hostileOutputIsShownNeverObeyed() throws {
        let lab = try TestLab.start(hosts: 1)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let path = "\(lab.dir)/hostile.yml"
        try """
            name: Hostile output
            service: hostile
            criticality: low
            steps:
              - name: Prints escapes
                on: db1
                run: |
                  printf 'clear\\033[2J title\\033]0;pwned\\007 green\\033[32mALL GOOD\\033[0m bidi\\342\\200\\256x cr\\roverwrite\\n' | tee /dev/stderr; exit 3
                timeout: 10s
            restore:
              - name: Nothing to put back
                on: db1
                run: "true"
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["run", path, "-i", lab.inventory, "--yes", "--output", "plain", "--runs-dir", runs, "--db", "\(lab.dir)/h.sqlite"])
        #expect(r.status == 1, "\(r.stderr)")
        let id = try #require(Scenario.journal(runs).0)
        let report = "\(lab.dir)/report.md"
        var outputs = [r.stdout, r.stderr]
        outputs.append(try Firedrill.run(["runs", id, "--runs-dir", runs]).stdout)
        outputs.append(try Firedrill.run(["report", id, "--runs-dir", runs, "--db", "\(lab.dir)/h.sqlite"]).stdout)
        outputs.append(try Firedrill.run(["report", id, "--runs-dir", runs, "--db", "\(lab.dir)/h.sqlite", "--format", "markdown"]).stdout)
        _ = try Firedrill.run(["report", id, "--runs-dir", runs, "--db", "\(lab.dir)/h.sqlite", "--format", "markdown", "-o", report])
        outputs.append(try String(contentsOfFile: report, encoding: .utf8))
        for (i, out) in outputs.enumerated() {
            #expect(!out.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{202E}" }, "output \(i) carries a raw control character")
            #expect(!out.contains("cr\roverwrite"), "output \(i) carries a lone carriage return")
        }
        #expect(r.stdout.contains("\\x1b[2J") && r.stdout.contains("\\x1b[32mALL GOOD") && r.stdout.contains("\\u202e"), "the escapes are shown: \(r.stdout)")
    }

    /// A name that would drive a terminal is refused where it is written.
    @Test func aStepNameWithAnEscapeIsRefusedAtItsLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-name-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "all:\n  hosts:\n    db1: { ansible_host: 127.0.0.1 }\n".write(toFile: "\(dir)/inv.yml", atomically: true, encoding: .utf8)
        try """
            name: Names
            service: names
            criticality: low
            inventory: inv.yml
            steps:
              - name: "Stop\\e[2J primary"
                on: db1
                run: "true"
            """.write(toFile: "\(dir)/pb.yml", atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["validate", "\(dir)/pb.yml"])
        #expect(r.status == 2 && r.stderr.contains("pb.yml:6:") && r.stderr.contains("control character (\\x1b)"), "\(r.stderr)")
        #expect(!r.stderr.unicodeScalars.contains("\u{1B}") || r.stderr.contains("\u{1B}[31m") == false, "the excerpt of the line shows the escape as text")
    }
}
