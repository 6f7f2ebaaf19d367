import ArgumentParser
import FiredrillCore
import Foundation

struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "The scorecard as Prometheus metrics, for node_exporter's textfile collector.",
        discussion: """
        Writes, in Prometheus' text format: firedrill_readiness_score, and per service \
        (labels service, criticality) firedrill_service_score, \
        firedrill_service_last_drill_timestamp_seconds, firedrill_service_last_drill_passed, \
        firedrill_service_overdue, firedrill_service_open_actions and \
        firedrill_service_status{status=…}. With -o the file is replaced in one step (written \
        beside it, then renamed), as the textfile collector needs; run it from cron or a \
        systemd timer after `due`. Reads the playbooks and the history; runs nothing. \
        `promtool check metrics < FILE` accepts it.

        Examples:
          firedrill metrics --dir Playbooks
          firedrill metrics --dir /etc/firedrill/playbooks -o /var/lib/node_exporter/textfile_collector/firedrill.prom
        """
    )
    @Argument(help: ArgumentHelp("Playbooks to include.", valueName: "PLAYBOOK")) var playbooks: [String] = []
    @Option(help: ArgumentHelp("Every playbook (*.yml, *.yaml) in this folder.", valueName: "DIR")) var dir: String?
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Inventory file or folder (repeatable); replaces the playbooks' 'inventory:' when hashing.", valueName: "INVENTORY"))
    var inventory: [String] = []
    @OptionGroup var history: HistoryOptions
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write to FILE (replaced in one step) instead of standard output.", valueName: "FILE"))
    var output: String?
    @Option(help: ArgumentHelp("Take this moment as now for what is due (ISO 8601).", valueName: "TIME")) var now: String?

    func validate() throws {
        if let now, SchedulingOptions.parseNow(now) == nil { throw ValidationError("--now '\(now)' is not a time (ISO 8601, e.g. 2027-01-02T10:30:00Z, or a date)") }
        if playbooks.isEmpty && dir == nil { throw ValidationError("give playbooks or --dir DIR (e.g. firedrill metrics --dir Playbooks)") }
    }

    func run() async throws {
        var files = playbooks
        if let dir {
            let names = try playbookFiles(in: dir)
            if names.isEmpty { throw CommandError("no playbook (*.yml, *.yaml) in \(dir)") }
            files += names
        }
        let path = History.defaultPath(history.db)
        let built = try await ScorecardBuilder.build(playbooks: files, inventory: inventory, historyPath: path,
                                                     now: now.flatMap(SchedulingOptions.parseNow) ?? Date())
        for w in built.warnings { Terminal.err("warning: \(TerminalText.safe(w))\n") }
        let text = ScorecardMetrics.render(built.card)
        if let output {
            // The collector may read at any moment: never a half-written file.
            let part = output + ".part-\(getpid())"
            guard FileManager.default.createFile(atPath: part, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]) else {
                throw CommandError("cannot write \(output)", hint: "give a file in a folder you can write with -o")
            }
            guard rename(part, output) == 0 else {
                let e = errno
                try? FileManager.default.removeItem(atPath: part)
                throw CommandError("cannot write \(output): \(String(cString: strerror(e)))", exit: .failed)
            }
        } else {
            Terminal.out(text)
        }
        if !built.problems.diagnostics.isEmpty { throw built.problems }
    }
}
