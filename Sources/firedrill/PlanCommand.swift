import ArgumentParser
import FiredrillCore
import Foundation

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Preview a drill: hosts, rendered commands, checks, order and deadlines. Nothing is executed.",
        discussion: """
        Secrets show as ••••••. --format json prints the documented firedrill.plan/1 shape.

        --preflight also connects to every host of the plan (reachability, host key,
        authentication) and evaluates the steady-state checks once. Nothing from steps
        or restore runs. Exits 3 when a host or a check is not ready.

        Examples:
          firedrill plan Playbooks/ehr-db-failover.yml
          firedrill plan Playbooks/web-tier-failover.yml --limit 'web:!web3' --format markdown
          firedrill plan Playbooks/ehr-db-failover.yml -i .firedrill-lab/inventory.yml --preflight
        """
    )

    @Argument(help: ArgumentHelp("The playbook.", valueName: "PLAYBOOK"))
    var playbook: String

    @OptionGroup var options: DrillOptions

    @Option(help: "Output format: text, markdown or json.")
    var format: OutputFormat = .text

    @Flag(help: "Also check every host's connection and the steady state (read-only).")
    var preflight = false

    @OptionGroup var connect: ConnectOptions

    func validate() throws {
        if connect.forks < 1 { throw ValidationError("--forks must be at least 1 (got \(connect.forks))") }
        _ = try connect.sshOptions()
    }

    func run() async throws {
        let (definition, _) = try options.load(playbook)
        let plan = definition.preview
        var report: PreflightReport?
        if preflight {
            let runtime = try options.runtime(definition, ssh: try connect.sshOptionsWithPasswords())
            report = await Preflight.run(plan: plan, environment: runtime.environment, forks: connect.forks)
            await runtime.pool.closeAll()
        }
        let style = TerminalStyle.detect(noColorFlag: options.noColor)
        switch format {
        case .text:
            Terminal.out(PlanTextRenderer(style: style, preflightFollows: report != nil, executor: connect.executor).render(plan))
            if let report { Terminal.out("\n" + PreflightRenderer(style: style).render(report)) }
        case .markdown:
            Terminal.out(PlanMarkdownRenderer().render(plan))
            if let report { Terminal.out("\n```\n" + PreflightRenderer(style: TerminalStyle(enabled: false)).render(report) + "```\n") }
        case .json:
            Terminal.out(try JSONOutput.encode(PlanWithPreflight(plan: plan, preflight: report)) + "\n")
        }
        if let report, !report.passed { throw ExitCode(.preconditions) }
    }
}

/// The plan's JSON with a `preflight` member added when it was asked for.
struct PlanWithPreflight: Encodable {
    var plan: Plan
    var preflight: PreflightReport?
    enum CodingKeys: String, CodingKey { case preflight }
    func encode(to encoder: Encoder) throws {
        try plan.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(preflight, forKey: .preflight)
    }
}
