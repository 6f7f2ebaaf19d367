import ArgumentParser
import FiredrillCore
import Foundation

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "A drill's readiness score, recomputed from its journal alone.",
        discussion: """
        Rules score/1 (docs/scoring.md): failover completed 25, redundancy held after every \
        step 25, RTO within objective 20, RPO within objective 10, restore completed and the \
        steady state back 20; components without an objective are left out and the rest \
        scaled to 100; a partial drill (--limit) or a manual step answered by a flag cannot \
        grade A, an interrupted or resumed run cannot grade above C. Every lost point is \
        listed with its reason and evidence. Needs no database and no playbook: any machine \
        with the journal gets the same number. A damaged journal is refused (exit 1).

        Examples:
          firedrill score latest
          firedrill score 20261201-163609-ehr-db-8300 --format json
          firedrill score /archive/runs/20261201-163609-ehr-db-8300/journal.jsonl
        """
    )
    @Argument(help: ArgumentHelp("A run ID (or a unique prefix), 'latest', or a journal.jsonl path.", valueName: "RUN")) var runRef: String
    @Option(help: ArgumentHelp("Where runs are kept (default $FIREDRILL_RUNS or ~/.local/share/firedrill/runs).", valueName: "DIR"))
    var runsDir: String?
    @Option(help: "text or json.") var format: TextOrJSON = .text
    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).") var noColor = false

    func run() throws {
        let path = resolveJournal(runRef, runsDir: runsDir)
        let contents = try JournalReader.read(path: path)
        if let problem = contents.problem {
            Terminal.err("error: \(path) is damaged: \(problem)\nhint: a score is only as good as its evidence: firedrill verify-journal names what changed\n")
            throw ExitCode(ExitStatus.failed)
        }
        let record = DrillRecord.fold(contents.events)
        guard record.isFinished else {
            Terminal.err("error: run \(record.runID ?? path) has not ended (no run_ended): nothing to score yet\nhint: resume it with firedrill run --resume \(record.runID ?? "RUN")\n")
            Terminal.exit(ExitStatus.invalidInput)
        }
        let score = Score(record)
        switch format {
        case .json: Terminal.out(try JSONOutput.encode(ScoredRun(run: record.runID ?? "", score: score)) + "\n")
        case .text:
            Terminal.out("run \(record.runID ?? "") · \(record.facts?.service ?? record.name ?? "")\n")
            Terminal.out(ScoreRenderer(style: TerminalStyle.detect(noColorFlag: noColor)).render(score))
        }
    }
}

/// A score with the run it is of, as `score --format json` prints it.
struct ScoredRun: Encodable {
    var run: String
    var score: Score
}

/// A journal path, a run's folder, or the journal of a run named by ID, prefix or `latest`;
/// exits 2, saying why, when that is not a journal.
func resolveJournal(_ ref: String, runsDir: String?) -> String {
    let looksLikePath = ref.contains("/") || ref.hasSuffix(".jsonl")
    var path: String?
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: ref, isDirectory: &isDir) {
        if isDir.boolValue, FileManager.default.fileExists(atPath: ref + "/journal.jsonl") { path = ref + "/journal.jsonl" }
        else if !isDir.boolValue { path = ref }
        else if looksLikePath {
            Terminal.err("error: \(ref) is a folder without a journal.jsonl\nhint: give a run's folder, its journal.jsonl, or a run ID with --runs-dir\n")
            Terminal.exit(ExitStatus.invalidInput)
        }
    } else if looksLikePath {
        Terminal.err("error: \(ref): no such file\nhint: give a journal.jsonl path, a run's folder, or a run ID with --runs-dir\n")
        Terminal.exit(ExitStatus.invalidInput)
    }
    if path == nil {
        let store = RunStore(root: runsDir)
        guard let id = store.resolve(ref) else {
            let matches = store.ids().filter { $0.hasPrefix(ref) }
            if matches.count > 1 {
                Terminal.err("error: '\(ref)' names \(matches.count) runs: \(matches.prefix(5).joined(separator: ", "))\(matches.count > 5 ? ", …" : "")\nhint: give more of the run ID\n")
            } else {
                Terminal.err("error: no run '\(ref)' in \(store.root)\nhint: firedrill runs --runs-dir DIR lists them, or give a journal.jsonl path\n")
            }
            Terminal.exit(ExitStatus.invalidInput)
        }
        path = store.journalPath(id)
    }
    let journal = path ?? ref
    if let problem = JournalReader.notAJournal(journal) {
        Terminal.err("error: \(journal) \(problem)\nhint: a journal is the journal.jsonl a run leaves in its folder\n")
        Terminal.exit(ExitStatus.invalidInput)
    }
    return journal
}
