import Foundation
import Testing
@testable import FiredrillCore

/// A fleet's shape (`lab up --fleet`): logged in as non-root users, steps with sudo, passwords
/// from a file and from the terminal (answered through tmux), every sudo failure caught at
/// preflight before anything runs, and the password in no output, journal or report.
@Suite struct BecomeCLITests {
    func password(_ lab: TestLab) throws -> String {
        try String(contentsOfFile: lab.lab.becomePasswordPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every file under `dir`, read as text, that contains `secret`.
    func files(under dir: String, containing secret: String) -> [String] {
        let e = FileManager.default.enumerator(atPath: dir)
        var out: [String] = []
        while let f = e?.nextObject() as? String {
            let path = "\(dir)/\(f)"
            if let data = FileManager.default.contents(atPath: path), String(decoding: data, as: UTF8.self).contains(secret) { out.append(f) }
        }
        return out
    }

    /// A step that says who it runs as, and who logged in, and prints the become password (as
    /// root, who can read the file): the output must show it masked.
    func whoami(_ lab: TestLab, on host: String = "db1") throws -> String {
        let pb = "\(lab.dir)/whoami-\(UUID().uuidString.prefix(6)).yml"
        try """
            name: Who am I
            service: whoami
            criticality: low
            steps:
              - name: Who
                on: \(host)
                run: "echo as=$(id -un) by=$SUDO_USER; cat \(lab.lab.becomePasswordPath) >&2"
            """.write(toFile: pb, atomically: true, encoding: .utf8)
        return pb
    }

    @Test func theEHRDrillPassesAsANonRootUserWithSudoAndThePasswordIsNowhere() throws {
        let lab = try TestLab.start(fleet: true)
        defer { lab.stop() }
        let secret = try password(lab)
        let runs = "\(lab.dir)/runs"
        let pb = try lab.ehrPlaybook()
        let r = try Firedrill.run(["run", pb, "-i", lab.inventory, "--become-password-file", lab.lab.becomePasswordPath,
                                   "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(r.status == 0 && r.stdout.contains("Drill PASSED"), "\(r.stdout)\(r.stderr)")
        // The commands ran as root, for the login user.
        let who = try Firedrill.run(["run", try whoami(lab), "-i", lab.inventory, "--become-password-file", lab.lab.becomePasswordPath,
                                     "--yes", "--output", "plain", "--runs-dir", runs])
        #expect(who.status == 0, "\(who.stdout)\(who.stderr)")
        #expect(!files(under: runs, containing: "as=root by=fd-deploy").isEmpty, "the step's output in its journal says who it ran as")
        #expect(!files(under: runs, containing: Secret.mask).isEmpty, "the password the step printed is masked in its journal")
        let report = try Firedrill.run(["report", "latest", "--runs-dir", runs, "--format", "html", "-o", "\(runs)/report.html"])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret) && !who.stdout.contains(secret))
        #expect(files(under: runs, containing: secret).isEmpty, "the password is in \(files(under: runs, containing: secret))")
    }

    /// `-K`: the password typed at the terminal (tmux types it here, from a paste buffer: never on
    /// a command line), not echoed, used once for every host — every host behind the lab's
    /// bastion (in its network namespace, as root); then the EHR drill the same way.
    @Test func theBecomePasswordIsAskedOnTheTerminalOnce() throws {
        let lab = try TestLab.start(fleet: true, bastion: true)
        defer { lab.stop() }
        let secret = try password(lab)
        let runs = "\(lab.dir)/runs"
        let pb = try whoami(lab, on: "db1:db2")
        let tmux = TmuxSession(dir: lab.dir)
        defer { tmux.kill() }
        try tmux.start([Firedrill.binary, "run", pb, "-i", lab.inventory, "-K", "--yes", "--output", "plain", "--runs-dir", runs])
        #expect(tmux.waitForScreen { $0.contains("BECOME password:") }, "no prompt: \(tmux.screen())")
        try tmux.type(secret + "\n")
        let status = tmux.waitForExit()
        let screen = tmux.screen()
        #expect(status == 0, "\(screen)")
        #expect(screen.components(separatedBy: "BECOME password:").count == 2, "asked once: \(screen)")
        #expect(!screen.contains(secret), "the password was echoed")
        let (_, events) = DrillScenarioTests.journal(runs)
        #expect(events.filter { $0.event == .commandFinished && ($0.stdout ?? "").contains("as=root by=fd-deploy") }.count == 2)

        let ehrDir = "\(lab.dir)/ehr-tty"
        try FileManager.default.createDirectory(atPath: ehrDir, withIntermediateDirectories: true)
        let second = TmuxSession(dir: ehrDir)
        defer { second.kill() }
        try second.start([Firedrill.binary, "run", try lab.ehrPlaybook(), "-i", lab.inventory, "-K", "--yes", "--manual=pass", "--output", "plain",
                          "--runs-dir", "\(ehrDir)/runs"])
        #expect(second.waitForScreen { $0.contains("BECOME password:") }, "no prompt: \(second.screen())")
        try second.type(secret + "\n")
        let ehr = second.waitForExit()
        #expect(ehr == 0 && second.screen().contains("Drill PASSED") && !second.screen().contains(secret), "\(second.screen())")
    }

    /// Each way sudo can refuse is one clear line at preflight, exit 3, and nothing ran.
    @Test(arguments: [
        ("fd-deploy", "wrong", "fd-deploy cannot sudo on db1: the become password was refused"),
        ("fd-deploy", nil, "fd-deploy cannot sudo on db1: a password is required"),
        ("fd-guest", "right", "fd-guest cannot sudo to root on db1: fd-guest is not in the sudoers file"),
        ("fd-tty", "right", "fd-tty cannot sudo on db1: sudoers requires a terminal (requiretty)"),
    ] as [(String, String?, String)])
    func sudoRefusalsAreCaughtAtPreflightTouchingNothing(_ user: String, _ given: String?, _ said: String) throws {
        let lab = try TestLab.start(hosts: 1, fleet: true)
        defer { lab.stop() }
        let inventory = "\(lab.dir)/as-\(user).yml"
        try String(contentsOfFile: lab.inventory, encoding: .utf8).replacingOccurrences(of: "ansible_user: fd-deploy", with: "ansible_user: \(user)")
            .write(toFile: inventory, atomically: true, encoding: .utf8)
        var extra: [String] = []
        if let given {
            let file = "\(lab.dir)/pw-\(user)"
            let value = given == "right" ? try password(lab) : "not-the-password"
            _ = FileManager.default.createFile(atPath: file, contents: Data((value + "\n").utf8), attributes: [.posixPermissions: 0o600])
            extra = ["--become-password-file", file]
        }
        let pb = "\(lab.dir)/touch.yml"
        try "name: Touch\nservice: touch\ncriticality: low\nbecome: true\nsteps:\n  - name: Touch\n    on: db1\n    run: \"touch \(lab.dir)/touched\"\n"
            .write(toFile: pb, atomically: true, encoding: .utf8)
        let runs = "\(lab.dir)/runs"
        let r = try Firedrill.run(["run", pb, "-i", inventory, "--yes", "--output", "plain", "--runs-dir", runs] + extra)
        #expect(r.status == 3, "\(r.stdout)\(r.stderr)")
        #expect((r.stdout + r.stderr).contains(said), "\(r.stdout)\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(lab.dir)/touched"))
        let (_, events) = DrillScenarioTests.journal(runs)
        #expect(!events.isEmpty && !events.contains { $0.event == .commandStarted }, "\(events.map(\.event))")
        let preflight = try Firedrill.run(["plan", pb, "-i", inventory, "--preflight"] + extra)
        #expect(preflight.status == 3 && preflight.stdout.contains(said), "\(preflight.stdout)\(preflight.stderr)")
    }

    /// A step run as root that times out, leaving a daemon that escaped its process group: the
    /// kill and the sweep act as root, and nothing is left running (`ps`).
    @Test func aTimedOutSudoStepLeavesNothingRunning() throws {
        let lab = try TestLab.start(hosts: 1, fleet: true)
        defer { lab.stop() }
        let mark = "30\(Int.random(in: 100...999))"
        let pb = "\(lab.dir)/hang.yml"
        try """
            name: Hang
            service: hang
            criticality: low
            steps:
              - name: Hang as root
                on: db1
                become: true
                timeout: 2s
                run: "setsid sleep \(mark)1 & (setsid sh -c 'exec sleep \(mark)2' &); sleep \(mark)3"
            """.write(toFile: pb, atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["run", pb, "-i", lab.inventory, "--become-password-file", lab.lab.becomePasswordPath,
                                   "--yes", "--output", "plain", "--runs-dir", "\(lab.dir)/runs", "--kill-grace", "1s"])
        #expect(r.status == 1 && r.stdout.contains("timed out"), "\(r.stdout)\(r.stderr)")
        let left = Self.processes(matching: "sleep \(mark)")
        #expect(left.isEmpty, "still running: \(left)")
        #expect(r.stdout.contains("killed"), "\(r.stdout)")
    }

    /// `become_method: su` (util-linux su reads the password from its input, no terminal
    /// needed): fd-guest, who may not sudo, becomes fd-ops with fd-ops's password. A wrong
    /// password is one line at preflight with nothing run; a timed-out step is killed through su
    /// as fd-ops, leaving nothing; the password is in no output or journal.
    @Test func suBecomesAnotherUserAndKillsAsThatUser() throws {
        let lab = try TestLab.start(hosts: 1, fleet: true)
        defer { lab.stop() }
        let secret = try password(lab)
        let inventory = "\(lab.dir)/as-guest.yml"
        try String(contentsOfFile: lab.inventory, encoding: .utf8)
            .replacingOccurrences(of: "ansible_user: fd-deploy", with: "ansible_user: fd-guest")
            .replacingOccurrences(of: "    ansible_become: true\n", with: "    ansible_become: true\n    ansible_become_method: su\n    ansible_become_user: fd-ops\n")
            .write(toFile: inventory, atomically: true, encoding: .utf8)
        let mark = "31\(Int.random(in: 100...999))"
        // A folder fd-ops may write in (the lab's own is root's).
        let drop = "\(lab.dir)/drop"
        try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o1777])
        let pb = "\(lab.dir)/su.yml"
        try """
            name: As ops
            service: su
            criticality: low
            become: true
            steps:
              - name: Who
                on: db1
                run: "echo as=$(id -un) home=$HOME; touch \(drop)/by-su"
              - name: Hang
                on: db1
                timeout: 2s
                run: "setsid sleep \(mark)1 & sleep \(mark)2"
            """.write(toFile: pb, atomically: true, encoding: .utf8)
        let wrong = "\(lab.dir)/wrong-pw"
        _ = FileManager.default.createFile(atPath: wrong, contents: Data("not-it\n".utf8), attributes: [.posixPermissions: 0o600])
        let refused = try Firedrill.run(["run", pb, "-i", inventory, "--become-password-file", wrong, "--yes", "--output", "plain", "--runs-dir", "\(lab.dir)/refused"])
        #expect(refused.status == 3 && refused.stdout.contains("fd-guest cannot su to fd-ops on db1: the become password was refused"),
                "\(refused.stdout)\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(drop)/by-su"))

        let runs = "\(lab.dir)/runs"
        let r = try Firedrill.run(["run", pb, "-i", inventory, "--become-password-file", lab.lab.becomePasswordPath,
                                   "--yes", "--output", "plain", "--runs-dir", runs, "--kill-grace", "1s"])
        #expect(r.status == 1 && r.stdout.contains("timed out") && r.stdout.contains("killed"), "\(r.stdout)\(r.stderr)")
        let (_, events) = DrillScenarioTests.journal(runs)
        #expect(events.contains { $0.event == .commandFinished && ($0.stdout ?? "").contains("as=fd-ops") }, "\(events.compactMap(\.stdout))")
        #expect(try FileManager.default.attributesOfItem(atPath: "\(drop)/by-su")[.ownerAccountName] as? String == "fd-ops")
        let left = Self.processes(matching: "sleep \(mark)")
        #expect(left.isEmpty, "still running: \(left)")
        #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret) && files(under: runs, containing: secret).isEmpty)
        let plan = try Firedrill.run(["plan", pb, "-i", inventory])
        #expect(plan.stdout.contains("as fd-guest, su → fd-ops"), "\(plan.stdout)")
    }

    /// Login by password (no key): keyboard-interactive then password, as OpenSSH orders them;
    /// a refused one names what the server offers.
    @Test func aPasswordLoginWorksAndARefusedOneSaysWhatTheServerOffers() throws {
        let lab = try TestLab.start(hosts: 1, fleet: true)
        defer { lab.stop() }
        let inventory = "\(lab.dir)/password.yml"
        try String(contentsOfFile: lab.inventory, encoding: .utf8)
            .replacingOccurrences(of: "    ansible_ssh_private_key_file: \(lab.lab.keyPath)\n", with: "")
            .write(toFile: inventory, atomically: true, encoding: .utf8)
        let env = ["HOME": lab.dir, "SSH_AUTH_SOCK": ""]
        let ok = try Firedrill.run(["ping", "db1", "-i", inventory, "--connection-password-file", lab.lab.becomePasswordPath], environment: env)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        let wrong = "\(lab.dir)/wrong"
        _ = FileManager.default.createFile(atPath: wrong, contents: Data("nope\n".utf8), attributes: [.posixPermissions: 0o600])
        let bad = try Firedrill.run(["ping", "db1", "-i", inventory, "--connection-password-file", wrong], environment: env)
        #expect(bad.status == 3 && bad.stdout.contains("the server offers: publickey, password, keyboard-interactive")
                && bad.stdout.contains("was refused"), "\(bad.stdout)\(bad.stderr)")
        let none = try Firedrill.run(["ping", "db1", "-i", inventory], environment: env)
        #expect(none.status == 3 && none.stdout.contains("pass -k"), "\(none.stdout)\(none.stderr)")
        // In the inventory (as ansible_password): the same login.
        let inline = "\(lab.dir)/inline.yml"
        try String(contentsOfFile: inventory, encoding: .utf8)
            .replacingOccurrences(of: "    ansible_become: true\n", with: "    ansible_become: true\n    ansible_password: \(try password(lab))\n")
            .write(toFile: inline, atomically: true, encoding: .utf8)
        let fromInventory = try Firedrill.run(["ping", "db1", "-i", inline], environment: env)
        #expect(fromInventory.status == 0, "\(fromInventory.stdout)\(fromInventory.stderr)")
    }

    @Test func passwordFilesThatCannotBeUsedAreBadInput() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("fd-empty-\(UUID().uuidString.prefix(6))").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data(), attributes: [.posixPermissions: 0o600])
        defer { try? FileManager.default.removeItem(atPath: empty) }
        for (args, said) in [(["--become-password-file", "/nonexistent/pw"], "does not exist"),
                             (["--become-password-file", empty], "is empty"),
                             (["-K", "--become-password-file", empty], "give one")] {
            let r = try Firedrill.run(["ping", "all", "-i", "Inventory/hospital.yml"] + args)
            #expect(r.status == 2 && r.stderr.contains(said), "\(args): \(r.stderr)")
        }
        // -K without a terminal (a new session has none): said, not hung.
        let r = try Firedrill.startProcess("/usr/bin/setsid", ["-w", Firedrill.binary, "ping", "db1", "-i", "Inventory/hospital.yml", "-K"]).wait()
        #expect(r.status == 2 && r.stderr.contains("there is no terminal to ask for the password on"), "\(r.stderr)")
    }

    /// Live processes whose command line contains `text` (from /proc).
    static func processes(matching text: String) -> [String] {
        Lab.processes().compactMap { pid -> String? in
            guard let cmd = Lab.commandLine(of: pid), !cmd.isEmpty else { return nil }
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), stat.contains(") Z ") { return nil }
            return cmd.contains(text) ? "\(pid) \(cmd)" : nil
        }
    }
}

