import Foundation
import Testing
@testable import FiredrillCore

/// Whole drills, run by the `firedrill` binary against a lab of its own. Outcomes are asserted
/// from the journal (order, results, recorded measurements), never from wall-clock time; slow or
/// broken hosts are made with the lab's knobs (`delay-<cmd>`, `fail-<name>` state files).
@Suite struct DrillScenarioTests {
    struct Drill {
        var result: Firedrill.Result
        var runsDir: String
        var events: [JournalLine]
        var runID: String?

        func events(_ kind: JournalEvent.Kind) -> [JournalLine] { events.filter { $0.event == kind } }
        func step(_ id: String) -> JournalLine? { events.last { $0.event == .stepFinished && $0.step == id } }
        var ended: JournalLine? { events.last { $0.event == .runEnded } }
    }

    /// A runs folder inside the lab's folder, so `lab.stop()` removes it with the lab.
    static func runsDir(in lab: TestLab) -> String {
        "\(lab.dir)/runs-\(UUID().uuidString.prefix(8))"
    }

    static func journal(_ runsDir: String) -> (String?, [JournalLine]) {
        guard let run = RunStore(root: runsDir).list().first else { return (nil, []) }
        // The journal's lines as written (the flat format on disk), to assert on its fields.
        let events = (try? JournalReader.read(path: RunStore(root: runsDir).journalPath(run.id)).events) ?? []
        return (run.id, events.map(\.line))
    }

    /// Waits for a condition — an event in the run's journal — while the runner is alive, at most
    /// `deadline` (a bound so a broken runner fails the test instead of hanging it; not a timing).
    static func waitForEvent(in runs: String, while runner: Firedrill.Running, deadline: Duration = .seconds(180),
                             _ match: (JournalLine) -> Bool) -> Bool {
        let end = ContinuousClock.now + deadline
        while runner.process.isRunning && ContinuousClock.now < end {
            if journal(runs).1.contains(where: match) { return true }
            usleep(2_000)
        }
        return journal(runs).1.contains(where: match)
    }

