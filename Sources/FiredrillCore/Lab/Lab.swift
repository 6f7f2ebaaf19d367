import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A lab on this machine: real OpenSSH `sshd`s on 127.0.0.1 standing for hosts, with generated
/// keys, a known_hosts file, an inventory, and simulated services. Stops exactly what it started.
public struct Lab: Sendable {
    public struct Host: Sendable, Codable, Equatable {
        public var name: String
        public var port: Int
        public var pid: Int32
    }

    public struct State: Sendable, Codable {
        public var directory: String
        public var user: String
        public var hosts: [Host]
        /// The simulated health endpoints (nil while they are being started).
        public var services: LabServices?
        /// A fleet-shaped lab (`--fleet`): non-root login users, sudo, passwords.
        public var fleet: Bool? = nil
        /// The jump host every host is reached through (`--bastion`): an sshd that forwards
        /// connections and runs no command.
        public var bastion: Host? = nil
        /// The slow link (`--latency`): a relay in front of the bastion (or of each host), with
        /// the delay it adds per direction.
        public var relay: LabRelay.Config? = nil
        /// The second site's network namespace (`--bastion`, as root): the hosts listen on its
        /// own loopback, reachable only through the bastion.
        public var namespace: LabNamespace? = nil
        /// Real PostgreSQL servers for db1 and db2 (`--postgres`), instead of simulated ones.
        public var postgres: LabPostgres? = nil
    }

    /// How a lab is shaped beyond its hosts.
    public struct Shape: Sendable, Equatable {
        public var fleet = false
        public var bastion = false
        /// Added per direction on the way to the bastion (or each host), with its jitter.
        public var latency: Duration?
        public var jitter: Duration = .zero
        /// Real PostgreSQL for db1 (primary) and db2 (streaming standby).
        public var postgres = false
        public init(fleet: Bool = false, bastion: Bool = false, latency: Duration? = nil, jitter: Duration = .zero, postgres: Bool = false) {
            self.fleet = fleet; self.bastion = bastion; self.latency = latency; self.jitter = jitter; self.postgres = postgres
        }
    }

    /// The lab cannot start or serve: preconditions of a drill on it are not met.
    public struct Failure: UserFacingError, CustomStringConvertible {
        public var message: String
        public var hint: String?
        public var exitStatus: ExitStatus { .preconditions }
        public var description: String { message }
        public init(message: String, hint: String? = nil) { self.message = message; self.hint = hint }
    }

    public static let defaultHostNames = ["db1", "db2", "app1", "app2", "dns1", "dns2"]

    public var directory: String
    public init(directory: String) { self.directory = (directory as NSString).standardizingPath }

    var statePath: String { "\(directory)/lab.json" }
    public var inventoryPath: String { "\(directory)/inventory.yml" }
    public var knownHostsPath: String { "\(directory)/known_hosts" }
    public var keyPath: String { "\(directory)/id_ed25519" }
    /// A fleet lab's sudo (and login) password, mode 600.
    public var becomePasswordPath: String { "\(directory)/become-password" }

    public func state() -> State? {
        guard let data = FileManager.default.contents(atPath: statePath) else { return nil }
        return try? JSONDecoder().decode(State.self, from: data)
    }

    /// Whether `pid` is an sshd or the services process this lab started (its command line names this lab's folder).
    func isOurs(_ pid: Int32) -> Bool {
        guard pid > 0, let cmdline = Self.commandLine(of: pid) else { return false }
        return (cmdline.contains("sshd") && cmdline.contains(directory + "/"))
            || ((cmdline.contains(" lab serve ") || cmdline.contains(" lab relay ")) && cmdline.hasSuffix(" --dir \(directory) "))
    }

    // MARK: - up

