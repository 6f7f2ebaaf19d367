import Foundation
import Testing
@testable import FiredrillCore

/// A lab of real sshds shared by the SSH tests, started once and stopped at process exit.
final class SharedLab: @unchecked Sendable {
    static let shared = SharedLab()
    let lab: Lab
    let state: Lab.State?
    let error: String?

    private init() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-lab-\(getpid())").path
        lab = Lab(directory: dir)
        do {
            state = try lab.up(count: 4, executable: Firedrill.binary)
            error = nil
        } catch {
            state = nil
            self.error = "\(error)"
        }
        atexit { try? SharedLab.shared.lab.down() }
    }

    var inventory: Inventory { InventoryLoader().load(paths: [lab.inventoryPath]).inventory }
    func connection(_ name: String) -> HostConnection { inventory.connection(of: name) }
    var options: SSHOptions { SSHOptions(knownHostsFile: lab.knownHostsPath, identityFiles: [lab.keyPath], useAgent: false, killGrace: .seconds(1)) }
}

@Suite(.serialized) struct SSHTransportTests {
    let shared = SharedLab.shared

    func ssh(_ host: String = "db1", options: SSHOptions? = nil, connection: HostConnection? = nil) throws -> SSHConnection {
        try #require(shared.state != nil, "lab did not start: \(shared.error ?? "")")
        return SSHConnection(connection ?? shared.connection(host), options: options ?? shared.options)
    }

    @Test func outputAndExitCodes() async throws {
        let c = try ssh()
        let ok = try await c.run("echo hello; echo oops >&2", timeout: .seconds(10))
        #expect(ok.outcome == .exited(0))
        #expect(ok.stdout.text == "hello\n")
        #expect(ok.stderr.text == "oops\n", "the process-group marker is not shown")
        let bad = try await c.run("exit 7", timeout: .seconds(10))
        #expect(bad.outcome == .exited(7))
        // `timeout` re-raises a signal that killed its child, so sshd reports the signal itself.
        let sig = try await c.run("kill -TERM $$", timeout: .seconds(10))
        #expect(sig.outcome == .signaled("TERM"))
        await c.close()
    }

    @Test func labShimsActOnHostState() async throws {
        let c = try ssh("db2")
        #expect(try await c.run("pg-role", timeout: .seconds(10)).stdout.text == "standby\n")
        _ = try await c.run("pg_ctlcluster 15 main promote", timeout: .seconds(10))
        #expect(try await c.run("pg-role", timeout: .seconds(10)).stdout.text == "primary\n")
        _ = try await c.run("pg_ctlcluster 15 main demote", timeout: .seconds(10))
        await c.close()
    }

    @Test func largeOutputKeepsTheTail() async throws {
        let c = try ssh()
        let r = try await c.run("seq 1 200000", timeout: .seconds(20))
        #expect(r.outcome == .exited(0))
        #expect(r.stdout.droppedBytes > 0)
        #expect(r.stdout.text.hasSuffix("199999\n200000\n"))
        #expect(r.stdout.bytes.count == CapturedOutput.defaultLimit)
        await c.close()
    }

    @Test func timeoutKillsTheRemoteProcessGroup() async throws {
        let c = try ssh()
        let marker = "fd-timeout-\(UUID().uuidString.prefix(8))"
        // A child in the background and one in the foreground: both must be gone afterwards.
        let r = try await c.run("sh -c 'sleep 300; : \(marker)' & sh -c 'sleep 301; : \(marker)'; wait", timeout: .seconds(1))
        #expect(r.outcome == .timedOut)
        let left = try await c.run("pgrep -f '[\(marker.prefix(1))]\(marker.dropFirst())' || true", timeout: .seconds(10))
        #expect(left.stdout.text.isEmpty, "still running: \(left.stdout.text)")
        await c.close()
    }

    @Test func cancellationKillsTheRemoteCommand() async throws {
        let c = try ssh()
        let marker = "fd-cancel-\(UUID().uuidString.prefix(8))"
        let started = try await c.run("true", timeout: .seconds(5))
        #expect(started.succeeded)
        let task = Task { () async throws -> CommandResult in try await c.run("echo go; sleep 300; : \(marker)", timeout: .seconds(600)) }
        // Wait until the command runs on the host (a condition, not a time).
        let probe = try ssh()
        var running = false
        for _ in 0..<200 where !running {
            running = !(try await probe.run("pgrep -f '[\(marker.prefix(1))]\(marker.dropFirst())' || true", timeout: .seconds(5)).stdout.text.isEmpty)
        }
        #expect(running)
        task.cancel()
        await #expect(throws: TransportError.self) { try await task.value }
        let left = try await probe.run("pgrep -f '[\(marker.prefix(1))]\(marker.dropFirst())' || true", timeout: .seconds(10))
        #expect(left.stdout.text.isEmpty)
        await probe.close()
        await c.close()
    }

