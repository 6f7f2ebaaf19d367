import Foundation
import Testing
@testable import FiredrillCore

/// A lab of its own for a test that changes host state: started fresh, stopped when done.
struct TestLab {
    let lab: Lab
    let state: Lab.State

    /// `fleet`: log in as the non-root users of `lab up --fleet` (needs root, and sudo installed).
    static func start(hosts: Int = 6, fleet: Bool = false, bastion: Bool = false, latency: Duration? = nil, postgres: Bool = false) throws -> TestLab {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-tlab-\(UUID().uuidString.prefix(8))").path
        let lab = Lab(directory: dir)
        return TestLab(lab: lab, state: try lab.up(count: hosts, executable: Firedrill.binary,
                                                   shape: Lab.Shape(fleet: fleet, bastion: bastion, latency: latency, postgres: postgres)))
    }

    func stop() { try? lab.down() }

    var dir: String { lab.directory }
    var inventory: String { lab.inventoryPath }
    var ssh: SSHOptions { SSHOptions(knownHostsFile: lab.knownHostsPath, identityFiles: [lab.keyPath], useAgent: false, killGrace: .seconds(1)) }

    /// A playbook of the repository, loaded against this lab.
    func definition(_ playbook: String, environment: [String: String] = [:]) throws -> DrillDefinition {
        let path = playbook.hasPrefix("/") ? playbook : playbook.contains("/") ? "\(Firedrill.repoRoot)/\(playbook)" : "\(Firedrill.repoRoot)/Playbooks/\(playbook)"
        let loaded = DrillDefinition.load(playbookPath: path, inventoryOverride: [inventory], environment: environment)
        return try #require(loaded.definition, "\(loaded.diagnostics.map(\.message))")
    }

    func runtime(_ d: DrillDefinition, environment: [String: String] = [:]) throws -> DrillRuntime {
        try DrillRuntime.make(d, ssh: ssh, environment: environment).get()
    }

    /// Runs a command on a lab host over SSH (to change its simulated state).
    func run(_ host: String, _ command: String) async throws -> CommandResult {
        let inv = InventoryLoader().load(paths: [inventory]).inventory
        let c = SSHConnection(inv.connection(of: host), options: ssh)
        defer { Task { await c.close() } }
        return try await c.run(command, timeout: .seconds(20))
    }

    /// The EHR example playbook made to run against this lab (its include made absolute, its
    /// hospital inventory dropped), with `replacements` applied — each must still be found —
    /// written to `path` (default: a new file in the lab's folder).
    static let ehrManualStep = "  - name: Pharmacy confirms read access\n    manual: \"Pharmacy lead opens three active medication orders in the EHR and confirms they display\"\n"
    /// The EHR failover against the lab's simulated database (knobs, speed), relative to the
    /// repository; `Playbooks/ehr-db-failover.yml` drills a real PostgreSQL (`postgres: true`).
    static let simulatedEHR = "Tests/IntegrationTests/Fixtures/playbooks/ehr-simulated.yml"

    func ehrPlaybook(_ replacements: [(String, String)] = [], at path: String? = nil) throws -> String {
        var text = try String(contentsOfFile: "\(Firedrill.repoRoot)/\(TestLab.simulatedEHR)", encoding: .utf8)
        for (a, b) in replacements {
            #expect(text.contains(a), "the playbook no longer contains \(a)")
            text = text.replacingOccurrences(of: a, with: b)
        }
        text = text.replacingOccurrences(of: "include: [checks/common.yml]", with: "include: [\(Firedrill.repoRoot)/Playbooks/checks/common.yml]")
        text = text.replacingOccurrences(of: "inventory: ../../../../Inventory/hospital.yml\n", with: "")
        let target = path ?? "\(dir)/ehr-\(UUID().uuidString.prefix(8)).yml"
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    /// Writes a knob file in a host's state folder (`delay-<cmd>`, `fail-<name>`).
    func knob(_ host: String, _ name: String, _ value: String = "1") throws {
        try value.write(toFile: "\(dir)/hosts/\(host)/state/\(name)", atomically: true, encoding: .utf8)
    }
}

/// What tests do to a lab's hosts that the product never does.
extension Lab {
    /// Stops one host's sshd (to simulate a host going down).
    func stopHost(_ name: String) throws {
        guard let st = state(), let h = st.hosts.first(where: { $0.name == name }) else { throw Failure(message: "no lab host \(name)") }
        stop(pid: h.pid)
    }

    /// Restarts one host's sshd on the same port, dropping its open connections as a reboot would.
    func restartHost(_ name: String) throws {
        guard var st = state(), let i = st.hosts.firstIndex(where: { $0.name == name }), let sshd = Self.findSSHD() else {
            throw Failure(message: "no lab host \(name)")
        }
        // Each SSH connection is served by a child of the listening sshd, which survives the listener.
        for child in Self.children(of: st.hosts[i].pid) { kill(child, SIGKILL) }
        stop(pid: st.hosts[i].pid)
        let configPath = "\(directory)/config/sshd_\(name).conf"
        for _ in 0..<50 {
            let pid = try spawnDetached([sshd, "-D", "-f", configPath, "-E", "\(directory)/logs/\(name).log"])
            if waitUntilListening(port: st.hosts[i].port, pid: pid, deadline: .now + .seconds(2)) {
                st.hosts[i].pid = pid
                try save(st)
                return
            }
            kill(pid, SIGKILL)
            var s: Int32 = 0
            waitpid(pid, &s, 0)
        }
        throw Failure(message: "sshd for \(name) did not restart")
    }
}
