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
        Restore runs after a failure and after Ctrl-C; Ctrl-C during restore keeps \
        restoring, and a further one asks before abandoning it. \
        Every event is journaled (fsync'd, hash-chained) before the drill acts on it: \
        <run-id>/journal.jsonl under --runs-dir.

        Manual steps ask the operator on a terminal; without one, say --manual=pass, skip \
        or fail (recorded as such). --yes skips the confirmation prompt but never confirms \
        manual steps.

        Restore runs only when the failover touched a host: interrupted before the first \
        failover command was sent, nothing is changed and nothing is restored. One drill \
        per service and per host at a time (locks in /run/lock/firedrill, or \
        $FIREDRILL_LOCK_DIR); a command is never \
        sent twice (a connection lost while it ran makes its outcome unknown, the step \
        fails and restore runs).

        Exit codes: 0 passed, 1 failed (restore ran), 2 invalid input, 3 preconditions not \
        met (steady state, unreachable hosts, another drill holds the lock), 4 the journal \
        could not be written (restore was attempted; evidence on stderr and in a fallback \
        file), 130 interrupted.

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
    @OptionGroup var history: HistoryOptions
    /// For `due --run`: a service or host held by a live drill exits with `ExitStatus.busy` (skipped, not failed).
    @Flag(help: .hidden) var busyExit = false

    func validate() throws {
        if connect.forks < 1 { throw ValidationError("--forks must be at least 1 (got \(connect.forks))") }
        _ = try connect.sshOptions()
        if resume == nil && playbook == nil { throw ValidationError("give a playbook, or --resume RUN_ID") }
        if resume != nil && playbook != nil { throw ValidationError("--resume continues the run's own playbook: leave PLAYBOOK out") }
        if resume != nil && (!options.inventory.isEmpty || options.limit != nil) {
            throw ValidationError("--resume uses the run's own inventory and --limit: leave them out (give the run's -e again)")
        }
    }

    func run() async throws {
        let store = RunStore(root: runsDir)
        // A new run creates the runs folder; a resume only reads one that exists.
        if let problem = RunStore.folderProblem(store.root, create: resume == nil) {
            if let resume { fail("no run '\(resume)': \(problem)", hint: "pass the --runs-dir the run was started with") }
            fail("cannot keep runs: \(problem)", hint: "pass --runs-dir DIR (or set FIREDRILL_RUNS) to a folder you can write")
        }
        let interactive = isatty(STDIN_FILENO) == 1
        var locks: [RunLock] = []
        var point: ResumePoint?
        var runID = ""
        var drillOptions = options
        if let resume {
            guard let id = store.resolve(resume) else { fail("no run '\(resume)' in \(store.root)", hint: "firedrill runs --runs-dir \(store.root)") }
            // The run is locked before its journal is read, so two resumes cannot both find it unfinished.
            locks.append(lock([.run(id)], store: store, run: id))
            switch ResumePoint.load(store: store, id: id) {
            case let .success(p): point = p
            case let .failure(d): fail(d.message, hint: d.hint)
            }
            runID = id
            drillOptions.inventory = point?.facts.inventory ?? []
            drillOptions.limit = point?.facts.limit
            // -e values are not journaled (they could be anything): the same names must be given again.
            let recorded = Set(point?.facts.extraVarNames ?? [])
            let given = Set(drillOptions.parsedExtraVars().keys)
            if recorded != given {
                fail("run \(id) was started with -e \(recorded.isEmpty ? "none" : recorded.sorted().joined(separator: ", ")); this resume gives \(given.isEmpty ? "none" : given.sorted().joined(separator: ", "))",
                     hint: "give the same -e variables as when the run started (their values are not recorded)")
            }
        }
        let playbookPath = point?.facts.playbook ?? playbook ?? ""
        let (definition, _) = drillOptions.load(playbookPath)
        if let point, point.facts.playbookSHA256 != RunFacts.playbookHash(definition) {
            fail("\(playbookPath) changed since run \(runID) started",
                 hint: "restore by hand, or put the playbook back as it was (sha256 \(point.facts.playbookSHA256))")
        }
        // A resumed run only restores: only restore's manual steps need an answer then.
        let toRun = point == nil ? definition.preview.steps + definition.preview.restore : definition.preview.restore
        if toRun.contains(where: { $0.kind == .manual }) && manual == .ask && !interactive {
            fail("the playbook has manual steps and there is no terminal to ask", hint: "pass --manual=pass, --manual=skip or --manual=fail (recorded in the journal)")
        }
        // Secrets are resolved before asking, so a missing one is reported before anyone confirms.
        let runtime = drillOptions.runtime(definition, ssh: try connect.sshOptions())
        if runID.isEmpty { runID = RunStore.newRunID(service: definition.playbook.service) }
        guard let plan = definition.plan(runID: runID) else { fail("cannot plan the drill", hint: nil) }
        // One drill per service and per host at a time, held until this process ends.
        locks.append(lock(RunLock.Key.drill(plan, run: runID).filter { point == nil || $0 != .run(runID) }, store: store, run: runID))
        if !yes {
            guard interactive else { fail("refusing to start a drill without confirmation", hint: "run it on a terminal, or pass --yes") }
            Terminal.err(confirmationText(definition.preview, resuming: point != nil))
            guard let answer = await readLineOffThePool(), ["y", "yes"].contains(answer.lowercased()) else {
                Terminal.err("not started\n")
                Terminal.exit(ExitStatus.preconditions)
            }
        }
        // A new run's folder is made here; if the disk cannot take even its plan, nothing starts.
        if point == nil {
            let problem = (try? JSONOutput.encode(plan)).flatMap { RunStore.write($0, to: store.directory(runID) + "/plan.json") }
            if let problem {
                try? FileManager.default.removeItem(atPath: store.directory(runID))
                fail("cannot start the run: \(problem)", hint: "free space in \(store.root) or pass --runs-dir DIR; nothing has run")
            }
        }
        let journal: Journal
        do {
            journal = try Journal(path: store.journalPath(runID), dropTornTail: point != nil)
        } catch {
            if point == nil { try? FileManager.default.removeItem(atPath: store.directory(runID)) }
            fail("cannot write the journal: \(error)", hint: "free space in \(store.root) or pass --runs-dir DIR; nothing has run")
        }
        let live = output == .auto && isatty(STDOUT_FILENO) == 1 && format == .text
        let style = TerminalStyle.detect(noColorFlag: options.noColor)
        let observer = ProgressPrinter(style: style, live: live, json: format == .json, objective: plan.objectives.rto?.duration)
        let runner = DrillRunner(plan: plan, environment: runtime.environment, journal: journal, observer: observer,
                                 options: RunOptions(forks: connect.forks, manual: manual), resuming: point, clock: ContinuousClock())
        let signals = SignalWatcher { Task { await runner.interrupt() } }
        if format == .text { Terminal.out("run \(runID)\njournal \(journal.path)\n") }
        let facts = point == nil ? RunFacts.collect(definition: definition, plan: plan, version: version) : nil
        let outcome = await runner.run(facts: facts, notes: locks.flatMap(\.takenOver))
        withExtendedLifetime(signals) {}
        await runtime.pool.closeAll()
        if format == .text { Terminal.out(await observer.summary(outcome)) }
        if outcome.record.isFinished && outcome.recordIncomplete == nil { await recordHistory(journal.path) }
        // A new run that could not record even its first event leaves no empty run behind
        // (its events are in the fallback file the summary names).
        if point == nil, (try? FileManager.default.attributesOfItem(atPath: journal.path)[.size] as? Int) == 0 {
            try? FileManager.default.removeItem(atPath: store.directory(runID))
        }
        withExtendedLifetime(locks) {}
        RunLock.releaseAll()
        throw ExitCode(outcome.exitCode)
    }

    /// Indexes the ended run in the history database. The journal is already safe: a database
    /// that is locked, corrupt or read-only costs the history entry, never the drill's result.
    func recordHistory(_ journal: String) async {
        do throws(History.Failure) {
            let db = try await History.open(path: History.defaultPath(history.db))
            _ = try await db.ingest(journal: journal)
        } catch {
            Terminal.err("warning: history was not updated: \(error.message)\nhint: the journal is safe; add it later with firedrill import \(journal)\n")
        }
    }

    /// Takes `keys`, or refuses (exit 3) naming the drill that holds one.
    func lock(_ keys: [RunLock.Key], store: RunStore, run: String) -> RunLock {
        let holder = RunLock.Holder(run: run, runs: store.root, user: ProcessInfo.processInfo.environment["USER"] ?? NSUserName(),
                                    controller: ProcessInfo.processInfo.hostName)
        switch RunLock.acquire(keys, holder: holder) {
        case let .success(l):
            for note in l.takenOver { Terminal.err("note: \(note)\n") }
            return l
        case let .failure(refusal):
            Terminal.err("error: \(refusal.description)\nhint: \(refusal.hint)\n")
            if case .unusable = refusal.why { Terminal.exit(ExitStatus.invalidInput) }
            if busyExit, case .held = refusal.why { Terminal.exit(ExitStatus.busy) }
            Terminal.exit(ExitStatus.preconditions)
        }
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

    func fail(_ message: String, hint: String?) -> Never {
        Terminal.err("error: \(message)\n" + (hint.map { "hint: \($0)\n" } ?? ""))
        Terminal.exit(ExitStatus.invalidInput)
    }
}

/// SIGINT, SIGTERM, SIGHUP (the operator's terminal or SSH session closing) and SIGQUIT
/// (Ctrl-\), delivered on a dispatch queue as interrupts instead of ending the process.
final class SignalWatcher: @unchecked Sendable {
    /// Only set in init and cancelled in deinit.
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM, SIGHUP, SIGQUIT].map { sig in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { handler() }
            s.resume()
            return s
        }
    }

    deinit { for s in sources { s.cancel() } }
}
