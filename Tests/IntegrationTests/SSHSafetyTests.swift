import Foundation
import Testing
@testable import FiredrillCore

/// Host keys of another type, hashed known_hosts, and a server that stalls during
/// authentication, against real sshds of the shared lab.
@Suite(.serialized) struct SSHSafetyTests {
    let shared = SharedLab.shared

    func knownHosts(_ text: String) throws -> String {
        let path = "\(shared.lab.directory)/kh-\(UUID().uuidString.prefix(8))"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func options(knownHosts path: String, acceptNew: Bool = false) -> SSHOptions {
        var o = shared.options
        o.knownHostsOverride = path
        o.acceptNew = acceptNew
        return o
    }

    /// db1's own host-key line from the lab's known_hosts.
    func labLine(_ host: String) throws -> String {
        let port = shared.connection(host).port
        let kh = try String(contentsOfFile: shared.lab.knownHostsPath, encoding: .utf8)
        return String(try #require(kh.split(separator: "\n").first { $0.hasPrefix("[127.0.0.1]:\(port) ") }))
    }

    @Test func aHostKnownByAnotherKeyTypeIsChangedNotNew() async throws {
        try #require(shared.state != nil, "lab did not start: \(shared.error ?? "")")
        let dir = "\(shared.lab.directory)/ecdsa-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Lab.runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", "\(dir)/hostkey"])
        let ecdsa = try String(contentsOfFile: "\(dir)/hostkey.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let port = shared.connection("db1").port
        let original = "[127.0.0.1]:\(port) \(ecdsa)\n"
        let path = try knownHosts(original)
        let c = SSHConnection(shared.connection("db1"), options: options(knownHosts: path, acceptNew: true))
        await #expect { try await c.connect() } throws: { error in
            guard let e = error as? TransportError else { return false }
            return e.kind == .hostKeyChanged && e.message.contains("records ecdsa-sha2-nistp256 (line 1)") && e.message.contains("ED25519 SHA256:")
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == original, "--accept-new never adds a key for a host known by another")
    }

