import ArgumentParser
import FiredrillCore
import Foundation

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Preview a drill: hosts, rendered commands, checks, order and deadlines. Nothing is executed.",
        discussion: """
        Secrets show as ••••••. --format json prints the documented firedrill.plan/1 shape.

        Examples:
          firedrill plan Playbooks/ehr-db-failover.yml
          firedrill plan Playbooks/web-tier-failover.yml --limit 'web:!web3' --format markdown
        """
    )

    @Argument(help: ArgumentHelp("The playbook.", valueName: "PLAYBOOK"))
    var playbook: String

    @OptionGroup var options: DrillOptions

    @Option(help: "Output format: text, markdown or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let (definition, _) = options.load(playbook)
        let plan = definition.preview
        switch format {
        case .text:
            let style = TerminalStyle.detect(noColorFlag: options.noColor)
            Terminal.out(PlanTextRenderer(style: style).render(plan))
        case .markdown:
            Terminal.out(PlanMarkdownRenderer().render(plan))
        case .json:
            Terminal.out(try JSONOutput.encode(plan) + "\n")
        }
    }
}
