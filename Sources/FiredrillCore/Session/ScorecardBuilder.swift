import Foundation

/// What `scorecard` does: each playbook loaded as it is now (a broken one becomes a row saying
/// so), each service's last drill from the history (score components read from the journal for
/// runs indexed before the history kept them), the schedules' next due dates, and one card.
public enum ScorecardBuilder {
    public struct Built: Sendable {
        public var card: Scorecard
        /// Errors of playbooks that do not load (their rows say so; the command exits 2).
        public var problems: DiagnosticsError
        /// Two playbooks of one service, and the like.
        public var warnings: [String]
        /// No history yet, and the like.
        public var notes: [String]
    }

    /// `inventory` replaces the playbooks' own (as `run -i` does); `now` decides what is overdue.
    public static func build(playbooks files: [String], inventory: [String], historyPath: String, now: Date) async throws(History.Failure) -> Built {
        var services: [Scorecard.Service] = []
        var problems = DiagnosticsError([])
        var warnings: [String] = [], notes: [String] = []
        var playbookOf: [String: String] = [:]
        var schedules: [String: DrillSchedule] = [:]
        for file in files {
            let loaded = PlaybookLoader().load(file: file)
            problems.sources.merge(loaded.sources) { a, _ in a }
            guard let pb = loaded.playbook, !loaded.diagnostics.hasErrors else {
                // The other services are still listed; this one is marked.
                let errors = loaded.diagnostics.errors
                problems.diagnostics += errors
                let first = errors.first.map { d in (d.location.map { "\($0.file):\($0.line):\($0.column): " } ?? "") + d.message } ?? "does not load"
                services.append(Scorecard.Service(service: ((file as NSString).lastPathComponent as NSString).deletingPathExtension, name: file, playbook: file,
                                                  criticality: .critical, rtoObjectiveSeconds: nil, rpoObjectiveSeconds: nil, playbookSHA256: "",
                                                  inventorySHA256: "", problem: "the playbook does not load: \(first)"))
                continue
            }
            if let other = playbookOf[pb.service] {
                warnings.append("\(file) and \(other) are both playbooks of service \(pb.service): its row is \(other)'s")
                continue
            }
            playbookOf[pb.service] = file
            if let sch = pb.schedule { schedules[pb.service] = sch.drillSchedule }
            var paths = inventory
            if paths.isEmpty, let inv = pb.inventory { paths = [resolvePath(inv.value, relativeTo: pb.file)] }
            services.append(Scorecard.Service(service: pb.service, name: pb.name.value, playbook: file, criticality: pb.criticality,
                                              rtoObjectiveSeconds: pb.objectives.rto.map { DurationText.seconds($0) },
                                              rpoObjectiveSeconds: pb.objectives.rpo.map { DurationText.seconds($0) },
                                              playbookSHA256: RunStore.sha256(files: [pb.file] + pb.includes), inventorySHA256: RunStore.sha256(files: paths),
                                              missingInventory: paths.filter { !FileManager.default.fileExists(atPath: $0) }, inventory: paths))
        }
        var latest: [LatestRun] = []
        var lastDrills: [String: Date] = [:]
        if History.exists(historyPath) {
            let db = try await History.open(path: historyPath, existing: true)
            latest = try await db.latestRuns()
            lastDrills = try await db.lastDrills()
        } else {
            notes.append("no history database at \(historyPath): every service counts as never drilled (--db PATH, or firedrill import RUNS_DIR)")
        }
        // Runs indexed before the history kept score components: read from their journals; and
        // which inventory a passing run used, to name it when the scorecard reads another.
        for i in latest.indices {
            let needsComponents = latest[i].components == nil
            let passedOnOther = latest[i].lastPassedInventorySHA256 != nil
                && services.first { $0.service == latest[i].service }.map { $0.inventorySHA256 != latest[i].lastPassedInventorySHA256 } == true
            guard needsComponents || passedOnOther, let a = try? RunArchive.open(latest[i].journal), a.problem == nil else { continue }
            if needsComponents { latest[i].components = Score(a.record).components }
            latest[i].inventory = a.record.facts?.inventory
        }
        var card = Scorecard(services: services, latest: latest)
        // Next due and overdue, from each playbook's schedule and the last drill that ran.
        var due: [String: Scorecard.Due] = [:]
        for (service, schedule) in schedules {
            let st = schedule.status(now: now, lastDrill: lastDrills[service])
            due[service] = Scorecard.Due(nextDue: Zoned.format(st.next.start, in: schedule.timeZone), overdue: st.state == .overdue)
        }
        card.schedule(due)
        card.generatedAt = Journal.timestamp(now)
        return Built(card: card, problems: problems, warnings: warnings, notes: notes)
    }
}
