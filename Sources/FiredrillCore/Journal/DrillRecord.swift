/// A run as its journal tells it: run → steps → hosts → commands, verify samples, measurements,
/// what restore did and the state the hosts were left in. A pure fold over the events, and the
/// one interpreter of the journal: the terminal summary, the score, history and every report
/// read a `DrillRecord`, never the events on their own (docs/journal.md, "Reading a journal").
///
/// Folding any prefix of a journal works and says the run is unfinished; unknown or missing
/// fields (older formats) leave parts empty rather than failing.
public struct DrillRecord: Sendable, Equatable {
    public var runID: String?
    /// `firedrill.journal/1`, or nil for a journal written before formats were named.
    public var format: String?
    public var name: String?
    public var facts: RunFacts?
    /// The plan the run ran (format 1: inside `run_started`).
    public var plan: JSONValue?
    public var startedAt: String?
    public var endedAt: String?
    public var resumes: [Resume] = []
    public var hosts: [HostRecord] = []
    /// The steady state before the drill, and after restore.
    public var steadyState: [CheckSample] = []
    public var finalState: [CheckSample] = []
    /// Guard samples journaled (the first of each guard, then each change), and the guard that tripped.
    public var guardSamples: [CheckSample] = []
    public var guardTrip: JournalEvent.GuardTripped?
    /// Notification attempts, in order.
    public var notifications: [JournalEvent.NotificationAttempt] = []
    public var preconditions: String?
    public var marker: Marker?
    public var steps: [StepRecord] = []
    public var rto: Measurement?
    public var rpo: Measurement?
    public var interrupts: [Note] = []
    public var leftovers: [Leftover] = []
    public var restore: RestoreRecord?
    public var journalFailed: String?
    public var ending: Ending?
    /// Notes the run recorded (locks taken over from runners that died).
    public var notes: [String] = []

    public var isFinished: Bool { ending != nil }

    public struct Resume: Sendable, Equatable { public var time: String; public var detail: String }
    public struct Note: Sendable, Equatable { public var time: String; public var response: InterruptResponse?; public var detail: String }

    public struct HostRecord: Sendable, Equatable {
        public var name: String
        public var ready: Bool
        public var endpoint: String?
        public var latencyMS: Double?
        /// Why it could not be reached, or the key trusted on first use.
        public var detail: String?
        public var trustedNewKey: Bool
        /// What kind of failure made it unreachable.
        public var problem: TransportFailureKind? = nil
    }

    public struct CheckSample: Sendable, Equatable {
        public var check: String
        public var host: String?
        public var from: String?
        public var attempt: Int
        public var outcome: CheckOutcome.Status
        public var expect: Expect
        public var met: Bool
        public var detail: String
        public var latencyMS: Double?
        public var offsetMS: Double?

        public var label: String { host.map { "\(check)@\($0)" } ?? check }
    }

    public struct Marker: Sendable, Equatable {
        public var written: Bool
        public var writeDetail: String?
        public var reads: Int = 0
        public var found: Bool?
    }

    public typealias Measurement = JournalEvent.Measurement

    public struct CommandRecord: Sendable, Equatable {
        public var host: String
        /// Its `command_started` was journaled (a command refused before that has none).
        public var started = false
        public var command: String?
        public var startedOffsetMS: Double?
        public var pgid: Int?
        /// The tag in its environment (`FIREDRILL_CMD`), journaled before it was sent.
        public var processTag: String?
        /// Its `command_finished`, once recorded.
        public var end: JournalEvent.CommandFinished?
        /// A later `leftover_stopped` for it: it was found still running (or not) and stopped.
        public var stopped: LeftoverVerdict??

        public var finished: Bool { end != nil }
        public var passed: Bool { end?.passed == true }
        public var failure: CommandFailure? { end?.failure }
        /// The command finished and did not succeed, for a reason other than an interrupt.
        public var failed: Bool { end.map { !$0.passed && $0.failure != .interrupted } ?? false }

        /// How it ended, in words: `exit 3: cannot rejoin`, `timed out (killed on the host)`, or the reason it did not run.
        public var outcomeText: String {
            guard let end else { return "did not finish" }
            if end.timedOut == true {
                // SIGKILL beside a timeout: it ignored the SIGTERM of its timeout and was killed after the grace.
                let how = end.signal == "KILL" ? "timed out, then killed with SIGKILL after the grace (it ignored SIGTERM)" : "timed out (killed on the host)"
                return Self.withStderr(how, end.stderr)
            }
            if let exit = end.exit { return Self.withStderr("exit \(exit)", end.stderr) }
            if let signal = end.signal { return Self.withStderr("killed by SIG\(signal)", end.stderr) }
            return end.detail ?? end.failure?.rawValue ?? "did not finish"
        }

