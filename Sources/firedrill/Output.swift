import ArgumentParser
import FiredrillCore
import Foundation

/// Exit statuses, as DESIGN.md defines them.
enum ExitStatus {
    static let passed: Int32 = 0
    static let failed: Int32 = 1
    static let invalidInput: Int32 = 2
    static let preconditions: Int32 = 3
    static let interrupted: Int32 = 130
    /// `run --busy-exit` (used by `due --run`): another live drill holds the service or a host.
    static let busy: Int32 = 75
}

enum Terminal {
    /// Output never stops a drill: it goes through a queue written by a thread of its own, so a
    /// terminal paused with Ctrl-S, an unread pipe, a closed pipe or a full disk cannot hold up
    /// (or crash) the runner mid-failover. The text is lost, not the drill; the journal has it.
    static func out(_ s: String) { OutputQueue.shared.enqueue(STDOUT_FILENO, s) }

    static func err(_ s: String) { OutputQueue.shared.enqueue(STDERR_FILENO, s) }

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
    static func exit(_ status: Int32) -> Never {
        RunLock.releaseAll()
        flush()
        Foundation.exit(status)
    }
}

/// Loads inventories and selects hosts for commands that take `-i` and a pattern; reports
/// problems (bad inventory, bad pattern, nothing selected) and exits 2.
/// `allowEmpty` (listing commands): a selection of no host is a warning, not an error.
func selectHosts(inventory paths: [String], pattern: String, limit: String?, noColor: Bool, allowEmpty: Bool = false) -> (Inventory, [String]) {
    let loaded = InventoryLoader().load(paths: paths)
    Terminal.report(loaded.diagnostics, sources: loaded.sources, noColor: noColor)
    if loaded.diagnostics.hasErrors { Terminal.exit(ExitStatus.invalidInput) }
    let inventory = loaded.inventory
    if let limit, let problem = InventoryPattern(inventory).limitProblem(limit) {
        Terminal.report([problem], sources: [:], noColor: noColor)
        Terminal.exit(ExitStatus.invalidInput)
    }
    do {
        let selection = try InventoryPattern(inventory).select(pattern, limit: limit)
        let unmatched = selection.unmatched.map { word -> Diagnostic in
            // A group that exists but holds no host (a placeholder such as kubespray's [calico-rr]) is said as such,
            // and so is a wildcard or regex that matches only such groups.
            if inventory.groups[word] != nil {
                return .warning("group '\(word)' exists but has no hosts", hint: "add hosts to it, or leave it out of the pattern")
            }
            let empty = (try? InventoryPattern.matcher(word)).map { m in inventory.userGroups.filter(m) } ?? []
            if !empty.isEmpty {
                return .warning("'\(word)' matches only groups with no hosts (\(empty.prefix(5).joined(separator: ", "))\(empty.count > 5 ? ", …" : ""))",
                                hint: "add hosts to them, or leave them out of the pattern")
            }
            return .warning("'\(word)' matches no group or host",
                            hint: Suggestions.hint(for: word, among: inventory.userGroups + inventory.hostOrder, noun: "group or host", listLabel: "groups and hosts"))
        }
        if selection.hosts.isEmpty && allowEmpty {
            Terminal.report(unmatched + [.warning("'\(pattern)' selects no host" + (limit.map { " within --limit \($0)" } ?? ""))], sources: [:], noColor: noColor)
            return (inventory, [])
        }
        if selection.hosts.isEmpty {
            Terminal.report(unmatched + [.error("'\(pattern)' selects no host" + (limit.map { " within --limit \($0)" } ?? ""))],
                            sources: [:], noColor: noColor)
            Terminal.exit(ExitStatus.invalidInput)
        }
        Terminal.report(unmatched, sources: [:], noColor: noColor)
        return (inventory, selection.hosts)
    } catch {
        Terminal.report([error.diagnostic()], sources: [:], noColor: noColor)
        Terminal.exit(ExitStatus.invalidInput)
    }
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

    /// The `-e` variables; reports and exits 2 when one is malformed.
    func parsedExtraVars() -> [String: VarValue] {
        switch parseExtraVars(extraVars) {
        case let .success(v): return v
        case let .failure(d):
            Terminal.report([d], sources: [:], noColor: noColor)
            Terminal.exit(ExitStatus.invalidInput)
        }
    }

    /// Secrets resolved, connections and checks ready; reports and exits 2 when a secret has no value.
    func runtime(_ definition: DrillDefinition, ssh: SSHOptions) -> DrillRuntime {
        switch DrillRuntime.make(definition, ssh: ssh) {
        case let .success(r): return r
        case let .failure(e):
            Terminal.report(e.diagnostics, sources: [:], noColor: noColor)
            Terminal.exit(ExitStatus.invalidInput)
        }
    }

    /// Loads and validates; reports diagnostics and exits 2 when there are errors.
    func load(_ playbook: String) -> (DrillDefinition, [String: String]) {
        let extra = parsedExtraVars()
        let loaded = DrillDefinition.load(playbookPath: playbook, inventoryOverride: inventory, extraVars: extra, limit: limit)
        guard let definition = loaded.definition else {
            Terminal.report(loaded.diagnostics, sources: loaded.sources, noColor: noColor)
            Terminal.exit(ExitStatus.invalidInput)
        }
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

/// The playbooks (*.yml, *.yaml, not hidden) of `dir`, sorted; exits 2 when it is not a folder.
func playbookFiles(in dir: String) -> [String] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        Terminal.err("error: --dir \(dir) is not a folder\nhint: give the folder holding the playbooks, e.g. --dir Playbooks\n")
        Terminal.exit(ExitStatus.invalidInput)
    }
    // Hidden files (editor backups, copies being written) are not playbooks of the folder.
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yml") || $0.hasSuffix(".yaml")) }
        .sorted().map { "\(dir)/\($0)" }
}