    @Test func oneConnectionIsReused() async throws {
        let c = try ssh()
        for i in 0..<20 { #expect(try await c.run("echo \(i)", timeout: .seconds(10)).stdout.text == "\(i)\n") }
        #expect(await c.connectionsOpened() == 1)
        await c.close()
    }

    @Test func parallelCommandsOnAllHosts() async throws {
        _ = try ssh()
        let pool = HostPool(options: shared.options)
        let names = shared.state!.hosts.map(\.name)
        let results = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for name in names {
                let conn = shared.connection(name)
                group.addTask {
                    let t = await pool.transport(for: conn)
                    return (name, try await t.run("echo $FIREDRILL_LAB_HOST", timeout: .seconds(10)).stdout.text)
                }
            }
            var out: [String: String] = [:]
            for try await (n, o) in group { out[n] = o }
            return out
        }
        for name in names { #expect(results[name] == "\(name)\n") }
        await pool.closeAll()
    }

    @Test func reconnectsAfterServerRestart() async throws {
        let c = try ssh("app1")
        #expect(try await c.run("true", timeout: .seconds(10)).succeeded)
        try shared.lab.restartHost("app1")
        let r = try await c.run("echo back", timeout: .seconds(10))
        #expect(r.stdout.text == "back\n")
        #expect(await c.connectionsOpened() == 2)
        await c.close()
    }

    @Test func unknownHostKeyIsRefusedUnlessAcceptNew() async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("fd-kh-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: empty) }
        var o = shared.options
        o.knownHostsFile = empty
        _ = try ssh()
        var conn = shared.connection("db1")
        conn.knownHostsFile = nil
        let refused = try ssh(options: o, connection: conn)
        await #expect { try await refused.connect() } throws: { ($0 as? TransportError)?.kind == .hostKeyUnknown }
        o.acceptNew = true
        let accepting = try ssh(options: o, connection: conn)
        try await accepting.connect()
        let recorded = try String(contentsOfFile: empty, encoding: .utf8)
        #expect(recorded.contains("[127.0.0.1]:\(conn.port) ssh-ed25519"))
        await accepting.close()
        o.acceptNew = false
        let again = try ssh(options: o, connection: conn)
        try await again.connect()
        await again.close()
    }

    @Test func changedHostKeyIsRefusedEvenWithAcceptNew() async throws {
        // known_hosts that records db2's key for db1's address.
        let kh = try String(contentsOfFile: shared.lab.knownHostsPath, encoding: .utf8).split(separator: "\n")
        let db1 = shared.connection("db1"), db2 = shared.connection("db2")
        let db2Key = try #require(kh.first { $0.hasPrefix("[127.0.0.1]:\(db2.port) ") }).split(separator: " ").dropFirst().joined(separator: " ")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fd-kh-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "[127.0.0.1]:\(db1.port) \(db2Key)\n".write(toFile: path, atomically: true, encoding: .utf8)
        var o = shared.options
        o.knownHostsOverride = path
        o.acceptNew = true
        let c = try ssh(options: o)
        await #expect { try await c.connect() } throws: { error in
            guard let e = error as? TransportError else { return false }
            return e.kind == .hostKeyChanged && e.message.contains("HOST KEY CHANGED") && e.description.hasPrefix("db1 (127.0.0.1:\(db1.port))")
        }
    }

