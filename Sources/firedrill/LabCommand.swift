import ArgumentParser
import FiredrillCore
import Foundation

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "A practice environment on this machine: real sshd hosts on 127.0.0.1 and simulated services.",
        discussion: """
        Example:
          firedrill lab up && firedrill ping all -i .firedrill-lab/inventory.yml && firedrill lab down
          firedrill lab up --fleet --bastion --latency 40ms   # sudo, a jump host, a slow link
        """,
        subcommands: [LabUp.self, LabDown.self, LabStatus.self, LabBackup.self, LabServe.self, LabRelayCommand.self]
    )
}

struct LabOptions: ParsableArguments {
    @Option(help: "The lab's folder (keys, configs, state, inventory).")
    var dir: String = ".firedrill-lab"

    var lab: Lab {
        let path = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        return Lab(directory: path)
    }
}

struct LabUp: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Start the lab's hosts (idempotent).")
    @OptionGroup var options: LabOptions
    @Option(parsing: .unconditional, help: "Number of hosts (the first six are db1 db2 app1 app2 dns1 dns2).") var hosts = 6
    @Flag(help: ArgumentHelp("A fleet's shape: log in as non-root users (fd-deploy, fd-ops) who need sudo; needs root once to create them.",
                             discussion: "Creates the users fd-deploy (sudo with a password), fd-ops (sudo without), fd-guest (no sudo) and fd-tty (requiretty) in the group firedrill-lab, and /etc/sudoers.d/firedrill-lab; they stay after `lab down`. The password is in the lab's become-password file."))
    var fleet = false
    @Flag(help: ArgumentHelp("Reach every host through a jump host: one more sshd that forwards and runs nothing (ProxyJump in the inventory's ansible_ssh_common_args)."))
    var bastion = false
    @Option(help: ArgumentHelp("Add this delay in each direction on the way to the bastion (or to each host): a slow link between sites, e.g. 40ms.", valueName: "DURATION"))
    var latency: String?
    @Option(help: ArgumentHelp("Vary the delay by up to this much (bytes are never reordered), e.g. 5ms.", valueName: "DURATION"))
    var jitter: String?
    @Flag(help: ArgumentHelp("Real PostgreSQL for db1 (primary) and db2 (streaming standby), run as the postgres user; needs root and Debian's postgresql.",
                             discussion: "The servers listen on 127.0.0.1 and accept the postgres user there without a password (lab only); their folders are written to the inventory as pg_data, pg_conf, pg_log, pg_bin, pg_port and pg_peer. Playbooks/ehr-db-failover.yml drills them."))
    var postgres = false

    func validate() throws {
        if hosts < 1 || hosts > 500 { throw ValidationError("--hosts must be between 1 and 500") }
        _ = try delays()
    }

    func delays() throws -> (Duration?, Duration) {
        func parse(_ flag: String, _ text: String?) throws -> Duration? {
            guard let text else { return nil }
            guard let d = DurationText.parse(text), d >= .zero, d <= .seconds(10) else {
                throw ValidationError("\(flag) '\(text)' is not a duration between 0s and 10s (e.g. 40ms, 0.2s)")
            }
            return d
        }
        let latency = try parse("--latency", latency)
        let jitter = try parse("--jitter", jitter) ?? .zero
        if latency == nil && jitter > .zero { throw ValidationError("--jitter needs --latency") }
        if let latency, jitter > latency { throw ValidationError("--jitter must not exceed --latency") }
        return (latency, jitter)
    }

    func run() throws {
        let (latency, jitter) = try delays()
        let shape = Lab.Shape(fleet: fleet, bastion: bastion, latency: latency, jitter: jitter, postgres: postgres)
        let state = try options.lab.up(count: hosts, executable: currentExecutable(), shape: shape) { Terminal.err($0 + "\n") }
        Terminal.out("lab up: \(state.hosts.count) hosts\ninventory: \(options.lab.inventoryPath)\n")
        if let b = state.bastion {
            Terminal.out("every host is reached through the bastion on \(state.namespace?.siteAddress ?? "127.0.0.1"):\(b.port)\(state.namespace.map { " (the hosts are in the network namespace \($0.name))" } ?? "")\n")
        }
        if let r = state.relay { Terminal.out("slow link: +\(r.latencyMS) ms each way\(r.jitterMS > 0 ? " (±\(r.jitterMS) ms)" : "")\n") }
        if let pg = state.postgres {
            Terminal.out("PostgreSQL \(pg.version): " + pg.servers.map { "\($0.name) on 127.0.0.1:\($0.port)" }.joined(separator: ", ") + " (primary db1, standby db2 streaming from it)\n")
        }
        if state.fleet == true {
            Terminal.out("login users: fd-deploy (sudo with a password), fd-ops on app hosts (sudo without)\nbecome password: \(options.lab.becomePasswordPath) (pass -K, or --become-password-file \(options.lab.becomePasswordPath))\n")
        }
    }
}

