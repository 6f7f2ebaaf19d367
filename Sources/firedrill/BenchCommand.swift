import ArgumentParser
import FiredrillCore
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Firedrill on generated workloads (for the project's benchmark notes).",
        subcommands: [PlanBench.self]
    )
}

struct PlanBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Time loading, validating and planning a generated playbook and inventory.",
        discussion: """
        Generates an inventory of HOSTS hosts in GROUPS groups and a playbook of STEPS steps with \
        patterns and templated commands in a temporary folder, then times validate+plan over REPEAT \
        runs and validate of PLAYBOOKS typical playbooks. Prints medians and peak RSS.

        Example:
          firedrill bench plan --hosts 1000 --groups 20 --steps 200
        """
    )

    // `.unconditional`: a negative number is taken as the value (and refused by validate), not as an unknown flag.
    @Option(parsing: .unconditional, help: "Hosts in the generated inventory.") var hosts = 1000
    @Option(parsing: .unconditional, help: "Groups in the generated inventory.") var groups = 20
    @Option(parsing: .unconditional, help: "Steps in the generated playbook.") var steps = 200
    @Option(parsing: .unconditional, help: "Typical playbooks to validate in the second measurement.") var playbooks = 100
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Repetitions (the median is reported).") var repetitions = 5

    func validate() throws {
        for (name, value) in [("--hosts", hosts), ("--groups", groups), ("--steps", steps), ("--playbooks", playbooks), ("--repeat", repetitions)] where value < 1 {
            throw ValidationError("\(name) must be at least 1 (got \(value))")
        }
    }

    func run() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("firedrill-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = BenchWorkload(directory: dir)
        let (playbook, _) = try w.writeLarge(hosts: hosts, groups: groups, steps: steps)
        var planTimes: [Double] = []
        var commands = 0
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            let loaded = DrillDefinition.load(playbookPath: playbook)
            guard let plan = loaded.definition?.preview else {
                Terminal.err(DiagnosticRenderer().render(loaded.diagnostics.errors.prefix(5).map { $0 }))
                throw ExitCode(ExitStatus.failed)
            }
            commands = plan.summary.commands
            planTimes.append(DurationText.seconds(ContinuousClock.now - start))
        }
        let typical = try w.writeTypical(count: playbooks)
        var validateTimes: [Double] = []
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            for p in typical {
                let loaded = DrillDefinition.load(playbookPath: p)
                if loaded.diagnostics.hasErrors { throw ExitCode(ExitStatus.failed) }
            }
            validateTimes.append(DurationText.seconds(ContinuousClock.now - start))
        }
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
        Terminal.out(String(format: "validate+plan: %d hosts, %d groups, %d steps, %d commands: median %.3f s (min %.3f, max %.3f)\n",
                            hosts, groups, steps, commands, median(planTimes), planTimes.min()!, planTimes.max()!))
        Terminal.out(String(format: "validate: %d typical playbooks: median %.3f s\n", playbooks, median(validateTimes)))
        Terminal.out("peak RSS: \(ProcessStats.peakRSSMegabytes()) MB\n")
    }
}
