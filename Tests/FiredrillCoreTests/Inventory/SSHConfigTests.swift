import Foundation
import Testing
@testable import FiredrillCore

/// `~/.ssh/config` resolution against the real resolver: `ssh -G -F FILE HOST` (OpenSSH), for
/// every host of a set of configurations. The keys compared are the ones Firedrill acts on.
@Suite struct SSHConfigTests {
    static let configs: [(name: String, text: String, hosts: [String])] = [
        ("basic", """
            Host db1
              HostName 10.2.0.11
              User deploy
              Port 2222
            Host *
              User fallback
              ConnectTimeout 7
            """, ["db1", "db2", "DB1"]),
        ("first-wins", """
            Host db*
              User first
              Port 2201
            Host db1
              User second
              Port 2202
              IdentityFile ~/.ssh/db1
            Host *
              IdentityFile ~/.ssh/all_%h_%r
            """, ["db1", "db9", "web1"]),
        ("negation", """
            Host *.example !bastion.example
              ProxyJump bastion.example
              User ops
            Host bastion.example
              User jump
            """, ["db1.example", "bastion.example", "other.net"]),
        ("wildcards", """
            Host app-?? web[0-9]
              User literal
            Host app-?
              User one
            Host "quoted host" app-*
              Port 2300
            """, ["app-1", "app-12", "app-123", "web[0-9]"]),
        ("hostname-tokens", """
            Host short*
              HostName %h.dc2.hospital.example
            Host pct
              HostName %%h.example
            """, ["shortname", "pct"]),
        ("equals-and-comments", """
            # a comment
            Host db1 # the primary
              User=alice  # trailing
              Port = 2022
              StrictHostKeyChecking=accept-new
            Host db2
              StrictHostKeyChecking yes
              ServerAliveInterval 15
              IdentitiesOnly yes
            Host db3
              StrictHostKeyChecking off
              UserKnownHostsFile ~/kh /etc/ssh/kh_%h
            """, ["db1", "db2", "db3"]),
        ("proxies", """
            Host behind-*
              ProxyCommand ssh -W %h:%p bastion
            Host direct
              ProxyJump none
            Host *
              ProxyJump user@jump1:2222,jump2
            Host mixed
              ProxyJump first
              ProxyCommand nc %h %p
            Host quoted
              ProxyCommand sh -c "nc %h %p" # the rest of the line, quotes and all
            """, ["behind-a", "direct", "else", "mixed", "quoted"]),
        ("top-level", """
            User toplevel
            Port 2444
            Host special
              User special
            """, ["special", "plain"]),
    ]

