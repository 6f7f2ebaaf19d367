import ArgumentParser
import FiredrillCore
import Foundation

extension ExitCode {
    /// Ends the command with one of the exit statuses of DESIGN.md.
    init(_ status: ExitStatus) { self.init(status.rawValue) }
}

enum Terminal {
    /// Output never stops a drill: it goes through a queue written by a thread of its own, so a
    /// terminal paused with Ctrl-S, an unread pipe, a closed pipe or a full disk cannot hold up
    /// (or crash) the runner mid-failover. The text is lost, not the drill; the journal has it.
    /// Everything printed is made terminal-safe here, once (TerminalText.forTerminal): a host's
    /// output, a journal's text or a playbook's cannot drive the terminal.
    static func out(_ s: String) { OutputQueue.shared.enqueue(STDOUT_FILENO, TerminalText.forTerminal(s)) }

    static func err(_ s: String) { OutputQueue.shared.enqueue(STDERR_FILENO, TerminalText.forTerminal(s)) }

    /// Waits (at most `within`) for queued output to be written: before a prompt and before exit.
    static func flush(within: Duration = .seconds(2)) { OutputQueue.shared.flush(within: within) }
    /// Prints diagnostics like a compiler, on stderr, with colour only on a TTY.
    static func report(_ diagnostics: [Diagnostic], sources: [String: String], noColor: Bool = false) {
        guard !diagnostics.isEmpty else { return }
        let style = TerminalStyle.detect(fileDescriptor: STDERR_FILENO, noColorFlag: noColor)
        let renderer = DiagnosticRenderer(useColor: style.enabled, sources: sources)
        err(renderer.render(diagnostics.sortedByLocation()))
        let errors = diagnostics.errors.count, warnings = diagnostics.count - errors
        if errors > 0 || warnings > 0 {
            var parts: [String] = []
            if errors > 0 { parts.append("\(errors) error\(errors == 1 ? "" : "s")") }
            if warnings > 0 { parts.append("\(warnings) warning\(warnings == 1 ? "" : "s")") }
            err(parts.joined(separator: ", ") + "\n")
        }
    }

    /// Ends the process with `status` (for errors already reported), locks released first.
    static func exit(_ status: ExitStatus) -> Never {
        RunLock.releaseAll()
        flush()
        Foundation.exit(status.rawValue)
    }

    /// Prints an error once, as every command prints them: `error: what` and `hint: what to do`,
    /// made safe for a terminal (a message may quote a host's output or a playbook's text).
    static func report(_ error: any UserFacingError, noColor: Bool = false) {
        if let d = error as? DiagnosticsError {
            report(d.diagnostics, sources: d.sources, noColor: noColor)
            return
        }
        if let d = error as? Diagnostic {
            report([d], sources: [:], noColor: noColor)
            return
        }
        err("error: \(TerminalText.safe(error.message))\n" + (error.hint.map { "hint: \(TerminalText.safe($0))\n" } ?? ""))
    }
}

/// Loads inventories and selects hosts for commands that take `-i` and a pattern; warnings
/// (a word that matches nothing) are printed, errors thrown.
func selectHosts(inventory paths: [String], pattern: String, limit: String?, noColor: Bool, allowEmpty: Bool = false) throws -> (Inventory, [String]) {
    let selected = try HostSelection.select(inventory: paths, pattern: pattern, limit: limit, allowEmpty: allowEmpty)
    Terminal.report(selected.warnings.diagnostics, sources: selected.warnings.sources, noColor: noColor)
    return (selected.inventory, selected.hosts)
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, markdown, json
}

/// Options shared by commands that load a playbook and its inventory.
struct DrillOptions: ParsableArguments {
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Inventory file or folder (repeatable); replaces the playbook's 'inventory:'.", valueName: "INVENTORY"))
    var inventory: [String] = []

    @Option(name: [.customShort("l"), .long], help: ArgumentHelp("Only touch hosts that also match this pattern (Ansible syntax).", valueName: "PATTERN"))
    var limit: String?

    @Option(name: [.customShort("e"), .customLong("extra-var")], help: ArgumentHelp("Set a variable (highest precedence), e.g. -e vip=10.0.0.50.", valueName: "KEY=VALUE"))
    var extraVars: [String] = []

    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).")
    var noColor = false

    /// The `-e` variables; a malformed one is an error.
    func parsedExtraVars() throws -> [String: VarValue] {
        try parseExtraVars(extraVars).get()
    }

    /// Secrets resolved, connections and checks ready; a secret without a value is an error.
    func runtime(_ definition: DrillDefinition, ssh: SSHOptions) throws -> DrillRuntime {
        try DrillRuntime.make(definition, ssh: ssh).get()
    }

    /// Loads and validates; warnings are printed, errors thrown.
    func load(_ playbook: String) throws -> (DrillDefinition, [String: String]) {
        let loaded = DrillDefinition.load(playbookPath: playbook, inventoryOverride: inventory, extraVars: try parsedExtraVars(), limit: limit)
        guard let definition = loaded.definition else { throw DiagnosticsError(loaded.diagnostics, sources: loaded.sources) }
        Terminal.report(loaded.diagnostics, sources: loaded.sources, noColor: noColor)
        return (definition, loaded.sources)
    }
}

/// Text waiting to be written to stdout or stderr, and the thread that writes it (blocking is
/// its problem, never the caller's). Bounded: if the reader stops for good, the oldest text
/// is dropped and that is said.
final class OutputQueue: @unchecked Sendable {
    static let shared = OutputQueue()
    static let limit = 8 << 20

    private let condition = NSCondition()
    private var items: [(fd: Int32, bytes: [UInt8])] = []
    private var queued = 0
    private var dropped = 0
    private var writing = false

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "output"
        thread.start()
    }

    func enqueue(_ fd: Int32, _ text: String) {
        condition.lock()
        items.append((fd, Array(text.utf8)))
        queued += items[items.count - 1].bytes.count
        while queued > Self.limit, items.count > 1 {
            let first = items.removeFirst()
            queued -= first.bytes.count
            dropped += first.bytes.count
        }
        condition.signal()
        condition.unlock()
    }

    func flush(within: Duration) {
        let deadline = Date().addingTimeInterval(DurationText.seconds(within))
        condition.lock()
        while (!items.isEmpty || writing) && Date() < deadline { _ = condition.wait(until: deadline) }
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while items.isEmpty { condition.wait() }
            var item = items.removeFirst()
            queued -= item.bytes.count
            if dropped > 0 {
                item.bytes = Array("[… \(dropped) bytes of output dropped: nothing was reading]\n".utf8) + item.bytes
                dropped = 0
            }
            writing = true
            condition.unlock()
            Self.write(item.fd, item.bytes)
            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
    }

    private static func write(_ fd: Int32, _ all: [UInt8]) {
        var bytes = all[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n > 0 { bytes = bytes.dropFirst(n); continue }
            if n < 0 && errno == EINTR { continue }
            return
        }
    }
}

/// The playbooks (*.yml, *.yaml, not hidden) of `dir`, sorted; a path that is not a folder is an error.
func playbookFiles(in dir: String) throws -> [String] {
    try PlaybookFolder.files(in: dir)
}
