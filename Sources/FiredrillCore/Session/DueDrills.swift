import Foundation

/// The scheduled services of some playbooks (`schedule`, `due`): each loaded and validated, with
/// what a calendar and `due --run` need of it. Playbooks without a schedule are listed apart.
public struct ScheduledServices: Sendable {
    public var services: [ScheduledService]
    /// Playbooks with no `schedule:`: never due.
    public var unscheduled: [String]
    /// Warnings of loading and validation (and a second playbook of a service, ignored).
    public var warnings: [String]
    public var diagnostics: DiagnosticsError

    /// Loads `files` (with `inventory` replacing their own, when given). Errors in any playbook
    /// throw them all (after every file was read); no file at all is an error.
    public static func load(_ files: [String], inventory: [String], folder: String?) throws -> ScheduledServices {
        var out = ScheduledServices(services: [], unscheduled: [], warnings: [], diagnostics: DiagnosticsError([]))
        var failed = false
        for file in files {
            let loaded = DrillDefinition.load(playbookPath: file, inventoryOverride: inventory)
            out.diagnostics.diagnostics += loaded.diagnostics
            out.diagnostics.sources.merge(loaded.sources) { a, _ in a }
            guard let d = loaded.definition else { failed = true; continue }
            guard let schedule = d.playbook.schedule else { out.unscheduled.append(file); continue }
            let plan = d.preview
            let command = "firedrill run \(ShellQuoting.quote(file))" + inventory.map { " -i \(ShellQuoting.quote($0))" }.joined() + " --yes"
            var text = "every \(schedule.every)"
            if let w = schedule.window { text += ", window \(w)" }
            text += " \(schedule.timezone ?? "UTC")"
            if !schedule.blackouts.isEmpty { text += ", blackout \(schedule.blackouts.map(\.description).joined(separator: ", "))" }
            if let other = out.services.first(where: { $0.service == d.playbook.service }) {
                out.warnings.append("\(file) and \(other.playbook) are both playbooks of service \(d.playbook.service): only \(other.playbook) is scheduled")
                continue
            }
            var scheduled = ScheduledService(service: d.playbook.service, name: d.playbook.name.value, playbook: file, criticality: d.playbook.criticality.rawValue,
                                             schedule: schedule.drillSchedule, scheduleText: text, hosts: plan.hosts.map(\.name), endpoints: plan.hosts.map(\.endpoint),
                                             steps: plan.steps.map { "\($0.id) \($0.name)" }, restoreSteps: plan.restore.map { "\($0.id) \($0.name)" },
                                             rtoSeconds: plan.objectives.rto.map { DurationText.seconds($0.duration) },
                                             rpoSeconds: plan.objectives.rpo.map { DurationText.seconds($0.duration) }, command: command)
            scheduled.hasManualSteps = plan.summary.manualSteps > 0
            out.services.append(scheduled)
        }
        if failed { throw out.diagnostics }
        if files.isEmpty {
            throw CommandError("no playbook (*.yml, *.yaml) in \(folder ?? "")", hint: "give the folder holding the playbooks")
        }
        return out
    }
}

/// Where a service stands against its schedule, as `due` lists it (`--format json`).
public struct DueEntry: Sendable, Encodable {
    public var service: String
    public var playbook: String
    /// `due`, `overdue`, or `scheduled` (with --all); `never_drilled` says whether it ever was.
    public var state: String
    public var neverDrilled: Bool
    public var lastDrill: String?
    public var nextDue: String
    public var nextDueLocal: String
    public var overdueAt: String
    public var openNow: Bool
    public var blackout: String?
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case service, playbook, state, neverDrilled = "never_drilled", lastDrill = "last_drill", nextDue = "next_due", nextDueLocal = "next_due_local"
        case overdueAt = "overdue_at", openNow = "open_now", blackout, notes
    }
}

/// Services due (or overdue, or never drilled) at a moment, from their schedules and the last
/// drill of each that ran (from the history), soonest first.
public struct DueDrill: Sendable {
    public var service: ScheduledService
    public var status: DrillSchedule.Status
    public var entry: DueEntry

    /// `all`: scheduled services that are not due are listed too.
    public static func list(_ services: [ScheduledService], lastDrills: [String: Date], now: Date, all: Bool) -> [DueDrill] {
        var out: [DueDrill] = []
        for s in services {
            let st = s.schedule.status(now: now, lastDrill: lastDrills[s.service])
            let state = st.state == .scheduled ? "scheduled" : st.state.rawValue
            let entry = DueEntry(service: s.service, playbook: s.playbook, state: state, neverDrilled: st.neverDrilled,
                                 lastDrill: lastDrills[s.service].map(Journal.timestamp), nextDue: Journal.timestamp(st.next.start),
                                 nextDueLocal: Zoned.format(st.next.start, in: s.schedule.timeZone), overdueAt: Journal.timestamp(st.overdueAt),
                                 openNow: st.openNow != nil, blackout: st.blackoutNow?.description, notes: st.next.notes)
            if all || st.state != .scheduled { out.append(DueDrill(service: s, status: st, entry: entry)) }
        }
        return out.sorted { ($0.status.next.start, $0.service.service) < ($1.status.next.start, $1.service.service) }
    }
}