    /// `ssh -G`'s answer, key → value (identity files and known-hosts lists joined by spaces).
    static func oracle(_ path: String, _ host: String) throws -> [String: String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
        p.arguments = ["-G", "-F", path, host]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        var values: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = String(parts[0])
            values[key] = values[key].map { $0 + " " + parts[1] } ?? String(parts[1])
        }
        return values
    }

    @Test(arguments: configs.indices)
    func resolutionAgreesWithOpenSSH(_ index: Int) throws {
        let (name, text, hosts) = Self.configs[index]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-sshcfg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let config = SSHConfig.load(path: path)
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        let me = CurrentUser.name()
        for host in hosts {
            let ssh = try Self.oracle(path, host)
            let r = config.resolve(host)
            let user = r.user ?? me
            let port = r.port ?? 22
            #expect(ssh["hostname"] == r.hostName, "\(name) \(host): hostname")
            #expect(ssh["user"] == user, "\(name) \(host): user")
            #expect(ssh["port"] == String(port), "\(name) \(host): port")
            #expect(ssh["proxyjump"] == r.proxyJump, "\(name) \(host): proxyjump")
            #expect(ssh["proxycommand"] == r.proxyCommand, "\(name) \(host): proxycommand")
            #expect(ssh["identitiesonly"] == (r.identitiesOnly ? "yes" : "no"), "\(name) \(host): identitiesonly")
            #expect(ssh["connecttimeout"] == (r.connectTimeout.map(String.init) ?? "none"), "\(name) \(host): connecttimeout")
            #expect(ssh["serveraliveinterval"] == String(r.serverAliveInterval ?? 0), "\(name) \(host): serveraliveinterval")
            let strict: String
            switch r.strictHostKeyChecking {
            case "yes"?: strict = "true"
            case "no"?, "off"?: strict = "false"
            case let s?: strict = s
            case nil: strict = "ask"
            }
            #expect(ssh["stricthostkeychecking"] == strict, "\(name) \(host): stricthostkeychecking")
            if !r.identityFiles.isEmpty {
                #expect(ssh["identityfile"] == r.identityFiles.joined(separator: " "), "\(name) \(host): identityfile")
            }
            let known = (r.userKnownHostsFiles ?? ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"])
                .map { r.expanded($0, home: home, localUser: me, remoteUser: user, port: port) }
            #expect(ssh["userknownhostsfile"] == known.joined(separator: " "), "\(name) \(host): userknownhostsfile")
        }
    }

    /// At least 20 host × configuration cases are checked against OpenSSH.
    @Test func theOracleCoversTwentyCases() {
        #expect(Self.configs.map(\.hosts.count).reduce(0, +) >= 20)
    }

    @Test func includeInsideAHostBlockAppliesUnderIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-sshinc-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir + "/conf.d", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "User included\nPort 2555\n".write(toFile: dir + "/conf.d/a.conf", atomically: true, encoding: .utf8)
        try "Host db*\n  Include \(dir)/conf.d/*.conf\nHost *\n  User other\n".write(toFile: dir + "/config", atomically: true, encoding: .utf8)
        let config = SSHConfig.load(path: dir + "/config")
        for host in ["db1", "web1"] {
            let ssh = try Self.oracle(dir + "/config", host)
            let r = config.resolve(host)
            #expect(ssh["user"] == (r.user ?? CurrentUser.name()) && ssh["port"] == String(r.port ?? 22), "\(host): \(ssh["user"] ?? "") \(r.user ?? "")")
        }
        #expect(config.resolve("db1").user == "included" && config.resolve("web1").user == "other")
    }

    @Test func matchBlocksAreWarnedAboutAndNotHalfApplied() {
        let config = SSHConfig.parse("Match host db*\n  User matched\nHost *\n  User plain\n", file: "cfg")
        #expect(config.resolve("db1").user == "plain")
        #expect(config.warnings.count == 1 && config.warnings[0].message.contains("'Match'") && config.warnings[0].location?.line == 1)
    }

    @Test func optionsFiredrillDoesNotUseAreNamed() {
        let config = SSHConfig.parse("Host db1\n  LocalCommand echo hi\n  Compression yes\n  CertificateFile ~/.ssh/c.pub\n", file: "cfg")
        #expect(config.ignoredOptions("db1") == ["certificatefile", "localcommand"])
    }
}

/// How a host is reached once the inventory and the SSH configuration meet: as Ansible's `ssh`
/// would — inventory variables, then `-o` options in ansible_ssh_common_args, then the file.
@Suite struct SSHConfigInventoryTests {
    static let config = SSHConfig.parse("""
        Host db1 db2
          HostName %h.dc1.example
          User fromconfig
          Port 2201
          IdentityFile ~/.ssh/dc1_%r
          IdentitiesOnly yes
        Host 10.9.*
          ProxyJump bastion.example
        Host *
          ConnectTimeout 4
          UserKnownHostsFile ~/.ssh/known_%h
        """, file: "config", home: "/home/op")

    func inventory(_ text: String) -> Inventory {
        var inv = InventoryLoader(sshConfig: { nil }).load(text: text, file: "inv.yml").inventory
        inv.sshConfig = Self.config
        return inv
    }

    @Test func theFileFillsWhatTheInventoryLeavesOpen() {
        let inv = inventory("all:\n  hosts:\n    db1:\n    db2: { ansible_user: deploy, ansible_port: 22 }\n")
        let c1 = inv.connection(of: "db1")
        #expect(c1.address == "db1.dc1.example" && c1.port == 2201 && c1.user == "fromconfig", "\(c1)")
        #expect(c1.identityFiles == ["/home/op/.ssh/dc1_fromconfig"] || c1.identityFiles?.first?.hasSuffix("/.ssh/dc1_fromconfig") == true, "\(c1)")
        #expect(c1.identitiesOnly == true && c1.connectTimeoutSeconds == 4 && c1.route == nil)
        #expect(c1.knownHostsFile?.hasSuffix("/.ssh/known_db1.dc1.example") == true, "\(c1.knownHostsFile ?? "")")
        let c2 = inv.connection(of: "db2")
        #expect(c2.user == "deploy" && c2.port == 22, "inventory variables win: \(c2)")
    }