    public static func findSSHD() -> String? {
        ["/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts `count` hosts and the simulated services (`executable` is the `firedrill` binary that
    /// serves them with `lab serve`). If this lab is already up and healthy, returns its state;
    /// leftovers of a crashed lab are cleaned first.
    public func up(count: Int = 6, executable: String, fleet: Bool = false, progress: (String) -> Void = { _ in }) throws -> State {
        try up(count: count, executable: executable, shape: Shape(fleet: fleet), progress: progress)
    }

    public func up(count: Int = 6, executable: String, shape: Shape, progress: (String) -> Void = { _ in }) throws -> State {
        let fleet = shape.fleet
        guard let sshd = Self.findSSHD() else {
            throw Failure(message: "sshd is not installed", hint: "apt-get install openssh-server")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen") else {
            throw Failure(message: "ssh-keygen is not installed", hint: "apt-get install openssh-client")
        }
        if let existing = state() {
            if existing.hosts.allSatisfy({ isOurs($0.pid) }) && existing.hosts.count == count && (existing.fleet ?? false) == fleet,
               (existing.bastion != nil) == shape.bastion, existing.bastion.map({ isOurs($0.pid) }) ?? true,
               existing.relay?.latencyMS == shape.latency.map(DurationText.milliseconds), existing.relay.map({ isOurs($0.pid) }) ?? true,
               (existing.postgres != nil) == shape.postgres,
               existing.postgres.map({ $0.servers.allSatisfy { LabPostgres.role(of: $0) != .stopped } }) ?? true,
               let services = existing.services, isOurs(services.pid) {
                progress("lab already up in \(directory)")
                return existing
            }
            progress("cleaning up a previous lab in \(directory)")
            try down()
        }
        if shape.postgres {
            guard count >= 2 else {
                throw Failure(message: "--postgres needs the hosts db1 and db2: start at least 2 hosts", hint: "leave --hosts out (6 hosts)")
            }
            if shape.bastion {
                throw Failure(message: "--postgres and --bastion together are not supported yet: the standby's server would live in the second site's network namespace, out of the primary's reach",
                              hint: "use --postgres without --bastion")
            }
        }
        let fm = FileManager.default
        try claimFolder()
        var fleetPassword: String?
        if fleet {
            fleetPassword = try LabFleet.prepare(progress: progress)
            let parent = (directory as NSString).deletingLastPathComponent
            if let closed = LabFleet.closedAncestors(of: parent).first {
                throw Failure(message: "the lab's users cannot reach \(directory): \(closed) is closed to other users",
                              hint: "put the lab in a folder every user can pass through (e.g. under /tmp or /srv), or chmod o+x \(closed)")
            }
        }
        for sub in ["keys", "bin", "home", "hosts", "logs", "config"] {
            try fm.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        try? fm.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        for (name, body) in LabShims.scripts {
            let path = "\(directory)/bin/\(name)"
            try body.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
        try Self.runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "firedrill-lab", "-f", keyPath])
        let pub = try String(contentsOfFile: keyPath + ".pub", encoding: .utf8)
        try pub.write(toFile: "\(directory)/keys/authorized_keys", atomically: true, encoding: .utf8)
        let names = (0..<count).map { $0 < Self.defaultHostNames.count ? Self.defaultHostNames[$0] : String(format: "node%03d", $0 + 1) }
        if let fleetPassword {
            chmod(directory, 0o755)
            let fd = open(becomePasswordPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw Failure(message: "cannot write \(becomePasswordPath)") }
            _ = (fleetPassword + "\n").withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        let user = fleet ? "fd-deploy" : CurrentUser.name()
        var hosts: [Host] = []
        var knownHosts = ""
        // Behind a bastion, the hosts are a site of their own: a network namespace, reachable
        // only through the bastion (else, said, the loopback shape).
        var namespace: LabNamespace?
        if shape.bastion {
            if let why = LabNamespace.unavailable() {
                progress("no network namespace: \(why); the hosts listen on this machine's 127.0.0.1, where they can also be reached around the bastion")
            } else {
                namespace = try LabNamespace.create(directory: directory)
                try save(State(directory: directory, user: user, hosts: [], fleet: fleet, namespace: namespace))
                progress("network namespace \(namespace!.name): the hosts listen on its own 127.0.0.1; the bastion on \(namespace!.siteAddress)")
            }
        }
        for name in names {
            let hostDir = "\(directory)/hosts/\(name)"
            try fm.createDirectory(atPath: "\(hostDir)/state", withIntermediateDirectories: true)
            try seedState(name, hostDir)
            let hostKey = "\(directory)/keys/host_\(name)"
            try Self.runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "lab-\(name)", "-f", hostKey])
            let host = try startSSHD(name: name, sshd: sshd, hostKey: hostKey, fleet: fleet, namespace: namespace, usedPorts: Set(hosts.map(\.port)))
            hosts.append(host)
            let hostPub = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
            knownHosts += "[127.0.0.1]:\(host.port) \(hostPub)\n"
            progress("\(name) on 127.0.0.1:\(host.port)\(namespace.map { " in \($0.name)" } ?? "") (pid \(host.pid))")
            // Record as we go, so a failure halfway can still be cleaned up by `down`.
            try save(State(directory: directory, user: user, hosts: hosts, fleet: fleet, namespace: namespace))
        }
        var state = State(directory: directory, user: user, hosts: hosts, fleet: fleet, namespace: namespace)
        if shape.bastion {
            let hostKey = "\(directory)/keys/host_bastion"
            try Self.runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "lab-bastion", "-f", hostKey])
            let bastion = try startSSHD(name: "bastion", sshd: sshd, hostKey: hostKey, fleet: fleet, jumpHost: true, namespace: namespace, usedPorts: Set(hosts.map(\.port)))
            state.bastion = bastion
            try save(state)
            let hostPub = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
            knownHosts += "[\(bastionAddress(state))]:\(bastion.port) \(hostPub)\n"
            progress("bastion on \(bastionAddress(state)):\(bastion.port) (pid \(bastion.pid)): every host is reached through it")
        }
        try knownHosts.write(toFile: knownHostsPath, atomically: true, encoding: .utf8)
        if let latency = shape.latency {
            // The slow link is in front of the bastion (the way to the other site), or of each host.
            let targets = state.bastion.map { [LabRelay.Target(host: bastionAddress(state), port: $0.port)] }
                ?? hosts.map { LabRelay.Target(host: "127.0.0.1", port: $0.port) }
            state.relay = try LabRelay.start(directory: directory, executable: executable, targets: targets,
                                             latency: latency, jitter: shape.jitter, save: { relay in
                var s = state
                s.relay = relay
                try self.save(s)
            })
            // The relay's ports present the same host keys as the sshds behind them.
            for line in knownHosts.split(separator: "\n") {
                for r in state.relay!.routes where line.hasPrefix("[\(r.host ?? "127.0.0.1")]:\(r.target) ") {
                    knownHosts += "[127.0.0.1]:\(r.listen) " + line.split(separator: " ").dropFirst().joined(separator: " ") + "\n"
                }
            }
            try knownHosts.write(toFile: knownHostsPath, atomically: true, encoding: .utf8)
            progress("latency relay: +\(latency.text)\(shape.jitter > .zero ? " ±\(shape.jitter.text)" : "") each way (pid \(state.relay!.pid))")
        }
        try save(state)
        if shape.postgres {
            state.postgres = try LabPostgres.start(directory: directory, primary: "db1", standby: "db2", progress: progress) { pg in
                var s = state
                s.postgres = pg
                try self.save(s)
            }
            try save(state)
        }
        state.services = try startServices(for: state, executable: executable)
        progress("health endpoints on 127.0.0.1:\(state.services!.vipPort) (HTTP), :\(state.services!.dnsPort) (DNS) (pid \(state.services!.pid))")
        try writeInventory(state)
        try save(state)
        return state
    }

    /// Starts `firedrill lab serve` detached for the lab `base` describes (the ports it serves
    /// are recorded with it first, so the server reads them from lab.json).
    func startServices(for base: State, executable: String) throws -> LabServices {
        try FileManager.default.createDirectory(atPath: "\(directory)/dns", withIntermediateDirectories: true)
        try "10.10.0.10\n".write(toFile: "\(directory)/dns/ehr.hospital.example-A", atomically: true, encoding: .utf8)
        for _ in 0..<5 {
            var services = LabServices(vipPort: try Self.freePort(), dnsPort: try Self.freePort(), servicePorts: [:], pid: 0)
            for h in base.hosts where LabServices.service(of: h.name) != nil {
                // A real database's port is its server's.
                if let server = base.postgres?.servers.first(where: { $0.name == h.name }) { services.servicePorts[h.name] = server.port; continue }
                services.servicePorts[h.name] = try Self.freePort()
            }
            services.databases = base.postgres?.servers
            var pending = base
            pending.services = services
            try save(pending)
            services.pid = try spawnDetached([executable, "lab", "serve", "--dir", directory])
            if waitUntilListening(port: services.vipPort, pid: services.pid, deadline: .now + .seconds(5)) { return services }
            kill(services.pid, SIGKILL)
            var st: Int32 = 0
            waitpid(services.pid, &st, 0)
        }
        try? down()
        throw Failure(message: "the lab's health endpoints did not start", hint: "run `\(executable) lab serve --dir \(directory)` to see why")
    }

    /// Runs the health endpoints of the lab in this process until it is terminated (`lab serve`).
    public func serve() throws {
        guard let services = state()?.services else { throw Failure(message: "no lab in \(directory)", hint: "firedrill lab up --dir \(directory)") }
        try LabServer(directory: directory, services: services).run()
    }

    func seedState(_ name: String, _ dir: String) throws {
        var files: [String: String] = [:]
        switch name {
        case "db1": files = ["postgresql": "running", "pg-role": "primary"]
        case "db2": files = ["postgresql": "running", "pg-role": "standby"]
        case "app1", "app2": files = ["nginx": "running"]
        case "dns1", "dns2": files = ["pdns": "running"]
        default: files = ["app": "running"]
        }
        // Every host runs the endpoint agent (servers too, as fleets hit by a bad update did).
        files["agent-version"] = "7.10"
        for (k, v) in files { try (v + "\n").write(toFile: "\(dir)/state/\(k)", atomically: true, encoding: .utf8) }
        if name == "app2" {
            try FileManager.default.createDirectory(atPath: "\(dir)/srv/bca", withIntermediateDirectories: true)
            try "medication list (lab copy)\n".write(toFile: "\(dir)/srv/bca/medication-list.pdf", atomically: true, encoding: .utf8)
        }
    }

    /// Where the bastion listens: the namespace's side of its veth pair, or 127.0.0.1.
    func bastionAddress(_ state: State) -> String { state.namespace?.siteAddress ?? "127.0.0.1" }

    /// Starts one sshd (retrying on another port if it lost a race for one), in the namespace
    /// when there is one.

    func startSSHD(name: String, sshd: String, hostKey: String, fleet: Bool, jumpHost: Bool = false, namespace: LabNamespace? = nil,
                   usedPorts: Set<Int> = []) throws -> Host {
        for _ in 0..<5 {
            // A port free here is not bound here by a host in the namespace: never give two of
            // the lab's sshds the same one.
            var port = try Self.freePort()
            while usedPorts.contains(port) { port = try Self.freePort() }
            let listen = jumpHost ? (namespace?.siteAddress ?? "127.0.0.1") : "127.0.0.1"
            let config = sshdConfig(name: name, port: port, hostKey: hostKey, fleet: fleet, jumpHost: jumpHost, listen: listen)
            let configPath = "\(directory)/config/sshd_\(name).conf"
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            let argv = [sshd, "-D", "-f", configPath, "-E", "\(directory)/logs/\(name).log"]
            let pid = try spawnDetached(namespace?.inside(argv) ?? argv)
            let listening: Bool
            if namespace != nil {
                // In the namespace: its own sockets, read from /proc (we cannot connect there).
                let deadline = ContinuousClock.now + .seconds(5)
                var seen = false
                while !seen && ContinuousClock.now < deadline {
                    var st: Int32 = 0
                    if waitpid(pid, &st, WNOHANG) == pid { break }
                    seen = namespace!.listening(pid: pid, port: port)
                    if !seen { usleep(5_000) }
                }
                listening = seen
            } else {
                listening = waitUntilListening(port: port, pid: pid, deadline: .now + .seconds(5))
            }
            if listening {
                return Host(name: name, port: port, pid: pid)
            }
            // Lost a race for the port (address in use) or sshd refused the config: try another port.
            kill(pid, SIGKILL)
            var st: Int32 = 0
            waitpid(pid, &st, 0)
        }
        try? down()
        throw Failure(message: "sshd for \(name) did not start", hint: "see \(directory)/logs/\(name).log")
    }

    func sshdConfig(name: String, port: Int, hostKey: String, fleet: Bool = false, jumpHost: Bool = false, listen: String = "127.0.0.1") -> String {
        // A fleet lab's hosts also take passwords (keyboard-interactive goes through PAM).
        let auth = fleet ? "UsePAM yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication yes" : "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no"
        return """
        # Firedrill lab host \(name)
        Port \(port)
        ListenAddress \(listen)
        HostKey \(hostKey)
        PidFile \(directory)/logs/\(name).pid
        AuthorizedKeysFile \(directory)/keys/authorized_keys
        \(auth)
        StrictModes no
        PubkeyAuthentication yes
        PermitRootLogin prohibit-password
        MaxSessions 1000
        MaxStartups 1000:30:2000
        LogLevel \(jumpHost ? "INFO" : "ERROR")
        # An empty HOME keeps users' shell start-up files (100+ ms each) out of every command.
        SetEnv HOME=\(directory)/home PATH=\(directory)/bin:/usr/local/bin:/usr/bin:/bin FIREDRILL_LAB_DIR=\(directory) FIREDRILL_LAB_HOST=\(name)
        \(jumpHost ? "# A jump host: it forwards connections to the lab's hosts and runs no command.\nAllowTcpForwarding yes\nPermitOpen 127.0.0.1:*\nPermitTTY no\nForceCommand /bin/echo this is the jump host of the lab: it only forwards" : "AllowTcpForwarding no")

        """
    }

    func writeInventory(_ state: State) throws {
        let ports = state.services?.servicePorts ?? [:]
        let vip = state.services?.vipPort ?? 1, dns = state.services?.dnsPort ?? 1
        func entry(_ name: String, _ portVar: String = "") -> String {
            guard let h = state.hosts.first(where: { $0.name == name }) else { return "" }
            var extra = portVar.isEmpty ? "" : ", \(portVar): \(ports[name] ?? 1)"
            // In a fleet lab the application hosts' login user has sudo without a password.
            if state.fleet == true, name.hasPrefix("app") { extra += ", ansible_user: fd-ops" }
            // A real database: where its server keeps its data and log, and the other server.
            if let pg = state.postgres, let server = pg.servers.first(where: { $0.name == name }) {
                extra += ", pg_bin: \(pg.bin), pg_data: \(server.data), pg_conf: \(server.data), pg_log: \(server.log)"
                if let peer = pg.servers.first(where: { $0.name != name }) { extra += ", pg_peer: \"host=127.0.0.1 port=\(peer.port)\"" }
            }
            // Through the relay when it is in front of each host.
            let port = state.bastion == nil ? (state.relay?.listenPort(for: h.port) ?? h.port) : h.port
            return "        \(name): { ansible_port: \(port)\(extra) }\n"
        }
        // Every host behind the bastion, as real inventories say it (ProxyJump in the ssh arguments).
        let jump = state.bastion.map { b in
            " -o ProxyJump=\(state.user)@" + (state.relay?.listenPort(for: b.port).map { "127.0.0.1:\($0)" } ?? "\(bastionAddress(state)):\(b.port)")
        } ?? ""
        var yml = """
        # Written by `firedrill lab up`: the hospital inventory's groups, pointing at the lab.
        # Health endpoints are served by `firedrill lab serve` and follow the hosts' state.
        all:
          vars:
            ansible_host: 127.0.0.1
            ansible_user: \(state.user)\(state.fleet == true ? "\n    ansible_become: true" : "")
            ansible_ssh_private_key_file: \(keyPath)
            ansible_ssh_common_args: "-o UserKnownHostsFile=\(knownHostsPath)\(jump)"
            ehr_url: http://127.0.0.1:\(vip)/ehr/health
            portal_url: http://127.0.0.1:\(vip)/portal/health
            bca_url: http://127.0.0.1:\(vip)/bca/
            dns_server: 127.0.0.1:\(dns)
            ehr_fqdn: ehr.hospital.example
            primary_site_addr: 10.10.0.10
            secondary_site_addr: 10.20.0.10
          children:

        """
        let groups: [(String, [String], String)] = [
            ("db_primary", ["db1"], "pg_port"), ("db_standby", ["db2"], "pg_port"),
            ("app", ["app1", "app2"], "http_port"), ("dns_primary", ["dns1"], ""), ("dns_secondary", ["dns2"], ""),
        ]
        for (group, members, extra) in groups {
            let lines = members.map { entry($0, extra) }.joined()
            if lines.isEmpty { continue }
            yml += "    \(group):\n      hosts:\n" + lines
        }
        if state.hosts.contains(where: { $0.name == "app2" }) {
            yml += "    bca:\n      hosts:\n        app2: { bca_dir: \(directory)/hosts/app2/srv/bca }\n"
            // The restore drill's isolated host: the backups, and where a scratch instance may run.
            if let pg = state.postgres {
                yml += "    backup_restore:\n      hosts:\n        app2: { pg_bin: \(pg.bin), backup_dir: \(pg.backups), scratch_data: \(pg.scratchData), scratch_port: \(pg.scratchPort) }\n"
            }
        }
        let nodes = state.hosts.filter { !Self.defaultHostNames.contains($0.name) }
        if !nodes.isEmpty {
            yml += "    nodes:\n      hosts:\n" + nodes.map { "        \($0.name): { ansible_port: \($0.port) }\n" }.joined()
        }
        yml += "    db:\n      children: { db_primary: , db_standby: }\n    dns:\n      children: { dns_primary: , dns_secondary: }\n"
        try yml.write(toFile: inventoryPath, atomically: true, encoding: .utf8)
    }

    func save(_ state: State) throws {
        let data = try JSONEncoder().encode(state)
        try data.write(to: URL(fileURLWithPath: statePath))
    }

    // MARK: - down / restart

    /// Stops the lab's sshds (by PID, only ones this lab started) and removes its folder.
    public func down() throws {
        if let st = state() {
            if let services = st.services { stop(pid: services.pid) }
            if let relay = st.relay { stop(pid: relay.pid) }
            if let bastion = st.bastion { stop(pid: bastion.pid) }
            for h in st.hosts { stop(pid: h.pid) }
            st.postgres?.stop()
            st.namespace?.remove()
        }
        // What lab.json no longer names (the folder deleted by hand, a crash before it was
        // written): the lab's daemons are still known by their command lines, which name this
        // folder, and its database servers by their data folders.
        for pid in Self.processes() where isOurs(pid) { stop(pid: pid) }
        LabPostgres.stopStale(directory: directory)
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(directory)/\(Self.ownedMarker)") {
            try fm.removeItem(atPath: directory)
        } else if fm.fileExists(atPath: statePath) || fm.fileExists(atPath: "\(directory)/config") {
            // A folder that was there before the lab: only what the lab wrote goes.
            for entry in Self.labEntries where fm.fileExists(atPath: "\(directory)/\(entry)") {
                try fm.removeItem(atPath: "\(directory)/\(entry)")
            }
        }
    }

    /// Written in a folder `lab up` created: `lab down` removes the whole folder then, and only
    /// the lab's own entries otherwise.
    static let ownedMarker = ".firedrill-lab-created-this-folder"
    static let labEntries = ["keys", "bin", "home", "hosts", "logs", "config", "dns", "lab.json", "inventory.yml", "known_hosts",
                             "id_ed25519", "id_ed25519.pub", "become-password"]

    /// Makes sure the lab may use its folder: a new one (created and marked as the lab's), an
    /// empty one, or a lab's. A folder with other files is refused (the lab would mix its files
    /// with them); so is a path sshd's configuration cannot carry.
    func claimFolder() throws {
        if directory.contains(where: { $0.isWhitespace || "\"'\\%#".contains($0) }) {
            throw Failure(message: "the lab's folder '\(TerminalText.safe(directory))' has a space or one of \" ' \\ % #, which sshd's configuration cannot carry",
                          hint: "give --dir a path without them, e.g. /tmp/firedrill-lab")
        }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw Failure(message: "\(directory) is a file, not a folder", hint: "give --dir a folder for the lab") }
            let entries = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
            let foreign = entries.filter { !Self.labEntries.contains($0) && $0 != Self.ownedMarker }
            if !foreign.isEmpty && !fm.fileExists(atPath: "\(directory)/\(Self.ownedMarker)") {
                throw Failure(message: "\(directory) already holds files that are not a lab's (\(foreign.prefix(3).joined(separator: ", "))\(foreign.count > 3 ? ", …" : ""))",
                              hint: "give --dir a new or empty folder: the lab writes its keys and configuration there, and `lab down` removes them")
            }
        } else {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
            _ = fm.createFile(atPath: "\(directory)/\(Self.ownedMarker)", contents: Data())
        }
    }

    /// A process's command line, its arguments separated by spaces and ending in one (from
    /// /proc); nil when it is gone.
    static func commandLine(of pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }

    /// Every process's PID (from /proc).
    static func processes() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
    }

    func stop(pid: Int32) {
        guard isOurs(pid) else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(3)
        while isOurs(pid) && ContinuousClock.now < deadline {
            var st: Int32 = 0
            if waitpid(pid, &st, WNOHANG) == pid { return }
            usleep(10_000)
        }
        if isOurs(pid) { kill(pid, SIGKILL) }
        var st: Int32 = 0
        _ = waitpid(pid, &st, WNOHANG)
    }

    // MARK: - helpers

    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { p in
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(message: "cannot create a socket") }
        defer { Glibc.close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw Failure(message: "cannot find a free port") }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        // Never the port reserved on this machine.
        return port == 2024 ? try freePort() : port
    }

    func waitUntilListening(port: Int, pid: Int32, deadline: ContinuousClock.Instant) -> Bool {
        while ContinuousClock.now < deadline {
            var st: Int32 = 0
            if waitpid(pid, &st, WNOHANG) == pid { return false }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let rc = withLoopback(port: port) { Glibc.connect(fd, $0, $1) }
            Glibc.close(fd)
            if rc == 0 { return true }
            usleep(5_000)
        }
        return false
    }

    /// Starts a daemon in its own session (a Ctrl-C in the terminal that ran `lab up` does not
    /// reach it), default signal handling and an empty mask (dispatch threads block SIGTERM; a
    /// daemon inheriting that could not be stopped), output to /dev/null; returns its PID.
    func spawnDetached(_ argv: [String]) throws -> Int32 {
        do throws(ChildProcess.Failure) { return try ChildProcess.spawn(argv, group: .session, output: .devNull) } catch {
            throw Failure(message: error.description)
        }
    }

    static func runTool(_ path: String, _ args: [String], input: String? = nil) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let pipe = input.map { _ in Pipe() }
        if let pipe { p.standardInput = pipe }
        try p.run()
        if let pipe, let input {
            pipe.fileHandleForWriting.write(Data(input.utf8))
            try? pipe.fileHandleForWriting.close()
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure(message: "\(path) failed (\(args.joined(separator: " ")))") }
    }
}