        /// The evidence of a failed command: an unknown outcome says why in its detail.
        public var evidence: String { failure == .unknown ? (end?.detail ?? "outcome unknown") : outcomeText }

        /// The end of stderr, where a command says why it failed: whole lines, about 200
        /// characters (a word cut in half would hide the last error).
        static func withStderr(_ head: String, _ stderr: String?) -> String {
            let err = (stderr ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard err.count > 200 else { return head + (err.isEmpty ? "" : ": " + err) }
            var kept: [Substring] = []
            var size = 0
            for line in err.split(separator: "\n", omittingEmptySubsequences: true).reversed() {
                if !kept.isEmpty && size + line.count > 200 { break }
                kept.insert(line, at: 0)
                size += line.count + 1
            }
            var text = kept.joined(separator: "\n")
            if text.count > 300 { text = "…" + String(text.suffix(299)) }
            return head + ": " + text
        }
    }

    public struct VerifyRecord: Sendable, Equatable {
        public var samples: [CheckSample] = []
        public var flaps: [String] = []
        /// Gaps between samples (a paused controller, a hung check), in words.
        public var gaps: [String] = []
        public var passed: Bool?
        public var attempts: Int?
        public var detail: String?
        public var heldFromOffsetMS: Double?
    }

    public struct StepRecord: Sendable, Equatable {
        public var id: String
        public var name: String
        public var phase: Phase?
        public var spec: StepSpec?
        public var startedOffsetMS: Double?
        public var result: StepResult?
        public var durationMS: Double?
        public var detail: String?
        public var commands: [CommandRecord] = []
        public var verify: VerifyRecord?
        public var manualResult: ManualOutcome?
        public var manualDetail: String?
        /// `operator`, or the `--manual=` flag that answered (format 0: read from the detail).
        public var manualAnsweredBy: String?

        public var label: String { "\(id) \(name)" }
        public var isManual: Bool { spec.map { $0.kind == .manual } ?? (manualResult != nil) }
    }

    public struct Leftover: Sendable, Equatable {
        public var host: String
        public var step: String
        public var verdict: LeftoverVerdict?
        public var detail: String
    }

    public struct RestoreRecord: Sendable, Equatable {
        public var reason: RestoreReason?
        public var status: RestoreStatus?
        public var detail: String?
    }

    public typealias Ending = JournalEvent.RunEnded

    public init() {}

    /// The record of these events (any prefix of a journal).
    public static func fold(_ events: [JournalEvent]) -> DrillRecord {
        var r = DrillRecord()
        for e in events { r.apply(e) }
        return r
    }

    // MARK: - Folding

