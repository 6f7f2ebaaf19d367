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
    public struct Note: Sendable, Equatable { public var time: String; public var result: JournalEvent.Result?; public var detail: String }

    public struct HostRecord: Sendable, Equatable {
        public var name: String
        public var ready: Bool
        public var endpoint: String?
        public var latencyMS: Double?
        /// Why it could not be reached, or the key trusted on first use.
        public var detail: String?
        public var trustedNewKey: Bool
    }

    public struct CheckSample: Sendable, Equatable {
        public var check: String
        public var host: String?
        public var from: String?
        public var attempt: Int
        public var outcome: CheckOutcome.Status
        public var expect: JournalEvent.Expect
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

    public struct Measurement: Sendable, Equatable {
        public var seconds: Double?
        public var objectiveSeconds: Double?
        public var withinObjective: Bool?
        public var passed: Bool?
        public var step: String?
        public var fromOffsetMS: Double?
        public var toOffsetMS: Double?
        public var detail: String?
    }

    public struct CommandRecord: Sendable, Equatable {
        public var host: String
        public var command: String?
        public var startedOffsetMS: Double?
        public var pgid: Int?
        public var finished: Bool = false
        public var passed: Bool?
        /// Set when the command did not end with an exit status: `unknown`, `not_sent`, `interrupted`, a transport error.
        public var result: JournalEvent.Result?
        public var exit: Int?
        public var signal: String?
        public var timedOut: Bool
        public var durationMS: Double?
        public var stdout: String?
        public var stderr: String?
        public var detail: String?

        /// How it ended, in words: `exit 3: cannot rejoin`, `timed out (killed on the host)`, or the reason it did not run.
        public var outcomeText: String {
            if let exit { return Self.withStderr("exit \(exit)", stderr) }
            if let signal { return Self.withStderr("killed by SIG\(signal)", stderr) }
            if timedOut { return Self.withStderr("timed out (killed on the host)", stderr) }
            return detail ?? result?.rawValue ?? "did not finish"
        }

        static func withStderr(_ head: String, _ stderr: String?) -> String {
            let err = (stderr ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            return head + (err.isEmpty ? "" : ": " + String(err.suffix(200)))
        }
    }

    public struct VerifyRecord: Sendable, Equatable {
        public var samples: [CheckSample] = []
        public var flaps: [String] = []
        public var passed: Bool?
        public var attempts: Int?
        public var detail: String?
        public var heldFromOffsetMS: Double?
    }

    public struct StepRecord: Sendable, Equatable {
        public var id: String
        public var name: String
        public var phase: JournalEvent.Phase?
        public var spec: StepSpec?
        public var startedOffsetMS: Double?
        public var result: JournalEvent.Result?
        public var durationMS: Double?
        public var detail: String?
        public var commands: [CommandRecord] = []
        public var verify: VerifyRecord?
        public var manualResult: JournalEvent.Result?
        public var manualDetail: String?
        /// `operator`, or the `--manual=` flag that answered (format 0: read from the detail).
        public var manualAnsweredBy: String?

        public var label: String { "\(id) \(name)" }
    }

    public struct Leftover: Sendable, Equatable {
        public var host: String
        public var step: String
        public var result: JournalEvent.Result?
        public var detail: String
    }

    public struct RestoreRecord: Sendable, Equatable {
        public var reason: JournalEvent.Result?
        public var status: JournalEvent.Result?
        public var detail: String?
    }

    public struct Ending: Sendable, Equatable {
        public var result: JournalEvent.Result?
        public var restore: String?
        public var finalState: String?
        public var touched: Bool?
        public var detail: String?
    }

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
        switch e.event {
        case .runStarted:
            format = e.format
            name = e.name
            facts = e.facts ?? e.data.flatMap(RunFacts.init(legacy:))
            plan = e.plan
            startedAt = e.time
            notes += (e.data?["notes"] ?? "").split(separator: "\n").map(String.init)
        case .resumed:
            resumes.append(Resume(time: e.time, detail: e.detail ?? ""))
            notes += (e.data?["notes"] ?? "").split(separator: "\n").map(String.init)
        case .hostReady, .hostUnreachable:
            let host = HostRecord(name: e.host ?? "", ready: e.event == .hostReady, endpoint: e.event == .hostReady ? e.detail : nil,
                                  latencyMS: e.latencyMS, detail: e.event == .hostReady ? (e.result == .trustedNewKey ? e.detail : nil) : e.detail,
                                  trustedNewKey: e.result == .trustedNewKey)
            if let i = hosts.firstIndex(where: { $0.name == host.name }) { hosts[i] = host } else { hosts.append(host) }
        case .checkResult:
            let sample = Self.sample(e)
            if let id = e.step, let i = stepIndex(id) {
                if steps[i].verify == nil { steps[i].verify = VerifyRecord() }
                steps[i].verify?.samples.append(sample)
            } else if e.phase == .final {
                finalState.append(sample)
            } else {
                steadyState.append(sample)
            }
        case .preconditionsFailed:
            preconditions = e.detail
        case .markerWritten:
            marker = Marker(written: e.passed == true, writeDetail: e.detail)
        case .markerRead:
            if marker == nil { marker = Marker(written: true) }
            marker?.reads += 1
            marker?.found = e.passed == true
        case .stepStarted:
            guard let id = e.step else { return }
            let step = StepRecord(id: id, name: e.name ?? "", phase: e.phase, spec: e.spec, startedOffsetMS: e.offsetMS)
            // A resumed run may start a step again (restore): the later record replaces the earlier.
            if let i = stepIndex(id) { steps[i] = step } else { steps.append(step) }
        case .stepFinished:
            guard let id = e.step, let i = stepIndex(id) else { return }
            steps[i].result = e.result
            steps[i].durationMS = e.durationMS
            steps[i].detail = e.detail
        case .commandStarted:
            guard let id = e.step, let i = stepIndex(id), let host = e.host else { return }
            steps[i].commands.append(CommandRecord(host: host, command: e.command, startedOffsetMS: e.offsetMS, timedOut: false))
        case .commandRunning:
            guard let (i, j) = command(e) else { return }
            steps[i].commands[j].pgid = e.pgid
        case .commandFinished:
            guard let id = e.step, let i = stepIndex(id), let host = e.host else { return }
            // A command refused before it was started has no command_started.
            if command(e) == nil { steps[i].commands.append(CommandRecord(host: host, timedOut: false)) }
            guard let (si, j) = command(e) else { return }
            var c = steps[si].commands[j]
            c.finished = true
            c.passed = e.passed
            c.result = e.result
            c.exit = e.exit
            c.signal = e.signal
            c.timedOut = e.timedOut == true
            c.durationMS = e.durationMS
            c.stdout = e.stdout
            c.stderr = e.stderr
            c.detail = e.detail
            steps[si].commands[j] = c
        case .leftoverStopped:
            leftovers.append(Leftover(host: e.host ?? "", step: e.step ?? "", result: e.result, detail: e.detail ?? ""))
        case .verifyStarted:
            guard let id = e.step, let i = stepIndex(id) else { return }
            if steps[i].verify == nil { steps[i].verify = VerifyRecord() }
        case .verifyFlapped:
            guard let id = e.step, let i = stepIndex(id) else { return }
            steps[i].verify?.flaps.append(e.detail ?? "")
        case .verifyFinished:
            guard let id = e.step, let i = stepIndex(id) else { return }
            if steps[i].verify == nil { steps[i].verify = VerifyRecord() }
            steps[i].verify?.passed = e.passed
            steps[i].verify?.attempts = e.attempt
            steps[i].verify?.detail = e.detail
            steps[i].verify?.heldFromOffsetMS = e.fromOffsetMS
        case .manualPrompt:
            break
        case .manualResult:
            guard let id = e.step, let i = stepIndex(id) else { return }
            steps[i].manualResult = e.result
            steps[i].manualDetail = e.detail
            steps[i].manualAnsweredBy = e.answeredBy ?? ((e.detail ?? "").contains("--manual=") ? "--manual" : "operator")
        case .rto:
            rto = Self.measurement(e)
        case .rpo:
            rpo = Self.measurement(e)
        case .interrupted:
            interrupts.append(Note(time: e.time, result: e.result, detail: e.detail ?? ""))
        case .restoreStarted:
            restore = RestoreRecord(reason: e.result)
        case .restoreFinished:
            if restore == nil { restore = RestoreRecord() }
            restore?.status = e.result
            restore?.detail = e.detail
        case .journalFailed:
            journalFailed = e.detail
        case .runEnded:
            endedAt = e.time
            ending = Ending(result: e.result, restore: e.data?["restore"], finalState: e.data?["final_state"],
                            touched: e.data?["touched"].map { $0 == "true" }, detail: e.detail)
        }
    }

    func stepIndex(_ id: String) -> Int? { steps.lastIndex { $0.id == id } }

    func command(_ e: JournalEvent) -> (Int, Int)? {
        guard let id = e.step, let host = e.host, let i = stepIndex(id),
              let j = steps[i].commands.lastIndex(where: { $0.host == host }) else { return nil }
        return (i, j)
    }

    static func sample(_ e: JournalEvent) -> CheckSample {
        // Journals before format 1: `passed` was the probe's result and `result` said how a `down` check read.
        let expect = e.expect ?? (e.result == .legacyStillUp || e.result == .legacyDownAsExpected ? .down : .up)
        let outcome = e.outcome ?? (e.passed == true ? .passed : .failed)
        let met = e.met ?? (expect == .up ? outcome == .passed : outcome == .failed)
        return CheckSample(check: e.check ?? "", host: e.host, from: e.from, attempt: e.attempt ?? 1, outcome: outcome, expect: expect,
                           met: met, detail: e.detail ?? "", latencyMS: e.latencyMS, offsetMS: e.offsetMS)
    }

    static func measurement(_ e: JournalEvent) -> Measurement {
        Measurement(seconds: e.seconds, objectiveSeconds: e.objectiveSeconds, withinObjective: e.withinObjective, passed: e.passed,
                    step: e.step, fromOffsetMS: e.fromOffsetMS, toOffsetMS: e.toOffsetMS, detail: e.detail)
    }

    // MARK: - Reading

    /// What went wrong, grouped: one line per step and reason, naming its hosts
    /// (`restore.1 Rejoin failed on 6 hosts (db1, db2, db3, …): exit 3: cannot rejoin`).
    public var failures: [String] {
        var out: [Failure] = []
        for h in hosts where !h.ready { out.append(Failure(step: resumes.isEmpty ? "preflight" : "resume", host: h.name, reason: h.detail ?? "unreachable")) }
        for c in steadyState where !c.met { out.append(Failure(step: "preflight", host: nil, reason: "steady state \(c.label): \(c.detail)")) }
        if let m = marker, !m.written { out.append(Failure(step: "data check", host: nil, reason: "cannot write the marker: \(m.writeDetail ?? "")")) }
        for s in steps {
            for c in s.commands where c.finished && c.passed != true && c.result != .interrupted {
                out.append(Failure(step: s.label, host: c.host, reason: c.result == .unknown ? (c.detail ?? "outcome unknown") : c.outcomeText))
            }
            if let v = s.verify, v.passed == false {
                out.append(Failure(step: s.label, host: nil, reason: "verify failed after \(v.attempts ?? 0) attempts: \(v.detail ?? "")"))
            }
            if s.manualResult == .failed { out.append(Failure(step: s.label, host: nil, reason: "operator reported failure: \(s.manualDetail ?? "")")) }
            if s.result == .skipped {
                out.append(Failure(step: s.label, host: nil, reason: "not drilled: \(s.detail ?? "selects no host") (a drill with skipped steps does not pass)"))
            }
        }
        for c in finalState where !c.met { out.append(Failure(step: "steady state after restore", host: nil, reason: "\(c.label): \(c.detail)")) }
        return Failure.grouped(out)
    }

    /// Steps that ran on no host.
    public var skippedSteps: [StepRecord] { steps.filter { $0.result == .skipped } }
}

/// One thing that went wrong: a step on a host (or its verify), with the evidence.
struct Failure: Sendable, Equatable {
    var step: String
    var host: String?
    var reason: String

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
