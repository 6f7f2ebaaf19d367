import Foundation

/// The after-action report of one drill (format `firedrill.report/1`, docs/report-format.md):
/// every fact any report format shows, built once from the run's journal (its `DrillRecord`, the
/// chain re-verified now) and the history database (annotations, the previous drill, the trend).
/// Renderers only lay this out: they switch over its closed values (never over strings) and
/// derive no fact of their own; which status is good news and which a problem is the model's
/// (`tone`).
///
/// Secrets: the journal is already masked, and nothing here comes from anywhere else.
public struct DrillReport: Sendable, Codable, Equatable {
    public static let format = "firedrill.report/1"

    public var format = DrillReport.format
    public var overview: Overview
    /// What failed, how long the service was down, the operator's verdict, open actions: first in every format.
    public var headline: Headline
    public var scope: Scope
    public var objectives: Objectives
    /// The steady state checked before the drill.
    public var steadyState: [Check]
    public var timeline: [Step]
    public var restore: Restore
    /// The steady state checked again after restore.
    public var finalState: [Check]
    public var score: Score
    /// What went wrong, one line per step and reason (hosts grouped).
    public var findings: [String]
    /// Locks taken over, commands left running that were stopped, interrupts.
    public var notes: [String]
    public var afterAction: AfterAction
    public var previous: Comparison?
    /// This service's drills, oldest first, up to this one (from the history).
    public var trend: [TrendPoint]
    public var evidence: Evidence
    public var requirements: [Requirement]

    enum CodingKeys: String, CodingKey {
        case format, overview, headline, scope, objectives, steadyState = "steady_state", timeline, restore, finalState = "final_state", score
        case findings, notes, afterAction = "after_action", previous, trend, evidence, requirements
    }

    public struct Overview: Sendable, Codable, Equatable {
        public var run: String
        public var name: String
        public var service: String
        public var scenario: String?
        public var exercise: String?
        public var criticality: Criticality?
        public var owner: String?
        public var `operator`: String
        public var controller: String
        public var started: String?
        public var ended: String?
        /// `passed`, `failed`, `interrupted`, `preconditions`, `incomplete`, or `unfinished` (no end recorded).
        public var result: RunStatus
        /// The result in words, as the terminal says it.
        public var resultText: String
        public var resumed: Int
        public var score: Double
        public var grade: String

        enum CodingKeys: String, CodingKey {
            case run, name, service, scenario, exercise, criticality, owner, `operator`, controller, started, ended, result
            case resultText = "result_text", resumed, score, grade
        }
    }

    public struct Host: Sendable, Codable, Equatable {
        public var name: String
        /// `address:port` as planned.
        public var address: String?
        public var groups: [String]
        /// `reachable`, `unreachable`, or `not checked` (the run stopped before).
        public var status: HostStatus
        public var detail: String?
        public var trustedNewKey: Bool

        enum CodingKeys: String, CodingKey { case name, address, groups, status, detail, trustedNewKey = "trusted_new_key" }
    }

    public struct Scope: Sendable, Codable, Equatable {
        public var hosts: [Host]
        public var unreachable: [String]
        public var limit: String?
        public var inventory: [String]
        public var extraVarNames: [String]

        enum CodingKeys: String, CodingKey { case hosts, unreachable, limit, inventory, extraVarNames = "extra_var_names" }
    }

    public struct Objective: Sendable, Codable, Equatable {
        /// `RTO` or `RPO`.
        public var name: ObjectiveName
        public var objectiveSeconds: Double?
        public var measuredSeconds: Double?
        /// `met`, `exceeded`, `measured`, `not measured`, `data lost`, `no objective`, `no data check`.
        public var status: ObjectiveStatus
        public var step: String?
        /// Where it was measured, on the run's clock.
        public var fromOffsetMS: Double?
        public var toOffsetMS: Double?
        public var detail: String?

        enum CodingKeys: String, CodingKey {
            case name, objectiveSeconds = "objective_seconds", measuredSeconds = "measured_seconds", status, step
            case fromOffsetMS = "from_offset_ms", toOffsetMS = "to_offset_ms", detail
        }
    }

    public struct Check: Sendable, Codable, Equatable {
        public var check: String
        public var host: String?
        public var from: String?
        public var attempt: Int
        public var offsetMS: Double?
        public var expect: Expect
        /// `passed`, `failed`, `error`, `skipped`: what the probe found.
        public var outcome: CheckOutcome.Status
        /// Whether that was what was expected.
        public var met: Bool
        public var detail: String

        public var label: String { host.map { "\(check)@\($0)" } ?? check }

        /// What the probe found, against what was expected, in words that cannot contradict
        /// the mark beside them (never `✓ failed` or `✗ passed`).
        public var verdict: String {
            switch (outcome, expect) {
            case (.passed, .up): return "up"
            case (.failed, .down): return "down, as expected"
            case (.failed, .up): return "down (expected up)"
            case (.passed, .down): return "still up (expected down)"
            case (.error, _): return "could not check"
            case (.skipped, _): return "not checked"
            }
        }

        enum CodingKeys: String, CodingKey { case check, host, from, attempt, offsetMS = "offset_ms", expect, outcome, met, detail }
    }