    public mutating func apply(_ e: JournalEvent) {
        if runID == nil, !e.run.isEmpty { runID = e.run }
        switch e.payload {
        case let .runStarted(p):
            format = p.format
            name = p.name
            facts = p.facts
            plan = p.plan
            startedAt = e.time
            notes += p.notes
        case let .resumed(p):
            resumes.append(Resume(time: e.time, detail: p.detail ?? ""))
            notes += p.notes
        case let .hostReady(p):
            setHost(HostRecord(name: p.host, ready: true, endpoint: p.detail, latencyMS: p.latencyMS,
                               detail: p.trustedNewKey ? p.detail : nil, trustedNewKey: p.trustedNewKey))
        case let .hostUnreachable(p):
            setHost(HostRecord(name: p.host, ready: false, endpoint: nil, latencyMS: nil, detail: p.detail, trustedNewKey: false, problem: p.problem))
        case let .checkResult(p):
            let sample = CheckSample(check: p.check, host: p.host, from: p.from, attempt: p.attempt, outcome: p.outcome, expect: p.expect,
                                     met: p.met, detail: p.detail, latencyMS: p.latencyMS, offsetMS: e.offsetMS)
            if let id = p.step, let i = stepIndex(id) {
                if steps[i].verify == nil { steps[i].verify = VerifyRecord() }
                steps[i].verify?.samples.append(sample)
            } else if p.phase == .final {
                finalState.append(sample)
            } else if p.phase == .guards {
                guardSamples.append(sample)
            } else {
                steadyState.append(sample)
            }
        case let .preconditionsFailed(p):
            preconditions = p.detail
        case let .markerWritten(p):
            marker = Marker(written: p.passed, writeDetail: p.detail)
        case let .markerRead(p):
            if marker == nil { marker = Marker(written: true) }
            marker?.reads += 1
            marker?.found = p.passed
        case let .stepStarted(p):
            let step = StepRecord(id: p.step, name: p.name ?? "", phase: p.phase, spec: p.spec, startedOffsetMS: e.offsetMS)
            // A resumed run may start a step again (restore): the later record replaces the earlier.
            if let i = stepIndex(p.step) { steps[i] = step } else { steps.append(step) }
        case let .stepFinished(p):
            guard let i = stepIndex(p.step) else { return }
            steps[i].result = p.result
            steps[i].durationMS = p.durationMS
            steps[i].detail = p.detail
        case let .commandStarted(p):
            guard let i = stepIndex(p.step) else { return }
            steps[i].commands.append(CommandRecord(host: p.host, started: true, command: p.command, startedOffsetMS: e.offsetMS, processTag: p.processTag))
        case let .commandRunning(p):
            guard let (i, j) = command(p.step, p.host) else { return }
            steps[i].commands[j].pgid = p.pgid
            if let tag = p.processTag { steps[i].commands[j].processTag = tag }
        case let .commandFinished(p):
            guard let i = stepIndex(p.step) else { return }
            // A command refused before it was started has no command_started.
            if command(p.step, p.host) == nil { steps[i].commands.append(CommandRecord(host: p.host)) }
            guard let (si, j) = command(p.step, p.host) else { return }
            steps[si].commands[j].end = p
        case let .leftoverStopped(p):
            leftovers.append(Leftover(host: p.host, step: p.step, verdict: p.verdict, detail: p.detail ?? ""))
            if let (i, j) = command(p.step, p.host) { steps[i].commands[j].stopped = .some(p.verdict) }
        case let .verifyStarted(p):
            guard let i = stepIndex(p.step) else { return }
            if steps[i].verify == nil { steps[i].verify = VerifyRecord() }
        case let .verifyFlapped(p):
            guard let i = stepIndex(p.step) else { return }
            steps[i].verify?.flaps.append(p.detail ?? "")
        case let .verifyGap(p):
            guard let i = stepIndex(p.step) else { return }
            steps[i].verify?.gaps.append(p.detail ?? "")
        case let .verifyFinished(p):
            guard let i = stepIndex(p.step) else { return }
            if steps[i].verify == nil { steps[i].verify = VerifyRecord() }
            steps[i].verify?.passed = p.passed
            steps[i].verify?.attempts = p.attempt
            steps[i].verify?.detail = p.detail
            steps[i].verify?.heldFromOffsetMS = p.heldFromOffsetMS
        case .manualPrompt:
            break
        case let .manualResult(p):
            guard let i = stepIndex(p.step) else { return }
            steps[i].manualResult = p.outcome
            steps[i].manualDetail = p.detail
            steps[i].manualAnsweredBy = p.answeredBy
        case let .rto(m):
            rto = m
        case let .rpo(m):
            rpo = m
        case let .interrupted(p):
            interrupts.append(Note(time: e.time, response: p.response, detail: p.detail ?? ""))
        case let .restoreStarted(p):
            restore = RestoreRecord(reason: p.reason)
        case let .restoreFinished(p):
            if restore == nil { restore = RestoreRecord() }
            restore?.status = p.status
            restore?.detail = p.detail
        case let .journalFailed(p):
            journalFailed = p.detail
        case let .guardTripped(p):
            if guardTrip == nil { guardTrip = p }
        case let .notification(p):
            notifications.append(p)
        case let .runEnded(p):
            endedAt = e.time
            ending = p
        }
    }

    mutating func setHost(_ host: HostRecord) {
        if let i = hosts.firstIndex(where: { $0.name == host.name }) { hosts[i] = host } else { hosts.append(host) }
    }

    func stepIndex(_ id: String) -> Int? { steps.lastIndex { $0.id == id } }

    func command(_ step: String, _ host: String) -> (Int, Int)? {
        guard let i = stepIndex(step), let j = steps[i].commands.lastIndex(where: { $0.host == host }) else { return nil }
        return (i, j)
    }

    // MARK: - Reading

    /// What went wrong, grouped: one line per step and reason, naming its hosts
    /// (`restore.1 Rejoin failed on 6 hosts (db1, db2, db3, …): exit 3: cannot rejoin`).
    public var failures: [String] {
        var out: [Failure] = []
        // The reason without the endpoint that starts it (`127.0.0.1:2201: connection refused`), so
        // hosts failing the same way are one line.
        let down = hosts.filter { !$0.ready }.map { h in
            (host: h.name, kind: h.problem, reason: h.detail.map { d in d.range(of: ": ").map { String(d[$0.upperBound...]) } ?? d } ?? "unreachable")
        }
        out += Failure.unreachable(down, step: resumes.isEmpty ? "preflight" : "resume")
        for c in steadyState where !c.met { out.append(Failure(step: "preflight", host: nil, reason: "steady state \(c.label): \(c.detail)")) }
        // A guard failing before any step ran stopped the drill at preflight.
        if steps.isEmpty {
            for c in guardSamples where !c.met { out.append(Failure(step: "preflight", host: nil, reason: "guard \(c.label): \(c.detail)")) }
        }
        if let g = guardTrip {
            out.append(Failure(step: "guard", host: nil, reason: "\(g.label) \(g.outcome == .error ? "could not be checked" : "failed") for \(DurationText.measured(g.seconds ?? 0)): \(g.detail)"))
        }
        if let m = marker, !m.written { out.append(Failure(step: "data check", host: nil, reason: "cannot write the marker: \(m.writeDetail ?? "")")) }
        for s in steps { out += Self.failures(of: s) }
        for c in finalState where !c.met { out.append(Failure(step: "steady state after restore", host: nil, reason: "\(c.label): \(c.detail)")) }
        return Failure.grouped(out)
    }

