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
        """,
        subcommands: [LabUp.self, LabDown.self, LabStatus.self, LabServe.self]
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

    func validate() throws {
        if hosts < 1 || hosts > 500 { throw ValidationError("--hosts must be between 1 and 500") }
    }

    func run() throws {
        let state = try options.lab.up(count: hosts, executable: currentExecutable()) { Terminal.err($0 + "\n") }
        Terminal.out("lab up: \(state.hosts.count) hosts\ninventory: \(options.lab.inventoryPath)\n")
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