    func drill(_ playbook: String, _ lab: TestLab, extra: [String] = [], environment: [String: String] = [:]) throws -> Drill {
        let runs = Self.runsDir(in: lab)
        let r = try Firedrill.run(["run", playbook, "-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs] + extra,
                                  environment: environment)
        let (id, events) = Self.journal(runs)
        return Drill(result: r, runsDir: runs, events: events, runID: id)
    }

    /// A copy of a repository playbook with some text replaced (objectives, deadlines), next to the original.
    func variant(_ name: String, _ replacements: [(String, String)]) throws -> String {
        // A name with a folder is relative to the repository (a fixture); the copy is written
        // beside the examples, so their includes and inventory resolve the same.
        var text = try String(contentsOfFile: "\(Firedrill.repoRoot)/\(name.contains("/") ? name : "Playbooks/" + name)", encoding: .utf8)
            .replacingOccurrences(of: "inventory: ../../../../Inventory/", with: "inventory: ../Inventory/")
        let name = (name as NSString).lastPathComponent
        for (a, b) in replacements {
            #expect(text.contains(a), "\(name) no longer contains \(a)")
            text = text.replacingOccurrences(of: a, with: b)
        }
        let path = "\(Firedrill.repoRoot)/Playbooks/.test-\(UUID().uuidString.prefix(8))-\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func healthyFailoverAndRestorePass() throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        let d = try drill(TestLab.simulatedEHR, lab)
        #expect(d.result.status == 0, "\(d.result.stdout)\(d.result.stderr)")
        #expect(d.ended?.result == "passed")
        let rto = try #require(d.events(.rto).first)
        #expect(rto.step == "failover.2" && rto.withinObjective == true && (rto.seconds ?? -1) >= 0)
        let rpo = try #require(d.events(.rpo).first)
        #expect(rpo.passed == true && rpo.withinObjective == true)
        // Order: steady state, marker, failover steps, RPO read, restore, final steady state, end.
        let kinds = d.events.map(\.event)
        let order: [JournalEvent.Kind] = [.runStarted, .hostReady, .checkResult, .markerWritten, .stepStarted, .rto, .markerRead, .restoreStarted, .restoreFinished, .runEnded]
        var at = 0
        for k in order {
            let i = try #require(kinds[at...].firstIndex(of: k), "\(k) missing or out of order")
            at = i
        }
        #expect(d.events(.manualResult).first?.result == "confirmed")
        #expect(d.events(.manualResult).first?.detail?.contains("--manual=pass") == true)
        // Every command event has host, exit and duration: what the report will need.
        for e in d.events(.commandFinished) { #expect(e.host != nil && e.exit == 0 && e.durationMS != nil) }
        #expect(d.result.stdout.contains("Drill PASSED"))
        let verify = try Firedrill.run(["verify-journal", d.runID ?? "", "--runs-dir", d.runsDir])
        #expect(verify.status == 0, "\(verify.stdout)")
        #expect(try String(contentsOfFile: "\(lab.dir)/hosts/db1/state/pg-role", encoding: .utf8) == "primary\n", "restore put roles back")
    }

    @Test func brokenStandbyFailsTheStepRunsHooksAndRestore() throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        try lab.knob("db2", "fail-pg_ctlcluster-promote")
        let d = try drill(TestLab.simulatedEHR, lab)
        #expect(d.result.status == 1, "\(d.result.stdout)\(d.result.stderr)")
        #expect(d.step("failover.1")?.result == "passed")
        #expect(d.step("failover.2")?.result == "failed")
        #expect(d.step("failover.2")?.detail?.contains("simulated failure") == true)
        #expect(d.step("failover.3") == nil, "nothing after the failed step")
        #expect(d.step("failover.2.on_failure.1")?.result == "passed", "the on_failure hook collected the log")
        #expect(!d.events(.restoreStarted).isEmpty)
        let hook = try #require(d.events.firstIndex { $0.event == .stepStarted && $0.step == "failover.2.on_failure.1" })
        let restore = try #require(d.events.firstIndex { $0.event == .restoreStarted })
        #expect(hook < restore, "hooks run before restore")
        #expect(d.ended?.result == "failed")
        #expect(d.events(.rto).isEmpty, "the service never came back during failover: no RTO")
        #expect(d.result.stdout.contains("Drill FAILED"))
    }

    @Test func failoverSlowerThanTheObjectiveIsRecordedAsExceeded() throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        let pb = try variant(TestLab.simulatedEHR, [("objectives: { rto: 5m, rpo: 30s }", "objectives: { rto: 1s, rpo: 30s }")])
        defer { try? FileManager.default.removeItem(atPath: pb) }
        try lab.knob("db2", "delay-pg_ctlcluster", "2")   // promotion takes 2 s > the 1 s objective
        let d = try drill(pb, lab)
        #expect(d.result.status == 0, "exceeding the objective is recorded, not a failed drill: \(d.result.stdout)")
        let rto = try #require(d.events(.rto).first)
        #expect(rto.withinObjective == false)
        #expect((rto.seconds ?? 0) > (rto.objectiveSeconds ?? .infinity))
        #expect(d.ended?.data?["rto_seconds"] != nil)
        #expect(d.result.stdout.contains("EXCEEDED"))
    }

