import Foundation
import Testing
@testable import FiredrillCore

/// The drill path under faults, through the built binary on a lab of its own: Ctrl-C at each
/// phase, a connection killed or frozen mid-command, two drills at once, a runner killed, a full
/// disk. Each test waits for an event in the journal, never for time.
@Suite struct EngineSafetyTests {
    typealias Scenario = DrillScenarioTests

    func start(_ playbook: String, _ lab: TestLab, runs: String, extra: [String] = [], environment: [String: String] = [:]) throws -> Firedrill.Running {
        try Firedrill.start(["run", playbook, "-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs] + extra,
                            environment: environment)
    }

    /// A playbook of the lab's own, written in its folder.
    func playbook(_ lab: TestLab, _ text: String) throws -> String {
        let path = "\(lab.dir)/pb-\(UUID().uuidString.prefix(8)).yml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func role(_ lab: TestLab, _ host: String) -> String {
        ((try? String(contentsOfFile: "\(lab.dir)/hosts/\(host)/state/pg-role", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - Interrupts

    /// The EHR playbook with a steady-state check that takes a while (so an interrupt lands in preflight).
    func slowPreflight() throws -> String {
        try Scenario().variant(TestLab.simulatedEHR, [
            ("checks:\n", "checks:\n  slow_probe: { command: \"sleep 20\", on: db_primary, timeout: 30s }\n"),
            ("steady_state: [ehr_api,", "steady_state: [slow_probe, ehr_api,"),
        ])
    }

    @Test(arguments: [1, 2])
    func interruptDuringPreflightChangesNothingAndRestoresNothing(_ interrupts: Int) throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let pb = try slowPreflight()
        defer { try? FileManager.default.removeItem(atPath: pb) }
        let runs = Scenario.runsDir(in: lab)
        let runner = try start(pb, lab, runs: runs)
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .hostReady && $0.host == "db2" })
        for _ in 0..<interrupts { kill(runner.process.processIdentifier, SIGINT) }
        let r = runner.wait()
        #expect(r.status == 130, "\(r.stdout)\(r.stderr)")
        let (_, events) = Scenario.journal(runs)
        #expect(!events.contains { $0.event == .stepStarted || $0.event == .commandStarted || $0.event == .markerWritten },
                "no failover after \(interrupts) interrupt(s)")
        #expect(!events.contains { $0.event == .restoreStarted }, "restore on an untouched primary is itself an outage")
        let ended = try #require(events.last)
        #expect(ended.event == .runEnded && ended.result == "interrupted" && ended.data?["touched"] == "false")
        #expect(events.contains { $0.event == .interrupted && ($0.detail ?? "").contains("nothing was changed") })
        #expect(!events.contains { $0.event == .preconditionsFailed }, "the checks were stopped, they did not fail")
        #expect(r.stdout.contains("nothing was changed on any host"), "\(r.stdout)")
        #expect(role(lab, "db1") == "primary" && role(lab, "db2") == "standby")
    }

    @Test func interruptDuringRestoreKeepsRestoringAndEndsInterrupted() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        try lab.knob("db1", "delay-rejoin", "2")
        let runner = try start(TestLab.simulatedEHR, lab, runs: runs)
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandStarted && $0.step == "restore.1" })
        kill(runner.process.processIdentifier, SIGINT)
        let r = runner.wait()
        #expect(r.status == 130, "an interrupted drill says so: \(r.stdout)\(r.stderr)")
        let (_, events) = Scenario.journal(runs)
        let interrupt = try #require(events.first { $0.event == .interrupted })
        #expect(interrupt.result == "restore_continues", "\(interrupt)")
        #expect(!(interrupt.detail ?? "").contains("stopping the failover"))
        #expect(events.contains { $0.event == .restoreFinished && $0.result == "completed" })
        #expect(events.last?.event == .runEnded && events.last?.result == "interrupted")
        #expect(!r.stdout.contains("stopping the failover"))
        #expect(role(lab, "db1") == "primary" && role(lab, "db2") == "standby", "restore finished")
    }

    @Test func theTerminalClosingStopsTheFailoverAndRestores() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        try lab.knob("db1", "delay-systemctl", "30")
        let runner = try start(TestLab.simulatedEHR, lab, runs: runs)
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandRunning && $0.step == "failover.1" })
        kill(runner.process.processIdentifier, SIGHUP)
        let r = runner.wait()
        #expect(r.status == 130, "\(r.stdout)\(r.stderr)")
        let (_, events) = Scenario.journal(runs)
        #expect(events.contains { $0.event == .restoreFinished && $0.result == "completed" })
        #expect(events.contains { $0.event == .checkResult && $0.phase == .final }, "the steady state is checked again after an interrupted drill's restore")
        #expect(role(lab, "db1") == "primary")
    }

    @Test func aClosedStdoutNeverStopsADrill() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let runner = try Firedrill.start(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain",
                                          "--runs-dir", runs], closedStdout: true)
        let r = runner.wait()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("crashed"), "\(r.stderr)")
        let (_, events) = Scenario.journal(runs)
        #expect(events.last?.event == .runEnded && events.last?.result == "passed")
    }

    @Test func aStdoutNobodyReadsCannotHoldUpTheDrill() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let pb = try playbook(lab, """
        name: Loud
        service: loud-\(UUID().uuidString.prefix(6))
        steps:
          - { name: Print a lot, on: db1, run: "head -c 300000 /dev/zero | tr '\\\\0' x; sleep 30", timeout: 60s }
        restore:
          - { name: Back, on: db1, run: "true" }
        """)
        // A pipe whose reader never reads (a pager, a paused terminal): the JSON stream fills it.
        let pipe = Pipe()
        defer { try? pipe.fileHandleForReading.close() }
        let runner = try Firedrill.start(["run", pb, "-i", lab.inventory, "--yes", "--format", "json", "--runs-dir", runs], stdout: pipe.fileHandleForWriting)
        try pipe.fileHandleForWriting.close()
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandRunning })
        kill(runner.process.processIdentifier, SIGINT)
        #expect(Scenario.waitForEvent(in: runs, while: runner, deadline: .seconds(60)) { $0.event == .restoreFinished },
                "restore ran although nothing read the output")
        try pipe.fileHandleForReading.close()
        #expect(runner.wait().status == 130)
    }

    /// Ctrl-C while the operator is asked to confirm a manual step (on a terminal: `script` gives
    /// the runner a pty) ends the wait at once; the interrupt is not an answer.
    @Test func anInterruptAtAManualPromptStartsRestoreAtOnce() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let command = [Firedrill.binary, "run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--output", "plain",
                       "--runs-dir", runs].map(ShellQuoting.quote).joined(separator: " ")
        let script = try Firedrill.startProcess("/usr/bin/script", ["-qec", "exec " + command, "/dev/null"],
                                                environment: ["FIREDRILL_LOCK_DIR": runs + "/.locks"])
        #expect(Scenario.waitForEvent(in: runs, while: script) { $0.event == .manualPrompt })
        let runner = try #require(Lab.children(of: script.process.processIdentifier).first)
        kill(runner, SIGINT)
        #expect(Scenario.waitForEvent(in: runs, while: script, deadline: .seconds(60)) { $0.event == .runEnded })
        kill(script.process.processIdentifier, SIGKILL)
        _ = script.wait()
        let (_, events) = Scenario.journal(runs)
        let answer = try #require(events.first { $0.event == .manualResult })
        #expect(answer.result == "no_answer" && (answer.detail ?? "").contains("interrupted"), "\(answer)")
        #expect(events.contains { $0.event == .restoreFinished && $0.result == "completed" })
        #expect(events.last?.result == "interrupted")
    }

    // MARK: - A command is sent at most once

    /// The per-connection sshd processes serving a lab host (descendants of its listener).
    func sessionProcesses(_ lab: TestLab, _ host: String) -> [Int32] {
        guard let listener = lab.lab.state()?.hosts.first(where: { $0.name == host })?.pid else { return [] }
        var out: [Int32] = [], queue = [listener]
        while let p = queue.popLast() {
            for c in Lab.children(of: p) {
                let comm = (try? String(contentsOfFile: "/proc/\(c)/comm", encoding: .utf8)) ?? ""
                if comm.hasPrefix("sshd") { out.append(c); queue.append(c) }
            }
        }
        return out
    }

    /// One step on db1 that counts its executions in a file, then waits.
    func countingPlaybook(_ lab: TestLab, timeout: String = "20s") throws -> String {
        try playbook(lab, """
        name: Counted
        service: counted-\(UUID().uuidString.prefix(6))
        steps:
          - name: Count and wait
            on: db1
            run: "echo ran >> $FIREDRILL_LAB_DIR/hosts/db1/state/executions; sleep 8"
            timeout: \(timeout)
        restore:
          - { name: Put back, on: db1, run: "echo restored > $FIREDRILL_LAB_DIR/hosts/db1/state/restored" }
        """)
    }

    /// What a command the runner lost sight of has become when the runner looks again: with one
    /// channel per command it still runs (until its timeout) and the sweep kills it; the resident
    /// executor killed it when its channel went away.
    static func leftoverVerdict(_ executor: String) -> String { executor == "channel" ? "killed" : "already_ended" }

    @Test(arguments: ["channel", "auto"])
    func aCommandWhoseConnectionDropsIsNeverSentAgain(executor: String) throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let runner = try start(try countingPlaybook(lab), lab, runs: runs, extra: ["--executor", executor])
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandRunning && $0.step == "failover.1" })
        let sessions = sessionProcesses(lab, "db1")
        #expect(!sessions.isEmpty)
        for p in sessions { kill(p, SIGKILL) }
        let r = runner.wait()
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let executions = try String(contentsOfFile: "\(lab.dir)/hosts/db1/state/executions", encoding: .utf8)
        #expect(executions == "ran\n", "sent once, ran once")
        let (_, events) = Scenario.journal(runs)
        let finished = try #require(events.first { $0.event == .commandFinished && $0.step == "failover.1" })
        #expect(finished.result == "unknown" && (finished.detail ?? "").contains("outcome unknown"), "\(finished)")
        #expect(events.filter { $0.event == .commandStarted && $0.step == "failover.1" }.count == 1)
        #expect(events.contains { $0.event == .stepFinished && $0.step == "failover.1" && $0.result == "failed" })
        // The orphaned command is stopped before restore, then restore runs on a new connection.
        let stopped = try #require(events.first { $0.event == .leftoverStopped })
        #expect(stopped.result == Self.leftoverVerdict(executor) && stopped.step == "failover.1")
        let restoreAt = try #require(events.firstIndex { $0.event == .restoreStarted })
        #expect(events.firstIndex { $0.event == .leftoverStopped }! < restoreAt)
        #expect(events.contains { $0.event == .restoreFinished && $0.result == "completed" })
        #expect(FileManager.default.fileExists(atPath: "\(lab.dir)/hosts/db1/state/restored"))
    }

    @Test func aFrozenHostCostsABoundedWaitAndIsNotCalledKilled() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let runner = try start(try countingPlaybook(lab, timeout: "2s"), lab, runs: runs, extra: ["--kill-grace", "1s"])
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandRunning && $0.step == "failover.1" })
        let frozen = sessionProcesses(lab, "db1")
        for p in frozen { kill(p, SIGSTOP) }
        defer { for p in frozen { kill(p, SIGKILL); kill(p, SIGCONT) } }
        let r = runner.wait()
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let (_, events) = Scenario.journal(runs)
        let finished = try #require(events.first { $0.event == .commandFinished && $0.step == "failover.1" })
        #expect(finished.result == "unknown", "\(finished)")
        #expect((finished.detail ?? "").contains("stopped answering") && (finished.detail ?? "").contains("could not be killed"))
        #expect(!r.stdout.contains("killed on the host"), "no kill could be delivered: \(r.stdout)")
        #expect(events.contains { $0.event == .restoreFinished }, "restore was attempted")
        #expect(!events.contains { $0.event == .leftoverStopped && $0.result == "not_ours" },
                "our own ended command (a zombie under a stopped sshd) is not someone else's")
    }

    @Test func aConnectionFrozenBetweenStepsIsReplacedForRestore() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        try lab.knob("db2", "delay-pg_ctlcluster", "3")
        let runner = try start(TestLab.simulatedEHR, lab, runs: runs, extra: ["--connect-timeout", "2s"])
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandRunning && $0.step == "failover.2" })
        let frozen = sessionProcesses(lab, "db1")
        for p in frozen { kill(p, SIGSTOP) }
        defer { for p in frozen { kill(p, SIGKILL); kill(p, SIGCONT) } }
        let r = runner.wait()
        #expect(r.status == 0 || r.status == 1, "\(r.stdout)\(r.stderr)")
        let (_, events) = Scenario.journal(runs)
        #expect(events.contains { $0.event == .restoreFinished && $0.result == "completed" }, "\(r.stdout)")
        #expect(role(lab, "db1") == "primary" && role(lab, "db2") == "standby", "restore reached db1 on a new connection")
    }

    @Test(arguments: ["channel", "auto"])
    func aRestoreCommandWhoseConnectionDropsIsStoppedBeforeTheRunEnds(executor: String) throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let pb = try playbook(lab, """
        name: Restore drop
        service: restore-drop-\(UUID().uuidString.prefix(6))
        steps:
          - { name: Touch, on: db1, run: "true" }
        restore:
          - { name: Slow restore, on: db1, run: "sleep 20", timeout: 40s }
        """)
        let runner = try start(pb, lab, runs: runs, extra: ["--executor", executor])
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandRunning && $0.step == "restore.1" })
        for p in sessionProcesses(lab, "db1") { kill(p, SIGKILL) }
        let r = runner.wait()
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let (_, events) = Scenario.journal(runs)
        let stopped = try #require(events.first { $0.event == .leftoverStopped && $0.step == "restore.1" }, "\(r.stdout)")
        #expect(stopped.result == Self.leftoverVerdict(executor))
        #expect(events.firstIndex(of: stopped)! < events.firstIndex { $0.event == .restoreFinished }!)
        #expect(r.stdout.contains(executor == "channel" ? "was still running" : "no process carrying its tag was found"), "\(r.stdout)")
    }

    // MARK: - One drill at a time

    @Test func aSecondDrillOfTheSameServiceIsRefusedNamingTheFirst() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        try lab.knob("db1", "delay-systemctl", "3")
        let first = try start(TestLab.simulatedEHR, lab, runs: runs)
        #expect(Scenario.waitForEvent(in: runs, while: first) { $0.event == .commandStarted })
        let (firstID, _) = Scenario.journal(runs)
        let second = try Firedrill.run(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass", "--runs-dir", runs])
        #expect(second.status == 3, "\(second.stdout)\(second.stderr)")
        #expect(second.stderr.contains("service ehr-db is being drilled by run \(firstID ?? "?")"), "\(second.stderr)")
        #expect(second.stderr.contains("PID \(first.process.processIdentifier)"))
        // Resuming a run whose runner is alive is refused too.
        let resume = try Firedrill.run(["run", "--resume", firstID ?? "", "--yes", "--manual=pass", "--runs-dir", runs])
        #expect(resume.status == 3 && resume.stderr.contains("is still being run"), "\(resume.stderr)")
        #expect(first.wait().status == 0)
        // Another service on the same hosts is refused while a drill holds them.
        try lab.knob("db1", "delay-systemctl", "3")
        let again = try start(TestLab.simulatedEHR, lab, runs: runs)
        #expect(Scenario.waitForEvent(in: runs, while: again) { $0.event == .commandStarted && $0.run != firstID })
        let other = try Scenario().variant(TestLab.simulatedEHR, [("service: ehr-db", "service: ehr-db-copy")])
        defer { try? FileManager.default.removeItem(atPath: other) }
        let shared = try Firedrill.run(["run", other, "-i", lab.inventory, "--yes", "--manual=pass", "--runs-dir", runs])
        #expect(shared.status == 3 && shared.stderr.contains("host 127.0.0.1:"), "\(shared.stderr)")
        #expect(again.wait().status == 0)
    }

    @Test(arguments: ["channel", "auto"])
    func killedRunnerIsResumedOnceItsLeftoverIsStoppedAndTwoResumesDoNotRace(executor: String) throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        try lab.knob("db1", "delay-systemctl", "47")
        let runner = try start(TestLab.simulatedEHR, lab, runs: runs, extra: ["--executor", executor])
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandRunning && $0.step == "failover.1" })
        kill(runner.process.processIdentifier, SIGKILL)
        _ = runner.wait()
        let (id, before) = Scenario.journal(runs)
        let pgid = try #require(before.first { $0.event == .commandRunning }?.pgid)
        if executor == "channel" {
            // Left running (until its timeout on the host): the resume stops it.
            #expect(try lab.runSync("db1", "kill -0 -\(pgid) 2>/dev/null && echo alive || echo gone") == "alive\n")
        } else {
            // The executor's channel ended with the runner: it killed the group (bounded wait).
            let clock = ContinuousClock(), deadline = clock.now + .seconds(10)
            var state = ""
            while clock.now < deadline {
                state = try lab.runSync("db1", "kill -0 -\(pgid) 2>/dev/null && echo alive || echo gone")
                if state == "gone\n" { break }
            }
            #expect(state == "gone\n", "the executor did not kill the dead runner's command")
        }
        try FileManager.default.removeItem(atPath: "\(lab.dir)/hosts/db1/state/delay-systemctl")
        try lab.knob("db1", "delay-rejoin", "2")
        // A torn last line (a write cut short) is dropped by resume, and said so.
        let journalPath = RunStore(root: runs).journalPath(id ?? "")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: journalPath))
        handle.seekToEndOfFile()
        handle.write(Data("{\"seq\":".utf8))
        try handle.close()
        let resumeA = try Firedrill.start(["run", "--resume", id ?? "", "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(Scenario.waitForEvent(in: runs, while: resumeA) { $0.event == .commandStarted && $0.step == "restore.1" })
        let resumeB = try Firedrill.run(["run", "--resume", id ?? "", "--yes", "--manual=pass", "--runs-dir", runs])
        #expect(resumeB.status == 3 && resumeB.stderr.contains("is still being run"), "\(resumeB.stderr)")
        let a = resumeA.wait()
        #expect(a.status == 1, "\(a.stdout)\(a.stderr)")
        let (_, after) = Scenario.journal(runs)
        #expect(after.contains { $0.event == .resumed && ($0.detail ?? "").contains("dropped the journal's incomplete last line") })
        let stopped = try #require(after.first { $0.event == .leftoverStopped })
        #expect(stopped.result == Self.leftoverVerdict(executor) && stopped.host == "db1" && stopped.pgid == pgid)
        #expect(a.stdout.contains(executor == "channel" ? "was still running" : "no process carrying its tag was found"), "\(a.stdout)")
        #expect(try lab.runSync("db1", "kill -0 -\(pgid) 2>/dev/null && echo alive || echo gone") == "gone\n")
        #expect(after.filter { $0.event == .runEnded }.count == 1)
        #expect(try Firedrill.run(["verify-journal", id ?? "", "--runs-dir", runs]).status == 0)
    }

    @Test func anUnfinishedRunBlocksNewDrillsWhereverTheyStartFrom() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let locks = lab.dir + "/locks"
        try lab.knob("db1", "delay-systemctl", "30")
        // A relative --runs-dir, from the lab's folder.
        let runner = try Firedrill.start(["run", "\(Firedrill.repoRoot)/\(TestLab.simulatedEHR)", "-i", lab.inventory, "--yes", "--manual=pass",
                                          "--output", "plain", "--runs-dir", "rel-runs"], environment: ["FIREDRILL_LOCK_DIR": locks], cwd: lab.dir)
        #expect(Scenario.waitForEvent(in: lab.dir + "/rel-runs", while: runner) { $0.event == .commandRunning })
        kill(runner.process.processIdentifier, SIGKILL)
        _ = runner.wait()
        // From elsewhere, with another runs folder: still refused.
        let other = try Firedrill.run(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass",
                                       "--runs-dir", lab.dir + "/other-runs"], environment: ["FIREDRILL_LOCK_DIR": locks])
        #expect(other.status == 3 && other.stderr.contains("stopped before the run ended") && other.stderr.contains("--runs-dir \(lab.dir)/rel-runs"),
                "\(other.stderr)")
        let (id, _) = Scenario.journal(lab.dir + "/rel-runs")
        let resumed = try Firedrill.run(["run", "--resume", id ?? "", "--yes", "--manual=pass", "--runs-dir", lab.dir + "/rel-runs"],
                                        environment: ["FIREDRILL_LOCK_DIR": locks])
        #expect(resumed.status == 1, "\(resumed.stdout)\(resumed.stderr)")
    }

    @Test func aKilledRunnersUnfinishedRunBlocksNewDrillsUntilResumed() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        try lab.knob("db1", "delay-systemctl", "1")
        let runner = try start(TestLab.simulatedEHR, lab, runs: runs)
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandStarted })
        kill(runner.process.processIdentifier, SIGKILL)
        _ = runner.wait()
        let (id, _) = Scenario.journal(runs)
        try FileManager.default.removeItem(atPath: "\(lab.dir)/hosts/db1/state/delay-systemctl")
        // A new drill of the service is refused while the dead run is unfinished.
        let fresh = try Firedrill.run(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass", "--runs-dir", runs])
        #expect(fresh.status == 3 && fresh.stderr.contains("stopped before the run ended") && fresh.stderr.contains("--resume \(id ?? "")"), "\(fresh.stderr)")
        let resumed = try Firedrill.run(["run", "--resume", id ?? "", "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(resumed.status == 1)
        #expect(resumed.stderr.contains("took over the lock on run \(id ?? "")") && resumed.stderr.contains("no longer running"), "\(resumed.stderr)")
    }

    // MARK: - Scope

    @Test(arguments: ["", ":::", "!", "db[5:1]", "app*:&", "~db[0-", "db[", "nosuchhost"])
    func aLimitThatMeansNothingIsRefusedBeforeAnythingRuns(_ limit: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-limit-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Firedrill.run(["run", TestLab.simulatedEHR, "--yes", "--manual=pass", "--limit", limit, "--runs-dir", dir])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("--limit '\(limit)'"), "\(r.stderr)")
        #expect(!r.stdout.contains("PASSED"))
        #expect(RunStore(root: dir).list().isEmpty, "nothing ran")
    }

    @Test func aStepThatSelectsNoHostWithinTheLimitIsSkippedAndSaidSo() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let r = try Firedrill.run(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain",
                                   "--runs-dir", runs, "--limit", "db1", "--accept-new"])
        let (_, events) = Scenario.journal(runs)
        let skipped = try #require(events.first { $0.event == .stepFinished && $0.step == "failover.2" }, "\(r.stdout)\(r.stderr)")
        #expect(skipped.result == "skipped" && (skipped.detail ?? "").contains("within --limit db1"))
        #expect(r.stdout.contains("skipped failover.2"), "\(r.stdout)")
        #expect(r.status == 1, "a drill with skipped steps does not pass: \(r.stdout)")
        #expect(!events.contains { $0.event == .rpo || $0.event == .markerWritten || $0.event == .markerRead },
                "the data check's hosts are outside the limit: RPO is not measured, neither found nor lost")
        #expect(!events.contains { $0.event == .rto }, "a failover step was skipped: no RTO")
    }

    @Test func anEmptyCommandIsAnErrorNotAPass() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-empty-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pb = "\(dir)/empty.yml"
        try """
        name: Empty command
        service: empty-probe
        vars: { cmd: "" }
        steps:
          - { name: Does nothing, on: db1, run: "{{ cmd | raw }}" }
        restore:
          - { name: Back, on: db1, run: "true" }
        """.write(toFile: pb, atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["run", pb, "-i", "Inventory/hospital.yml", "--yes", "--runs-dir", dir + "/runs"])
        #expect(r.status == 2 && r.stderr.contains("empty.yml:5:") && r.stderr.contains("renders to an empty command on db1"), "\(r.stderr)")
    }

    // MARK: - Secrets at a cut edge

    @Test func aSecretCutByTheOutputTailIsStillMasked() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        // 15 characters, from letters no hash, UUID or word in a journal strings together by chance.
        let token = "tok-" + String((0..<11).map { _ in "ghjkmnpqvwxz".randomElement()! })
        // The secret, then 64 KiB − 10 bytes: the kept tail starts with the secret's last 10 characters.
        let pb = try playbook(lab, """
        name: Secret at the edge
        service: edge-\(UUID().uuidString.prefix(6))
        secrets: { token: env:FD_EDGE_TOKEN }
        steps:
          - name: Print a lot
            on: db1
            run: "printf %s {{ token }}; head -c \(CapturedOutput.defaultLimit - 10) /dev/zero | tr '\\\\0' x; exit 1"
        restore:
          - { name: Back, on: db1, run: "true" }
        """)
        let r = try Firedrill.run(["run", pb, "-i", lab.inventory, "--yes", "--output", "plain", "--runs-dir", runs, "--format", "json"],
                                  environment: ["FD_EDGE_TOKEN": token])
        #expect(r.status == 1, "\(r.stderr)")
        let journal = try String(contentsOfFile: RunStore(root: runs).journalPath(Scenario.journal(runs).0 ?? ""), encoding: .utf8)
        let finished = try #require(Scenario.journal(runs).1.first { $0.event == .commandFinished && $0.step == "failover.1" })
        #expect(finished.outputCutBytes == 5, "the cut falls inside the secret")
        for text in [journal, r.stdout, r.stderr] {
            for k in 4...token.count { #expect(!text.contains(String(token.suffix(k))), "\(k) characters of the secret leaked") }
        }
        #expect(finished.stdout?.hasPrefix(Secret.mask + "xxx") == true)
    }

    // MARK: - Durability

    @Test(.enabled(if: SmallDisk.canMount, "mounting a tmpfs needs root")) func aFullDiskStillRestoresAndSaysTheRecordIsIncomplete() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let disk = try SmallDisk(in: lab.dir)
        defer { disk.remove() }
        let runs = disk.path + "/runs"
        let tmp = lab.dir + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        try lab.knob("db1", "delay-systemctl", "1")
        let runner = try start(TestLab.simulatedEHR, lab, runs: runs, environment: ["TMPDIR": tmp])
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandStarted && $0.step == "failover.1" })
        disk.fill()
        let r = runner.wait()
        #expect(r.status == 4, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("journal INCOMPLETE"), "\(r.stdout)")
        #expect(r.stderr.contains("journal-fallback: ") && r.stderr.contains("\"restore_finished\""))
        let fallback = try String(contentsOfFile: "\(tmp)/firedrill-\(Scenario.journal(runs).0 ?? "").journal.fallback", encoding: .utf8)
        #expect(fallback.contains("\"journal_failed\"") && fallback.contains("\"result\":\"completed\""), "\(fallback)")
        #expect(role(lab, "db1") == "primary" && role(lab, "db2") == "standby", "restore ran with the journal broken")
    }

    /// The journal deleted, or cut to half, while the drill runs: the run does not claim it
    /// passed; it says what happened, keeps the rest in the fallback file, restores, exits 4.
    @Test(arguments: ["deleted", "cut", "edited"])
    func aJournalDeletedOrCutMidRunIsSaidAndTheRunExits4(_ how: String) throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        try lab.knob("db1", "delay-systemctl", "2")
        let runner = try start(TestLab.simulatedEHR, lab, runs: runs)
        #expect(Scenario.waitForEvent(in: runs, while: runner) { $0.event == .commandStarted && $0.step == "failover.1" })
        let path = RunStore(root: runs).journalPath(try #require(Scenario.journal(runs).0))
        if how == "deleted" {
            #expect(unlink(path) == 0)
        } else if how == "edited" {
            // One byte of the first line changed in place: same file, same length.
            let fd = open(path, O_WRONLY)
            #expect(fd >= 0 && pwrite(fd, "X", 1, 30) == 1)
            close(fd)
        } else {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            #expect(truncate(path, off_t(size / 2)) == 0)
        }
        let r = runner.wait()
        #expect(r.status == 4, "\(r.stdout)\(r.stderr)")
        #expect(!r.stdout.contains("Drill PASSED") && r.stdout.contains("journal INCOMPLETE") && r.stdout.contains("was \(how == "edited" ? "changed" : how)"), "\(r.stdout)")
        let fallback = try String(contentsOfFile: path + ".fallback", encoding: .utf8)
        // Deleted or cut mid-run: restore's events are in the fallback file; edited in place, the
        // read-back at the end finds it, and the end of the run is there.
        #expect(fallback.contains("\"journal_failed\"") && fallback.contains(how == "edited" ? "\"run_ended\"" : "\"restore_finished\""),
                "the rest of the evidence is kept")
        #expect(r.stdout.contains("score    none: the journal is incomplete") && r.stdout.contains("(incomplete)"), "no score from a broken record: \(r.stdout)")
        if how == "edited" {
            // Read later, it is not an unfinished run to resume: it is a damaged record (exit 1).
            let shown = try Firedrill.run(["runs", "latest", "--runs-dir", runs])
            #expect(shown.status == 1 && shown.stdout.contains("RECORD INCOMPLETE") && shown.stdout.contains("damaged") && !shown.stdout.contains("resume it"),
                    "\(shown.stdout)\(shown.stderr)")
        }
        #expect(role(lab, "db1") == "primary" && role(lab, "db2") == "standby", "restore ran")
    }

    @Test func aRunsFolderThatCannotHoldRunsIsRefusedInWords() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fd-file-\(UUID().uuidString.prefix(8))").path
        try "not a folder".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try Firedrill.run(["run", "Playbooks/dns-failover.yml", "--yes", "--runs-dir", file])
        #expect(r.status == 2 && r.stderr.contains("is a file, not a folder"), "\(r.stderr)")
        #expect(!r.stderr.contains("NSCocoaErrorDomain") && !r.stderr.contains("Code="))
    }

    /// A runs folder on a read-only mount: one true line, the journal's exit (4), nothing run.
    @Test(.enabled(if: SmallDisk.canMount, "mounting a tmpfs needs root")) func aReadOnlyRunsFolderIsOneLineAndExit4() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-ro-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let disk = try SmallDisk(in: dir, readOnly: true)
        defer { disk.remove() }
        let r = try Firedrill.run(["run", "Playbooks/dns-failover.yml", "--yes", "--runs-dir", disk.path + "/runs", "--db", dir + "/h.sqlite"])
        #expect(r.status == 4, "\(r.stdout)\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("Read-only file system") && lines[0].contains("nothing was run") && lines[1].hasPrefix("hint: "), "\(r.stderr)")
        #expect(!r.stderr.contains("NSCocoaErrorDomain") && !r.stderr.contains("Code="))
        #expect(r.stdout.isEmpty)
    }
}

