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
        let path = try RunArchive.locate(runRef, runsDir: runsDir)
        let archive = try RunArchive.open(path)
        if let problem = archive.problem {
            throw CommandError("\(path) is damaged: \(problem)",
                               hint: "a score is only as good as its evidence: firedrill verify-journal names what changed", exit: .failed)
        }
        let record = archive.record
        guard record.isFinished else {
            throw CommandError("run \(record.runID ?? path) has not ended (no run_ended): nothing to score yet",
                               hint: "resume it with firedrill run --resume \(record.runID ?? "RUN")")
        }
        let score = Score(record)
        switch format {
        case .json: Terminal.out(try JSONOutput.encode(ScoredRun(run: record.runID ?? "", score: score)) + "\n")
        case .text:
            Terminal.out(TerminalText.safe("run \(record.runID ?? "") · \(record.facts?.service ?? record.name ?? "")") + "\n")
            Terminal.out(ScoreRenderer(style: TerminalStyle.detect(noColorFlag: noColor)).render(score))
        }
    }
}

/// A score with the run it is of, as `score --format json` prints it.
struct ScoredRun: Encodable {
    var run: String
    var score: Score
}

