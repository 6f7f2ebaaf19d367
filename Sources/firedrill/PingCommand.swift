import ArgumentParser
import FiredrillCore
import Foundation

/// SSH settings shared by commands that connect to hosts.
struct ConnectOptions: ParsableArguments {
    @Option(help: ArgumentHelp("known_hosts file (default: the inventory's UserKnownHostsFile, else ~/.ssh/known_hosts).", valueName: "FILE"))
    var knownHosts: String?

    @Flag(help: "Trust and record the key of a host not yet in known_hosts (a changed key is always refused).")
    var acceptNew = false

    @Option(parsing: .unconditional, help: "Hosts contacted in parallel.")
    var forks = 10

    @Option(parsing: .unconditional, help: ArgumentHelp("Deadline for connect + key exchange + authentication.", valueName: "DURATION"))
    var connectTimeout = "10s"

    @Option(parsing: .unconditional, help: ArgumentHelp("After a command's timeout, how long the host gives it to end before SIGKILL.", valueName: "DURATION"))
    var killGrace = "5s"

    @Option(help: ArgumentHelp("How commands reach a host: auto (a resident executor on one channel, started with the host's python3 or ansible_python_interpreter; one channel per command where it cannot run) or channel (always one channel per command).", valueName: "auto|channel"))
    var executor: ExecutorMode = .auto

    @Option(name: [.customShort("F"), .long], help: ArgumentHelp("OpenSSH client configuration to read (default ~/.ssh/config; inventory variables win over it).", valueName: "FILE"))
    var sshConfig: String?

    @Flag(help: "Do not read any OpenSSH client configuration.")
    var noSshConfig = false

    @Flag(name: [.customShort("k"), .long], help: "Ask for the SSH login password (for hosts whose inventory gives none).")
    var askPass = false

    @Option(help: ArgumentHelp("File holding the SSH login password on its first line (mode 600).", valueName: "FILE"))
    var connectionPasswordFile: String?

    @Flag(name: [.customShort("K"), .long], help: "Ask for the become password (sudo: the login user's; su: the target user's), for hosts whose inventory gives none.")
    var askBecomePass = false

    @Option(help: ArgumentHelp("File holding the become password (sudo or su) on its first line (mode 600).", valueName: "FILE"))
    var becomePasswordFile: String?

    /// The SSH configuration is read where the inventory is loaded: said through the environment.
    func validate() throws {
        if noSshConfig && sshConfig != nil { throw ValidationError("--ssh-config and --no-ssh-config: give one") }
        if askPass && connectionPasswordFile != nil { throw ValidationError("--ask-pass and --connection-password-file: give one") }
        if askBecomePass && becomePasswordFile != nil { throw ValidationError("--ask-become-pass and --become-password-file: give one") }
        if let f = connectionPasswordFile { _ = try PasswordPrompt.fromFile(f, flag: "--connection-password-file") }
        if let f = becomePasswordFile { _ = try PasswordPrompt.fromFile(f, flag: "--become-password-file") }
        if noSshConfig { setenv("FIREDRILL_SSH_CONFIG", "none", 1) }
        if let sshConfig {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: sshConfig, isDirectory: &isDir), !isDir.boolValue else {
                throw ValidationError("--ssh-config '\(sshConfig)' is not a file")
            }
            setenv("FIREDRILL_SSH_CONFIG", sshConfig, 1)
        }
    }

    /// A positive duration, or a message that says which flag is wrong and why.
    static func duration(_ flag: String, _ text: String, example: String) throws -> Duration {
        guard let d = DurationText.parse(text) else {
            if text.trimmingCharacters(in: .whitespaces).hasPrefix("-") { throw ValidationError("\(flag) '\(text)' must be above zero (e.g. \(example))") }
            throw ValidationError("\(flag) '\(text)' is not a duration (or is too long): write a number and a unit, e.g. \(example), 500ms, 2m")
        }
        guard d > .zero else { throw ValidationError("\(flag) '\(text)' must be above zero (e.g. \(example))") }
        guard d <= .seconds(86_400) else { throw ValidationError("\(flag) '\(text)' is longer than a day: this is a deadline, e.g. \(example)") }
        return d
    }

    func sshOptions() throws -> SSHOptions {
        let timeout = try Self.duration("--connect-timeout", connectTimeout, example: "10s")
        let grace = try Self.duration("--kill-grace", killGrace, example: "5s")
        if let knownHosts {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: knownHosts, isDirectory: &isDir)
            if isDir.boolValue { throw ValidationError("--known-hosts '\(knownHosts)' is a folder: give the known_hosts file") }
            if !exists && !acceptNew {
                throw ValidationError("--known-hosts '\(knownHosts)' does not exist (to create it while trusting new hosts, add --accept-new)")
            }
        }
        var o = SSHOptions(acceptNew: acceptNew, connectTimeout: timeout, killGrace: grace)
        o.knownHostsOverride = knownHosts
        o.executor = executor
        return o
    }

    /// The options with the operator's passwords: read from their files, or asked for on the
    /// terminal (once: call this where the command runs, not in `validate`).
    func sshOptionsWithPasswords() throws -> SSHOptions {
        var o = try sshOptions()
        do throws(PasswordPrompt.Unavailable) {
            if askPass { o.passwords.password = try PasswordPrompt.ask("SSH password: ") }
            if askBecomePass { o.passwords.becomePassword = try PasswordPrompt.ask("BECOME password: ") }
        } catch {
            throw CommandError("\(askBecomePass ? "-K" : "-k"): \(error.description)",
                               hint: "give the password in a file instead (--become-password-file / --connection-password-file, mode 600)")
        }
        if let f = connectionPasswordFile { o.passwords.password = try PasswordPrompt.fromFile(f, flag: "--connection-password-file") }
        if let f = becomePasswordFile { o.passwords.becomePassword = try PasswordPrompt.fromFile(f, flag: "--become-password-file") }
        return o
    }
}

struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Connect to hosts in parallel, run a no-op, and report latency or the exact error.",
        discussion: """
        Exits 0 only if every selected host answered, 3 otherwise.

        Example:
          firedrill ping all -i .firedrill-lab/inventory.yml
          firedrill ping db -i inventory.ini --format json

        Each line gives the round trip of one command on the open connection (what each of a
        drill's commands costs), the time to connect, the address, the jump hosts (ProxyJump) or
        proxy command the host is reached through, and the user:
          db1  ok  41.2 ms (connect 305 ms)  10.2.0.11:22 via bastion (ops@10.0.0.5:22) as deploy
        """
    )

    @Argument(help: ArgumentHelp("Host pattern.", valueName: "PATTERN")) var pattern = "all"
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Inventory file or folder.", valueName: "INVENTORY"))
    var inventory: [String] = []
    @Option(name: [.customShort("l"), .long], help: ArgumentHelp("Further limit the selection.", valueName: "PATTERN")) var limit: String?
    @OptionGroup var connect: ConnectOptions
    @Option(help: "Output format: text or json (each host's address, the jump hosts or proxy command it is reached through, user, round trip or error).")
    var format: OutputFormat = .text
    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).")
    var noColor = false

    func validate() throws {
        if inventory.isEmpty { throw ValidationError("give an inventory with -i, e.g. -i .firedrill-lab/inventory.yml") }
        if connect.forks < 1 { throw ValidationError("--forks must be at least 1 (got \(connect.forks))") }
        if format == .markdown { throw ValidationError("ping writes text or json (got markdown)") }
        _ = try connect.sshOptions()
    }

    /// One host's answer, as `--format json` writes it.
    struct HostAnswer: Encodable {
        var host: String
        var endpoint: String
        var via: String?
        var user: String?
        var ok: Bool
        /// One no-op command on the open connection.
        var latencyMS: Double?
        /// Connecting: TCP, the way through jump hosts, key exchange, login.
        var connectMS: Double?
        var error: String?
        var errorKind: TransportError.Kind?
        var hint: String?
        /// How the host runs commands (the resident executor, or one channel per command and why).
        var executor: String?
        enum CodingKeys: String, CodingKey { case host, endpoint, via, user, ok, latencyMS = "latency_ms", connectMS = "connect_ms", error, errorKind = "error_kind", hint, executor }
    }

    func run() async throws {
        let (inv, hosts) = try selectHosts(inventory: inventory, pattern: pattern, limit: limit, noColor: noColor)
        let pool = HostPool(options: try connect.sshOptionsWithPasswords())
        let reach = InventoryHosts(pool: pool, inventory: inv)
        let results = await inParallel(hosts, limit: connect.forks) { await reach.prepare($0, become: []) }
        await pool.closeAll()
        var failed = 0
        var answers: [HostAnswer] = []
        let width = (hosts.map(\.count).max() ?? 0) + 2
        for (name, result) in zip(hosts, results) {
            let c = inv.connection(of: name)
            var answer = HostAnswer(host: name, endpoint: c.endpoint, via: c.pathDescription, user: c.user, ok: false)
            switch result {
            case let .success(ready):
                answer.ok = true
                answer.latencyMS = DurationText.seconds(ready.roundTrip) * 1000
                answer.connectMS = DurationText.seconds(ready.latency) * 1000
                answer.executor = ready.executor
                if format == .text {
                    Terminal.out(TerminalText.safe(name).padding(toLength: width, withPad: " ", startingAt: 0)
                                 + String(format: "ok  %.1f ms (connect %.0f ms)  ", answer.latencyMS ?? 0, answer.connectMS ?? 0)
                                 + TerminalText.safe(c.reachDescription) + (ready.executor.map { ", " + TerminalText.safe($0) } ?? "") + "\n")
                }
                if let key = ready.trustedNewKey { Terminal.err("\(name): \(key)\n") }
            case let .failure(e):
                failed += 1
                answer.error = e.message; answer.errorKind = e.kind; answer.hint = e.hint
                if format == .text {
                    Terminal.out(TerminalText.safe(name).padding(toLength: width, withPad: " ", startingAt: 0) + "FAILED  " + TerminalText.safe(e.description) + "\n")
                    if let via = c.pathDescription { Terminal.out(String(repeating: " ", count: width) + "reached " + TerminalText.safe(via) + "\n") }
                    if let hint = e.hint { Terminal.out(String(repeating: " ", count: width) + "hint: \(TerminalText.safe(hint))\n") }
                }
            }
            answers.append(answer)
        }
        if format == .json {
            Terminal.out(try JSONOutput.encode(answers) + "\n")
            if failed > 0 { throw ExitCode(.preconditions) }
            return
        }
        Terminal.out("\(hosts.count - failed)/\(hosts.count) hosts answered\n")
        if failed > 0 { throw ExitCode(.preconditions) }
    }
}
