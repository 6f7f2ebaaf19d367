import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Tells people how a drill goes: webhooks (Firedrill's JSON, or Slack's `text`) and local
/// commands (the same JSON on standard input), from a playbook's `notify:` and the
/// configuration file's. Never blocks or fails a drill: every target has a budget (its
/// `timeout`, retries included), targets are told at once, and each attempt — delivered or
/// not, with the answer — is returned for the journal. docs/notifications.md.
public struct Notifier: DrillNotifier {
    public let targets: [NotifyTarget]
    /// Where the run's journal is, for the message (`firedrill report RUN --runs-dir DIR`).
    public let runsDir: String
    let environment: [String: String]

    public init(targets: [NotifyTarget], runsDir: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.targets = targets; self.runsDir = runsDir; self.environment = environment
    }

    public func hears(_ event: NotifyEvent) -> Bool { targets.contains { $0.hears(event) } }

    public func deliver(_ event: NotifyEvent, record: DrillRecord, detail: String) async -> [JournalEvent.NotificationAttempt] {
        let message = Self.message(event, record: record, detail: detail, runsDir: runsDir)
        return await deliver(event, message: message)
    }

    /// Delivers `message` (the JSON fields) to every target that hears `event`.
    public func deliver(_ event: NotifyEvent, message: [String: JSONValue]) async -> [JournalEvent.NotificationAttempt] {
        let hearing = targets.filter { $0.hears(event) }
        return await withTaskGroup(of: (Int, [JournalEvent.NotificationAttempt]).self) { group in
            for (i, t) in hearing.enumerated() {
                group.addTask { (i, await self.send(event, message: message, to: t)) }
            }
            var out = [[JournalEvent.NotificationAttempt]](repeating: [], count: hearing.count)
            for await (i, attempts) in group { out[i] = attempts }
            return out.flatMap { $0 }
        }
    }

    // MARK: - The message

    /// The fields of a notification: what happened, to which drill, how it scored.
    public static func message(_ event: NotifyEvent, record r: DrillRecord, detail: String, runsDir: String) -> [String: JSONValue] {
        var m: [String: JSONValue] = ["event": .string(event.rawValue), "time": .string(Journal.timestamp(Date()))]
        func put(_ key: String, _ value: String?) { if let value { m[key] = .string(value) } }
        put("drill", r.name)
        put("service", r.facts?.service)
        put("criticality", r.facts?.criticality)
        put("run_id", r.runID)
        put("operator", r.facts?.operator)
        put("controller", r.facts?.controller)
        put("detail", detail.isEmpty ? nil : detail)
        if let runID = r.runID {
            put("journal", RunStore(root: runsDir).journalPath(runID))
            put("report", "firedrill report \(runID) --runs-dir \(runsDir)")
        }
        if let ending = r.ending {
            put("result", ending.result?.rawValue)
            put("restore", r.restore?.status?.rawValue ?? (ending.touched == false ? RestoreStatus.notNeeded.rawValue : nil))
            let score = Score(r)
            m["score"] = .number(score.points)
            put("grade", score.grade.rawValue)
            if let rto = r.rto?.seconds { m["rto_seconds"] = .number(rto) }
            if let rpo = r.rpo?.seconds, r.rpo?.passed == true { m["rpo_seconds"] = .number(rpo) }
            let failures = r.failures
            if !failures.isEmpty { m["failures"] = .array(failures.prefix(10).map { .string($0) }) }
        }
        m["text"] = .string(text(event, m))
        return m
    }

    /// The fields of an `overdue` notification (from `due`): the service, since when, its last drill.
    public static func overdue(_ d: DueDrill) -> [String: JSONValue] {
        let e = d.entry
        var m: [String: JSONValue] = ["event": .string(NotifyEvent.overdue.rawValue), "time": .string(Journal.timestamp(Date())),
                                      "drill": .string(d.service.name), "service": .string(d.service.service), "playbook": .string(e.playbook),
                                      "detail": .string("due \(e.nextDue), overdue since \(e.overdueAt); last drill \(e.lastDrill ?? "never")")]
        m["text"] = .string(text(.overdue, m))
        return m
    }

    /// One line for people (the `text` of both forms).
    static func text(_ event: NotifyEvent, _ m: [String: JSONValue]) -> String {
        func s(_ k: String) -> String? { if case let .string(v)? = m[k] { v } else { nil } }
        let drill = "\(s("drill") ?? "drill") (\(s("service") ?? "?"))"
        var line: String
        switch event {
        case .started: line = "▶ Firedrill: \(drill) started"
        case .passed: line = "✅ Firedrill: \(drill) PASSED"
        case .failed: line = "❌ Firedrill: \(drill) FAILED" + (s("result") == "preconditions" ? " to start (preconditions)" : "")
        case .interrupted: line = "⏹ Firedrill: \(drill) INTERRUPTED"
        case .restoreFailed: line = "🚨 Firedrill: \(drill) RESTORE FAILED — hosts may still be failed over; finish restore by hand"
        case .guardTripped: line = "⛔ Firedrill: \(drill) stopped by a guard"
        case .overdue: line = "⏰ Firedrill: \(drill) is overdue"
        }
        if case let .number(points)? = m["score"] { line += " — score \(String(format: "%.1f", points)) (\(s("grade") ?? "?"))" }
        if let restore = s("restore"), event != .restoreFailed, event != .started { line += "; restore \(restore)" }
        if let detail = s("detail") { line += "; " + String(detail.prefix(300)) }
        if let run = s("run_id") { line += " [\(run)]" }
        return line
    }

