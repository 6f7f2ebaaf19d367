import Foundation
import Testing
@testable import FiredrillCore

/// The team's OpenSSH configuration through the binary, on a lab: a host alias resolved by
/// `HostName`/`Port` is reached; a host behind a jump host that cannot be reached is refused at
/// preflight, in one line, with nothing touched — never reached directly.
@Suite struct SSHConfigCLITests {
    @Test func anAliasIsReachedAndAJumpHostIsRefusedNotBypassed() throws {
        let lab = try TestLab.start(hosts: 1)
        defer { lab.stop() }
        let db1 = try #require(lab.state.hosts.first { $0.name == "db1" })
        try """
            Host lab-db1
              HostName 127.0.0.1
              Port \(db1.port)
            Host far-*
              HostName 127.0.0.1
              Port \(db1.port)
              ProxyJump bastion.invalid
            """.write(toFile: "\(lab.dir)/ssh_config", atomically: true, encoding: .utf8)
        try """
            all:
              vars:
                ansible_user: \(lab.state.user)
                ansible_ssh_private_key_file: \(lab.lab.keyPath)
                ansible_ssh_common_args: "-o UserKnownHostsFile=\(lab.lab.knownHostsPath)"
              hosts:
                db1: { ansible_host: lab-db1 }
                far1: { ansible_host: far-1 }
            """.write(toFile: "\(lab.dir)/aliases.yml", atomically: true, encoding: .utf8)
        let near = try Firedrill.run(["ping", "db1", "-i", "\(lab.dir)/aliases.yml", "--ssh-config", "\(lab.dir)/ssh_config"])
        #expect(near.status == 0, "\(near.stdout)\(near.stderr)")
        // Without the configuration, `lab-db1` is just a name that does not resolve.
        let without = try Firedrill.run(["ping", "db1", "-i", "\(lab.dir)/aliases.yml", "--no-ssh-config"])
        #expect(without.status == 3 && without.stdout.contains("lab-db1"), "\(without.stdout)\(without.stderr)")
        // Behind a jump host that does not exist: refused, said once, exit 3 — even though the
        // address it names would answer directly (it is the lab's sshd): never reached around it.
        let far = try Firedrill.run(["ping", "far1", "-i", "\(lab.dir)/aliases.yml", "--ssh-config", "\(lab.dir)/ssh_config"])
        #expect(far.status == 3 && far.stdout.contains("through the jump host bastion.invalid (bastion.invalid:22): cannot resolve 'bastion.invalid'"), "\(far.stdout)\(far.stderr)")
        #expect(far.stdout.contains("ProxyJump"), "the hint names where the jump host comes from: \(far.stdout)")
        #expect(!far.stdout.contains("reachable ("), "\(far.stdout)")
        // The same in a drill: preflight refuses, nothing runs.
        let pb = "\(lab.dir)/far.yml"
        try "name: Far\nservice: far\ncriticality: low\nsteps:\n  - name: Touch\n    on: far1\n    run: \"touch \(lab.dir)/touched\"\n"
            .write(toFile: pb, atomically: true, encoding: .utf8)
        let drill = try Firedrill.run(["run", pb, "-i", "\(lab.dir)/aliases.yml", "--ssh-config", "\(lab.dir)/ssh_config", "--yes", "--output", "plain",
                                       "--runs-dir", "\(lab.dir)/runs"])
        #expect(drill.status == 3 && !FileManager.default.fileExists(atPath: "\(lab.dir)/touched"), "\(drill.stdout)\(drill.stderr)")
        #expect(drill.stdout.contains("through the jump host bastion.invalid"), "said at preflight: \(drill.stdout)")
    }

    @Test func aMissingConfigurationFileIsBadInput() throws {
        let r = try Firedrill.run(["ping", "all", "-i", "Inventory/hospital.yml", "--ssh-config", "/nonexistent/ssh_config"])
        #expect(r.status == 2 && r.stderr.contains("--ssh-config") && r.stderr.split(separator: "\n").count <= 3, "\(r.stderr)")
    }
}
