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
        NIST SP 800-53 CP-4 / SP 800-84, DORA Art. 11 and 12, NIS2 Art. 21(2)(c), \
        ISO 22301:2019 8.5, SOC 2 A1.3, PCI DSS v4.0.1 12.10.2; --framework selects).

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
    @Option(help: ArgumentHelp("Which frameworks the requirement map shows, comma-separated: hipaa, cms, nist, dora, nis2, iso22301, soc2, pci (default all).",
                               valueName: "LIST")) var framework: String?

    func run() async throws {
        var frameworks = Set(DrillReport.Framework.allCases)
        if let framework {
            let names = framework.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            let unknown = names.filter { DrillReport.Framework(rawValue: $0) == nil }
            guard unknown.isEmpty, !names.isEmpty else {
                throw CommandError("--framework: unknown \(unknown.map { "'\(TerminalText.safe($0))'" }.joined(separator: ", "))",
                                   hint: "choose from \(DrillReport.Framework.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            frameworks = Set(names.compactMap(DrillReport.Framework.init(rawValue:)))
        }
        let path = try RunArchive.locate(runRef, runsDir: runsDir)
        let database = History.defaultPath(history.db)
        if let output { try OutputFile.check(output, keeping: [path, path + ".head", database, database + "-wal", database + "-shm"]) }
        var report = try await DrillReport.load(journal: path, database: database, reportVersion: FiredrillVersion.current, generatedAt: Date())
        report.requirements.removeAll { !frameworks.contains($0.framework) }
        let style = output == nil && format == .text ? TerminalStyle.detect(noColorFlag: noColor) : TerminalStyle(enabled: false)
        try writeOutput(try report.rendered(format, style: style), to: output)
        for w in report.evidence.warnings { Terminal.err("warning: \(TerminalText.safe(w))\n") }
        if !report.evidence.chainVerified {
            throw CommandError("the journal \(path) is damaged (\(report.evidence.problem ?? "")); the report says so and shows only what precedes the damage",
                               exit: .failed)
        }
        if report.evidence.warnings.contains(where: { $0.hasPrefix("the history could not be read") }) { throw ExitCode(.failed) }
    }
}

/// Refuses (exit 2) an output path that is empty, in a folder that does not exist, or one of
/// the files the output is made from.
func checkOutput(_ output: String, keeping inputs: [String]) throws {
    try OutputFile.check(output, keeping: inputs)
}

/// Writes `text` to FILE (whole or not at all) or to stdout.
func writeOutput(_ text: String, to file: String?) throws {
    guard let file else { Terminal.out(text); return }
    try OutputFile.write(TerminalText.forTerminal(text), to: file)
    Terminal.err("wrote \(file)\n")
}