    public struct HostResult: Sendable, Codable, Equatable {
        public var host: String
        /// `passed`, `failed`, `timed out`, `unknown`, `not sent`, `interrupted`, `running` (no end recorded), or a transport error.
        public var outcome: HostOutcome
        public var passed: Bool
        public var text: String
        public var command: String?
        public var exit: Int?
        public var startedOffsetMS: Double?
        public var durationMS: Double?
        public var stdout: String?
        public var stderr: String?

        enum CodingKeys: String, CodingKey {
            case host, outcome, passed, text, command, exit, startedOffsetMS = "started_offset_ms", durationMS = "duration_ms", stdout, stderr
        }
    }

    public struct Verify: Sendable, Codable, Equatable {
        public var withinSeconds: Double?
        public var holdSeconds: Double?
        public var passed: Bool?
        public var attempts: Int?
        public var detail: String?
        public var flaps: [String]
        public var samples: [Check]

        /// One verify attempt: when it started, how many of its samples met what was expected, and those that did not.
        public struct Attempt: Sendable, Equatable {
            public var number: Int
            public var offsetMS: Double?
            public var samples: Int
            public var met: Int
            public var unmet: [Check]
            public var allMet: Bool { met == samples }
        }

        /// The samples grouped by attempt, in order.
        public var attemptsSummary: [Attempt] {
            var order: [Int] = []
            var by: [Int: Attempt] = [:]
            for c in samples {
                if by[c.attempt] == nil {
                    order.append(c.attempt)
                    by[c.attempt] = Attempt(number: c.attempt, offsetMS: c.offsetMS, samples: 0, met: 0, unmet: [])
                }
                by[c.attempt]?.samples += 1
                if c.met { by[c.attempt]?.met += 1 } else { by[c.attempt]?.unmet.append(c) }
            }
            return order.compactMap { by[$0] }
        }

        /// Above this many samples, text, Markdown and HTML list attempts (with every sample that
        /// did not meet its expectation) instead of every sample; JSON keeps every sample.
        public static let samplesListedMax = 60

        enum CodingKeys: String, CodingKey {
            case withinSeconds = "within_seconds", holdSeconds = "hold_seconds", passed, attempts, detail, flaps, samples
        }
    }

    public struct Step: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        /// `failover`, `restore`, `on_failure`.
        public var phase: Phase
        /// `command` or `manual`.
        public var kind: StepSpec.Kind
        public var pattern: String?
        /// `passed`, `failed`, `skipped`, `interrupted`, `unfinished`, or `not run` (planned, never started).
        public var result: StepStatus
        public var detail: String?
        public var startedOffsetMS: Double?
        public var durationMS: Double?
        public var hosts: [HostResult]
        /// The hosts the plan gave the step.
        public var plannedHosts: [String]
        public var verify: Verify?
        /// A manual step: what the operator was asked, the answer and who gave it.
        public var instruction: String?
        public var manualResult: ManualOutcome?
        public var answeredBy: String?
        /// A staged step's batches (`serial:`), in order; nil when it ran all at once.
        public var batches: [[String]]?

        enum CodingKeys: String, CodingKey {
            case id, name, phase, kind, pattern, result, detail, startedOffsetMS = "started_offset_ms", durationMS = "duration_ms", hosts, plannedHosts = "planned_hosts", verify
            case instruction, manualResult = "manual_result", answeredBy = "answered_by", batches
        }
    }

    public struct Restore: Sendable, Codable, Equatable {
        /// Whether the failover changed any host (then restore must run).
        public var touched: Bool?
        /// Why restore started: `completed` (after a finished failover), `step_failed`, `interrupted`, …
        public var reason: String?
        /// `completed`, `failed`, `abandoned`, `not_needed`, `not_run`, or nil when the run stopped before.
        public var status: RestoreStatus?
        public var summary: String
        /// The state the hosts were left in, in words.
        public var hostsLeft: String
        public var steps: [String]
        public var leftovers: [String]

        enum CodingKeys: String, CodingKey { case touched, reason, status, summary, hostsLeft = "hosts_left", steps, leftovers }
    }

    public struct AfterAction: Sendable, Codable, Equatable {
        /// Whether the run is in the history database (annotations live there).
        public var inHistory: Bool
        public var annotations: [Annotation]
        /// nil when the annotation chain holds; else what was changed.
        public var problem: String?
        /// Why there is nothing, when there is nothing.
        public var note: String?

        enum CodingKeys: String, CodingKey { case inHistory = "in_history", annotations, problem, note }
    }

    public struct Comparison: Sendable, Codable, Equatable {
        public var run: String
        public var started: String
        public var result: RunStatus
        public var score: Double
        public var grade: String
        public var scoreDelta: Double
        public var rtoSeconds: Double?
        public var rtoDeltaSeconds: Double?
        public var rpoSeconds: Double?
        public var rpoDeltaSeconds: Double?

        enum CodingKeys: String, CodingKey {
            case run, started, result, score, grade, scoreDelta = "score_delta", rtoSeconds = "rto_seconds", rtoDeltaSeconds = "rto_delta_seconds"
            case rpoSeconds = "rpo_seconds", rpoDeltaSeconds = "rpo_delta_seconds"
        }
    }

    public struct TrendPoint: Sendable, Codable, Equatable {
        public var run: String
        public var started: String
        public var result: RunStatus
        public var score: Double
        public var rtoSeconds: Double?

        enum CodingKeys: String, CodingKey { case run, started, result, score, rtoSeconds = "rto_seconds" }
    }

    public struct Evidence: Sendable, Codable, Equatable {
        public var playbook: String?
        public var playbookSHA256: String?
        public var inventory: [String]
        public var inventorySHA256: String?
        /// The Firedrill version that ran the drill, and the one that wrote this report.
        public var runVersion: String?
        public var reportVersion: String
        /// When this report was made (ISO 8601 UTC); nil in the golden tests.
        public var generatedAt: String?
        public var journal: String
        public var events: Int
        public var headHash: String
        /// Re-verified when the report was made.
        public var chainVerified: Bool
        /// What is wrong with the journal (nil when intact).
        public var problem: String?
        public var sealed: Bool
        /// What weakens the evidence without damaging it (no seal file, the history unreadable).
        public var warnings: [String] = []
        /// The signed approval the drill ran under (document and signature as recorded), if one was required.
        public var approval: ApprovalRecord?

        enum CodingKeys: String, CodingKey {
            case playbook, playbookSHA256 = "playbook_sha256", inventory, inventorySHA256 = "inventory_sha256", runVersion = "run_version"
            case reportVersion = "report_version", generatedAt = "generated_at", journal, events, headHash = "head_hash", chainVerified = "chain_verified", problem, sealed, warnings
            case approval
        }
    }

    public struct Requirement: Sendable, Codable, Equatable {
        /// `HIPAA 164.308(a)(7)(ii)(B)`, …
        public var id: String
        public var framework: Framework
        public var title: String
        /// `evidenced`, `partial`, or `missing`.
        public var status: RequirementStatus
        /// Which evidence in this report answers it.
        public var evidence: String
    }
}