    @Test func endpointThatNeverRecoversTimesOutWithEvidence() throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        // Stop the primary and expect the EHR to answer within 3 s — nobody promotes the standby.
        let pb = try variant(TestLab.simulatedEHR, [("      down: [db_port]           # the primary is really gone…\n      within: 30s",
                                                      "      down: [db_port]\n      up: [ehr_api]\n      within: 3s")])
        defer { try? FileManager.default.removeItem(atPath: pb) }
        let d = try drill(pb, lab)
        #expect(d.result.status == 1)
        let v = try #require(d.events(.verifyFinished).first { $0.step == "failover.1" })
        #expect(v.passed == false)
        #expect(v.detail?.contains("HTTP 503") == true, "\(v.detail ?? "")")
        let attempts = d.events(.checkResult).filter { $0.step == "failover.1" && $0.check == "ehr_api" }
        #expect(attempts.count >= 2, "polled, each attempt recorded")
        #expect(attempts.allSatisfy { $0.met == false && $0.outcome == .failed && $0.expect == .up && $0.latencyMS != nil && !$0.time.isEmpty })
        #expect(d.ended?.result == "failed")
        #expect(d.ended?.data?["final_state"]?.contains("restored") == true, "restore brought it back: \(d.ended?.data ?? [:])")
    }

    @Test func steadyStateFailingMeansNothingRunsAndExitThree() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        try lab.knob("db2", "pg-role", "primary\n")
        let d = try drill(TestLab.simulatedEHR, lab)
        #expect(d.result.status == 3, "\(d.result.stdout)\(d.result.stderr)")
        #expect(d.events(.stepStarted).isEmpty && d.events(.commandStarted).isEmpty && d.events(.markerWritten).isEmpty)
        #expect(d.events(.preconditionsFailed).first?.detail?.contains("standby_is_replica") == true)
        #expect(d.ended?.result == "preconditions")
        // The playbook has a data check: the RPO was not measured because nothing started.
        #expect(d.result.stdout.contains("RPO      not measured (the drill did not start)"), "\(d.result.stdout)")
    }

    @Test func sigkilledRunnerIsResumedAndRestoreRuns() throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        let runs = Self.runsDir(in: lab)
        // Reading the data marker on the standby takes 5 s: the runner is killed while it waits for it,
        // after every failover step finished and before restore.
        try lab.knob("db2", "delay-drill-marker", "5")
        let runner = try Firedrill.start(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass",
                                          "--output", "plain", "--runs-dir", runs])
        #expect(Self.waitForEvent(in: runs, while: runner) { $0.event == .stepFinished && $0.step == "failover.3" })
        kill(runner.process.processIdentifier, SIGKILL)
        _ = runner.wait()
        let (id, before) = Self.journal(runs)
        #expect(!before.contains { $0.event == .runEnded })
        let list = try Firedrill.run(["runs", "--runs-dir", runs])
        #expect(list.stdout.contains("unfinished"))
        // The inventory edited since the run started (a host pointed elsewhere): restore could run
        // on the wrong machine, so the resume is refused until it is put back.
        let inventory = try String(contentsOfFile: lab.inventory, encoding: .utf8)
        try (inventory + "# db1 moved\n").write(toFile: lab.inventory, atomically: true, encoding: .utf8)
        let refused = try Firedrill.run(["run", "--resume", id ?? "", "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(refused.status == 2 && refused.stderr.contains("changed since run") && refused.stderr.contains("inventory"), "\(refused.stderr)")
        #expect(Self.journal(runs).1.count == before.count, "a refused resume writes nothing")
        try inventory.write(toFile: lab.inventory, atomically: true, encoding: .utf8)
        // The inventory file as it was, but db1 pointed at another port through host_vars/.
        let hostVars = (lab.inventory as NSString).deletingLastPathComponent + "/host_vars"
        try FileManager.default.createDirectory(atPath: hostVars, withIntermediateDirectories: true)
        try "ansible_port: 9\n".write(toFile: hostVars + "/db1.yml", atomically: true, encoding: .utf8)
        let moved = try Firedrill.run(["run", "--resume", id ?? "", "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(moved.status == 2 && moved.stderr.contains("changed how a host is reached") && moved.stderr.contains("db1 was") && moved.stderr.contains(":9"), "\(moved.stderr)")
        #expect(Self.journal(runs).1.count == before.count, "a refused resume writes nothing")
        try FileManager.default.removeItem(atPath: hostVars + "/db1.yml")
        let resumed = try Firedrill.run(["run", "--resume", id ?? "", "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(resumed.status == 1, "a resumed drill is not a pass: \(resumed.stdout)\(resumed.stderr)")
        let (_, after) = Self.journal(runs)
        #expect(after.contains { $0.event == .resumed && ($0.detail ?? "").contains("failover.1, failover.2, failover.3") })
        #expect(after.contains { $0.event == .restoreFinished && $0.result == "completed" })
        #expect(after.last?.event == .runEnded)
        let again = try Firedrill.run(["run", "--resume", id ?? "", "--yes", "--runs-dir", runs])
        #expect(again.status == 2 && again.stderr.contains("already ended"))
        #expect(try Firedrill.run(["verify-journal", id ?? "", "--runs-dir", runs]).status == 0)
    }

    @Test func sigintStopsTheStepRunsRestoreAndExits130() throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        let runs = Self.runsDir(in: lab)
        try lab.knob("db1", "delay-systemctl", "300")   // "Stop primary database" hangs on the host
        let runner = try Firedrill.start(["run", TestLab.simulatedEHR, "-i", lab.inventory, "--yes", "--manual=pass",
                                          "--output", "plain", "--runs-dir", runs])
        #expect(Self.waitForEvent(in: runs, while: runner) { $0.event == .commandStarted && $0.step == "failover.1" })
        kill(runner.process.processIdentifier, SIGINT)
        let r = runner.wait()
        #expect(r.status == 130, "\(r.stdout)\(r.stderr)")
        let (_, events) = Self.journal(runs)
        #expect(events.contains { $0.event == .interrupted })
        #expect(events.contains { $0.event == .stepFinished && $0.step == "failover.1" && $0.result == "interrupted" })
        #expect(events.contains { $0.event == .restoreFinished && $0.result == "completed" })
        #expect(events.contains { $0.event == .checkResult && $0.phase == .final })
        #expect(events.last?.result == "interrupted")
        // The hung command was killed on the host, not only abandoned.
        let left = try Firedrill.run(["ping", "db1", "-i", lab.inventory])
        #expect(left.status == 0)
        let procs = try lab.runSync("db1", "pgrep -f '[s]leep 300' || true")
        #expect(procs.isEmpty, "still running on db1: \(procs)")
    }

    @Test func secretsNeverReachOutputOrJournal() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let dir = Self.runsDir(in: lab)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let pb = "\(dir)/secret.yml"
        try """
        name: Secret handling
        service: secret-probe
        secrets: { api_token: env:FD_TEST_TOKEN }
        checks:
          echoes_token: { command: "echo {{ api_token }}", on: db1 }
        steady_state: [echoes_token]
        steps:
          - name: Use the token
            on: db1
            run: "echo token={{ api_token }}; echo {{ api_token }} >&2; exit 3"
        restore:
          - { name: Echo again, on: db1, run: "echo {{ api_token }}" }
        """.write(toFile: pb, atomically: true, encoding: .utf8)
        let token = "s3cr3t-\(UUID().uuidString.prefix(12))"
        let d = try drill(pb, lab, environment: ["FD_TEST_TOKEN": token])
        #expect(d.result.status == 1)
        let journal = try String(contentsOfFile: RunStore(root: d.runsDir).journalPath(d.runID ?? ""), encoding: .utf8)
        let plan = try String(contentsOfFile: RunStore(root: d.runsDir).directory(d.runID ?? "") + "/plan.json", encoding: .utf8)
        for text in [journal, plan, d.result.stdout, d.result.stderr] { #expect(!text.contains(token)) }
        #expect(journal.contains("token=\(Secret.mask)"), "output is kept, with the value masked")
        let json = try Firedrill.run(["run", pb, "-i", lab.inventory, "--yes", "--format", "json", "--runs-dir", d.runsDir],
                                     environment: ["FD_TEST_TOKEN": token])
        #expect(!json.stdout.contains(token) && json.stdout.contains("command_finished"))
        // A check's evidence is masked where it is made, so plan --preflight cannot print the value either.
        let preflight = try Firedrill.run(["plan", pb, "-i", lab.inventory, "--preflight", "--format", "json"], environment: ["FD_TEST_TOKEN": token])
        #expect(preflight.status == 0, "\(preflight.stdout)\(preflight.stderr)")
        #expect(!preflight.stdout.contains(token) && preflight.stdout.contains(Secret.mask))
    }

    @Test func tamperingAndTruncationAreDetected() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let d = try drill(TestLab.simulatedEHR, lab)
        let path = RunStore(root: d.runsDir).journalPath(d.runID ?? "")
        let original = try String(contentsOfFile: path, encoding: .utf8)
        var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let i = try #require(lines.firstIndex { $0.contains("\"command_finished\"") })
        lines[i] = lines[i].replacingOccurrences(of: "\"exit\":0", with: "\"exit\":1")
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let edited = try Firedrill.run(["verify-journal", d.runID ?? "", "--runs-dir", d.runsDir])
        #expect(edited.status == 1)
        let listed = try Firedrill.run(["runs", "--runs-dir", d.runsDir])
        #expect(listed.stdout.contains("unknown (JOURNAL DAMAGED)"), "a journal damaged mid-way cannot say how the run ended: \(listed.stdout)")
        #expect(edited.stdout.contains("line \(i + 2)"), "the line after the edit no longer chains: \(edited.stdout)")
        // Cut the last two events (run_ended included): the seal says where the run ended.
        let kept = original.split(separator: "\n").dropLast(2).joined(separator: "\n") + "\n"
        try kept.write(toFile: path, atomically: true, encoding: .utf8)
        let cut = try Firedrill.run(["verify-journal", d.runID ?? "", "--runs-dir", d.runsDir])
        #expect(cut.status == 1 && cut.stdout.contains("removed"), "\(cut.stdout)")
        try original.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try Firedrill.run(["verify-journal", d.runID ?? "", "--runs-dir", d.runsDir]).status == 0)
    }

    @Test func refusesWithoutConfirmationOrManualAnswers() throws {
        let noYes = try Firedrill.run(["run", "Playbooks/dns-failover.yml"])
        #expect(noYes.status == 2 && noYes.stderr.contains("--yes"))
        let manual = try Firedrill.run(["run", TestLab.simulatedEHR, "--yes"])
        #expect(manual.status == 2 && manual.stderr.contains("--manual=pass"))
        let both = try Firedrill.run(["run", TestLab.simulatedEHR, "--resume", "x"])
        #expect(both.status == 2)
        let override = try Firedrill.run(["run", "--resume", "x", "--limit", "db1"])
        #expect(override.status == 2 && override.stderr.contains("run's own inventory and --limit"), "\(override.stderr)")
        let missing = try Firedrill.run(["run", "--resume", "nope", "--yes", "--runs-dir", "/nonexistent/fd-runs"])
        #expect(missing.status == 2 && missing.stderr.contains("no run 'nope'"))
    }
}

extension TestLab {
    /// Runs a command on a lab host with OpenSSH's own client, synchronously for simple assertions.
    /// (Not through a Task: a test blocking a cooperative thread on one would starve the pool.)
    func runSync(_ host: String, _ command: String) throws -> String {
        let port = try #require(lab.state()?.hosts.first { $0.name == host }?.port)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
        p.arguments = ["-q", "-i", lab.keyPath, "-o", "UserKnownHostsFile=\(lab.knownHostsPath)", "-o", "BatchMode=yes",
                       "-p", String(port), "\(state.user)@127.0.0.1", command]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
