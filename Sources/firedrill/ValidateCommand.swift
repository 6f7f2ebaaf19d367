import ArgumentParser
import FiredrillCore
import Foundation

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check playbooks and their inventories; report every problem at once.",
        discussion: """
        Prints each problem as FILE:LINE:COLUMN: error|warning: MESSAGE, the line, a caret and a hint. \
        Exits 0 when every playbook is valid (warnings allowed), 2 otherwise. Nothing is executed.

        Example:
          firedrill validate Playbooks/*.yml
        """
    )

    @Argument(help: ArgumentHelp("Playbook files.", valueName: "PLAYBOOK"))
    var playbooks: [String]

    @OptionGroup var options: DrillOptions

    @Flag(name: .long, help: "Print nothing on success.")
    var quiet = false

    func validate() throws {
        if playbooks.isEmpty { throw ValidationError("give at least one playbook, e.g. firedrill validate Playbooks/ehr-db-failover.yml") }
    }

    func run() throws {
        let extra = try options.parsedExtraVars()
        var failed = 0
        var allDiagnostics: [Diagnostic] = []
        var sources: [String: String] = [:]
        for path in playbooks {
            let loaded = DrillDefinition.load(playbookPath: path, inventoryOverride: options.inventory, extraVars: extra, limit: options.limit)
            allDiagnostics += loaded.diagnostics
            sources.merge(loaded.sources) { a, _ in a }
            if loaded.diagnostics.hasErrors { failed += 1 }
            else if !quiet {
                let w = loaded.diagnostics.count
                Terminal.out("\(path): valid" + (w > 0 ? " (\(w) warning\(w == 1 ? "" : "s"))" : "") + "\n")
            }
        }
        Terminal.report(allDiagnostics, sources: sources, noColor: options.noColor)
        if failed > 0 {
            Terminal.err("\(failed) of \(playbooks.count) playbook\(playbooks.count == 1 ? "" : "s") invalid\n")
            throw ExitCode(.invalidInput)
        }
    }
}