    // MARK: - Sending

    func body(_ message: [String: JSONValue], format: NotifyTarget.Format) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let value: JSONValue = format == .slack ? .object(["text": message["text"] ?? .string("")]) : .object(message)
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// Every attempt at one target, within its budget.
    func send(_ event: NotifyEvent, message: [String: JSONValue], to t: NotifyTarget) async -> [JournalEvent.NotificationAttempt] {
        let deadline = ContinuousClock.now + t.timeout
        var attempts: [JournalEvent.NotificationAttempt] = []
        var secret: Secret?
        if case let .webhook(.secret(source)) = t.destination {
            switch SecretDeclaration(name: "webhook", source: source, location: t.location).resolve(playbookFile: t.file, environment: environment) {
            case let .success(s): secret = s
            case let .failure(d):
                return [.init(on: event.rawValue, target: t.label, attempt: 1, delivered: false, detail: "not sent: \(d.message)")]
            }
        }
        let mask = SecretMasker(secret.map { ["webhook": $0] } ?? [:])
        var pause: Duration = .milliseconds(250)
        for n in 1...(t.retries + 1) {
            let left = deadline - ContinuousClock.now
            guard left > .milliseconds(50) else { break }
            let started = ContinuousClock.now
            let (delivered, retry, said) = await attempt(t, message: message, secret: secret, within: left)
            attempts.append(.init(on: event.rawValue, target: t.label, attempt: n, delivered: delivered, detail: mask(said),
                                  latencyMS: (DurationText.seconds(ContinuousClock.now - started) * 10_000).rounded() / 10))
            if delivered || !retry { break }
            // A short pause before trying again, within the budget.
            guard deadline - ContinuousClock.now > pause + .milliseconds(100) else { break }
            try? await Task.sleep(for: pause)
            pause *= 2
        }
        if attempts.isEmpty {
            attempts.append(.init(on: event.rawValue, target: t.label, attempt: 1, delivered: false, detail: "not sent: no time left of its \(DurationText.format(t.timeout))"))
        }
        return attempts
    }

    /// One try: delivered, whether another try may help, and the answer in words.
    func attempt(_ t: NotifyTarget, message: [String: JSONValue], secret: Secret?, within budget: Duration) async -> (Bool, Bool, String) {
        let started = ContinuousClock.now
        switch t.destination {
        case let .webhook(url):
            let address: String
            switch url {
            case let .literal(u): address = u
            case .secret: address = secret?.reveal() ?? ""
            }
            let lower = address.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return (false, false, "not sent: the webhook's URL is not http(s)") }
            do {
                var request = try HTTPClient.Request(url: address, method: .POST)
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "User-Agent", value: "firedrill")
                request.body = .data(body(message, format: t.format))
                let response = try await CheckRunner.httpClient.execute(request: request, deadline: .now() + .nanoseconds(Int64(DurationText.seconds(budget) * 1e9))).get()
                let code = Int(response.status.code)
                let text = response.body.map { String(buffer: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                let said = "HTTP \(code) in \(CheckRunner.ms(ContinuousClock.now - started))" + (text.isEmpty ? "" : ": " + TerminalText.safe(String(text.prefix(120)), keepLines: false))
                return ((200..<300).contains(code), code >= 500 || code == 429, said)
            } catch {
                let why = CheckRunner.describe(error)
                return (false, true, why == "no answer before the check's timeout" ? "no answer within \(DurationText.format(t.timeout))" : why)
            }
        case let .command(command):
            return await Self.runCommand(command, input: body(message, format: .json), within: budget)
        }
    }

    /// `/bin/sh -c COMMAND` with the JSON on standard input, in a process group of its own that
    /// is killed whole when the shell ends or at the budget: a command that leaves something
    /// running in the background (`(sleep 600 &)`) costs nothing more, and leaves nothing.
    /// What it writes goes to a file, so nothing it leaves behind can hold a pipe open.
    static func runCommand(_ command: String, input: Data, within budget: Duration) async -> (Bool, Bool, String) {
        let base = NSTemporaryDirectory() + "firedrill-notify-\(UUID().uuidString.prefix(8))"
        let (file, log) = (base + ".json", base + ".out")
        guard FileManager.default.createFile(atPath: file, contents: input, attributes: [.posixPermissions: 0o600]) else {
            return (false, false, "not run: cannot write its input in \(NSTemporaryDirectory())")
        }
        defer { try? FileManager.default.removeItem(atPath: file); try? FileManager.default.removeItem(atPath: log) }
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return (false, false, "not run: cannot write in \(NSTemporaryDirectory())") }
        let seconds = String(format: "%.1f", max(0.1, DurationText.seconds(budget)))
        let pid: pid_t
        do throws(ChildProcess.Failure) {
            pid = try ChildProcess.spawn(["/usr/bin/timeout", "-k", "1", seconds, "/bin/sh", "-c", command], output: .pipes(stdout: fd, stderr: fd), input: file)
        } catch {
            close(fd)
            return (false, false, "not run: \(error.description)")
        }
        close(fd)
        let status = await ChildProcess.wait(pid)
        kill(-pid, SIGKILL)   // whatever it left in its group
        let said = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let tail = said.isEmpty ? "" : ": " + TerminalText.safe(String(said.suffix(160)), keepLines: false)
        if status == 124 || status == 137 { return (false, false, "no end within \(DurationText.format(budget)): stopped" + tail) }
        return (status == 0, status != 0, "exit \(status)" + tail)
    }
}