extension DrillReport {
    /// RTO and RPO, in that order (a list of two in the JSON).
    public struct Objectives: Sendable, Codable, Equatable {
        public var rto: Objective
        public var rpo: Objective

        public init(rto: Objective, rpo: Objective) { self.rto = rto; self.rpo = rpo }

        public var all: [Objective] { [rto, rpo] }

        public init(from decoder: any Decoder) throws {
            let list = try [Objective](from: decoder)
            guard list.count == 2 else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "objectives are RTO and RPO"))
            }
            self.init(rto: list[0], rpo: list[1])
        }

        public func encode(to encoder: any Encoder) throws { try all.encode(to: encoder) }
    }

    public enum HostStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case reachable, unreachable
        /// The run stopped before the host was tried.
        case notChecked = "not checked"
        public var description: String { rawValue }
    }

    public enum ObjectiveName: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case rto = "RTO", rpo = "RPO"
        public var description: String { rawValue }
    }

    public enum ObjectiveStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case met, exceeded
        /// Measured, with no objective to compare with.
        case measured
        case notMeasured = "not measured"
        /// RPO: the marker was not found.
        case dataLost = "data lost"
        case noObjective = "no objective"
        case noDataCheck = "no data check"
        public var description: String { rawValue }

        /// Whether it tells of a problem (red), of success (green), or neither.
        public var verdict: Bool? {
            switch self {
            case .met: return true
            case .exceeded, .notMeasured, .dataLost: return false
            case .measured, .noObjective, .noDataCheck: return nil
            }
        }
    }

    /// How a step ended, or that it never started.
    public enum StepStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case passed, failed, skipped, interrupted
        /// Started, with no end recorded.
        case unfinished
        /// Planned, never started.
        case notRun = "not run"
        public var description: String { rawValue }

        public init(_ r: StepResult?) {
            switch r {
            case .passed?: self = .passed
            case .failed?: self = .failed
            case .skipped?: self = .skipped
            case .interrupted?: self = .interrupted
            case nil: self = .unfinished
            }
        }
    }

    /// How one host's command ended.
    public enum HostOutcome: Sendable, Equatable, Hashable, RawRepresentable, Codable, CustomStringConvertible {
        case passed, failed
        case timedOut
        /// No end recorded.
        case running
        /// It did not end with a status of its own (unknown, not sent, interrupted, a transport error).
        case notCompleted(CommandFailure)

        public init?(rawValue: String) {
            switch rawValue {
            case "passed": self = .passed
            case "failed": self = .failed
            case "timed out": self = .timedOut
            case "running": self = .running
            default:
                guard let f = CommandFailure(rawValue: rawValue.replacingOccurrences(of: " ", with: "_")) else { return nil }
                self = .notCompleted(f)
            }
        }

        public var rawValue: String {
            switch self {
            case .passed: return "passed"
            case .failed: return "failed"
            case .timedOut: return "timed out"
            case .running: return "running"
            case let .notCompleted(f): return f.rawValue.replacingOccurrences(of: "_", with: " ")
            }
        }

        public var description: String { rawValue }
    }

    /// The frameworks the requirement map quotes, by clause number (never paraphrased law).
    public enum Framework: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case hipaa, cms, nist, dora, nis2, iso22301, soc2, pci
        public var description: String { rawValue }
    }

    public enum RequirementStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case evidenced, partial, missing
        public var description: String { rawValue }
    }
}