/// `due --run`: runs each drill that is due and open now, one after another, as a child
/// `firedrill run … --busy-exit` (so a drill's signals, locks and exit are its own); skips, with
/// the reason, a window that is closed, a blackout, a service another drill is running; stops
/// starting drills once interrupted. Ends with the worst drill's status.
public struct DueRunner: Sendable {
    public var inventory: [String]
    /// `pass`, `fail` or `skip` for manual steps, or nil (then a drill with manual steps is refused).
    public var manual: String?
    public var runsDir: String?
    public var historyDB: String
    public var now: Date
    /// `--approval` files or folders, passed to each run (standing approvals); none: each
    /// playbook's own `approvals/` folder.
    public var approvals: [String]
    /// `--config`, passed to each run.
    public var config: String?

    public init(inventory: [String], manual: String?, runsDir: String?, historyDB: String, now: Date, approvals: [String] = [], config: String? = nil) {
        self.inventory = inventory; self.manual = manual; self.runsDir = runsDir; self.historyDB = historyDB; self.now = now
        self.approvals = approvals; self.config = config
    }

    /// Refuses up front what nobody will be there to answer.
    public func check(_ due: [DueDrill]) throws(CommandError) {
        if manual == nil, let m = due.first(where: { $0.service.hasManualSteps }) {
            throw CommandError("\(m.service.playbook) has manual steps and nobody is there to answer them",
                               hint: "firedrill due --run --yes --manual=fail (a step that needs a person fails the drill) or --manual=pass (capped below A)")
        }
    }

    /// Why a due drill is not run now, or nil when it runs.
    public func skipReason(_ d: DueDrill) -> String? {
        if let b = d.status.blackoutNow { return "in blackout \(b)" }
        guard d.status.openNow != nil else {
            let next = d.service.schedule.slots(from: now, until: now.addingTimeInterval(400 * 86400), limit: 1).first { $0.start > now }
            return "outside its window (\(d.service.schedule.window?.text ?? "")\(next.map { "; next opens \(Zoned.format($0.start, in: d.service.schedule.timeZone))" } ?? ""))"
        }
        let lock = RunLock.holder(of: .service(d.service.service))
        if lock.held {
            return "already being drilled" + (lock.holder.map { " (run \($0.run), PID \($0.pid) on \($0.controller))" } ?? "")
        }
        return nil
    }

    /// The arguments of the child `firedrill` that runs `d`.
    public func arguments(_ d: DueDrill) -> [String] {
        var args = ["run", d.service.playbook, "--yes", "--output", "plain", "--busy-exit"]
        for i in inventory { args += ["-i", i] }
        if let manual { args += ["--manual=\(manual)"] }
        if let runsDir { args += ["--runs-dir", runsDir] }
        for a in approvals { args += ["--approval", a] }
        if let config { args += ["--config", config] }
        return args + ["--db", historyDB]
    }

    /// Runs what is due and open now. `launch` runs a child with those arguments to its end;
    /// `stopped` says an interrupt came; `say` prints a line.
    public func run(_ due: [DueDrill], launch: @Sendable ([String]) async -> ExitStatus, stopped: @Sendable () -> Bool,
                    say: @Sendable (String) -> Void) async -> ExitStatus {
        if due.isEmpty { say("nothing is due at \(Zoned.format(now, in: .current))"); return .passed }
        var worst = ExitStatus.passed
        var ran = 0
        for d in due {
            let name = d.service.service
            if stopped() { say("skipped \(name): stopping (interrupted)"); continue }
            if let why = skipReason(d) { say("skipped \(name): \(why)"); continue }
            let args = arguments(d)
            say("running \(name): firedrill \(args.joined(separator: " "))")
            let status = await launch(args)
            if status == .busy {
                // Taken between our look and its start, or a host held by another service's drill.
                say("skipped \(name): another drill holds the service or one of its hosts")
                continue
            }
            ran += 1
            say("\(name): exit \(status.rawValue)")
            worst = worst.worse(status)
        }
        say("\(ran) \(ran == 1 ? "drill" : "drills") run, \(due.count - ran) skipped")
        return worst
    }
}
