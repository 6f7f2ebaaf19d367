import ArgumentParser
import Dispatch
import FiredrillCore
import Foundation

extension ManualMode: ExpressibleByArgument {}
extension ExecutorMode: ExpressibleByArgument {}

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

        A playbook that requires approval (`approval:`, or the configuration's policy for \
        its criticality) runs only under a valid signed approval from someone else: see \
        firedrill approve. A resume never needs one (it only restores).

        Exit codes: 0 passed, 1 failed (restore ran), 2 invalid input, 3 preconditions not \
        met (steady state, unreachable hosts, another drill holds the lock), 4 the journal \
        could not be written (restore was attempted; evidence on stderr and in a fallback \
        file) or the runs folder cannot be written (nothing ran), 130 interrupted.

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
    @Option(help: ArgumentHelp("An approval file, or a folder of them (repeatable; default approvals/ beside the playbook). See firedrill approve.", valueName: "PATH"))
    var approval: [String] = []
    @OptionGroup var config: ConfigOption
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
        let interactive = isatty(STDIN_FILENO) == 1
        let session = try DrillSession.prepare(DrillSession.Request(
            playbook: playbook, resume: resume, inventory: options.inventory, limit: options.limit, extraVars: options.extraVars,
            runsDir: runsDir, ssh: try connect.sshOptionsWithPasswords(), forks: connect.forks, manual: manual, interactive: interactive,
            busyExit: busyExit, historyDB: history.db, version: version, approvals: approval,
            // A resume only restores and needs no approval: a broken configuration must not stand in its way.
            config: resume == nil ? try config.load() : FiredrillConfig()))
        Terminal.report(session.warnings.diagnostics, sources: session.warnings.sources, noColor: options.noColor)
        for note in session.notes { Terminal.err("note: \(TerminalText.safe(note))\n") }
        if !yes {
            guard interactive else { throw CommandError("refusing to start a drill without confirmation", hint: "run it on a terminal, or pass --yes") }
            Terminal.err(session.confirmation)
            guard let answer = await readLineOffThePool(), ["y", "yes"].contains(answer.lowercased()) else {
                Terminal.err("not started\n")
                throw ExitCode(.preconditions)
            }
        }
        let live = output == .auto && isatty(STDOUT_FILENO) == 1 && format == .text
        let style = TerminalStyle.detect(noColorFlag: options.noColor)
        let observer = ProgressPrinter(style: style, live: live, json: format == .json, objective: session.plan.objectives.rto?.duration)
        let started = try session.start(observer: observer) { Terminal.err($0) }
        let signals = SignalWatcher { Task { await started.interrupt() } }
        if format == .text { Terminal.out("run \(session.runID)\njournal \(started.journal.path)\n") }
        let finished = await session.run(started)
        withExtendedLifetime(signals) {}
        if format == .text { Terminal.out(await observer.summary(finished.outcome)) }
        for w in finished.warnings { Terminal.err("warning: \(TerminalText.safe(w))\n") }
        throw ExitCode(finished.outcome.exitStatus)
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
