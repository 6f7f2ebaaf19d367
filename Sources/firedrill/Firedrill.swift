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

        Exit codes: 0 success, 1 drill failed, 2 invalid input, 3 preconditions not met, 130 interrupted.
        """,
        version: FiredrillVersion.current,
        subcommands: [ValidateCommand.self, PlanCommand.self, RunCommand.self, RunsCommand.self, VerifyJournalCommand.self,
                      InventoryCommand.self, PingCommand.self, LabCommand.self, BenchCommand.self]
    )

    /// Parses and runs the command; usage errors exit 2 (invalid input), as every other input error does.
    static func main() async {
        // A parent may have started us with SIGINT/SIGTERM blocked (dispatch threads block them);
        // `run` must receive them to stop a failover and restore.
        var interrupts = sigset_t()
        sigemptyset(&interrupts)
        sigaddset(&interrupts, SIGINT)
        sigaddset(&interrupts, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &interrupts, nil)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.invalidInput)
            }
            exit(withError: error)
        }
    }
}