extension DrillReport {
    /// The report of a journal's events as read now (`problem`: the first damage found, if any).
    public init(record r: DrillRecord, journal: String, events: Int, headHash: String, problem: String?, sealed: Bool,
                history: ReportHistory, reportVersion: String) {
        let facts = r.facts
        let score = Score(r)
        let result = r.status
        overview = Overview(run: r.runID ?? "", name: r.name ?? facts?.service ?? "", service: facts?.service ?? r.name ?? "",
                            scenario: facts?.scenario, exercise: facts?.exercise, criticality: facts.flatMap { Criticality(rawValue: $0.criticality) },
                            owner: facts?.owner, operator: facts?.operator ?? "", controller: facts?.controller ?? "",
                            started: r.startedAt, ended: r.endedAt, result: result, resultText: Self.resultText(r, result),
                            resumed: r.resumes.count, score: score.points, grade: score.grade.rawValue)
        scope = Self.scope(r)
        objectives = Self.objectives(r)
        steadyState = r.steadyState.map(Self.check)
        timeline = Self.timeline(r)
        restore = Self.restore(r)
        finalState = r.finalState.map(Self.check)
        self.score = score
        findings = r.failures + r.skippedSteps.map { "skipped \($0.label): \($0.detail ?? "")" }
        var notes = r.notes
        notes += r.leftovers.map { "\($0.step) on \($0.host): \($0.detail)" }
        notes += r.interrupts.map { "interrupt at \($0.time): \($0.detail)" }
        if let failed = r.journalFailed { notes.append("the journal stopped taking events: \(failed)") }
        if !r.resumes.isEmpty { notes.append("the runner died and the run was resumed \(r.resumes.count)× (offsets restart at each resume)") }
        self.notes = notes
        afterAction = AfterAction(inHistory: history.inHistory, annotations: history.annotations, problem: history.annotationProblem,
                                  note: history.inHistory ? (history.annotations.isEmpty ? "no after-action review recorded yet: firedrill annotate \(r.runID ?? "RUN") --verdict …" : nil)
                                      : (history.note ?? "the run is not in the history database: firedrill import \(journal)"))
        let mine = history.runs.firstIndex { $0.id == r.runID }
        let earlier = mine.map { Array(history.runs[..<$0]) } ?? history.runs.filter { $0.started < (r.startedAt ?? "") }
        previous = earlier.last.map { p in
            let rto = r.rto?.passed == false ? nil : r.rto?.seconds
            let rpo = r.rpo?.passed == true ? r.rpo?.seconds : nil
            return Comparison(run: p.id, started: p.started, result: RunStatus(text: p.result), score: p.score, grade: p.grade,
                              scoreDelta: ScoreCalculator.round(score.points - p.score), rtoSeconds: p.rtoSeconds,
                              rtoDeltaSeconds: Self.zip2(rto, p.rtoSeconds).map { Self.round2($0 - $1) }, rpoSeconds: p.rpoSeconds,
                              rpoDeltaSeconds: Self.zip2(rpo, p.rpoSeconds).map { Self.round2($0 - $1) })
        }
        var points = history.runs.map { TrendPoint(run: $0.id, started: $0.started, result: RunStatus(text: $0.result), score: $0.score, rtoSeconds: $0.rtoSeconds) }
        if mine == nil, let id = r.runID {
            points = earlier.map { TrendPoint(run: $0.id, started: $0.started, result: RunStatus(text: $0.result), score: $0.score, rtoSeconds: $0.rtoSeconds) }
            points.append(TrendPoint(run: id, started: r.startedAt ?? "", result: result, score: score.points, rtoSeconds: r.rto?.passed == false ? nil : r.rto?.seconds))
        } else if let mine {
            points = Array(points[...mine])
        }
        trend = Array(points.suffix(20))
        evidence = Evidence(playbook: facts?.playbook, playbookSHA256: facts?.playbookSHA256, inventory: facts?.inventory ?? [],
                            inventorySHA256: facts?.inventorySHA256, runVersion: facts?.version, reportVersion: reportVersion,
                            journal: journal, events: events, headHash: headHash, chainVerified: problem == nil, problem: problem, sealed: sealed)
        evidence.approval = facts?.approval
        if !sealed && r.isFinished {
            evidence.warnings.append("the journal has no seal (journal.jsonl.head beside it): its last line and its completeness cannot be proven")
        }
        if let p = history.problem { evidence.warnings.append("the history could not be read (\(p)): the after-action review and earlier drills are missing") }
        requirements = []
        headline = Headline(cause: nil, moreFindings: 0, downtime: nil, operatorVerdict: nil, verdictBy: nil, disagrees: false, openActions: [])
        requirements = Self.requirements(self, r)
        headline = Self.headline(self, openActions: history.openActions)
    }

    static func zip2(_ a: Double?, _ b: Double?) -> (Double, Double)? {
        guard let a, let b else { return nil }
        return (a, b)
    }