/// A terminal for a test: a private tmux server (its own socket, never the operator's), one
/// session running one command, its exit status written to a file.
struct TmuxSession {
    let dir: String
    var socket: String { "\(dir)/tmux.sock" }
    var statusFile: String { "\(dir)/tmux.status" }

    /// Runs the tmux client. Not through Foundation's Process: the tmux server it starts would
    /// inherit Process's private socket and make waiting for the client hang forever.
    /// ChildProcess passes the child no descriptor but its standard ones.
    func tmux(_ args: [String]) throws -> String {
        try ChildProcess.capture(["/usr/bin/tmux", "-S", socket] + args).output
    }

    func start(_ argv: [String]) throws {
        let command = argv.map(ShellQuoting.quote).joined(separator: " ") + "; echo $? > \(ShellQuoting.quote(statusFile)); sleep 600"
        // Its own lock folder and history, as `Firedrill.run` gives each test: two tests drilling
        // the same service name at once must not wait for (or take over) each other's locks.
        let env = "NO_COLOR=1 FIREDRILL_LOCK_DIR=\(ShellQuoting.quote(dir + "/locks")) FIREDRILL_DB=\(ShellQuoting.quote(dir + "/history.sqlite"))"
        _ = try tmux(["new-session", "-d", "-x", "200", "-y", "50", "-s", "t", "env \(env) sh -c " + ShellQuoting.quote(command)])
    }

    func screen() -> String { (try? tmux(["capture-pane", "-p", "-S", "-200", "-t", "t"])) ?? "" }

    /// Polls the screen for a condition, at most `deadline` (a bound, not a timing).
    func waitForScreen(deadline: Duration = .seconds(60), _ match: (String) -> Bool) -> Bool {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if match(screen()) { return true }
            usleep(20_000)
        }
        return match(screen())
    }

    /// Types `text` through a paste buffer loaded from a file only this user can read (never on
    /// a command line).
    func type(_ text: String) throws {
        let file = "\(dir)/typed-\(UUID().uuidString.prefix(6))"
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ChildProcess.Failure(description: "cannot write \(file)") }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        defer { unlink(file) }
        _ = try tmux(["load-buffer", "-b", "typed", file])
        _ = try tmux(["paste-buffer", "-d", "-b", "typed", "-t", "t"])
    }

    func waitForExit(deadline: Duration = .seconds(120)) -> Int32? {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if let s = try? String(contentsOfFile: statusFile, encoding: .utf8), let v = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)) { return v }
            usleep(20_000)
        }
        return nil
    }

    func kill() { _ = try? tmux(["kill-server"]) }
}
