import ArgumentParser
import FiredrillCore
import Foundation

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List drill runs, newest first, with their result; with RUN, that run's summary.",
        discussion: """
        A run marked 'unfinished' lost its runner mid-drill: `firedrill run --resume RUN_ID` runs its restore.

        With RUN (an ID, a unique prefix, or 'latest'), prints the run's summary rebuilt from its \
        journal alone — the same summary the drill printed as it ended.

        Examples:
          firedrill runs
          firedrill runs latest
        """
    )
    @Argument(help: ArgumentHelp("Show this run's summary (ID, prefix or 'latest').", valueName: "RUN")) var runRef: String?
    @Option(help: ArgumentHelp("Where runs are kept (default $FIREDRILL_RUNS or ~/.local/share/firedrill/runs).", valueName: "DIR"))
    var runsDir: String?
    @Option(help: "text or json.") var format: TextOrJSON = .text
    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).") var noColor = false

    func run() throws {
        let store = RunStore(root: runsDir)
        if let runRef {
            guard let id = store.resolve(runRef) else {
                throw CommandError("no run '\(runRef)' in \(store.root)", hint: "firedrill runs --runs-dir DIR lists them")
            }
            let archive = try RunArchive.open(store.journalPath(id))
            // A damaged journal (not merely a torn last line, which a killed runner leaves) is not
            // an unfinished run to resume: the summary says what the record is, and exits 1.
            let damaged = archive.onlyTorn ? nil : archive.problem
            // Which run this is: the summary alone does not say.
            let r = archive.record
            Terminal.out("Run \(id): " + TerminalText.safe(r.name ?? "?") + (r.facts.map { " (\(TerminalText.safe($0.service)))" } ?? "")
                         + (r.startedAt.map { ", started \($0)" } ?? "") + (r.facts.map { ", playbook \(TerminalText.safe($0.playbook))" } ?? "") + "\n")
            Terminal.out(RunSummaryRenderer(style: TerminalStyle.detect(noColorFlag: noColor))
                .render(archive.record, journalPath: store.journalPath(id), result: damaged == nil ? nil : .incomplete,
                        incomplete: damaged.map { "the journal is damaged (\($0)); firedrill verify-journal \(id) says where" }))
            if damaged != nil { throw ExitCode(.failed) }
            return
        }
        // A runs folder that is something else (a file) is a wrong --runs-dir, not an empty one.
        if FileManager.default.fileExists(atPath: store.root), let issue = RunStore.folderIssue(store.root, create: false), issue.kind == .notAFolder {
            throw CommandError(issue.words, hint: "pass the folder the runs are kept in (--runs-dir DIR or FIREDRILL_RUNS)")
        }
        let runs = store.list()
        if format == .json {
            Terminal.out(try JSONOutput.encode(runs) + "\n")
            return
        }
        if runs.isEmpty { Terminal.out("no runs in \(store.root)\n"); return }
        let w = runs.map(\.id.count).max() ?? 0
        let statuses = runs.map { $0.intact ? $0.status : $0.status + " (JOURNAL DAMAGED)" }
        let sw = max(15, (statuses.map(\.count).max() ?? 0) + 2)
        for (r, status) in zip(runs, statuses) {
            Terminal.out("\(r.id.padding(toLength: w + 2, withPad: " ", startingAt: 0))\(status.padding(toLength: sw, withPad: " ", startingAt: 0))\(r.playbook ?? "")\n")
        }
    }
}

struct VerifyJournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-journal",
        abstract: "Check a run's journal: every line parses, the hash chain is unbroken, nothing was cut off.",
        discussion: "Exits 0 when intact, 1 when the journal was changed or truncated, 2 when there is no such run."
    )
    @Argument(help: ArgumentHelp("A run ID (or a unique prefix), 'latest', or a journal.jsonl path.", valueName: "RUN")) var runRef: String
    @Option(help: ArgumentHelp("Where runs are kept.", valueName: "DIR")) var runsDir: String?

    func run() throws {
        let store = RunStore(root: runsDir)
        let path: String
        if runRef.hasSuffix(".jsonl"), FileManager.default.fileExists(atPath: runRef) { path = runRef }
        else if let id = store.resolve(runRef) { path = store.journalPath(id) }
        else { throw CommandError("no run '\(runRef)' in \(store.root)", hint: "firedrill runs --runs-dir DIR lists them") }
        let a = try RunArchive.open(path)
        if let problem = a.problem {
            Terminal.out("\(path): NOT INTACT — \(problem)\n")
            throw ExitCode(.failed)
        }
        let ended = a.record.ending
        Terminal.out("\(path): intact, \(a.eventCount) events, chain head \(a.lastHash.prefix(16))…"
                     + (ended == nil ? ", run unfinished (no run_ended)" : ", run \(ended?.result?.rawValue ?? "")") + "\n")
    }
}
