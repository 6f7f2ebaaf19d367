import ArgumentParser
import FiredrillBench
import FiredrillCore
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Firedrill on generated workloads (for the project's benchmark notes).",
        subcommands: [PlanBench.self, ScoreBench.self, ImportBench.self, HistoryBench.self, ReportBench.self, ScorecardBench.self]
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
                throw ExitCode(.failed)
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
                if loaded.diagnostics.hasErrors { throw ExitCode(.failed) }
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

/// Generated journals in a temporary folder (not timed), removed afterwards.
enum BenchJournals {
    static func folder(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("firedrill-bench-\(name)-\(getpid())").path
    }

    static func report(_ what: String, _ times: [Double]) {
        let s = times.sorted()
        Terminal.out(String(format: "%@: median %.3f s (min %.3f, max %.3f)\n", what, s[s.count / 2], s.first ?? 0, s.last ?? 0))
        Terminal.out("peak RSS: \(ProcessStats.peakRSSMegabytes()) MB\n")
    }
}

struct ScoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "score", abstract: "Time reading, verifying, folding and scoring one large journal.")
    @Option(parsing: .unconditional, help: "Events in the journal (about).") var events = 100_000
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Repetitions (the median is reported).") var repetitions = 5

    func validate() throws {
        if events < 100 { throw ValidationError("--events must be at least 100 (got \(events))") }
        if repetitions < 1 { throw ValidationError("--repeat must be at least 1 (got \(repetitions))") }
    }

    func run() async throws {
        let dir = BenchJournals.folder("score")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 50 hosts, 10 steps; verify samples fill the rest.
        let perStep = events / 10
        let path = try await SyntheticJournal.write(runs: dir, id: "bench", steps: 10, hosts: 50, samples: max(1, perStep - 103))
        var times: [Double] = [], phases: [(Double, Double)] = []
        var count = 0, points = 0.0
        for _ in 0..<repetitions {
            // As `firedrill score` reads it: checked and folded in one pass, events not kept.
            let start = ContinuousClock.now
            let archive = try RunArchive.open(path)
            let folded = ContinuousClock.now
            let score = Score(archive.record)
            let end = ContinuousClock.now
            times.append(DurationText.seconds(end - start))
            phases.append((DurationText.seconds(folded - start), DurationText.seconds(end - folded)))
            count = archive.eventCount
            points = score.points
        }
        BenchJournals.report("score of a \(count)-event journal (\(ScoreRenderer.num(points)) points)", times)
        if let p = phases.sorted(by: { $0.0 + $0.1 < $1.0 + $1.1 })[safe: phases.count / 2] {
            Terminal.out(String(format: "  of which: read, verify and fold %.3f s, score %.3f s\n", p.0, p.1))
        }
    }
}

struct ImportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Time importing many journals into a new history database.")
    @Option(parsing: .unconditional, help: "Journals to import.") var journals = 1_000

    func validate() throws { if journals < 1 { throw ValidationError("--journals must be at least 1 (got \(journals))") } }

    func run() async throws {
        let dir = BenchJournals.folder("import")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for i in 0..<journals {
            _ = try await SyntheticJournal.write(runs: dir + "/runs", id: String(format: "2026%08d-run", i), service: "svc-\(i % 20)",
                                                 rto: Double(30 + i % 400), started: Journal.timestamp(Date(timeIntervalSince1970: 1_790_000_000 + Double(i) * 3600)),
                                                 steps: 3, hosts: 2, samples: 3)
        }
        let start = ContinuousClock.now
        let db = try await History.open(path: dir + "/h.sqlite")
        let r = await db.ingest(runsFolder: dir + "/runs")
        let t = DurationText.seconds(ContinuousClock.now - start)
        guard r.added == journals else {
            Terminal.err("only \(r.added) of \(journals) imported: \(r.refused.prefix(3).joined(separator: "; "))\n")
            throw ExitCode(.failed)
        }
        BenchJournals.report("import of \(journals) journals", [t])
    }
}

struct HistoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Time listing the history of many runs, with trends.")
    @Option(parsing: .unconditional, help: "Runs in the database.") var runs = 10_000
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Repetitions (the median is reported).") var repetitions = 5

    func validate() throws { if runs < 1 || repetitions < 1 { throw ValidationError("--runs and --repeat must be at least 1") } }

    func run() async throws {
        let dir = BenchJournals.folder("history")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for i in 0..<runs {
            _ = try await SyntheticJournal.write(runs: dir + "/runs", id: String(format: "2026%08d-run", i), service: "svc-\(i % 40)",
                                                 rto: Double(30 + i % 400), started: Journal.timestamp(Date(timeIntervalSince1970: 1_790_000_000 + Double(i) * 600)))
        }
        let db = try await History.open(path: dir + "/h.sqlite")
        _ = await db.ingest(runsFolder: dir + "/runs")
        var times: [Double] = []
        var listed = 0
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            listed = try await db.entries().count
            times.append(DurationText.seconds(ContinuousClock.now - start))
        }
        BenchJournals.report("history of \(listed) runs (every run, with its trend)", times)
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

