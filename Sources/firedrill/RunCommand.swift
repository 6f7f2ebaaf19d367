import ArgumentParser
import Dispatch
import FiredrillCore
import Foundation

extension ManualMode: ExpressibleByArgument {}

enum ProgressOutput: String, ExpressibleByArgument, CaseIterable {
    /// Live view on a terminal, plain lines otherwise.
    case auto
    case plain
}

enum EventFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a drill: preflight, failover steps verified by checks, restore (always), journal.",
        discussion: """
        Before step 1 every host must answer and the steady state must hold, or nothing \
        runs (exit 3). Each step runs on its hosts in parallel (--forks), then its verify: \
        checks are polled until every `up` check passes and every `down` check fails, or \
        `within` runs out. On the first failed step its on_failure hooks run, then restore. \
        Restore always runs, also after Ctrl-C (a second Ctrl-C asks before abandoning it). \
        Every event is journaled (fsync'd, hash-chained) before the drill acts on it: \
        <run-id>/journal.jsonl under --runs-dir.

        Manual steps ask the operator on a terminal; without one, say --manual=pass, skip \
        or fail (recorded as such). --yes skips the confirmation prompt but never confirms \
        manual steps.

        Exit codes: 0 passed, 1 failed (restore ran), 2 invalid input, 3 preconditions not \
        met, 130 interrupted (restore ran).

        Examples:
          firedrill run Playbooks/ehr-db-failover.yml -i .firedrill-lab/inventory.yml --yes --manual=pass
          firedrill run --resume latest --yes
        """
    )

    @Argument(help: ArgumentHelp("The playbook (not with --resume).", valueName: "PLAYBOOK")) var playbook: String?
    @OptionGroup var options: DrillOptions
    @OptionGroup var connect: ConnectOptions
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation before starting.") var yes = false
    @Option(help: "Manual steps: ask (needs a terminal), pass, skip or fail.") var manual: ManualMode = .ask
    @Option(help: "Progress: auto (live on a terminal) or plain (one line per event).") var output: ProgressOutput = .auto
    @Option(help: "text, or json (stream the journal's events on stdout).") var format: EventFormat = .text
    @Option(help: ArgumentHelp("Where runs are kept (default $FIREDRILL_RUNS or ~/.local/share/firedrill/runs).", valueName: "DIR"))
    var runsDir: String?
    @Option(help: ArgumentHelp("Continue a run whose runner was killed: re-check hosts, then run restore.", valueName: "RUN_ID"))
    var resume: String?

    func validate() throws {
        if connect.forks < 1 { throw ValidationError("--forks must be at least 1") }
        _ = try connect.sshOptions()
        if resume == nil && playbook == nil { throw ValidationError("give a playbook, or --resume RUN_ID") }
        if resume != nil && playbook != nil { throw ValidationError("--resume continues the run's own playbook: leave PLAYBOOK out") }
        if resume != nil && (!options.inventory.isEmpty || options.limit != nil || !options.extraVars.isEmpty) {
            throw ValidationError("--resume uses the run's own inventory, --limit and -e: leave them out")
        }
    }

    func run() async throws {
        let store = RunStore(root: runsDir)
        let interactive = isatty(STDIN_FILENO) == 1
        var previous: [JournalEvent] = []
        var runID: String
        var playbookPath = playbook ?? ""
        var inventoryPaths = options.inventory
        var limit = options.limit
        var extraVars = options.extraVars
        if let resume {
            guard let id = store.resolve(resume) else { fail("no run '\(resume)' in \(store.root)", hint: "firedrill runs --runs-dir \(store.root)") }
            let contents = try JournalReader.read(path: store.journalPath(id))
            if let problem = contents.problem { fail("the journal of \(id) is damaged: \(problem)", hint: "firedrill verify-journal \(id)") }
            if let ended = contents.events.last(where: { $0.event == .runEnded }) {
                fail("run \(id) already ended (\(ended.result ?? "")): nothing to resume", hint: "start a new run with firedrill run PLAYBOOK")
            }
            guard let facts = contents.events.first(where: { $0.event == .runStarted })?.data, let pb = facts["playbook"] else {
                fail("run \(id) has no run_started event: nothing ran", hint: "start a new run with firedrill run PLAYBOOK")
            }
            runID = id
            previous = contents.events
            playbookPath = pb
            inventoryPaths = (facts["inventory"] ?? "").split(separator: "\n").map(String.init)
            limit = facts["limit"]
            extraVars = (facts["extra_vars"] ?? "").split(separator: "\n").map(String.init)
        } else {
            runID = ""
        }
        var drillOptions = options
        drillOptions.inventory = inventoryPaths
        drillOptions.limit = limit
        drillOptions.extraVars = extraVars
        let (definition, _) = drillOptions.load(playbookPath)
        let playbookHash = RunStore.sha256(files: [definition.playbook.file] + definition.playbook.includes)
        if !previous.isEmpty, let started = previous.first(where: { $0.event == .runStarted })?.data,
           started["playbook_sha256"] != playbookHash {
            fail("\(playbookPath) changed since run \(runID) started", hint: "restore by hand, or put the playbook back as it was (sha256 \(started["playbook_sha256"] ?? "?"))")
        }
        // A resumed run only restores: only restore's manual steps need an answer then.
        let toRun = previous.isEmpty ? definition.preview.steps + definition.preview.restore : definition.preview.restore
        let hasManual = toRun.contains { $0.kind == .manual }
        if hasManual && manual == .ask && !interactive {
            fail("the playbook has manual steps and there is no terminal to ask", hint: "pass --manual=pass, --manual=skip or --manual=fail (recorded in the journal)")
        }
        // Secrets are resolved before asking, so a missing one is reported before anyone confirms.
        let runtime = drillOptions.runtime(definition, ssh: try connect.sshOptions())
        if !yes {
            guard interactive else { fail("refusing to start a drill without confirmation", hint: "run it on a terminal, or pass --yes") }
            Terminal.err(confirmationText(definition.preview, resuming: !previous.isEmpty))
            guard let answer = await readLineOffThePool(), ["y", "yes"].contains(answer.lowercased()) else {
                Terminal.err("not started\n")
                throw ExitCode(ExitStatus.preconditions)
            }
        }
        if runID.isEmpty { runID = RunStore.newRunID(service: definition.playbook.service) }
        guard let plan = definition.plan(runID: runID) else { fail("cannot plan the drill", hint: nil) }
        let journal: Journal
        do {
            journal = try Journal(path: store.journalPath(runID))
            try JSONOutput.encode(plan).write(toFile: store.directory(runID) + "/plan.json", atomically: true, encoding: .utf8)
        } catch {
            fail("cannot write the journal: \(error)", hint: "check that \(store.root) is writable, or pass --runs-dir DIR")
        }
        let live = output == .auto && isatty(STDOUT_FILENO) == 1 && format == .text
        let style = TerminalStyle.detect(noColorFlag: options.noColor)
        let observer = ProgressPrinter(style: style, live: live, json: format == .json, objective: plan.objectives.rto?.duration)
        let interruption = Interruption()
        let signals = SignalWatcher { n in
            interruption.signal()
            Terminal.err(n == 1 ? "\ninterrupt: stopping the failover, restore will run (Ctrl-C again to abandon restore)\n" : "")
        }
        let engine = DrillEngine(runtime: runtime, plan: plan, journal: journal, observer: observer,
                                 options: RunOptions(forks: connect.forks, manual: manual), interruption: interruption)
        if format == .text { Terminal.out("run \(runID)\njournal \(journal.path)\n") }
        let facts: [String: String] = [
            "playbook": absolute(definition.playbook.file), "playbook_sha256": playbookHash,
            "inventory": definition.inventoryPaths.map(absolute).joined(separator: "\n"),
            "inventory_sha256": RunStore.sha256(files: definition.inventoryPaths),
            "limit": limit ?? "", "extra_vars": extraVars.joined(separator: "\n"), "operator": ProcessInfo.processInfo.environment["USER"] ?? NSUserName(),
            "controller": ProcessInfo.processInfo.hostName, "firedrill_version": version,
            "service": plan.playbook.service, "criticality": plan.playbook.criticality.rawValue,
            "rto_objective_seconds": plan.objectives.rto.map { String(DurationText.seconds($0.duration)) } ?? "",
            "rpo_objective_seconds": plan.objectives.rpo.map { String(DurationText.seconds($0.duration)) } ?? "",
        ].filter { !$0.value.isEmpty }
        let outcome: DrillOutcome
        do {
            outcome = previous.isEmpty ? try await engine.run(facts: facts) : try await engine.resume(from: previous)
            try await journal.seal()
        } catch {
            await runtime.pool.closeAll()
            Terminal.err("error: the journal could not be written (\(error)); the drill stopped.\n"
                         + "hint: hosts may be mid-drill: fix the disk, then firedrill run --resume \(runID)\n")
            throw ExitCode(ExitStatus.failed)
        }
        withExtendedLifetime(signals) {}
        await runtime.pool.closeAll()
        if format == .text { Terminal.out(await observer.summary(outcome)) }
        throw ExitCode(outcome.exitCode)
    }

    func confirmationText(_ plan: Plan, resuming: Bool) -> String {
        let s = plan.summary
        return """
        \(resuming ? "Resume" : "Run") drill “\(plan.playbook.name)” (\(plan.playbook.service), \(plan.playbook.criticality.rawValue))
          \(s.hosts) hosts, \(s.steps) steps, \(s.restoreSteps) restore steps, \(s.commands) commands, \(s.manualSteps) manual
          hosts: \(plan.hosts.map(\.name).joined(separator: ", "))
          worst case \(DurationText.format(s.estimatedWorstCase.duration))
        \(resuming ? "This re-checks the hosts and runs restore." : "This changes the hosts above. Restore runs afterwards in any case.")
        Start? [y/N] 
        """
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    func fail(_ message: String, hint: String?) -> Never {
        Terminal.err("error: \(message)\n" + (hint.map { "hint: \($0)\n" } ?? ""))
        Terminal.exit(ExitStatus.invalidInput)
    }
}

/// SIGINT and SIGTERM, delivered on a dispatch queue instead of ending the process.
final class SignalWatcher: @unchecked Sendable {
    /// Only set in init and cancelled in deinit.
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable (Int) -> Void) {
        let counter = Counter()
        sources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { handler(counter.next()) }
            s.resume()
            return s
        }
    }

    deinit { for s in sources { s.cancel() } }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func next() -> Int { lock.withLock { n += 1; return n } }
    }
}