    /// What went wrong in one step (the detail of its `step_finished`).
    public func failures(ofStep id: String) -> [String] {
        guard let i = stepIndex(id) else { return [] }
        return Failure.grouped(Self.failures(of: steps[i]))
    }

    static func failures(of s: StepRecord) -> [Failure] {
        var out: [Failure] = []
        for c in s.commands where c.failed {
            out.append(Failure(step: s.label, host: c.host, reason: c.evidence))
        }
        if let v = s.verify, v.passed == false {
            out.append(Failure(step: s.label, host: nil, reason: "verify failed after \(v.attempts ?? 0) attempts: \(v.detail ?? "")"))
        }
        if s.manualResult == .failed { out.append(Failure(step: s.label, host: nil, reason: "operator reported failure: \(s.manualDetail ?? "")")) }
        if s.result == .skipped {
            out.append(Failure(step: s.label, host: nil, reason: "not drilled: \(s.detail ?? "selects no host") (a drill with skipped steps does not pass)"))
        }
        return out
    }

    /// Steps that ran on no host.
    public var skippedSteps: [StepRecord] { steps.filter { $0.result == .skipped } }
}

/// One thing that went wrong: a step on a host (or its verify), with the evidence.
struct Failure: Sendable, Equatable {
    var step: String
    var host: String?
    var reason: String

    /// Unreachable hosts, their reasons made groupable: hosts that failed the same way but with
    /// their own particulars (`no SSH server listens on port 60001`, `… 60002`) share the kind's
    /// words, with the first host's message as the example.
    static func unreachable(_ down: [(host: String, kind: TransportFailureKind?, reason: String)], step: String) -> [Failure] {
        var reasons: [TransportFailureKind: Set<String>] = [:]
        for d in down { if let k = d.kind { reasons[k, default: []].insert(d.reason) } }
        var example: [TransportFailureKind: String] = [:]
        return down.map { d in
            guard let k = d.kind, (reasons[k]?.count ?? 0) > 1 else { return Failure(step: step, host: d.host, reason: d.reason) }
            if example[k] == nil { example[k] = "\(d.host): \(d.reason)" }
            return Failure(step: step, host: d.host, reason: "\(k.words) (e.g. \(example[k]!))")
        }
    }

    /// Hosts grouped by what happened to them: `connection refused on 80 hosts: app101, app102, … app180`.
    static func byReason(_ failures: [Failure]) -> [String] {
        var order: [String] = []
        var hosts: [String: [String]] = [:]
        for f in failures {
            if hosts[f.reason] == nil { order.append(f.reason) }
            hosts[f.reason, default: []].append(f.host ?? "")
        }
        return order.map { reason in
            let h = hosts[reason] ?? []
            if h.count == 1 { return "\(h[0]): \(reason)" }
            let names = h.count > 6 ? h.prefix(3).joined(separator: ", ") + ", … " + h.suffix(2).joined(separator: ", ") : h.joined(separator: ", ")
            return "\(reason) on \(h.count) hosts: \(names)"
        }
    }

    /// Failures with the same step and reason become one line naming their hosts.
    static func grouped(_ failures: [Failure]) -> [String] {
        var order: [String] = []
        var groups: [String: (step: String, reason: String, hosts: [String])] = [:]
        for f in failures {
            let key = f.step + "\u{0}" + f.reason
            if groups[key] == nil { order.append(key); groups[key] = (f.step, f.reason, []) }
            if let h = f.host { groups[key]?.hosts.append(h) }
        }
        return order.compactMap { key in
            guard let g = groups[key] else { return nil }
            switch g.hosts.count {
            case 0: return "\(g.step): \(g.reason)"
            case 1: return "\(g.step) on \(g.hosts[0]): \(g.reason)"
            default:
                let names = g.hosts.count > 3 ? g.hosts.prefix(3).joined(separator: ", ") + ", …" : g.hosts.joined(separator: ", ")
                return "\(g.step) failed on \(g.hosts.count) hosts (\(names)): \(g.reason)"
            }
        }
    }
}
