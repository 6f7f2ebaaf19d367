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
    @Argument(help: ArgumentHelp("Playbooks to include.", valueName: "PLAYBOOK")) var playbooks: [String] = []
    @Option(help: ArgumentHelp("Every playbook (*.yml, *.yaml) in this folder.", valueName: "DIR")) var dir: String?
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Inventory file or folder (repeatable); replaces the playbooks' 'inventory:' when hashing.", valueName: "INVENTORY"))
    var inventory: [String] = []
    @OptionGroup var history: HistoryOptions
    @Option(help: "text, markdown, html or json.") var format: Scorecard.Format = .text
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write the scorecard to FILE instead of standard output.", valueName: "FILE"))
    var output: String?
    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).") var noColor = false
    @Option(help: ArgumentHelp("Take this moment as now for what is due (ISO 8601).", valueName: "TIME")) var now: String?

    func validate() throws {
        if let now, SchedulingOptions.parseNow(now) == nil { throw ValidationError("--now '\(now)' is not a time (ISO 8601, e.g. 2027-01-02T10:30:00Z, or a date)") }
        if playbooks.isEmpty && dir == nil { throw ValidationError("give playbooks or --dir DIR (e.g. firedrill scorecard --dir Playbooks)") }
    }

    func run() async throws {
        var files = playbooks
        if let dir {
            let names = playbookFiles(in: dir)
            if names.isEmpty {
                Terminal.err("error: no playbook (*.yml, *.yaml) in \(dir)\n")
                Terminal.exit(ExitStatus.invalidInput)
            }
            files += names
        }
        var services: [Scorecard.Service] = []
        var problems: [Diagnostic] = []
        var sources: [String: String] = [:]
        var playbookOf: [String: String] = [:]
        var schedules: [String: DrillSchedule] = [:]
        for file in files {
            let loaded = PlaybookLoader().load(file: file)
            sources.merge(loaded.sources) { a, _ in a }
            guard let pb = loaded.playbook, !loaded.diagnostics.hasErrors else {
                // The other services are still listed; this one is marked, and the command exits 2.
                let errors = loaded.diagnostics.filter { $0.severity == .error }
                problems += errors
                let first = errors.first.map { d in (d.location.map { "\($0.file):\($0.line):\($0.column): " } ?? "") + d.message } ?? "does not load"
                services.append(Scorecard.Service(service: ((file as NSString).lastPathComponent as NSString).deletingPathExtension, name: file, playbook: file,
                                                  criticality: "critical", rtoObjectiveSeconds: nil, rpoObjectiveSeconds: nil, playbookSHA256: "",
                                                  inventorySHA256: "", problem: "the playbook does not load: \(first)"))
                continue
            }
            if let other = playbookOf[pb.service] {
                Terminal.err("warning: \(file) and \(other) are both playbooks of service \(pb.service): its row is \(other)'s\n")
                continue
            }
            playbookOf[pb.service] = file
            if let sch = pb.schedule { schedules[pb.service] = sch.drillSchedule }
            var paths = inventory
            if paths.isEmpty, let inv = pb.inventory { paths = [resolvePath(inv.value, relativeTo: pb.file)] }
            services.append(Scorecard.Service(service: pb.service, name: pb.name.value, playbook: file, criticality: pb.criticality.rawValue,
                                              rtoObjectiveSeconds: pb.objectives.rto.map { DurationText.seconds($0) },
                                              rpoObjectiveSeconds: pb.objectives.rpo.map { DurationText.seconds($0) },
                                              playbookSHA256: RunStore.sha256(files: [pb.file] + pb.includes), inventorySHA256: RunStore.sha256(files: paths),
                                              missingInventory: paths.filter { !FileManager.default.fileExists(atPath: $0) }))
        }
        if let output { checkOutput(output, keeping: files + [History.defaultPath(history.db)]) }
        let path = History.defaultPath(history.db)
        var latest: [LatestRun] = []
        var lastDrills: [String: Date] = [:]
        if History.exists(path) {
            do throws(History.Failure) {
                let db = try await History.open(path: path, existing: true)
                latest = try await db.latestRuns()
                lastDrills = try await db.lastDrills()
            } catch {
                Terminal.err("error: \(error.message)\n")
                Terminal.exit(ExitStatus.failed)
            }
        } else {
            Terminal.err("note: no history database at \(path): every service counts as never drilled (--db PATH, or firedrill import RUNS_DIR)\n")
        }
        // Runs indexed before the history kept score components: read from their journals.
        for i in latest.indices where latest[i].components == nil {
            if let c = try? JournalReader.read(path: latest[i].journal), c.problem == nil {
                latest[i].components = Score(DrillRecord.fold(c.events)).components
            }
        }
        var card = Scorecard(services: services, latest: latest)
        // Next due and overdue, from each playbook's schedule and the last drill that ran.
        let clock = now.flatMap(SchedulingOptions.parseNow) ?? Date()
        var due: [String: Scorecard.Due] = [:]
        for (service, schedule) in schedules {
            let st = schedule.status(now: clock, lastDrill: lastDrills[service])
            due[service] = Scorecard.Due(nextDue: Zoned.format(st.next.start, in: schedule.timeZone), overdue: st.state == .overdue)
        }
        card.schedule(due)
        let style = output == nil && format == .text ? TerminalStyle.detect(noColorFlag: noColor) : TerminalStyle(enabled: false)
        writeOutput(try card.rendered(format, style: style), to: output)
        if !problems.isEmpty {
            Terminal.report(problems, sources: sources, noColor: noColor)
            Terminal.exit(ExitStatus.invalidInput)
        }
    }
}