struct LabBackup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the lab's EHR database (pg_dump) for the restore drill (needs `lab up --postgres`).",
        discussion: "Writes DIR's backup folder (the inventory's backup_dir): ehr-TIME.dump and the known table's rows and checksum beside it (ehr-TIME.manifest); ehr-latest.dump and ehr-latest.manifest point at the newest. Run it on a schedule (cron, a systemd timer) as a site would; `lab up --postgres` takes the first.")
    @OptionGroup var options: LabOptions
    func run() throws {
        guard let state = options.lab.state() else {
            throw Lab.Failure(message: "no lab in \(options.lab.directory)", hint: "start one with `firedrill lab up --postgres --dir \(options.dir)`")
        }
        guard let pg = state.postgres else {
            throw Lab.Failure(message: "the lab in \(options.lab.directory) has no real database", hint: "start it with `firedrill lab up --postgres --dir \(options.dir)`")
        }
        let name = try pg.backup()
        Terminal.out("backup: \(pg.backups)/\(name)\n")
    }
}

struct LabDown: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "down", abstract: "Stop exactly what the lab started and remove its folder.")
    @OptionGroup var options: LabOptions
    func run() throws {
        try options.lab.down()
        Terminal.out("lab down\n")
    }
}

struct LabStatus: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the lab's hosts and whether they run.")
    @OptionGroup var options: LabOptions
    func run() throws {
        guard let state = options.lab.state() else {
            Terminal.out("no lab in \(options.lab.directory)\n")
            throw ExitCode(.preconditions)
        }
        var allUp = true
        for h in state.hosts {
            let up = kill(h.pid, 0) == 0
            allUp = allUp && up
            Terminal.out("\(h.name)  127.0.0.1:\(h.port)  pid \(h.pid)  \(up ? "running" : "STOPPED")\n")
        }
        if let b = state.bastion {
            let up = kill(b.pid, 0) == 0
            allUp = allUp && up
            Terminal.out("bastion  \(state.namespace?.siteAddress ?? "127.0.0.1"):\(b.port)  pid \(b.pid)  \(up ? "running" : "STOPPED")\n")
        }
        if let ns = state.namespace {
            Terminal.out("network namespace \(ns.name)  the hosts on its own 127.0.0.1, the bastion on \(ns.siteAddress) (this side \(ns.hostAddress), link \(ns.link))\n")
        }
        if let r = state.relay {
            let up = kill(r.pid, 0) == 0
            allUp = allUp && up
            Terminal.out("latency relay  +\(r.latencyMS) ms each way  " + r.routes.map { ":\($0.listen) → :\($0.target)" }.joined(separator: ", ") + "  pid \(r.pid)  \(up ? "running" : "STOPPED")\n")
        }
        for (line, healthy) in state.postgres?.statusLines() ?? [] {
            allUp = allUp && healthy
            Terminal.out(TerminalText.safe(line) + "\n")
        }
        if let s = state.services {
            let up = kill(s.pid, 0) == 0
            allUp = allUp && up
            Terminal.out("health endpoints  http://127.0.0.1:\(s.vipPort)  dns 127.0.0.1:\(s.dnsPort)  pid \(s.pid)  \(up ? "running" : "STOPPED")\n")
        }
        Terminal.out("inventory: \(options.lab.inventoryPath)\n")
        if !allUp { throw ExitCode(.preconditions) }
    }
}

/// The detached process behind the lab's health endpoints; `lab up` starts it, `lab down` stops it.
struct LabServe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve the lab's health endpoints (started by `lab up`).",
                                                    shouldDisplay: false)
    @OptionGroup var options: LabOptions
    func run() throws {
        try options.lab.serve()
    }
}

/// This program's path, for starting helper processes of its own.
func currentExecutable() -> String { ChildProcess.selfPath }

/// The detached process behind the lab's slow link; `lab up --latency` starts it, `lab down` stops it.
struct LabRelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "relay", abstract: "Relay the lab's slow link (started by `lab up --latency`).",
                                                    shouldDisplay: false)
    @OptionGroup var options: LabOptions
    func run() throws {
        guard let config = options.lab.state()?.relay else {
            throw ValidationError("no latency relay in \(options.lab.directory): start one with firedrill lab up --latency 40ms --dir \(options.lab.directory)")
        }
        try LabRelay.serve(config)
    }
}
