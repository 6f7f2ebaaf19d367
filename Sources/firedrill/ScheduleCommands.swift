import ArgumentParser
import FiredrillCore
import Foundation

/// Playbooks to schedule: the given ones, or every *.yml/*.yaml of --dir; and the clock.
struct SchedulingOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Playbooks (default: every playbook in --dir).", valueName: "PLAYBOOK")) var playbooks: [String] = []
    @Option(help: ArgumentHelp("Every playbook (*.yml, *.yaml) in this folder.", valueName: "DIR")) var dir: String?
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Inventory (repeatable); replaces the playbooks' 'inventory:'.", valueName: "INVENTORY"))
    var inventory: [String] = []
    @Option(help: ArgumentHelp("Take this moment as now (ISO 8601, e.g. 2027-01-02T10:30:00Z): to preview or replay a schedule.", valueName: "TIME"))
    var now: String?
    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).") var noColor = false

    func validate() throws {
        if playbooks.isEmpty && dir == nil { throw ValidationError("give playbooks or --dir DIR (e.g. --dir Playbooks)") }
        if let now, Self.parseNow(now) == nil { throw ValidationError("--now '\(now)' is not a time (ISO 8601, e.g. 2027-01-02T10:30:00Z, or a date)") }
    }

    var clock: Date { now.flatMap(Self.parseNow) ?? Date() }

    /// An ISO 8601 time (seconds optional), or a date (its midnight, UTC).
    static func parseNow(_ text: String) -> Date? {
        if let d = LocalDate(text) { return Zoned.instant(d, minutes: 0, in: TimeZone(identifier: "UTC")!).0 }
        if let d = Journal.date(text) { return d }
        if text.hasSuffix("Z"), text.count == 17 { return Journal.date(String(text.dropLast()) + ":00Z") }
        return nil
    }

    var files: [String] {
        var out = playbooks
        if let dir { out += playbookFiles(in: dir) }
        return out
    }

    /// The scheduled services of the playbooks (loaded and validated; exit 2 on errors), and
    /// the playbooks that have no schedule.
    func load() -> (services: [ScheduledService], unscheduled: [String]) {
        var services: [ScheduledService] = []
        var unscheduled: [String] = []
        var failed = false
        for file in files {
            let loaded = DrillDefinition.load(playbookPath: file, inventoryOverride: inventory)
            Terminal.report(loaded.diagnostics, sources: loaded.sources, noColor: noColor)
            guard let d = loaded.definition else { failed = true; continue }
            guard let schedule = d.playbook.schedule else { unscheduled.append(file); continue }
            let plan = d.preview
            let command = "firedrill run \(shellWord(file))" + inventory.map { " -i \(shellWord($0))" }.joined() + " --yes"
            var text = "every \(schedule.every)"
            if let w = schedule.window { text += ", window \(w)" }
            text += " \(schedule.timezone ?? "UTC")"
            if !schedule.blackouts.isEmpty { text += ", blackout \(schedule.blackouts.map(\.description).joined(separator: ", "))" }
            if let other = services.first(where: { $0.service == d.playbook.service }) {
                Terminal.err("warning: \(file) and \(other.playbook) are both playbooks of service \(d.playbook.service): only \(other.playbook) is scheduled\n")
                continue
            }
            var scheduled = ScheduledService(service: d.playbook.service, name: d.playbook.name.value, playbook: file, criticality: d.playbook.criticality.rawValue,
                                             schedule: schedule.drillSchedule, scheduleText: text, hosts: plan.hosts.map(\.name), endpoints: plan.hosts.map(\.endpoint),
                                             steps: plan.steps.map { "\($0.id) \($0.name)" }, restoreSteps: plan.restore.map { "\($0.id) \($0.name)" },
                                             rtoSeconds: plan.objectives.rto.map { DurationText.seconds($0.duration) }, rpoSeconds: plan.objectives.rpo.map { DurationText.seconds($0.duration) }, command: command)
            scheduled.hasManualSteps = plan.summary.manualSteps > 0
            services.append(scheduled)
        }
        if failed { Terminal.exit(ExitStatus.invalidInput) }
        if files.isEmpty {
            Terminal.err("error: no playbook (*.yml, *.yaml) in \(dir ?? "")\nhint: give the folder holding the playbooks\n")
            Terminal.exit(ExitStatus.invalidInput)
        }
        return (services, unscheduled)
    }

    func shellWord(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:@".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Upcoming drills of every service, merged and sorted; conflicts flagged; an RFC 5545 calendar.",
        discussion: """
        Each playbook's schedule (every month|quarter|half-year|year|N days|N weeks, a window \
        such as "Sat 02:00-04:00" in its time zone, blackout dates, a start date, a grace) \
        gives one drill per period: the first window that opens in it outside the blackouts \
        (docs/scheduling.md). Times are shown in the service's zone and in yours (TZ). Two \
        drills whose windows overlap and whose inventories share a host are flagged. \
        --ics writes a calendar whose events keep their UID from one export to the next, so \
        importing it again updates them.

        Examples:
          firedrill schedule --dir Playbooks
          firedrill schedule --dir Playbooks --from 2027-01-01 --until 2027-12-31 --format json
          firedrill schedule --dir Playbooks --ics -o drills.ics
        """
    )
    @OptionGroup var options: SchedulingOptions
    @Option(help: ArgumentHelp("From this date (YYYY-MM-DD, or an ISO 8601 time; default now).", valueName: "DATE")) var from: String?
    @Option(help: ArgumentHelp("Until this date (default a year after --from).", valueName: "DATE")) var until: String?
    @Option(help: "text or json.") var format: TextOrJSON = .text
    @Flag(help: "Write an iCalendar (RFC 5545) file instead.") var ics = false
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE")) var output: String?

    static func date(_ text: String, in tz: TimeZone) -> Date? {
        if let d = LocalDate(text) { return Zoned.instant(d, minutes: 0, in: tz).0 }
        return Journal.date(text)
    }

    func validate() throws {
        for (name, value) in [("--from", from), ("--until", until)] {
            if let value, Self.date(value, in: .current) == nil { throw ValidationError("\(name) '\(value)' is not a date (YYYY-MM-DD or an ISO 8601 time)") }
        }
    }

    func run() async throws {
        let viewer = TimeZone.current
        let start = from.flatMap { Self.date($0, in: viewer) } ?? options.clock
        // A date alone includes its whole day.
        let end = until.flatMap { u in LocalDate(u).map { Zoned.instant($0.adding(days: 1), minutes: 0, in: viewer).0 } ?? Self.date(u, in: viewer) }
            ?? start.addingTimeInterval(366 * 86400)
        guard end > start else {
            Terminal.err("error: --until (\(Zoned.format(end, in: viewer))) is not after --from (\(Zoned.format(start, in: viewer))\(from == nil ? ", now" : ""))\nhint: give a later --until, or an earlier --from\n")
            Terminal.exit(ExitStatus.invalidInput)
        }
        let (services, unscheduled) = options.load()
        for u in unscheduled { Terminal.err("note: \(u) has no schedule: (schedule: { every: quarter, window: \"Sat 02:00-04:00\", timezone: … })\n") }
        if let output { checkOutput(output, keeping: options.files) }
        let drills = DrillCalendar.plan(services, from: start, until: end, viewer: viewer)
        if ics {
            writeOutput(ICSWriter.render(drills, services: services, stamp: options.clock, version: FiredrillVersion.current), to: output)
            return
        }
        if format == .json { writeOutput(try JSONOutput.encode(drills) + "\n", to: output); return }
        let style = output == nil ? TerminalStyle.detect(noColorFlag: options.noColor) : TerminalStyle(enabled: false)
        var text = "Drills from \(Zoned.format(start, in: viewer)) to \(Zoned.format(end, in: viewer)) (your zone: \(viewer.identifier))\n"
        if drills.isEmpty { text += "  none\n" }
        for d in drills {
            text += "\n" + style.bold("\(d.local.prefix(16)) \(d.service)") + "  \(d.name)\n"
            text += "  \(d.allDay ? "all day" : "window") in \(d.timezone): \(d.local)" + (d.timezone == viewer.identifier ? "" : "; your time \(d.viewer)") + "\n"
            for n in d.notes { text += style.yellow("  note: ") + n + "\n" }
            for c in d.conflicts { text += style.red("  CONFLICT: ") + c + "\n" }
        }
        let conflicts = drills.filter { !$0.conflicts.isEmpty }.count
        if conflicts > 0 { text += "\n" + style.red("\(conflicts) drill(s) overlap another drill on a shared host") + "\n" }
        writeOutput(text, to: output)
    }
}