    @Test func authenticationFailureSaysWhatWasTried() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        p.arguments = ["-q", "-t", "ed25519", "-N", "", "-f", "\(dir)/stranger"]
        try p.run(); p.waitUntilExit()
        var conn = shared.connection("db1")
        conn.privateKeyFile = "\(dir)/stranger"
        let c = try ssh(connection: conn)
        await #expect { try await c.connect() } throws: { error in
            guard let e = error as? TransportError else { return false }
            return e.kind == .authentication && e.message.contains("tried: publickey \(dir)/stranger")
        }
    }

    /// A key of its own, authorized on the shared lab's hosts.
    func authorizedKey(type: String = "ed25519", passphrase: String = "") throws -> String {
        let dir = "\(shared.lab.directory)/key-\(UUID().uuidString.prefix(8))"   // removed with the lab
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Lab.runTool("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", "fd-test", "-f", "\(dir)/key"])
        let pub = try String(contentsOfFile: "\(dir)/key.pub", encoding: .utf8)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(shared.lab.directory)/keys/authorized_keys"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(pub.utf8))
        try handle.close()
        return "\(dir)/key"
    }

    @Test func encryptedKeyNeedsItsPassphrase() async throws {
        _ = try ssh()
        let key = try authorizedKey(type: "ecdsa", passphrase: "correct horse")
        var options = shared.options
        options.identityFiles = [key]
        options.passphrase = Secret("correct horse")
        var conn = shared.connection("db1")
        conn.privateKeyFile = nil
        let good = SSHConnection(conn, options: options)
        #expect(try await good.run("echo in", timeout: .seconds(10)).stdout.text == "in\n")
        await good.close()
        options.passphrase = Secret("wrong")
        let bad = SSHConnection(conn, options: options)
        await #expect { try await bad.run("true", timeout: .seconds(10)) } throws: { e in
            guard let e = e as? TransportError else { return false }
            return e.kind == .authentication && e.message.contains("wrong passphrase?") && !e.description.contains("wrong\"")
        }
        await bad.close()
    }

    @Test func sshAgentAuthenticates() async throws {
        _ = try ssh()
        let key = try authorizedKey()
        let agent = try Agent(in: (key as NSString).deletingLastPathComponent, key: key)
        defer { agent.stop() }
        var options = shared.options
        options.identityFiles = []
        options.useAgent = true
        options.agentSocket = agent.socket
        var conn = shared.connection("db2")
        conn.privateKeyFile = nil
        let c = SSHConnection(conn, options: options)
        #expect(try await c.run("echo agent", timeout: .seconds(10)).stdout.text == "agent\n")
        await c.close()
    }

    @Test func wrongPortIsConnectionRefused() async throws {
        var conn = shared.connection("db1")
        conn.port = try Lab.freePort()
        let c = try ssh(connection: conn)
        await #expect { try await c.connect() } throws: { ($0 as? TransportError)?.kind == .connectionRefused }
    }

    @Test func localTransportSameContract() async throws {
        let t = LocalTransport(killGrace: .seconds(1))
        let r = try await t.run("echo local; exit 3", timeout: .seconds(10))
        #expect(r.outcome == .exited(3))
        #expect(r.stdout.text == "local\n")
        let marker = "fd-local-\(UUID().uuidString.prefix(8))"
        let slow = try await t.run("sh -c 'sleep 300; : \(marker)'", timeout: .seconds(1))
        #expect(slow.outcome == .timedOut)
        let left = try await t.run("pgrep -f '[\(marker.prefix(1))]\(marker.dropFirst())' || true", timeout: .seconds(5))
        #expect(left.stdout.text.isEmpty)
    }
}