    static func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }

    static func resultText(_ r: DrillRecord, _ result: RunStatus) -> String {
        switch result {
        case .passed: return "PASSED"
        case .failed: return "FAILED"
        case .interrupted: return "INTERRUPTED"
        case .preconditions: return r.resumes.isEmpty ? "NOT STARTED (preconditions not met)" : "NOT RESUMED (hosts unreachable)"
        case .incomplete: return "RECORD INCOMPLETE"
        case .unfinished: return "UNFINISHED (no end recorded)"
        case .unknown: return "UNKNOWN (the journal is damaged before it says)"
        }
    }

    static func scope(_ r: DrillRecord) -> Scope {
        // Planned hosts, with what preflight found of each; a host the journal names that the
        // plan does not (an older journal) is listed too — no host is ever dropped.
        var names: [String] = []
        var address: [String: String] = [:]
        var groups: [String: [String]] = [:]
        if case let .array(hosts)? = r.plan?["hosts"] {
            for h in hosts {
                guard case let .string(name)? = h["name"] else { continue }
                names.append(name)
                if case let .string(a)? = h["address"] {
                    let port: String = if case let .number(p)? = h["port"] { String(Int(p)) } else { "22" }
                    address[name] = a.contains(":") ? "[\(a)]:\(port)" : "\(a):\(port)"
                }
                if case .string("local")? = h["kind"] { address[name] = "local" }
            }
        }
        if case let .object(g)? = r.plan?["host_groups"] {
            for (host, list) in g {
                if case let .array(items) = list { groups[host] = items.compactMap { if case let .string(s) = $0 { s } else { nil } } }
            }
        }
        for h in r.hosts where !names.contains(h.name) { names.append(h.name) }
        let hosts = names.map { name -> Host in
            let seen = r.hosts.first { $0.name == name }
            let status: HostStatus = seen.map { $0.ready ? .reachable : .unreachable } ?? .notChecked
            return Host(name: name, address: address[name] ?? seen?.endpoint, groups: groups[name] ?? [], status: status,
                        detail: seen?.detail, trustedNewKey: seen?.trustedNewKey ?? false)
        }
        return Scope(hosts: hosts, unreachable: hosts.filter { $0.status == .unreachable }.map(\.name), limit: r.facts?.limit,
                     inventory: r.facts?.inventory ?? [], extraVarNames: r.facts?.extraVarNames ?? [])
    }

    static func objectives(_ r: DrillRecord) -> Objectives {
        let rtoObjective = r.facts?.rtoObjectiveSeconds ?? r.rto?.objectiveSeconds
        let rtoMeasured = r.rto?.passed == false ? nil : r.rto?.seconds
        let rtoStatus: ObjectiveStatus = rtoMeasured.map { m in rtoObjective.map { m <= $0 ? .met : .exceeded } ?? .measured }
            ?? (rtoObjective == nil ? .noObjective : .notMeasured)
        let rpoObjective = r.facts?.rpoObjectiveSeconds ?? r.rpo?.objectiveSeconds
        let rpoMeasured = r.rpo?.passed == true ? r.rpo?.seconds : nil
        let rpoStatus: ObjectiveStatus
        if r.rpo?.passed == false { rpoStatus = .dataLost }
        else if let m = rpoMeasured { rpoStatus = rpoObjective.map { m <= $0 ? .met : .exceeded } ?? .measured }
        else if r.marker == nil && !(r.plan.map { ($0["data_check"] ?? .null) != .null } ?? false) { rpoStatus = .noDataCheck }
        else { rpoStatus = rpoObjective == nil ? .noObjective : .notMeasured }
        return Objectives(
            rto: Objective(name: .rto, objectiveSeconds: rtoObjective, measuredSeconds: rtoMeasured, status: rtoStatus, step: r.rto?.step,
                           fromOffsetMS: r.rto?.fromOffsetMS, toOffsetMS: r.rto?.toOffsetMS, detail: r.rto?.detail),
            rpo: Objective(name: .rpo, objectiveSeconds: rpoObjective, measuredSeconds: rpoMeasured, status: rpoStatus, step: r.rpo?.step,
                           fromOffsetMS: r.rpo?.fromOffsetMS, toOffsetMS: r.rpo?.toOffsetMS, detail: r.rpo?.detail))
    }

    static func check(_ c: DrillRecord.CheckSample) -> Check {
        Check(check: c.check, host: c.host, from: c.from, attempt: c.attempt, offsetMS: c.offsetMS, expect: c.expect,
              outcome: c.outcome, met: c.met, detail: c.detail)
    }

    /// The steps that started, in order, then the planned ones that never did (`not run`).
    static func timeline(_ r: DrillRecord) -> [Step] {
        var steps = r.steps.map(step)
        for phase in ["steps", "restore"] {
            guard case let .array(planned)? = r.plan?[phase] else { continue }
            for p in planned {
                guard case let .string(id)? = p["id"], !steps.contains(where: { $0.id == id }) else { continue }
                func text(_ k: String) -> String? { if case let .string(v)? = p[k] { v } else { nil } }
                let hosts: [String] = if case let .array(h)? = p["hosts"] { h.compactMap { if case let .string(s) = $0 { s } else { nil } } } else { [] }
                let verify: Verify? = (p["verify"] ?? .null) == .null ? nil : Verify(withinSeconds: nil, holdSeconds: nil, passed: nil, attempts: nil, detail: nil, flaps: [], samples: [])
                steps.append(Step(id: id, name: text("name") ?? "", phase: text("phase").flatMap(Phase.init(rawValue:)) ?? (phase == "steps" ? .failover : .restore),
                                  kind: text("kind").flatMap(StepSpec.Kind.init(rawValue:)) ?? .command, pattern: text("pattern"), result: .notRun,
                                  detail: r.preconditions != nil ? "the drill did not start"
                                      : phase == "restore" && r.restore?.status == .failed ? "not started: restore stopped at the step that failed"
                                      : phase == "restore" && r.restore?.status == .notNeeded ? "not needed: nothing was failed over"
                                      : "not started: the run ended before it",
                                  startedOffsetMS: nil, durationMS: nil, hosts: [], plannedHosts: hosts, verify: verify,
                                  instruction: text("instruction"), manualResult: nil, answeredBy: nil))
            }
        }
        return steps
    }

    static func step(_ s: DrillRecord.StepRecord) -> Step {
        let hosts = s.commands.map { c -> HostResult in
            let outcome: HostOutcome
            if let end = c.end {
                if end.passed { outcome = .passed }
                else if end.timedOut == true { outcome = .timedOut }
                else if end.exit != nil || end.signal != nil { outcome = .failed }
                else { outcome = end.failure.map(HostOutcome.notCompleted) ?? .failed }
            } else {
                outcome = .running
            }
            let text = !c.finished ? "no end recorded" : c.evidence
            return HostResult(host: c.host, outcome: outcome, passed: c.passed, text: text, command: c.command, exit: c.end?.exit,
                              startedOffsetMS: c.startedOffsetMS, durationMS: c.end?.durationMS, stdout: c.end?.stdout, stderr: c.end?.stderr)
        }
        let verify = (s.verify != nil || s.spec?.verify != nil) ? Verify(
            withinSeconds: s.spec?.verify?.withinSeconds, holdSeconds: s.spec?.verify?.holdSeconds, passed: s.verify?.passed,
            attempts: s.verify?.attempts, detail: s.verify?.detail, flaps: s.verify?.flaps ?? [], samples: (s.verify?.samples ?? []).map(check)) : nil
        return Step(id: s.id, name: s.name, phase: s.phase ?? .failover, kind: s.isManual ? .manual : .command,
                    pattern: s.spec?.pattern, result: StepStatus(s.result), detail: s.detail, startedOffsetMS: s.startedOffsetMS,
                    durationMS: s.durationMS, hosts: hosts, plannedHosts: s.spec?.hosts ?? hosts.map(\.host), verify: verify,
                    instruction: s.spec?.instruction, manualResult: s.manualResult, answeredBy: s.manualAnsweredBy,
                    batches: (s.spec?.batches.filter { !$0.isEmpty }).flatMap { $0.count > 1 ? $0 : nil })
    }

    static func restore(_ r: DrillRecord) -> Restore {
        let status = r.restore?.status ?? (r.ending?.touched == false ? .notNeeded : nil)
        let summary = r.ending?.restore ?? r.restore?.detail ?? (r.isFinished ? "restore did not run" : "the run stopped before restore was recorded")
        let left = r.ending?.finalState ?? (r.isFinished ? "not recorded" : "unknown: the run has no end; resume it (firedrill run --resume)")
        // Why restore started, in words (`restore_started`'s reason).
        let reason: String? = r.restore?.reason.map {
            switch $0 {
            case .completed: return "after the failover completed"
            case .stepFailed: return "after a failover step failed"
            case .interrupted: return "after an interrupt"
            case .journalFailed: return "after the journal failed"
            case .resumed: return "on resume, after the runner died"
            case .guardTripped: return "after a guard tripped"
            }
        }
        return Restore(touched: r.ending?.touched, reason: reason, status: status, summary: summary, hostsLeft: left,
                       steps: r.steps.filter { $0.phase == .restore }.map { "\($0.label): \(StepStatus($0.result))" },
                       leftovers: r.leftovers.map { "\($0.step) on \($0.host): \($0.verdict?.rawValue ?? "") \($0.detail)" })
    }

    /// Which evidence in this report answers which requirement, and how fully.
    static func requirements(_ report: DrillReport, _ r: DrillRecord) -> [Requirement] {
        let started = report.timeline.filter { $0.result != .notRun }
        let ran = !started.isEmpty
        let passed = report.overview.result == .passed
        let chain = report.evidence.chainVerified ? "journal chain verified (\(report.evidence.events) events)" : "journal DAMAGED"
        let verifies = started.filter { $0.phase == .failover && $0.verify != nil }
        let held = verifies.filter { $0.verify?.passed == true }.count
        let rto = report.objectives.rto, rpo = report.objectives.rpo
        let reviewed = !report.afterAction.annotations.isEmpty
        let actions = report.afterAction.annotations.reduce(0) { $0 + $1.actions.count }
        let restored = report.restore.status == .completed
        var out: [Requirement] = []
        out.append(Requirement(
            id: "HIPAA 164.308(a)(7)(ii)(B)", framework: .hipaa, title: "Disaster recovery plan: procedures to restore any loss of data",
            status: !ran ? .missing : restored && passed ? .evidenced : .partial,
            evidence: "playbook \(report.evidence.playbook ?? "?") (SHA-256 \(short(report.evidence.playbookSHA256))) defines failover and restore; "
                + (ran ? "this drill ran \(started.filter { $0.phase == .failover }.count) failover and \(started.filter { $0.phase == .restore }.count) restore steps; restore: \(report.restore.status?.rawValue ?? "not run"); RPO \(rpo.status)" : "the drill did not run (\(report.overview.resultText))")))
        out.append(Requirement(
            id: "HIPAA 164.308(a)(7)(ii)(C)", framework: .hipaa, title: "Emergency mode operation plan: critical processes continue during the emergency",
            status: !ran || verifies.isEmpty ? .missing : held == verifies.count ? .evidenced : .partial,
            evidence: verifies.isEmpty ? "no failover step verified the service" : "\(held) of \(verifies.count) failover steps showed the service answering (verify held); RTO \(rto.status)"))
        out.append(Requirement(
            id: "HIPAA 164.308(a)(7)(ii)(D)", framework: .hipaa, title: "Testing and revision procedures",
            status: !ran ? .partial : reviewed && report.evidence.chainVerified ? .evidenced : .partial,
            evidence: "drill \(report.overview.run) on \(report.overview.started ?? "?"), \(chain); score \(ScoreRenderer.num(report.score.points)) (\(report.score.grade.rawValue)); "
                + (reviewed ? "after-action review recorded (\(ReportText.count(report.afterAction.annotations.count, "annotation")), \(ReportText.count(actions, "action item")))" : "no after-action review recorded yet (firedrill annotate)")))
        out.append(Requirement(
            id: "HIPAA 164.308(a)(7)(ii)(E)", framework: .hipaa, title: "Applications and data criticality analysis",
            status: report.overview.criticality == nil ? .missing : rto.objectiveSeconds != nil ? .evidenced : .partial,
            evidence: "service \(report.overview.service) rated \(report.overview.criticality?.rawValue ?? "?"); objectives RTO \(rto.objectiveSeconds.map(ReportText.duration) ?? "not set"), RPO \(rpo.objectiveSeconds.map(ReportText.duration) ?? "not set")"))
        out.append(Requirement(
            id: "CMS 482.15(d)(2)", framework: .cms, title: "Testing for emergency preparedness: exercises and their after-action analysis",
            status: !ran ? .missing : reviewed ? .evidenced : .partial,
            evidence: "\(report.overview.exercise.map { "\($0) exercise" } ?? "exercise (type not set in the playbook)") of scenario \"\(report.overview.scenario ?? "not set")\"; "
                + (reviewed ? "analysis and action items recorded" : "after-action analysis still to record (firedrill annotate)")))
        out.append(Requirement(
            id: "NIST SP 800-53 CP-4 / SP 800-84", framework: .nist, title: "Contingency plan testing: test, review the results, take corrective action",
            status: !ran ? .missing : reviewed && report.evidence.chainVerified ? .evidenced : .partial,
            evidence: "timeline of every step and verify attempt, \(ReportText.count(report.score.deductions.count, "deduction")) with evidence, \(chain)"
                + (report.previous.map { "; compared with the previous drill \($0.run)" } ?? "")
                + (reviewed ? "; \(ReportText.count(actions, "corrective action item")) with owners and due dates" : "")))
        // Beyond US healthcare: the clauses that ask for recovery to be tested, by number.
        let measured = rto.status == .met && rpo.status == .met
        let drill = ran ? "drill \(report.overview.run) \(report.overview.resultText), restore \(report.restore.status?.rawValue ?? "not run")" : "the drill did not run (\(report.overview.resultText))"
        out.append(Requirement(
            id: "DORA Art. 11", framework: .dora, title: "Regulation (EU) 2022/2554, Article 11: Response and recovery (ICT business continuity plans, tested)",
            status: !ran ? .missing : passed && restored && reviewed ? .evidenced : .partial,
            evidence: "\(drill); " + (reviewed ? "after-action review recorded" : "no after-action review recorded yet (firedrill annotate)")))
        out.append(Requirement(
            id: "DORA Art. 12", framework: .dora, title: "Regulation (EU) 2022/2554, Article 12: Backup policies and procedures, restoration and recovery procedures and methods",
            status: !ran ? .missing : restored && rpo.status == .met ? .evidenced : .partial,
            evidence: "\(drill); RPO \(rpo.status)\(rpo.measuredSeconds.map { " (\(ReportText.duration($0)))" } ?? ""), restore \(report.restore.summary)"))
        out.append(Requirement(
            id: "NIS2 Art. 21(2)(c)", framework: .nis2, title: "Directive (EU) 2022/2555, Article 21(2)(c): business continuity, backup management and disaster recovery",
            status: !ran ? .missing : passed && restored ? .evidenced : .partial,
            evidence: "\(drill); RTO \(rto.status), RPO \(rpo.status)"))
        out.append(Requirement(
            id: "ISO 22301:2019 8.5", framework: .iso22301, title: "Exercise programme: exercises, their post-exercise reports and the actions they lead to",
            status: !ran ? .missing : reviewed ? .evidenced : .partial,
            evidence: "\(report.overview.exercise.map { "\($0) exercise" } ?? "exercise (type not set in the playbook)"); this report; "
                + (reviewed ? "\(ReportText.count(actions, "action item")) recorded" : "post-exercise review still to record (firedrill annotate)")))
        out.append(Requirement(
            id: "SOC 2 A1.3", framework: .soc2, title: "Trust Services Criteria A1.3: recovery plan procedures supporting system recovery are tested",
            status: !ran ? .missing : restored && measured ? .evidenced : .partial,
            evidence: "\(drill); RTO \(rto.status) and RPO \(rpo.status) against the objectives"))
        out.append(Requirement(
            id: "PCI DSS v4.0.1 12.10.2", framework: .pci, title: "The incident response plan is tested at least once every 12 months",
            status: !ran ? .missing : report.evidence.chainVerified ? (reviewed ? .evidenced : .partial) : .partial,
            evidence: "drill on \(report.overview.started ?? "?"), \(chain); " + (reviewed ? "review recorded" : "review still to record (firedrill annotate)")))
        return out
    }

    static func short(_ hash: String?) -> String { hash.map { String($0.prefix(12)) } ?? "?" }
}

