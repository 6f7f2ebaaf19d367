import Foundation
import Testing
@testable import FiredrillCore

/// Processes whose command line contains `text` (only ever ones a test started).
func processes(containing text: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
    }
}

/// Hosts behind a jump host (ProxyJump over direct-tcpip) or a proxy command, through the
/// built binary, on a lab whose hosts are reached through its bastion.
@Suite(.serialized) struct ProxyCLITests {
    /// The lab's inventory with `from` replaced by `to` (written beside it).
    func inventory(_ lab: TestLab, replacing from: String, with to: String) throws -> String {
        let text = try String(contentsOfFile: lab.inventory, encoding: .utf8)
        #expect(text.contains(from), "the lab's inventory no longer contains \(from)")
        let path = "\(lab.dir)/inventory-\(UUID().uuidString.prefix(6)).yml"
        try text.replacingOccurrences(of: from, with: to).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func jumpOption(_ lab: TestLab) throws -> String {
        let b = try #require(lab.state.bastion)
        if let relayed = lab.state.relay?.listenPort(for: b.port) { return "-o ProxyJump=\(lab.state.user)@127.0.0.1:\(relayed)" }
        return "-o ProxyJump=\(lab.state.user)@\(address(lab)):\(b.port)"
    }

    /// Where the bastion listens: its network namespace's address, or 127.0.0.1 without one.
    func address(_ lab: TestLab) -> String { lab.state.namespace?.siteAddress ?? "127.0.0.1" }

    /// Lines of the bastion's log saying a login was accepted.
    func bastionLogins(_ lab: TestLab) -> Int {
        let log = (try? String(contentsOfFile: "\(lab.dir)/logs/bastion.log", encoding: .utf8)) ?? ""
        return log.components(separatedBy: "Accepted publickey").count - 1
    }

    @Test func everyHostIsReachedThroughTheBastionWhichIsLoggedIntoOnce() throws {
        let lab = try TestLab.start(hosts: 3, bastion: true)
        defer { lab.stop() }
        let b = try #require(lab.state.bastion)
        let ping = try Firedrill.run(["ping", "all", "-i", lab.inventory])
        #expect(ping.status == 0, "\(ping.stdout)\(ping.stderr)")
        #expect(ping.stdout.contains("via \(address(lab)) (\(lab.state.user)@\(address(lab)):\(b.port))"), "the path is shown: \(ping.stdout)")
        #expect(bastionLogins(lab) == 1, "three hosts, one login to the bastion: \(bastionLogins(lab))")
        let json = try Firedrill.run(["ping", "db1", "-i", lab.inventory, "--format", "json"])
        let answers = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(answers.count == 1 && answers[0]["ok"] as? Bool == true && (answers[0]["via"] as? String)?.contains("\(address(lab)):\(b.port)") == true, "\(json.stdout)")
        let plan = try Firedrill.run(["plan", try lab.ehrPlaybook(), "-i", lab.inventory, "--format", "json"])
        #expect(plan.status == 0 && plan.stdout.contains("\"jump\"") && plan.stdout.contains("\"port\" : \(b.port)"), "\(plan.stdout.prefix(3000))")
        let text = try Firedrill.run(["plan", try lab.ehrPlaybook(), "-i", lab.inventory])
        #expect(text.stdout.contains("      via \(address(lab)) (\(lab.state.user)@\(address(lab)):\(b.port))"), "\(text.stdout)")
        // In their network namespace the hosts cannot be reached around the bastion at all.
        if lab.state.namespace != nil {
            let direct = try Firedrill.run(["ping", "all", "-i", try inventory(lab, replacing: try jumpOption(lab), with: "")])
            #expect(direct.status == 3 && !direct.stdout.contains(" ok "), "\(direct.stdout)")
        }
        // With the bastion gone the hosts, still running, cannot be reached: nothing went around it.
        lab.lab.stop(pid: b.pid)
        let cut = try Firedrill.run(["ping", "all", "-i", lab.inventory])
        #expect(cut.status == 3 && cut.stdout.contains("through the jump host \(address(lab))") && cut.stdout.contains("connection refused"), "\(cut.stdout)")
        #expect(lab.state.hosts.allSatisfy { kill($0.pid, 0) == 0 })
    }

    /// The issue's done-when: the EHR drill as the non-root user with sudo, every host behind
    /// the bastion, the password from a file.
    @Test func theEHRDrillPassesThroughTheBastionAsANonRootUserWithSudo() throws {
        let lab = try TestLab.start(fleet: true, bastion: true)
        defer { lab.stop() }
        let runs = "\(lab.dir)/runs"
        let r = try Firedrill.run(["run", try lab.ehrPlaybook(), "-i", lab.inventory, "--become-password-file", lab.lab.becomePasswordPath,
                                   "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(r.status == 0 && r.stdout.contains("Drill PASSED"), "\(r.stdout)\(r.stderr)")
        #expect(bastionLogins(lab) == 1, "one bastion connection for the whole drill: \(bastionLogins(lab))")
        let secret = try String(contentsOfFile: lab.lab.becomePasswordPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret))
    }

    @Test(arguments: ["unknown-key", "no-forwarding", "proxy-exits"])
    func aJumpThatFailsIsCaughtAtPreflightTouchingNothing(_ fault: String) throws {
        let lab = try TestLab.start(hosts: 2, bastion: true)
        defer { lab.stop() }
        let jump = try jumpOption(lab)
        let inv: String
        let said: String
        switch fault {
        case "unknown-key":
            let b = try #require(lab.state.bastion)
            let known = try String(contentsOfFile: lab.lab.knownHostsPath, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("[\(address(lab))]:\(b.port) ") }
            let file = "\(lab.dir)/known_without_bastion"
            try (known.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            inv = try inventory(lab, replacing: "UserKnownHostsFile=\(lab.lab.knownHostsPath)", with: "UserKnownHostsFile=\(file)")
            said = "through the jump host \(address(lab)) (\(lab.state.user)@\(address(lab)):\(b.port)): host key not known"
        case "no-forwarding":
            // db2's sshd does not forward (AllowTcpForwarding no), as most hosts that are not
            // bastions: a chain through the bastion, then db2, is refused at its second hop.
            let db2 = try #require(lab.state.hosts.first { $0.name == "db2" })
            inv = try inventory(lab, replacing: jump, with: jump + ",\(lab.state.user)@127.0.0.1:\(db2.port)")
            said = "refused to forward a connection to 127.0.0.1:"
        default:
            inv = try inventory(lab, replacing: jump, with: "-o 'ProxyCommand=sh -c \\\"echo no route to site B >&2; exit 3\\\"'")
            said = "the ProxyCommand exited with status 3 before the SSH handshake: no route to site B"
        }
        let runs = "\(lab.dir)/runs"
        let r = try Firedrill.run(["run", try lab.ehrPlaybook(), "-i", inv, "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(r.status == 3, "\(r.stdout)\(r.stderr)")
        #expect((r.stdout + r.stderr).contains(said), "\(fault): \(r.stdout)\(r.stderr)")
        #expect(!r.stdout.contains("failover.1"), "nothing ran: \(r.stdout)")
        let role = try String(contentsOfFile: "\(lab.dir)/hosts/db1/state/pg-role", encoding: .utf8)
        #expect(role.hasPrefix("primary"))
    }

    @Test func aProxyCommandCarriesTheConnectionAndEndsWithIt() throws {
        let lab = try TestLab.start(hosts: 1, bastion: true)
        defer { lab.stop() }
        let b = try #require(lab.state.bastion)
        let marker = "fd-proxy-\(UUID().uuidString.prefix(6))"
        // The classic form: OpenSSH's own client forwards to the host (%h:%p) through the bastion,
        // after much chatter on stderr (more than a pipe holds: it must be read as it comes).
        let command = "yes chatter | head -c 300000 >&2; exec ssh -q -o BatchMode=yes -o UserKnownHostsFile=\(lab.lab.knownHostsPath) -o SetEnv=X=\(marker) -i \(lab.lab.keyPath) -p \(b.port) -W %h:%p \(lab.state.user)@\(address(lab))"
        let inv = try inventory(lab, replacing: try jumpOption(lab), with: "-o 'ProxyCommand=\(command)'")
        let ping = try Firedrill.run(["ping", "all", "-i", inv])
        #expect(ping.status == 0 && ping.stdout.contains("via the ProxyCommand 'yes chatter"), "\(ping.stdout)\(ping.stderr)")
        #expect(processes(containing: marker).isEmpty, "the proxy command ended with the connection")
    }

    /// A slow link (40 ms each way through the relay): the drill passes, its deadlines hold, and
    /// ping's round trip includes the link.
    @Test func theDrillPassesOverASlowLink() throws {
        let lab = try TestLab.start(fleet: true, bastion: true, latency: .milliseconds(40))
        defer { lab.stop() }
        let relay = try #require(lab.state.relay)
        let json = try Firedrill.run(["ping", "db1", "-i", lab.inventory, "--format", "json"])
        let answers = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        // Connecting takes several round trips through the relay: it cannot take less than one.
        let ms = try #require(answers.first?["latency_ms"] as? Double)
        #expect(ms >= Double(2 * relay.latencyMS), "\(ms) ms")
        let runs = "\(lab.dir)/runs"
        let r = try Firedrill.run(["run", try lab.ehrPlaybook(), "-i", lab.inventory, "--become-password-file", lab.lab.becomePasswordPath,
                                   "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(r.status == 0 && r.stdout.contains("Drill PASSED"), "\(r.stdout)\(r.stderr)")
    }
}

/// The example fleet inventory: a plan (no connection) shows who logs in, the sudo, and the
/// way to the second site through its bastion.
@Suite struct FleetInventoryExampleTests {
    @Test func thePlanShowsTheUserTheSudoAndTheBastion() throws {
        let r = try Firedrill.run(["plan", "Playbooks/ehr-db-failover.yml", "-i", "Inventory/hospital-fleet.ini", "--no-ssh-config"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let db2 = try #require(lines.firstIndex { $0.hasPrefix("  db2") })
        #expect(lines[db2].contains("10.20.1.11:22  as deploy, sudo → postgres"), "\(r.stdout)")
        #expect(lines[db2 + 1].trimmingCharacters(in: .whitespaces) == "via bastion-b.hospital.example (jump@bastion-b.hospital.example:2222)", "\(r.stdout)")
        let db1 = try #require(lines.firstIndex { $0.hasPrefix("  db1") })
        #expect(lines[db1].contains("10.10.1.11:22  as deploy, sudo → postgres") && !lines[db1 + 1].contains("via"), "\(r.stdout)")
        let json = try Firedrill.run(["plan", "Playbooks/ehr-db-failover.yml", "-i", "Inventory/hospital-fleet.ini", "--no-ssh-config", "--format", "json"])
        #expect(json.stdout.contains("\"route\"") && json.stdout.contains("\"become\""), "\(json.stdout.prefix(2000))")
    }
}

/// Certificates: what libssh2 1.10 cannot check is refused in words, never trusted instead.
@Suite struct CertificateTests {
    @Test func aHostTrustedThroughACertificateAuthorityIsRefusedNotTrustedOnFirstUse() throws {
        let lab = try TestLab.start(hosts: 1)
        defer { lab.stop() }
        let db1 = try #require(lab.state.hosts.first)
        // The team's known_hosts trusts a CA for the host and records no key of the host itself.
        let ca = try String(contentsOfFile: lab.lab.keyPath + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let file = "\(lab.dir)/known_ca"
        try "@cert-authority [127.0.0.1]:\(db1.port) \(ca)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: lab.inventory, encoding: .utf8).replacingOccurrences(of: "UserKnownHostsFile=\(lab.lab.knownHostsPath)", with: "UserKnownHostsFile=\(file)")
        try text.write(toFile: "\(lab.dir)/ca.yml", atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["ping", "all", "-i", "\(lab.dir)/ca.yml", "--accept-new"])
        #expect(r.status == 3 && r.stdout.contains("trusts a host certificate authority") && r.stdout.contains("(line 1)"), "\(r.stdout)\(r.stderr)")
        let after = try String(contentsOfFile: file, encoding: .utf8)
        #expect(after.split(separator: "\n").count == 1, "--accept-new recorded nothing: \(after)")
    }

    @Test func aRefusedKeyWithAUserCertificateBesideItSaysTheCertificateWasNotPresented() throws {
        let lab = try TestLab.start(hosts: 1)
        defer { lab.stop() }
        let key = "\(lab.dir)/id_cert_user"
        try Lab.runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
        try "ssh-ed25519-cert-v01@openssh.com AAAA (stands for a certificate)\n".write(toFile: key + "-cert.pub", atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: lab.inventory, encoding: .utf8).replacingOccurrences(of: "ansible_ssh_private_key_file: \(lab.lab.keyPath)", with: "ansible_ssh_private_key_file: \(key)")
        try text.write(toFile: "\(lab.dir)/cert.yml", atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["ping", "all", "-i", "\(lab.dir)/cert.yml"], environment: ["SSH_AUTH_SOCK": ""])
        #expect(r.status == 3 && r.stdout.contains("authentication failed") && r.stdout.contains("-cert.pub is a user certificate, which Firedrill does not present"), "\(r.stdout)")
    }
}

/// What a hostile review found wrong with jump hosts and proxy commands, each kept fixed.
@Suite(.serialized) struct ProxyFaultTests {
    func inventory(_ lab: TestLab, adding options: String, removingJump: Bool = false) throws -> String {
        var text = try String(contentsOfFile: lab.inventory, encoding: .utf8)
        if removingJump, let b = lab.state.bastion {
            let address = lab.state.namespace?.siteAddress ?? "127.0.0.1"
            text = text.replacingOccurrences(of: " -o ProxyJump=\(lab.state.user)@\(address):\(b.port)", with: "")
        }
        text = text.replacingOccurrences(of: "UserKnownHostsFile=\(lab.lab.knownHostsPath)", with: "UserKnownHostsFile=\(lab.lab.knownHostsPath) \(options)")
        let path = "\(lab.dir)/inventory-\(UUID().uuidString.prefix(6)).yml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// libssh2 keeps one channel open in progress per session: opened for several hosts at once
    /// through one bastion, a host could be handed another's connection (a command on the wrong
    /// machine; host keys caught it as "HOST KEY CHANGED"). Twelve hosts, all at once, over a
    /// slow link with jitter, several times; then a command on each that says where it ran.
    @Test func hostsBehindOneBastionEachGetTheirOwnConnection() throws {
        let lab = try TestLab.start(hosts: 12, bastion: true, latency: .milliseconds(20))
        defer { lab.stop() }
        for _ in 0..<3 {
            let ping = try Firedrill.run(["ping", "all", "-i", lab.inventory, "--forks", "12"])
            #expect(ping.status == 0 && ping.stdout.contains("12/12 hosts answered"), "\(ping.stdout)")
        }
        let pb = "\(lab.dir)/where.yml"
        try """
            name: Where am I
            service: where
            criticality: low
            steps:
              - name: Here
                on: all
                run: "test \\"$FIREDRILL_LAB_HOST\\" = {{ inventory_hostname }}"
            """.write(toFile: pb, atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["run", pb, "-i", lab.inventory, "--forks", "12", "--yes", "--output", "plain", "--runs-dir", "\(lab.dir)/runs"])
        #expect(r.status == 0 && r.stdout.contains("Drill PASSED"), "every command ran on its own host: \(r.stdout)\(r.stderr)")
    }

    /// A proxy command that never stops talking kept libssh2 inside one call forever (Ctrl-C
    /// and the connect deadline ignored); one that ignores SIGTERM was left running.
    @Test func aProxyCommandThatTalksForeverOrIgnoresSIGTERMIsEnded() throws {
        let lab = try TestLab.start(hosts: 1)
        defer { lab.stop() }
        let talker = try Firedrill.start(["ping", "all", "-i", try inventory(lab, adding: "-o 'ProxyCommand=yes garbage'"), "--connect-timeout", "2s"])
        let deadline = ContinuousClock.now + .seconds(60)   // a bound, not a timing
        while talker.process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if talker.process.isRunning { kill(talker.process.processIdentifier, SIGKILL) }
        let t = talker.wait()
        #expect(t.status == 3 && t.stdout.contains("the SSH handshake did not finish within 2s") && t.stdout.contains("kept sending"), "\(t.stdout)")
        let marker = "sleep 2\(Int.random(in: 100_000...999_999))"
        let stubborn = try inventory(lab, adding: "-o 'ProxyCommand=sh -c \\\"trap \\\\\\\"\\\\\\\" TERM HUP INT; \(marker); \(marker)\\\"'")
        let s = try Firedrill.run(["ping", "all", "-i", stubborn, "--connect-timeout", "2s"])
        #expect(s.status == 3 && s.stdout.contains("no SSH server answered through the ProxyCommand"), "\(s.stdout)")
        let left = processes(containing: marker)
        #expect(left.isEmpty, "the proxy command's process group was killed")
        for pid in left { kill(pid, SIGKILL) }
    }

    /// A bastion that stopped answering held an interrupted run for its whole connect deadline.
    @Test func anInterruptCutsAConnectThroughAStalledBastionShort() throws {
        let lab = try TestLab.start(hosts: 2, bastion: true)
        defer { lab.stop() }
        let b = try #require(lab.state.bastion)
        kill(b.pid, SIGSTOP)
        defer { kill(b.pid, SIGCONT) }
        let runs = "\(lab.dir)/runs"
        let runner = try Firedrill.start(["run", try lab.ehrPlaybook(), "-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain",
                                          "--runs-dir", runs, "--connect-timeout", "600s"])
        #expect(DrillScenarioTests.waitForEvent(in: runs, while: runner) { $0.event == .runStarted })
        kill(runner.process.processIdentifier, SIGINT)
        // Far less than the 600 s connect deadline: a bound on a hang, not a timing.
        let deadline = ContinuousClock.now + .seconds(60)
        while runner.process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        let stillRunning = runner.process.isRunning
        if stillRunning { kill(runner.process.processIdentifier, SIGKILL) }
        let r = runner.wait()
        #expect(!stillRunning && r.status == 130 && r.stdout.contains("nothing was changed on any host"), "\(r.stdout)\(r.stderr)")
    }
}

/// Many hosts at once pushing much output through one bastion: every byte of every tunnel
/// goes through the pump (reads adjusting windows while others write), and every command ends
/// with its own status. A tunnel broken by a send libssh2 refused (BAD_USE) fails a host here.
@Suite struct BastionThroughputTests {
    @Test func bulkOutputFromSixHostsAtOnceThroughOneBastion() throws {
        let lab = try TestLab.start(hosts: 6, bastion: true)
        defer { lab.stop() }
        let pb = "\(lab.dir)/bulk.yml"
        try """
            name: Bulk
            service: bulk
            criticality: low
            steps:
              - name: Talk a lot
                on: all
                run: "yes firedrill-through-the-bastion | head -c 30000000; echo; echo done-$FIREDRILL_LAB_HOST"
                timeout: 2m
            """.write(toFile: pb, atomically: true, encoding: .utf8)
        let runs = "\(lab.dir)/runs"
        let r = try Firedrill.run(["run", pb, "-i", lab.inventory, "--forks", "6", "--yes", "--output", "plain", "--runs-dir", runs])
        #expect(r.status == 0 && r.stdout.contains("Drill PASSED"), "\(r.stdout)\(r.stderr)")
        let (_, events) = DrillScenarioTests.journal(runs)
        let finished = events.filter { $0.event == .commandFinished }
        #expect(finished.count == 6 && finished.allSatisfy { ($0.stdout ?? "").contains("done-\($0.host ?? "?")") }, "each host's own end of output")
    }
}