@Suite struct LabCLITests {
    @Test func labUpPingDown() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-cli-lab-\(UUID().uuidString.prefix(8))").path
        defer { _ = try? Firedrill.run(["lab", "down", "--dir", dir]) }
        let up = try Firedrill.run(["lab", "up", "--hosts", "2", "--dir", dir])
        #expect(up.status == 0, "\(up.stderr)")
        let again = try Firedrill.run(["lab", "up", "--hosts", "2", "--dir", dir])
        #expect(again.status == 0)
        #expect(again.stderr.contains("already up"))
        let ping = try Firedrill.run(["ping", "all", "-i", "\(dir)/inventory.yml"])
        #expect(ping.status == 0, "\(ping.stdout)\(ping.stderr)")
        #expect(ping.stdout.contains("2/2 hosts answered"))
        let status = try Firedrill.run(["lab", "status", "--dir", dir])
        #expect(status.stdout.contains("db1") && status.stdout.contains("running"))
        let pids = status.stdout.split(separator: "\n").compactMap { line in line.split(separator: " ").drop { $0 != "pid" }.dropFirst().first.flatMap { Int32($0) } }
        #expect(pids.count == 3, "two sshds and the health endpoints")
        let down = try Firedrill.run(["lab", "down", "--dir", dir])
        #expect(down.status == 0)
        for pid in pids { #expect(!isRunning(pid), "lab process \(pid) still running") }
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    /// The lab never takes a folder with the user's files in it, never removes files it did not
    /// write, refuses a path sshd's configuration cannot carry, and finds its daemons when its
    /// folder was deleted by hand.
    @Test func theLabLeavesTheUsersFilesAlone() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("fd-own-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        // A folder with a file of the user's: refused, the file untouched.
        try "precious\n".write(toFile: "\(base)/mine.txt", atomically: true, encoding: .utf8)
        let taken = try Firedrill.run(["lab", "up", "--hosts", "1", "--dir", base])
        #expect(taken.status == 3 && taken.stderr.contains("already holds files that are not a lab's (mine.txt)"), "\(taken.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(base)/mine.txt"))
        // An empty folder that was there before: lab down takes the lab's files, not the folder.
        let empty = "\(base)/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(try Firedrill.run(["lab", "up", "--hosts", "1", "--dir", empty]).status == 0)
        #expect(try Firedrill.run(["lab", "down", "--dir", empty]).status == 0)
        let remaining = try FileManager.default.contentsOfDirectory(atPath: empty)
        #expect(FileManager.default.fileExists(atPath: empty) && remaining.isEmpty, "\(remaining)")
        // A space in the path: said before anything starts or is removed.
        let spaced = "\(base)/with space"
        let refused = try Firedrill.run(["lab", "up", "--hosts", "1", "--dir", spaced])
        #expect(refused.status == 3 && refused.stderr.contains("has a space"), "\(refused.stderr)")
        // A lab whose folder was deleted by hand: lab down still stops its sshds.
        let lost = "\(base)/lost"
        let up = try Firedrill.run(["lab", "up", "--hosts", "1", "--dir", lost])
        #expect(up.status == 0, "\(up.stderr)")
        let pid = try #require(Lab(directory: lost).state()?.hosts.first?.pid)
        try FileManager.default.removeItem(atPath: lost)
        _ = try Firedrill.run(["lab", "down", "--dir", lost])
        #expect(!isRunning(pid), "the sshd of a lab whose folder was deleted still runs")
    }

    /// A stopped service's port refuses connections but stays the lab's: another lab on this
    /// machine that drew the same port (free ports are drawn, then bound) cannot take it and
    /// answer for the stopped database.
    @Test func aStoppedServiceKeepsItsPort() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let port = try #require(lab.lab.state()?.services?.servicePorts["db1"])
        func connects() -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 } }
        }
        /// Polls the port for a bounded time (the server reconciles every 10 ms).
        func becomes(_ wanted: Bool) -> Bool {
            let end = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < end { if connects() == wanted { return true }; usleep(10_000) }
            return false
        }
        #expect(becomes(true), "db1's port does not answer while it runs")
        try lab.knob("db1", "postgresql", "stopped")
        #expect(becomes(false), "db1's port still answers once stopped")
        // Another lab's server binds as the lab does (SO_REUSEADDR): refused.
        let other = try? LabServer.listen(port: port)
        if let other { close(other) }
        #expect(other == nil, "another socket took the stopped service's port \(port)")
        #expect(!connects())
        try lab.knob("db1", "postgresql", "running")
        #expect(becomes(true), "db1's port does not answer once started again")
    }

    @Test func pingReportsUnreachableHostsAndExitsThree() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-ping-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try Lab.freePort()
        try "[dead]\nghost ansible_host=127.0.0.1 ansible_port=\(port)\n".write(toFile: "\(dir)/inv.ini", atomically: true, encoding: .utf8)
        try "".write(toFile: "\(dir)/kh", atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["ping", "all", "-i", "\(dir)/inv.ini", "--known-hosts", "\(dir)/kh"])
        #expect(r.status == 3)
        #expect(r.stdout.contains("ghost (127.0.0.1:\(port)): connection refused"))
    }
}

/// Alive and not a zombie (a stopped daemon whose parent exited may linger as a zombie until reaped).
func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    guard let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(close, offsetBy: 2)] != "Z"
}

/// The confirmation names the inventory and each host's address: a lab and production, whose
/// host names are the same, look different there. Answering no starts nothing.
@Suite struct ConfirmationTests {
    @Test func theConfirmationNamesTheInventoryAndTheAddresses() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let tmux = TmuxSession(dir: lab.dir)
        defer { tmux.kill() }
        let runs = "\(lab.dir)/runs"
        try tmux.start([Firedrill.binary, "run", "\(Firedrill.repoRoot)/\(TestLab.simulatedEHR)", "-i", lab.inventory, "--output", "plain", "--runs-dir", runs])
        #expect(tmux.waitForScreen { $0.contains("Start? [y/N]") }, "no prompt: \(tmux.screen())")
        let port = try #require(lab.state.hosts.first?.port)
        let screen = tmux.screen().replacingOccurrences(of: "\n", with: "")
        #expect(screen.contains("inventory: \(lab.inventory)") && screen.contains("db1 (127.0.0.1:\(port))"), "\(tmux.screen())")
        try tmux.type("n\n")
        #expect(tmux.waitForExit() != 0)
        #expect(DrillScenarioTests.journal(runs).1.allSatisfy { $0.event != .commandStarted })
    }
}