/// Small wording shared by the report renderers.
enum ReportText {
    /// `1 attempt`, `7 attempts`: no `(s)`.
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    /// `16ms`, `3.25s`, `30s`, `5m` — the same wording as the score's notes.
    static func duration(_ seconds: Double) -> String {
        DurationText.measured(seconds)
    }

    static func offset(_ ms: Double?) -> String {
        guard let ms else { return "" }
        return String(format: "+%.1fs", ms / 1000)
    }

    static func signed(_ x: Double, unit: String = "") -> String {
        (x > 0 ? "+" : x < 0 ? "−" : "±") + ScoreRenderer.num(abs(x)) + unit
    }
}

extension DrillReport {
    public enum Format: String, Sendable, CaseIterable { case text, markdown, html, json, junit }

    /// The report of the journal at `path`, with what the history at `database` adds (nil, or a
    /// file that does not exist: no history). Reading a journal never fails the report: a damaged
    /// one is reported as damaged, with what precedes the damage.
    public static func load(journal path: String, database: String?, reportVersion: String, generatedAt: Date? = nil) async throws -> DrillReport {
        let archive = try RunArchive.open(path)
        guard archive.eventCount > 0 || archive.problem != nil else {
            throw Journal.Failure(message: "\(path) holds no run (empty or missing)")
        }
        var history = ReportHistory(note: database.map { "no history database at \($0): firedrill import \(path) records the run" }
            ?? "no history database given")
        let record = archive.record
        if let database, History.exists(database) {
            do throws(History.Failure) {
                let db = try await History.open(path: database, existing: true)
                history = await db.reportHistory(run: record.runID ?? "", service: record.facts?.service ?? record.name ?? "")
            } catch {
                history = ReportHistory(note: "the history could not be read: \(error.message)", problem: error.message)
            }
        }
        var report = DrillReport(archive: archive, history: history, reportVersion: reportVersion)
        report.evidence.generatedAt = generatedAt.map(Journal.timestamp)
        return report
    }