/// A small tmpfs of our own: a real disk that really fills up (ENOSPC).
struct SmallDisk {
    let path: String

    /// Whether this machine lets us mount one (root, not in a locked-down container).
    static let canMount: Bool = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-canmount-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let disk = try? SmallDisk(in: dir) else { return false }
        disk.remove()
        return true
    }()

    init(in dir: String, readOnly: Bool = false) throws {
        path = dir + "/smalldisk"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", readOnly ? "size=2m,ro" : "size=2m", "tmpfs", path]
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else { throw SmallDiskUnavailable() }
    }

    struct SmallDiskUnavailable: Error, CustomStringConvertible {
        var description: String { "cannot mount a tmpfs here (needs root): the full-disk test could not run" }
    }

    /// Fills what is left, so the next write fails with ENOSPC.
    func fill() {
        let fd = open(path + "/filler", O_WRONLY | O_CREAT, 0o600)
        defer { close(fd) }
        let block = [UInt8](repeating: 0x2e, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        var one: UInt8 = 0x2e
        while write(fd, &one, 1) > 0 {}
    }

    func remove() {
        let umount = Process()
        umount.executableURL = URL(fileURLWithPath: "/bin/umount")
        umount.arguments = [path]
        try? umount.run()
        umount.waitUntilExit()
    }
}