    @Test func theCommandLineInTheInventoryWinsOverTheFile() {
        let inv = inventory("""
            all:
              hosts:
                db1: { ansible_ssh_common_args: "-o User=fromargs -oPort=2999 -o 'ConnectTimeout 9' -o UserKnownHostsFile=/etc/kh" }
            """)
        let c = inv.connection(of: "db1")
        #expect(c.user == "fromargs" && c.port == 2999 && c.connectTimeoutSeconds == 9 && c.knownHostsFile == "/etc/kh", "\(c)")
    }

    @Test func aJumpHostIsReadUnderItsOwnNameInTheFile() throws {
        let inv = inventory("all:\n  hosts:\n    far: { ansible_host: 10.9.0.5, ansible_ssh_private_key_file: /k/drill }\n    near: { ansible_ssh_common_args: \"-J jump@b:2222\" }\n")
        let far = inv.connection(of: "far")
        let hop = try #require(far.jumps.first)
        // bastion.example matches `Host *` only: its connect timeout and known_hosts come from there.
        #expect(far.jumps.count == 1 && hop.name == "bastion.example" && hop.address == "bastion.example" && hop.port == 22 && hop.user == nil, "\(hop)")
        #expect(hop.connectTimeoutSeconds == 4 && hop.knownHostsFile?.hasSuffix("/.ssh/known_bastion.example") == true, "\(hop)")
        #expect(hop.privateKeyFile == "/k/drill", "a hop without an IdentityFile is offered the host's key")
        #expect(far.pathDescription == "via bastion.example (bastion.example:22)")
        let near = inv.connection(of: "near")
        #expect(near.jumps.map(\.name) == ["b"] && near.jumps[0].user == "jump" && near.jumps[0].port == 2222, "\(near)")
        #expect(near.reachDescription == "near:22 via b (jump@b:2222)")
    }

    @Test func chainsNestedRoutesAndProxyCommands() throws {
        var inv = InventoryLoader(sshConfig: { nil }).load(text: """
            all:
              hosts:
                chain: { ansible_host: 10.5.0.1, ansible_ssh_common_args: "-o ProxyJump=ops@a:2201,ssh://b,[fd00::1]:2022" }
                nested: { ansible_host: site-b.db1 }
                piped: { ansible_host: 10.6.0.1, ansible_user: deploy, ansible_port: 2200, ansible_ssh_common_args: "-o 'ProxyCommand=connect-proxy -u %r -n %n %h %p'" }
                loop: { ansible_host: loop1 }
                odd: { ansible_ssh_common_args: "-J 'a b'" }
                badport: { ansible_ssh_common_args: "-J a:notaport" }
            """, file: "inv.yml").inventory
        inv.sshConfig = SSHConfig.parse("""
            Host site-b.*
              ProxyJump gw-b
            Host gw-b
              HostName 192.0.2.9
              User jumper
              ProxyJump gw-a
            Host gw-a
              HostName 192.0.2.1
              Port 2022
            Host loop1
              ProxyJump loop2
            Host loop2
              ProxyJump loop1
            """, file: "config", home: "/home/op")
        let chain = inv.connection(of: "chain")
        #expect(chain.jumps.map(\.name) == ["a", "b", "fd00::1"], "\(chain.jumps)")
        #expect(chain.jumps.map(\.port) == [2201, 22, 2022] && chain.jumps[0].user == "ops")
        #expect(chain.pathDescription == "via a (ops@a:2201) → b (b:22) → fd00::1 ([fd00::1]:2022)", "\(chain.pathDescription ?? "")")
        // A hop's own ProxyJump in the file is followed: gw-a, then gw-b, then the host.
        let nested = inv.connection(of: "nested")
        #expect(nested.jumps.map(\.name) == ["gw-a", "gw-b"] && nested.jumps.map(\.address) == ["192.0.2.1", "192.0.2.9"], "\(nested.jumps)")
        #expect(nested.jumps[1].user == "jumper" && nested.jumps[0].port == 2022)
        // ProxyCommand's tokens: %h the address, %p the port, %r the user, %n the name as given.
        #expect(inv.connection(of: "piped").route == .command("connect-proxy -u deploy -n 10.6.0.1 10.6.0.1 2200"))
        #expect(inv.connection(of: "piped").pathDescription == "via the ProxyCommand 'connect-proxy -u deploy -n 10.6.0.1 10.6.0.1 2200'")
        // What cannot be followed is a problem, never a direct connection.
        for host in ["loop", "odd", "badport"] {
            let c = inv.connection(of: host)
            #expect(c.route == nil && c.routeProblem != nil, "\(host): \(c)")
        }
        #expect(inv.connection(of: "loop").routeProblem?.contains("more than 8 deep") == true)
        #expect(inv.connection(of: "badport").routeProblem?.contains("not a number") == true)
    }