    /// The report of a journal as read now, with what the history adds. The history remembers how
    /// long the journal was and how it ended: a journal cut back or changed since it was indexed
    /// (its seal file removed with it) does not match, and the report says so.
    public init(archive: RunArchive, history: ReportHistory, reportVersion: String) {
        let count = archive.eventCount, head = archive.lastHash
        var problem = archive.problem
        if problem == nil, let indexed = history.indexedEvents, let indexedHead = history.indexedHead {
            let matches = count == indexed ? head == indexedHead : count > indexed && archive.prev(ofLine: indexed) == indexedHead
            if !matches {
                problem = "the history indexed this run with \(indexed) events (head \(indexedHead.prefix(12))…); this journal has \(count) (head \(head.prefix(12))…) and does not extend it: it was cut or changed since"
            }
        }
        self.init(record: archive.record, journal: archive.path, events: count, headHash: head, problem: problem,
                  sealed: archive.sealed, history: history, reportVersion: reportVersion)
    }

    /// This report in `format` (`style` colours the text format).
    public func rendered(_ format: Format, style: TerminalStyle = TerminalStyle(enabled: false)) throws -> String {
        switch format {
        case .text: return ReportTextRenderer(style: style).render(self)
        case .markdown: return ReportMarkdownRenderer().render(self)
        case .html: return ReportHTMLRenderer().render(self)
        case .junit: return ReportJUnitRenderer().render(self)
        case .json: return try JSONOutput.encode(self) + "\n"
        }
    }
}