    @Test func aRevokedHostKeyIsRefusedEvenWhenAlsoListedAsKnown() async throws {
        try #require(shared.state != nil)
        let line = try labLine("db1")
        let path = try knownHosts("@revoked \(line)\n\(line)\n")
        let c = SSHConnection(shared.connection("db1"), options: options(knownHosts: path, acceptNew: true))
        await #expect { try await c.connect() } throws: { error in
            guard let e = error as? TransportError else { return false }
            return e.kind == .hostKeyChanged && e.message.contains("REVOKED HOST KEY") && e.message.contains("line 1")
        }
    }

    @Test func hashedKnownHostsAreMatched() async throws {
        try #require(shared.state != nil)
        let path = try knownHosts(try labLine("db2") + "\n")
        try Lab.runTool("/usr/bin/ssh-keygen", ["-q", "-H", "-f", path])
        let hashed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(hashed.hasPrefix("|1|"), "ssh-keygen hashed the name: \(hashed)")
        let c = SSHConnection(shared.connection("db2"), options: options(knownHosts: path))
        #expect(try await c.run("echo known", timeout: .seconds(10)).stdout.text == "known\n")
        await c.close()
    }

    @Test func acceptNewSaysWhichKeyItTrusted() throws {
        try #require(shared.state != nil)
        let path = "\(shared.lab.directory)/kh-new-\(UUID().uuidString.prefix(8))"
        let r = try Firedrill.run(["ping", "db1", "-i", shared.lab.inventoryPath, "--known-hosts", path, "--accept-new"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("db1: trusted new host key ED25519 SHA256:") && r.stderr.contains("recorded in \(path)"), "\(r.stderr)")
        let again = try Firedrill.run(["ping", "db1", "-i", shared.lab.inventoryPath, "--known-hosts", path])
        #expect(again.status == 0 && !again.stderr.contains("trusted"), "\(again.stderr)")
    }

    /// An sshd of its own whose key lookup (AuthorizedKeysCommand) hangs: authentication stalls on
    /// the server side. With only the agent to authenticate, the connect deadline must still hold.
    @Test(.timeLimit(.minutes(1))) func aServerThatStallsDuringAgentAuthenticationHitsTheDeadline() async throws {
        try #require(shared.state != nil)
        let dir = "\(shared.lab.directory)/stall-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = try Lab.freePort()
        let base = try String(contentsOfFile: "\(shared.lab.directory)/config/sshd_db1.conf", encoding: .utf8)
        let config = base.split(separator: "\n").filter { !$0.hasPrefix("Port ") && !$0.hasPrefix("PidFile ") && !$0.hasPrefix("AuthorizedKeysFile ") }
            .joined(separator: "\n") + "\nPort \(port)\nPidFile \(dir)/sshd.pid\nAuthorizedKeysFile none\n"
            + "AuthorizedKeysCommand /bin/sleep 50\nAuthorizedKeysCommandUser nobody\n"
        try config.write(toFile: "\(dir)/sshd.conf", atomically: true, encoding: .utf8)
        // Spawned as the lab spawns its daemons: a child holding our descriptors would make
        // Foundation's Process wait forever on later children.
        let sshd = try shared.lab.spawnDetached([try #require(Lab.findSSHD()), "-D", "-f", "\(dir)/sshd.conf", "-E", "\(dir)/sshd.log"])
        defer {
            // The hanging `sleep` is a descendant of our sshd: stop those by PID, then the sshd.
            var stack = [sshd], all: [Int32] = []
            while let p = stack.popLast() { let c = Lab.children(of: p); all += c; stack += c }
            for p in all { kill(p, SIGKILL) }
            kill(sshd, SIGKILL)
            var status: Int32 = 0
            waitpid(sshd, &status, 0)
        }
        #expect(shared.lab.waitUntilListening(port: port, pid: sshd, deadline: .now + .seconds(5)))
        let hostKey = try labLine("db1").split(separator: " ").dropFirst().joined(separator: " ")
        let kh = try knownHosts("[127.0.0.1]:\(port) \(hostKey)\n")
        let agent = try Agent(in: dir, key: try authorizedAgentKey(dir))
        defer { agent.stop() }
        var o = options(knownHosts: kh)
        o.identityFiles = []
        o.useAgent = true
        o.agentSocket = agent.socket
        o.connectTimeout = .seconds(2)
        var conn = shared.connection("db1")
        conn.port = port
        conn.privateKeyFile = nil
        let c = SSHConnection(conn, options: o)
        await #expect { try await c.connect() } throws: { error in
            guard let e = error as? TransportError else { return false }
            return e.kind == .timeout && e.message.contains("authentication with the agent's key")
        }
    }

    /// An agent socket that accepts connections and never answers (a hung agent, or one waiting
    /// for an `ssh-add -c` confirmation nobody sees): the connect deadline must hold.
    @Test(.timeLimit(.minutes(1))) func aStalledAgentCannotHangTheConnection() async throws {
        try #require(shared.state != nil)
        let path = "\(shared.lab.directory)/stall-\(UUID().uuidString.prefix(6)).sock"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener); unlink(path) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(bound == 0 && listen(listener, 8) == 0)
        var o = shared.options
        o.identityFiles = []
        o.useAgent = true
        o.agentSocket = path
        o.connectTimeout = .seconds(2)
        var conn = shared.connection("db1")
        conn.privateKeyFile = nil
        let c = SSHConnection(conn, options: o)
        await #expect { try await c.connect() } throws: { error in
            guard let e = error as? TransportError else { return false }
            return e.kind == .authentication && e.message.contains("the SSH agent did not answer in time")
        }
    }

    func authorizedAgentKey(_ dir: String) throws -> String {
        try Lab.runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", "\(dir)/key"])
        return "\(dir)/key"
    }
}

/// A real ssh-agent on a socket of its own, holding one key; stopped by its PID.
struct Agent {
    let process: Process
    let socket: String

    init(in dir: String, key: String) throws {
        socket = "\(dir)/agent.sock"
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-agent")
        process.arguments = ["-D", "-a", socket]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var added = false
        for _ in 0..<500 where !added {
            let add = Process()
            add.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-add")
            add.arguments = ["-q", key]
            add.environment = ["SSH_AUTH_SOCK": socket]
            add.standardOutput = FileHandle.nullDevice
            add.standardError = FileHandle.nullDevice
            try add.run()
            add.waitUntilExit()
            added = add.terminationStatus == 0   // fails until the agent listens
        }
        guard added else { throw Lab.Failure(message: "ssh-agent did not take the key") }
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