/// Where a service stands against its schedule, as `due` prints it.
struct DueEntry: Encodable {
    var service: String
    var playbook: String
    /// `due`, `overdue`, or `scheduled` (with --all); `never_drilled` says whether it ever was.
    var state: String
    var neverDrilled: Bool
    var lastDrill: String?
    var nextDue: String
    var nextDueLocal: String
    var overdueAt: String
    var openNow: Bool
    var blackout: String?
    var notes: [String]

    enum CodingKeys: String, CodingKey {
        case service, playbook, state, neverDrilled = "never_drilled", lastDrill = "last_drill", nextDue = "next_due", nextDueLocal = "next_due_local"
        case overdueAt = "overdue_at", openNow = "open_now", blackout, notes
    }
}

struct DueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "due",
        abstract: "Services whose drill is due or overdue by the history, and services never drilled; --run runs them.",
        discussion: """
        A service is due from the first window of the period after its last drill that ran \
        (from the history database: any result but preconditions), and overdue once its grace \
        (default 14 days) has passed since. With --run --yes, each due drill whose window is \
        open now and that is not in a blackout or already being run is run, one after \
        another, as `firedrill run PLAYBOOK --yes` would (journals and history as usual); \
        the others are skipped with the reason. Exit code: the worst drill's (0 when none ran). \
        For cron or a systemd timer: docs/scheduling.md.

        Examples:
          firedrill due --dir Playbooks
          firedrill due --dir Playbooks --format json
          firedrill due --dir Playbooks --run --yes --manual=fail
        """
    )
    @OptionGroup var options: SchedulingOptions
    @OptionGroup var history: HistoryOptions
    @Option(help: "text or json.") var format: TextOrJSON = .text
    @Flag(help: "List every scheduled service, not only those due.") var all = false
    @Flag(help: "Run the drills that are due now and inside their window.") var run = false
    @Flag(help: "With --run: run without asking (required: nobody is there to confirm).") var yes = false
    @Option(help: ArgumentHelp("With --run: answer manual steps (pass or fail); without it they have no answer.", valueName: "ANSWER")) var manual: String?
    @Option(help: ArgumentHelp("With --run: where runs are kept.", valueName: "DIR")) var runsDir: String?

    func validate() throws {
        if run && !yes { throw ValidationError("--run needs --yes: the drills run unattended, nobody is asked to confirm") }
        if !run && (yes || manual != nil || runsDir != nil) { throw ValidationError("--yes, --manual and --runs-dir go with --run") }
        if let manual, !["pass", "fail", "skip"].contains(manual) { throw ValidationError("--manual must be pass, fail or skip (got \(manual))") }
    }

    func run() async throws {
        let now = options.clock
        let (services, unscheduled) = options.load()
        for u in unscheduled { Terminal.err("note: \(u) has no schedule: it is never due\n") }
        var last: [String: Date] = [:]
        if let db = await history.openExisting() {
            do throws(History.Failure) { last = try await db.lastDrills() } catch {
                Terminal.err("error: \(error.message)\n")
                Terminal.exit(ExitStatus.failed)
            }
        } else {
            Terminal.err("note: \(history.noHistory): every service counts as never drilled\n")
        }
        var entries: [(ScheduledService, DrillSchedule.Status, DueEntry)] = []
        for s in services {
            let st = s.schedule.status(now: now, lastDrill: last[s.service])
            let state = st.state == .scheduled ? "scheduled" : st.state.rawValue
            let entry = DueEntry(service: s.service, playbook: s.playbook, state: state,
                                 neverDrilled: st.neverDrilled, lastDrill: last[s.service].map(Journal.timestamp), nextDue: Journal.timestamp(st.next.start),
                                 nextDueLocal: Zoned.format(st.next.start, in: s.schedule.timeZone), overdueAt: Journal.timestamp(st.overdueAt),
                                 openNow: st.openNow != nil, blackout: st.blackoutNow?.description, notes: st.next.notes)
            if all || st.state != .scheduled { entries.append((s, st, entry)) }
        }
        entries.sort { ($0.1.next.start, $0.0.service) < ($1.1.next.start, $1.0.service) }
        if !run {
            if format == .json { Terminal.out(try JSONOutput.encode(entries.map(\.2)) + "\n"); return }
            let style = TerminalStyle.detect(noColorFlag: options.noColor)
            if entries.isEmpty { Terminal.out("nothing due at \(Zoned.format(now, in: .current)) (\(services.count) scheduled service(s))\n") }
            for (s, st, e) in entries {
                let head: String
                switch st.state {
                case .overdue: head = style.red(e.neverDrilled ? "NEVER DRILLED, OVERDUE" : "OVERDUE")
                case .due: head = style.yellow(e.neverDrilled ? "NEVER DRILLED, DUE" : "DUE")
                case .scheduled: head = "scheduled"
                }
                Terminal.out(style.bold(s.service) + "  \(head)  due \(e.nextDueLocal)" + (st.state == .overdue ? ", overdue since \(Zoned.format(st.overdueAt, in: s.schedule.timeZone))" : "") + "\n")
                Terminal.out("  last drill \(e.lastDrill ?? "never") · \(s.scheduleText)" + (e.openNow ? " · window open now" : "") + (e.blackout.map { " · in blackout \($0)" } ?? "") + "\n")
                for n in e.notes { Terminal.out("  note: \(n)\n") }
            }
            return
        }
        let due = entries.filter { $0.1.state != .scheduled }
        if manual == nil, let m = due.first(where: { $0.0.hasManualSteps }) {
            Terminal.err("error: \(m.0.playbook) has manual steps and nobody is there to answer them\nhint: firedrill due --run --yes --manual=fail (a step that needs a person fails the drill) or --manual=pass (capped below A)\n")
            Terminal.exit(ExitStatus.invalidInput)
        }
        try await runDue(due, now: now)
    }

    /// Runs what is due and open now, one after another; the exit status is the worst one.
    func runDue(_ due: [(ScheduledService, DrillSchedule.Status, DueEntry)], now: Date) async throws {
        if due.isEmpty { Terminal.out("nothing is due at \(Zoned.format(now, in: .current))\n"); return }
        let stop = ChildRunner()
        var worst: Int32 = 0
        var ran = 0
        for (s, st, _) in due {
            if stop.stopped { Terminal.out("skipped \(s.service): stopping (interrupted)\n"); continue }
            if let b = st.blackoutNow { Terminal.out("skipped \(s.service): in blackout \(b)\n"); continue }
            guard st.openNow != nil else {
                let next = s.schedule.slots(from: now, until: now.addingTimeInterval(400 * 86400), limit: 1).first { $0.start > now }
                Terminal.out("skipped \(s.service): outside its window (\(s.schedule.window?.text ?? "")\(next.map { "; next opens \(Zoned.format($0.start, in: s.schedule.timeZone))" } ?? ""))\n")
                continue
            }
            let lock = RunLock.holder(of: .service(s.service))
            if lock.held {
                Terminal.out("skipped \(s.service): already being drilled\(lock.holder.map { " (run \($0.run), PID \($0.pid) on \($0.controller))" } ?? "")\n")
                continue
            }
            var args = ["run", s.playbook, "--yes", "--output", "plain", "--busy-exit"]
            for i in options.inventory { args += ["-i", i] }
            if let manual { args += ["--manual=\(manual)"] }
            if let runsDir { args += ["--runs-dir", runsDir] }
            args += ["--db", History.defaultPath(history.db)]
            Terminal.out("running \(s.service): firedrill \(args.joined(separator: " "))\n")
            Terminal.flush()
            let status = await stop.run(args)
            if status == ExitStatus.busy {
                // Taken between our look and its start, or a host held by another service's drill (said above).
                Terminal.out("skipped \(s.service): another drill holds the service or one of its hosts\n")
                continue
            }
            ran += 1
            Terminal.out("\(s.service): exit \(status)\n")
            worst = Self.worse(worst, status)
        }
        Terminal.out("\(ran) drill(s) run, \(due.count - ran) skipped\n")
        Terminal.flush()
        if worst != 0 { throw ExitCode(worst) }
    }

    /// The worse of two exit statuses: interrupted, journal incomplete, failed (a finding), preconditions, invalid input, passed.
    static func worse(_ a: Int32, _ b: Int32) -> Int32 {
        let rank: [Int32: Int] = [0: 0, 2: 1, 3: 2, 1: 3, 4: 4, 130: 5]
        return (rank[a] ?? 4) >= (rank[b] ?? 4) ? a : b
    }
}

/// Runs `firedrill` children one at a time; SIGINT/SIGTERM/SIGHUP are passed to the running
/// child (which stops its failover and restores) and no further drill starts.
final class ChildRunner: @unchecked Sendable {
    private let lock = NSLock()
    private var child: pid_t = 0
    private var _stopped = false
    private var sources: [any DispatchSourceSignal] = []
    var stopped: Bool { lock.withLock { _stopped } }

    init() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.forward(sig) }
            source.resume()
            sources.append(source)
        }
    }

    private func forward(_ sig: Int32) {
        let pid: pid_t = lock.withLock { _stopped = true; return child }
        if pid > 0 { kill(pid, sig) }
    }

    /// Runs this binary with `args` to its end; its output is ours.
    func run(_ args: [String]) async -> Int32 {
        let pid: pid_t
        do throws(ChildProcess.Failure) { pid = try ChildProcess.spawn([ChildProcess.selfPath] + args) } catch {
            Terminal.err("error: \(error.description)\n")
            return ExitStatus.failed
        }
        let stopNow: Bool = lock.withLock { child = pid; return _stopped }
        if stopNow { kill(pid, SIGINT) }
        let status = await ChildProcess.wait(pid)
        lock.withLock { child = 0 }
        return status
    }
}