struct ReportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Time the HTML report of a large drill (1,000 hosts × 20 steps).")
    @Option(parsing: .unconditional, help: "Hosts.") var hosts = 1_000
    @Option(parsing: .unconditional, help: "Failover steps.") var steps = 20
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Repetitions (the median is reported).") var repetitions = 5

    func validate() throws {
        if hosts < 1 || steps < 1 || repetitions < 1 { throw ValidationError("--hosts, --steps and --repeat must be at least 1") }
    }

    func run() async throws {
        let dir = BenchJournals.folder("report")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Each step: a command on every host, then a verify checking every host three times.
        let path = try await SyntheticJournal.write(runs: dir, id: "bench", steps: steps, hosts: hosts, samples: hosts * 3 - 4, checksPerAttempt: hosts)
        var times: [Double] = []
        var bytes = 0, events = 0
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            let report = try await DrillReport.load(journal: path, database: nil, reportVersion: FiredrillVersion.current)
            let html = try report.rendered(.html)
            if let problem = RunStore.replace(dir + "/report.html", with: html) { throw ValidationError(problem) }
            times.append(DurationText.seconds(ContinuousClock.now - start))
            bytes = html.utf8.count
            events = report.evidence.events
        }
        BenchJournals.report("report --format html of \(hosts) hosts × \(steps) steps (\(events) events, \(String(format: "%.2f", Double(bytes) / 1_000_000)) MB)", times)
    }
}

struct ScorecardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scorecard", abstract: "Time the scorecard of many services over a large history.")
    @Option(parsing: .unconditional, help: "Services (one playbook each).") var services = 200
    @Option(parsing: .unconditional, help: "Runs in the history.") var runs = 10_000
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Repetitions (the median is reported).") var repetitions = 5

    func validate() throws {
        if services < 1 || runs < 1 || repetitions < 1 { throw ValidationError("--services, --runs and --repeat must be at least 1") }
    }

    func run() async throws {
        let dir = BenchJournals.folder("scorecard")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let books = dir + "/playbooks"
        try FileManager.default.createDirectory(atPath: books, withIntermediateDirectories: true)
        try "all:\n  hosts:\n    db1: { ansible_host: 127.0.0.1 }\n".write(toFile: books + "/inventory.yml", atomically: true, encoding: .utf8)
        let levels = ["critical", "high", "medium", "low"]
        for i in 0..<services {
            try """
            name: Service \(i)
            service: svc-\(i)
            criticality: \(levels[i % 4])
            objectives: { rto: 5m }
            inventory: inventory.yml
            steps:
              - { name: Fail over, on: all, run: "true" }
            """.write(toFile: books + "/svc-\(i).yml", atomically: true, encoding: .utf8)
        }
        for i in 0..<runs {
            _ = try await SyntheticJournal.write(runs: dir + "/runs", id: String(format: "2026%08d-run", i), service: "svc-\(i % services)",
                                                 rto: Double(30 + i % 400), started: Journal.timestamp(Date(timeIntervalSince1970: 1_790_000_000 + Double(i) * 600)))
        }
        let db = try await History.open(path: dir + "/h.sqlite")
        _ = await db.ingest(runsFolder: dir + "/runs")
        var times: [Double] = []
        var rows = 0
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            var list: [Scorecard.Service] = []
            for i in 0..<services {
                guard let pb = PlaybookLoader().load(file: books + "/svc-\(i).yml").playbook else { throw ValidationError("playbook \(i) does not load") }
                list.append(Scorecard.Service(service: pb.service, name: pb.name.value, playbook: pb.file, criticality: pb.criticality,
                                              rtoObjectiveSeconds: 300, rpoObjectiveSeconds: nil, playbookSHA256: RunStore.sha256(files: [pb.file] + pb.includes),
                                              inventorySHA256: RunStore.sha256(files: [books + "/inventory.yml"])))
            }
            let card = Scorecard(services: list, latest: try await db.latestRuns())
            _ = try card.rendered(.html)
            times.append(DurationText.seconds(ContinuousClock.now - start))
            rows = card.services.filter { $0.lastRun != nil }.count
        }
        BenchJournals.report("scorecard of \(services) services (\(rows) drilled) over \(runs) runs, playbooks loaded and hashed, HTML", times)
    }
}