    /// %h, %n and %r go into a shell command: names with shell characters are refused (as ssh
    /// refuses them), never expanded into it.
    @Test func namesWithShellCharactersNeverReachAProxyCommand() {
        let inv = inventory("""
            all:
              vars: { ansible_ssh_common_args: "-o 'ProxyCommand=ssh -W %h:%p -l %r gw'" }
              hosts:
                evilhost: { ansible_host: "127.0.0.1;touch /tmp/pwned;" }
                eviluser: { ansible_host: 10.0.0.1, ansible_user: "ops$(touch /tmp/pwned)" }
                fine: { ansible_host: 10.0.0.2, ansible_user: deploy }
                evilhop: { ansible_host: 10.0.0.3, ansible_ssh_common_args: "-J 'ops$(id)@gw'" }
                longhop: { ansible_host: 10.0.0.4, ansible_ssh_common_args: "-J \(String(repeating: "a", count: 300))" }
                openquote: { ansible_host: 10.0.0.5, ansible_ssh_common_args: "-o ProxyJump=\\"ops@gw" }
            """)
        #expect(inv.connection(of: "openquote").routeProblem?.contains("a quote that is never closed") == true, "\(inv.connection(of: "openquote"))")
        for host in ["evilhost", "eviluser", "evilhop", "longhop"] {
            let c = inv.connection(of: host)
            #expect(c.route == nil && c.routeProblem != nil, "\(host): \(c)")
        }
        #expect(inv.connection(of: "evilhost").routeProblem?.contains("characters a host name cannot have") == true)
        #expect(inv.connection(of: "eviluser").routeProblem?.contains("characters a user name cannot have") == true)
        #expect(inv.connection(of: "fine").route == .command("ssh -W 10.0.0.2:22 -l deploy gw"))
        #expect(Inventory.isSafeName("db-1.example") && Inventory.isSafeName("fe80::1%eth0") && !Inventory.isSafeName("-oProxyCommand=x")
                && !Inventory.isSafeName("a b") && !Inventory.isSafeName("a\u{7}") && !Inventory.isSafeName(""))
    }

    @Test func aRouteIsWrittenInPlansAsJumpOrCommand() throws {
        var c = HostConnection(name: "db1", address: "10.0.0.1")
        c.route = .jump(HostConnection(name: "bastion", address: "192.0.2.1", port: 2222, user: "ops"))
        let json = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        #expect(json.contains("\"route\":{\"jump\":{") && json.contains("\"name\":\"bastion\""), "\(json)")
        #expect(try JSONDecoder().decode(HostConnection.self, from: Data(json.utf8)) == c)
        c.route = .command("nc %h %p")
        let again = try JSONDecoder().decode(HostConnection.self, from: try JSONEncoder().encode(c))
        #expect(again.route == .command("nc %h %p"))
    }

    @Test func keepalivesAndHostKeyCheckingAreRead() {
        let inv = inventory("all:\n  hosts:\n    db1: { ansible_ssh_common_args: \"-o ServerAliveInterval=7 -o StrictHostKeyChecking=Yes\" }\n")
        let c = inv.connection(of: "db1")
        #expect(c.keepaliveSeconds == 7 && c.strictHostKeyChecking == "yes", "\(c)")
        #expect(inv.sshNotes(of: "db1").isEmpty, "both are acted on: \(inv.sshNotes(of: "db1"))")
    }

    @Test func whatIsNotUsedIsNamed() {
        let inv = inventory("all:\n  hosts:\n    db1: { ansible_ssh_common_args: \"-o ControlMaster=auto -o ForwardAgent=yes -C -o LocalCommand=x\" }\n")
        let notes = inv.sshNotes(of: "db1")
        #expect(notes.count == 1 && notes[0].contains("-C") && notes[0].contains("localcommand") && !notes[0].contains("controlmaster"), "\(notes)")
    }

    @Test func shellWordsAsAnsiblePassesThem() {
        #expect(SSHConfig.shellWords(#"-o "ProxyCommand=ssh -W %h:%p b" -o 'User=x y' a\ b"#) == ["-o", "ProxyCommand=ssh -W %h:%p b", "-o", "User=x y", "a b"])
    }
}
