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

    func files() throws -> [String] {
        try playbooks + (dir.map(playbookFiles(in:)) ?? [])
    }

    /// The scheduled services of the playbooks; warnings and notes printed, errors thrown.
    func load() throws -> ScheduledServices {
        let loaded = try ScheduledServices.load(try files(), inventory: inventory, folder: dir)
        Terminal.report(loaded.diagnostics.diagnostics, sources: loaded.diagnostics.sources, noColor: noColor)
        for w in loaded.warnings { Terminal.err("warning: \(TerminalText.safe(w))\n") }
        return loaded
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
            throw CommandError("--until (\(Zoned.format(end, in: viewer))) is not after --from (\(Zoned.format(start, in: viewer))\(from == nil ? ", now" : ""))",
                               hint: "give a later --until, or an earlier --from")
        }
        let loaded = try options.load()
        let services = loaded.services
        for u in loaded.unscheduled { Terminal.err("note: \(u) has no schedule: (schedule: { every: quarter, window: \"Sat 02:00-04:00\", timezone: … })\n") }
        if let output { try checkOutput(output, keeping: try options.files()) }
        let drills = DrillCalendar.plan(services, from: start, until: end, viewer: viewer)
        if ics {
            try writeOutput(ICSWriter.render(drills, services: services, stamp: options.clock, version: FiredrillVersion.current), to: output)
            return
        }
        if format == .json { try writeOutput(try JSONOutput.encode(drills) + "\n", to: output); return }
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
        if conflicts > 0 { text += "\n" + style.red(conflicts == 1 ? "1 drill overlaps another drill on a shared host" : "\(conflicts) drills overlap another drill on a shared host") + "\n" }
        try writeOutput(text, to: output)
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
        the others are skipped with the reason. Exit code: the worst drill's (0 when none ran); \
        with --fail-on-overdue, 1 when a service is overdue or has never been drilled (for \
        cron mail and CI). --notify tells the configuration file's notify: targets that \
        hear `overdue` about each overdue service (docs/notifications.md). \
        For cron or a systemd timer: docs/scheduling.md.

        Examples:
          firedrill due --dir Playbooks
          firedrill due --dir Playbooks --format json
          firedrill due --dir Playbooks --run --yes --manual=fail
          firedrill due --dir Playbooks --fail-on-overdue --notify
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
    @Option(help: ArgumentHelp("With --run: standing approvals (a file or folder, repeatable; default each playbook's approvals/).", valueName: "PATH"))
    var approval: [String] = []
    @Flag(help: "Exit 1 when a service is overdue or has never been drilled (for cron mail and CI).") var failOnOverdue = false
    @Flag(help: "Tell the configuration's notify: targets about each overdue service.") var notify = false
    @OptionGroup var config: ConfigOption

    func validate() throws {
        if run && !yes { throw ValidationError("--run needs --yes: the drills run unattended, nobody is asked to confirm") }
        if !run && (yes || manual != nil || runsDir != nil) { throw ValidationError("--yes, --manual and --runs-dir go with --run") }
        if let manual, !["pass", "fail", "skip"].contains(manual) { throw ValidationError("--manual must be pass, fail or skip (got \(manual))") }
    }

    func run() async throws {
        let now = options.clock
        let loaded = try options.load()
        for u in loaded.unscheduled { Terminal.err("note: \(u) has no schedule: it is never due\n") }
        var last: [String: Date] = [:]
        if let db = try await history.openExisting() {
            last = try await db.lastDrills()
        } else {
            Terminal.err("note: \(history.noHistory): every service counts as never drilled\n")
        }
        let entries = DueDrill.list(loaded.services, lastDrills: last, now: now, all: all)
        // Who must hear of overdue services, and whether cron should.
        let overdue = entries.filter { $0.status.state == .overdue }
        let neglected = entries.filter { $0.status.state == .overdue || ($0.entry.neverDrilled && $0.status.state != .scheduled) }
        if notify { await Self.notifyOverdue(overdue, config: try config.load()) }
        defer {
            if failOnOverdue && !neglected.isEmpty {
                Terminal.err("\(neglected.count) service\(neglected.count == 1 ? " is" : "s are") overdue or never drilled: "
                             + neglected.map { TerminalText.safe($0.service.service) }.joined(separator: ", ") + "\n")
            }
        }
        if !run {
            if format == .json { Terminal.out(try JSONOutput.encode(entries.map(\.entry)) + "\n"); return }
            let style = TerminalStyle.detect(noColorFlag: options.noColor)
            if entries.isEmpty { Terminal.out("nothing due at \(Zoned.format(now, in: .current)) (\(loaded.services.count) scheduled service\(loaded.services.count == 1 ? "" : "s"))\n") }
            for d in entries {
                let e = d.entry, s = d.service
                let head: String
                switch d.status.state {
                case .overdue: head = style.red(e.neverDrilled ? "NEVER DRILLED, OVERDUE" : "OVERDUE")
                case .due: head = style.yellow(e.neverDrilled ? "NEVER DRILLED, DUE" : "DUE")
                case .scheduled: head = "scheduled"
                }
                Terminal.out(style.bold(s.service) + "  \(head)  due \(e.nextDueLocal)" + (d.status.state == .overdue ? ", overdue since \(Zoned.format(d.status.overdueAt, in: s.schedule.timeZone))" : "") + "\n")
                Terminal.out("  last drill \(e.lastDrill ?? "never") · \(s.scheduleText)" + (e.openNow ? " · window open now" : "") + (e.blackout.map { " · in blackout \($0)" } ?? "") + "\n")
                for n in e.notes { Terminal.out("  note: \(n)\n") }
            }
            if failOnOverdue && !neglected.isEmpty { throw ExitCode(1) }
            return
        }
        let due = entries.filter { $0.status.state != .scheduled }
        let runner = DueRunner(inventory: options.inventory, manual: manual, runsDir: runsDir, historyDB: History.defaultPath(history.db), now: now,
                               approvals: approval, config: config.config)
        try runner.check(due)
        let children = ChildRunner()
        let worst = await runner.run(due, launch: { args in
            Terminal.flush()
            return await children.run(args)
        }, stopped: { children.stopped }, say: { Terminal.out($0 + "\n") })
        Terminal.flush()
        if worst != .passed { throw ExitCode(worst) }
        if failOnOverdue && !neglected.isEmpty { throw ExitCode(1) }
    }

    /// One `overdue` notification per overdue service, to the configuration's targets; each
    /// attempt said on standard error.
    static func notifyOverdue(_ overdue: [DueDrill], config: FiredrillConfig) async {
        let notifier = Notifier(targets: config.notify, runsDir: "")
        guard notifier.hears(.overdue) else {
            Terminal.err("warning: --notify: \(config.file.map { "the configuration file \($0)" } ?? "no configuration file was found, so it") names no notify: target that hears overdue (docs/notifications.md)\n")
            return
        }
        for d in overdue {
            for a in await notifier.deliver(.overdue, message: Notifier.overdue(d)) {
                Terminal.err("\(a.delivered ? "notified" : "could not notify") \(TerminalText.safe(a.target)) that \(TerminalText.safe(d.service.service)) is overdue (attempt \(a.attempt)): \(TerminalText.safe(a.detail))\n")
            }
        }
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
    func run(_ args: [String]) async -> ExitStatus {
        let pid: pid_t
        do throws(ChildProcess.Failure) { pid = try ChildProcess.spawn([ChildProcess.selfPath] + args) } catch {
            Terminal.err("error: \(error.description)\n")
            return .failed
        }
        let stopNow: Bool = lock.withLock { child = pid; return _stopped }
        if stopNow { kill(pid, SIGINT) }
        let status = await ChildProcess.wait(pid)
        lock.withLock { child = 0 }
        return ExitStatus(code: status)
    }
}
