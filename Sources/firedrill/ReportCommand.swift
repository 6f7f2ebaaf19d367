import ArgumentParser
import FiredrillCore
import Foundation

extension DrillReport.Format: ExpressibleByArgument {}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A drill's after-action report, from its journal and the history.",
        discussion: """
        The report an auditor asks for after an exercise: overview, scope (every unreachable \
        host listed), objectives against the measured RTO and RPO, the timeline of steps with \
        each host's result and every verify attempt, the score with its deductions, what \
        restore did and the state the hosts were left in, the operator's verdict and action \
        items (firedrill annotate), the comparison with the service's previous drill, the \
        evidence block (hashes, journal head, chain re-verified now) and which requirement \
        each piece of evidence answers (HIPAA 164.308(a)(7)(ii)(B)–(E), CMS 482.15(d)(2), \
        NIST SP 800-53 CP-4 / SP 800-84).

        Formats: text (terminal), markdown (wikis, tickets), html (one self-contained file \
        with SVG timeline and trend, prints on A4/Letter), json (firedrill.report/1, \
        docs/report-format.md), junit (CI dashboards). Reads only the journal and the \
        history; runs nothing. A damaged journal is reported as damaged (exit 1).

        Examples:
          firedrill report latest
          firedrill report latest --format html -o report.html
          firedrill report 20261201-163609-ehr-db-8300 --format junit -o drill.xml
        """
    )
    @Argument(help: ArgumentHelp("A run ID (or a unique prefix), 'latest', or a journal.jsonl path.", valueName: "RUN")) var runRef: String
    @Option(help: ArgumentHelp("Where runs are kept (default $FIREDRILL_RUNS or ~/.local/share/firedrill/runs).", valueName: "DIR"))
    var runsDir: String?
    @OptionGroup var history: HistoryOptions
    @Option(help: "text, markdown, html, json or junit.") var format: DrillReport.Format = .text
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write the report to FILE instead of standard output.", valueName: "FILE"))
    var output: String?
    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).") var noColor = false

    func run() async throws {
        let path = resolveJournal(runRef, runsDir: runsDir)
        let database = History.defaultPath(history.db)
        if let output { checkOutput(output, keeping: [path, path + ".head", database, database + "-wal", database + "-shm"]) }
        let report: DrillReport
        do {
            report = try await DrillReport.load(journal: path, database: database, reportVersion: FiredrillVersion.current)
        } catch {
            Terminal.err("error: cannot report \(path): \(error)\n")
            Terminal.exit(ExitStatus.invalidInput)
        }
        let style = output == nil && format == .text ? TerminalStyle.detect(noColorFlag: noColor) : TerminalStyle(enabled: false)
        let text = try report.rendered(format, style: style)
        writeOutput(text, to: output)
        for w in report.evidence.warnings { Terminal.err("warning: \(w)\n") }
        if !report.evidence.chainVerified {
            Terminal.err("error: the journal \(path) is damaged (\(report.evidence.problem ?? "")); the report says so and shows only what precedes the damage\n")
            Terminal.exit(ExitStatus.failed)
        }
        if report.evidence.warnings.contains(where: { $0.hasPrefix("the history could not be read") }) { Terminal.exit(ExitStatus.failed) }
    }
}

/// Refuses (exit 2) an output path that is empty, in a folder that does not exist, or one of
/// the files the output is made from (the journal, its seal, the history database).
func checkOutput(_ output: String, keeping inputs: [String]) {
    guard !output.isEmpty else {
        Terminal.err("error: -o needs a file name\n")
        Terminal.exit(ExitStatus.invalidInput)
    }
    func real(_ p: String) -> String { (URL(fileURLWithPath: p).resolvingSymlinksInPath().path as NSString).standardizingPath }
    if inputs.contains(where: { real($0) == real(output) }) {
        Terminal.err("error: -o \(output) is one of the files the output is made from: it would be overwritten\nhint: write the output somewhere else\n")
        Terminal.exit(ExitStatus.invalidInput)
    }
    let folder = (output as NSString).deletingLastPathComponent.isEmpty ? "." : (output as NSString).deletingLastPathComponent
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
        Terminal.err("error: -o \(output): the folder \(folder) does not exist\nhint: create it first, or write somewhere else\n")
        Terminal.exit(ExitStatus.invalidInput)
    }
}

/// Writes `text` to FILE (whole or not at all: a temporary file renamed over it) or to stdout.
func writeOutput(_ text: String, to file: String?) {
    guard let file else { Terminal.out(text); return }
    if let problem = RunStore.replace(file, with: text) {
        Terminal.err("error: cannot write \(file): \(problem)\nhint: give -o a path in a folder you can write\n")
        Terminal.exit(ExitStatus.invalidInput)
    }
    Terminal.err("wrote \(file)\n")
}
