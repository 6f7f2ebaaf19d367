import ArgumentParser
import FiredrillCore
import Foundation

@main
struct Firedrill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firedrill",
        abstract: "Rehearse disaster recovery: declarative failover drills over SSH, verified and measured.",
        discussion: """
        Write a playbook of failover and restore steps against an Ansible inventory, \
        check it (validate), preview it (plan), and run it against the hosts.

        Exit codes: 0 success, 1 drill failed, 2 invalid input, 3 preconditions not met \
        (or another drill holds the service or a host), 4 the journal could not be written, \
        130 interrupted.
        """,
        version: FiredrillVersion.current,
        subcommands: [ValidateCommand.self, PlanCommand.self, RunCommand.self, ApproveCommand.self, RunsCommand.self, ScoreCommand.self, ReportCommand.self, ScorecardCommand.self, MetricsCommand.self, ScheduleCommand.self, DueCommand.self, HistoryCommand.self,
                      ImportCommand.self, AnnotateCommand.self, AnnotationsCommand.self, ActionsCommand.self, VerifyJournalCommand.self,
                      InventoryCommand.self, PingCommand.self, LabCommand.self, EvidenceCommand.self, BenchCommand.self]
    )

    /// The first word that should name a subcommand and does not (a typo such as `valdiate` or
    /// `lab stup`), with the command it was given to and that command's subcommands.
    static func misspelledSubcommand(_ args: [String]) -> (String, String, [String])? {
        var command: any ParsableCommand.Type = Firedrill.self
        var path = ["firedrill"]
        for arg in args {
            let subs = command.configuration.subcommands
            guard !subs.isEmpty, command.configuration.defaultSubcommand == nil, !arg.hasPrefix("-") else { return nil }
            let names = subs.map { $0.configuration.commandName ?? String(describing: $0).lowercased() } + ["help"]
            if arg == "help" { return nil }
            guard let next = subs.first(where: { ($0.configuration.commandName ?? "") == arg || $0.configuration.aliases.contains(arg) }) else {
                let shown = subs.filter { $0.configuration.shouldDisplay }.compactMap { $0.configuration.commandName }
                return (arg, path.joined(separator: " "), shown.isEmpty ? names.filter { $0 != "help" } : shown)
            }
            command = next
            path.append(arg)
        }
        return nil
    }

    /// Parses and runs the command; usage errors exit 2 (invalid input), as every other input error does.
    static func main() async {
        // A parent may have started us with SIGINT/SIGTERM blocked (dispatch threads block them);
        // `run` must receive them to stop a failover and restore.
        var interrupts = sigset_t()
        sigemptyset(&interrupts)
        sigaddset(&interrupts, SIGINT)
        sigaddset(&interrupts, SIGTERM)
        sigaddset(&interrupts, SIGHUP)
        sigaddset(&interrupts, SIGQUIT)
        sigprocmask(SIG_UNBLOCK, &interrupts, nil)
        // A closed stdout must not kill a runner mid-failover: writes fail instead (Terminal).
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit makes writes fail with EFBIG (the journal handles it), not kill us.
        signal(SIGXFSZ, SIG_IGN)
        if let (word, parent, names) = misspelledSubcommand(Array(CommandLine.arguments.dropFirst())) {
            let guess = Suggestions.closest(to: word, in: names)
            Terminal.err("error: \(parent) has no command '\(TerminalText.safe(word))'\n"
                         + "  hint: \(guess.map { "did you mean '\($0)'? " } ?? "")see '\(parent) --help' (commands: \(names.joined(separator: ", ")))\n")
            Terminal.exit(.invalidInput)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Terminal.flush()
        } catch let e as any UserFacingError {
            // Every error the core can raise is printed here, once, the same way.
            Terminal.report(e, noColor: ProcessInfo.processInfo.environment["NO_COLOR"] != nil)
            Terminal.exit(e.exitStatus)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Terminal.err(fullMessage(for: error) + "\n")
                Terminal.exit(.invalidInput)
            }
            Terminal.flush()
            exit(withError: error)
        }
    }
}
