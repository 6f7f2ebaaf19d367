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
    @OptionGroup var services: ServicesOptions
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write to FILE (replaced in one step) instead of standard output.", valueName: "FILE"))
    var output: String?

    func run() async throws {
        let built = try await services.build(try services.files())
        for w in built.warnings { Terminal.err("warning: \(TerminalText.safe(w))\n") }
        let text = ScorecardMetrics.render(built.card)
        if let output {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), isDir.boolValue {
                throw CommandError("-o \(output) is a folder", hint: "give the file to write, e.g. -o \(output)/firedrill.prom")
            }
            // The collector may read at any moment: never a half-written file (a link there is
            // replaced by the file, not followed).
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