/// How a status reads: good news, something to look at, or a problem (colour, and the ✓ – ✗ marks).
public enum Tone: Sendable, Equatable {
    case good, warning, bad

    /// ✓ for good, ✗ for bad, – for neither.
    public var ok: Bool? {
        switch self {
        case .good: return true
        case .warning: return nil
        case .bad: return false
        }
    }
}

extension RunStatus {
    public var tone: Tone {
        switch self {
        case .passed: return .good
        case .interrupted, .unfinished: return .warning
        case .failed, .preconditions, .incomplete, .unknown: return .bad
        }
    }
}

extension DrillReport.StepStatus {
    public var tone: Tone {
        switch self {
        case .passed: return .good
        case .notRun, .skipped, .interrupted, .unfinished: return .warning
        case .failed: return .bad
        }
    }
}

extension DrillReport.RequirementStatus {
    public var tone: Tone {
        switch self {
        case .evidenced: return .good
        case .partial: return .warning
        case .missing: return .bad
        }
    }
}

extension DrillReport.HostStatus {
    public var tone: Tone {
        switch self {
        case .reachable: return .good
        case .notChecked: return .warning
        case .unreachable: return .bad
        }
    }
}

extension DrillReport.ObjectiveStatus {
    public var tone: Tone {
        switch verdict {
        case true?: return .good
        case false?: return .bad
        case nil: return .warning
        }
    }
}
