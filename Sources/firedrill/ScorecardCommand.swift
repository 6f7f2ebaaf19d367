import ArgumentParser
import FiredrillCore
import Foundation

extension Scorecard.Format: ExpressibleByArgument {}

struct ScorecardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scorecard",
        abstract: "Readiness of every service: last drill, score per component, status.",
        discussion: """
        One row per service of the given playbooks (or every playbook in --dir): criticality, \
        last drill and its result, score and grade with the points earned per component, RTO \
        and RPO measured against the objectives, open action items, and a status — ok, \
        failed, never drilled, or needs verification when the playbook or the inventory \
        changed since the last passing drill (by SHA-256). The overall readiness is weighted \
        by criticality (critical 4, high 3, medium 2, low 1); a service never drilled, or \
        whose drill is overdue by its schedule, counts 0. Rows are worst first. Reads the playbooks and the history; runs nothing.

        Examples:
          firedrill scorecard --dir Playbooks
          firedrill scorecard --dir Playbooks --format html -o scorecard.html
          firedrill scorecard Playbooks/ehr-db-failover.yml -i lab/inventory.yml --format json
        """
    )
    @OptionGroup var services: ServicesOptions
    @Option(help: "text, markdown, html or json.") var format: Scorecard.Format = .text
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write the scorecard to FILE instead of standard output.", valueName: "FILE"))
    var output: String?
    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).") var noColor = false

    func run() async throws {
        let files = try services.files()
        if let output { try checkOutput(output, keeping: files + [services.historyPath]) }
        let built = try await services.build(files)
        for w in built.warnings { Terminal.err("warning: \(TerminalText.safe(w))\n") }
        for n in built.notes { Terminal.err("note: \(TerminalText.safe(n))\n") }
        let style = output == nil && format == .text ? TerminalStyle.detect(noColorFlag: noColor) : TerminalStyle(enabled: false)
        try writeOutput(try built.card.rendered(format, style: style), to: output)
        // The card lists a broken playbook as a row; the command still says it was given bad input.
        if !built.problems.diagnostics.isEmpty { throw built.problems }
    }
}

/// The services a scorecard (or its metrics) is about, and the history it reads.
struct ServicesOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Playbooks to include.", valueName: "PLAYBOOK")) var playbooks: [String] = []
    @Option(help: ArgumentHelp("Every playbook (*.yml, *.yaml) in this folder.", valueName: "DIR")) var dir: String?
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Inventory file or folder (repeatable); replaces the playbooks' 'inventory:' when hashing.", valueName: "INVENTORY"))
    var inventory: [String] = []
    @OptionGroup var history: HistoryOptions
    @Option(help: ArgumentHelp("Take this moment as now for what is due (ISO 8601).", valueName: "TIME")) var now: String?

    func validate() throws {
        if let now, SchedulingOptions.parseNow(now) == nil { throw ValidationError("--now '\(now)' is not a time (ISO 8601, e.g. 2027-01-02T10:30:00Z, or a date)") }
        if playbooks.isEmpty && dir == nil { throw ValidationError("give playbooks or --dir DIR (e.g. --dir Playbooks)") }
    }

    var historyPath: String { History.defaultPath(history.db) }

    /// The playbooks given, and every one in --dir.
    func files() throws -> [String] {
        var files = playbooks
        if let dir {
            let names = try playbookFiles(in: dir)
            if names.isEmpty { throw CommandError("no playbook (*.yml, *.yaml) in \(dir)") }
            files += names
        }
        return files
    }

    func build(_ files: [String]) async throws -> ScorecardBuilder.Built {
        try await ScorecardBuilder.build(playbooks: files, inventory: inventory, historyPath: historyPath,
                                         now: now.flatMap(SchedulingOptions.parseNow) ?? Date())
    }
}
