/// The readiness score of one drill, computed from its journal alone (docs/scoring.md).
///
/// Pure: a `DrillRecord` in, a `Score` out — no clock, no file, no playbook. Rules `score/1`:
/// failover completed 25 · redundancy held after every step 25 · RTO within objective 20 ·
/// RPO within objective 10 · restore completed and the steady state back 20; components without
/// an objective are not applicable and the rest is scaled to 100; honesty caps; grades A–F.
/// Every lost point is a deduction saying why, and earned + deductions = 100, always.
public struct Score: Sendable, Equatable, Codable {
    public static let rules = "score/1"

    public enum Grade: String, Sendable, Codable, Comparable {
        case A, B, C, D, F
        public static func < (a: Grade, b: Grade) -> Bool { a.rawValue > b.rawValue }

        public init(points: Double) {
            switch points {
            case 90...: self = .A
            case 75..<90: self = .B
            case 60..<75: self = .C
            case 40..<60: self = .D
            default: self = .F
            }
        }
    }

    public enum ComponentID: String, Sendable, Codable, CaseIterable {
        case failover, redundancy, rto, rpo, restore
        /// The component's weight in `score/1`.
        public var weight: Double {
            switch self {
            case .failover: return 25
            case .redundancy: return 25
            case .rto: return 20
            case .rpo: return 10
            case .restore: return 20
            }
        }

        public var title: String {
            switch self {
            case .failover: return "failover completed"
            case .redundancy: return "redundancy held after every step"
            case .rto: return "RTO within objective"
            case .rpo: return "RPO within objective"
            case .restore: return "restore completed and steady state back"
            }
        }
    }

    public struct Component: Sendable, Equatable, Codable {
        public var id: ComponentID
        public var weight: Double
        public var applicable: Bool
        /// After scaling to 100 over the applicable components.
        public var possible: Double
        public var earned: Double
        /// Why it is not applicable, or what was measured.
        public var note: String?
    }

    public struct Deduction: Sendable, Equatable, Codable {
        /// Points lost (positive), on the 0–100 scale.
        public var points: Double
        /// A component id, or `cap`.
        public var component: String
        public var reason: String
        public var step: String?
        public var host: String?
        public var check: String?
        /// The journal's evidence.
        public var evidence: String?
    }

    public var rules: String = Score.rules
    public var points: Double
    public var grade: Grade
    public var components: [Component]
    public var deductions: [Deduction]

    enum CodingKeys: String, CodingKey { case rules, points, grade, components, deductions }

    /// The run's score. A run that never got past preflight scores 0.
    public init(_ record: DrillRecord) {
        self = ScoreCalculator(record).score()
    }

    init(points: Double, components: [Component], deductions: [Deduction]) {
        self.points = points
        self.grade = Grade(points: points)
        self.components = components
        self.deductions = deductions
    }
}

/// The rules of `score/1`, one function per component.
struct ScoreCalculator {
    let record: DrillRecord

    init(_ record: DrillRecord) { self.record = record }

    typealias ID = Score.ComponentID
    /// A component's raw result: earned (of its weight), the lost points with their reasons, a note.
    struct Part {
        var earned: Double
        var losses: [(points: Double, d: Score.Deduction)] = []
        var note: String?
    }

    var failoverSteps: [DrillRecord.StepRecord] { record.steps.filter { $0.phase == .failover } }
    var restoreSteps: [DrillRecord.StepRecord] { record.steps.filter { $0.phase == .restore } }
    var started: Bool { record.preconditions == nil && !failoverSteps.isEmpty }

    func score() -> Score {
        var applicable: [(ID, Part?)] = []
        applicable.append((.failover, failover()))
        applicable.append((.redundancy, redundancy()))
        applicable.append((.rto, rto()))
        applicable.append((.rpo, rpo()))
        applicable.append((.restore, restore()))
        let possible = applicable.compactMap { $0.1 == nil ? nil : $0.0.weight }.reduce(0, +)
        let scale = possible > 0 ? 100 / possible : 0
        var components: [Score.Component] = []
        var deductions: [Score.Deduction] = []
        var total = 0.0
        for (id, part) in applicable {
            guard let part else {
                components.append(.init(id: id, weight: id.weight, applicable: false, possible: 0, earned: 0, note: notApplicable(id)))
                continue
            }
            let earned = Self.round(part.earned * scale)
            components.append(.init(id: id, weight: id.weight, applicable: true, possible: Self.round(id.weight * scale), earned: earned, note: part.note))
            total += part.earned * scale
            for loss in part.losses where loss.points > 0 {
                var d = loss.d
                d.points = loss.points * scale
                deductions.append(d)
            }
        }
        // Honesty caps: what the measurements cannot vouch for.
        for cap in caps() where total > cap.limit {
            deductions.append(.init(points: total - cap.limit, component: "cap", reason: cap.reason))
            total = cap.limit
        }
        // Rounded to a tenth for people; what rounding moved goes to the largest deduction, so
        // earned + deductions = 100 still holds in the numbers shown.
        let points = Self.round(total)
        deductions = deductions.map { var d = $0; d.points = Self.round(d.points); return d }
        if let i = deductions.indices.max(by: { deductions[$0].points < deductions[$1].points }) {
            deductions[i].points = Self.round(deductions[i].points + (100 - points - deductions.reduce(0) { $0 + $1.points }))
        }
        return Score(points: points, components: components, deductions: deductions)
    }

    static func round(_ x: Double) -> Double { (x * 10).rounded() / 10 }

    func notApplicable(_ id: ID) -> String {
        switch id {
        case .rto: return "the playbook sets no RTO objective"
        case .rpo: return record.facts?.rpoObjectiveSeconds == nil ? "the playbook sets no RPO objective" : "the drill has no data check (or its hosts were outside --limit)"
        case .redundancy: return "no failover step verifies the service"
        case .failover, .restore: return "not applicable"
        }
    }

    // MARK: - Components

    /// 25 when every failover step passed.
    func failover() -> Part? {
        guard started else {
            return Part(earned: 0, losses: [(ID.failover.weight, .init(points: 0, component: ID.failover.rawValue,
                        reason: "the drill did not start: " + (record.preconditions ?? "nothing ran")))])
        }
        guard let bad = failoverSteps.first(where: { $0.result != .passed }) else {
            return Part(earned: ID.failover.weight, note: "\(failoverSteps.count) step\(failoverSteps.count == 1 ? "" : "s") passed")
        }
        let failure = firstFailure(bad)
        let why: String
        switch bad.result {
        case .skipped?: why = "not drilled: \(bad.detail ?? "selects no host")"
        case .interrupted?:
            why = record.guardTrip.map { "stopped by guard \($0.label), which \($0.outcome == .failed ? "failed" : "could not be checked") for \(Self.duration($0.seconds ?? 0))" } ?? "interrupted"
        case nil: why = "did not finish"
        // The evidence says what failed; the reason says where.
        case .failed?, .passed?: why = failure?.host.map { "failed on \($0)" } ?? (failure == nil ? (bad.detail ?? "failed") : "failed")
        }
        return Part(earned: 0, losses: [(ID.failover.weight, .init(points: 0, component: ID.failover.rawValue,
                    reason: "\(bad.label) \(bad.result == .skipped ? "was skipped" : "did not pass"): \(why)",
                    step: bad.id, host: failure?.host, evidence: failure?.evidence))])
    }

    /// 25 shared by the failover steps that verify the service: each verify that did not hold (or never ran) loses its share.
    func redundancy() -> Part? {
        let verified = failoverSteps.filter { $0.spec?.verify != nil || $0.verify != nil }
        guard started else { return Part(earned: 0, losses: [(ID.redundancy.weight, .init(points: 0, component: ID.redundancy.rawValue, reason: "the drill did not start"))]) }
        // Steps that were planned with a verify but never reached count too: their redundancy was never shown.
        let planned = plannedFailoverVerifies()
        let total = max(verified.count, planned.count)
        guard total > 0 else { return nil }
        let share = ID.redundancy.weight / Double(total)
        var losses: [(Double, Score.Deduction)] = []
        for step in verified where step.verify?.passed != true {
            let bad = step.verify?.samples.last { !$0.met }
            losses.append((share, .init(points: 0, component: ID.redundancy.rawValue,
                            reason: "\(step.label): verify \(step.verify?.passed == false ? "did not hold" : "did not finish")" + (step.verify?.flaps.isEmpty == false ? " (it flapped \(step.verify?.flaps.count ?? 0)×)" : ""),
                            step: step.id, host: bad?.host, check: bad?.check, evidence: bad?.detail ?? step.verify?.detail)))
        }
        for id in planned where !verified.contains(where: { $0.id == id }) {
            losses.append((share, .init(points: 0, component: ID.redundancy.rawValue, reason: "\(id): its verify never ran (the failover stopped before it)", step: id)))
        }
        let lost = losses.reduce(0) { $0 + $1.0 }
        return Part(earned: ID.redundancy.weight - lost, losses: losses, note: "\(total - losses.count) of \(total) verifies held")
    }

    /// The failover steps the plan says verify (from the plan inside `run_started`).
    func plannedFailoverVerifies() -> [String] {
        guard case let .array(steps)? = record.plan?["steps"] else { return failoverSteps.filter { $0.spec?.verify != nil }.map(\.id) }
        return steps.compactMap { s -> String? in
            guard case let .string(id)? = s["id"], let v = s["verify"], v != .null else { return nil }
            return id
        }
    }

    /// Full at or under the objective, linear to 0 at twice it, 0 when never measured.
    func rto() -> Part? {
        guard let objective = record.facts?.rtoObjectiveSeconds ?? record.rto?.objectiveSeconds, objective > 0 else { return nil }
        return linear(.rto, measured: record.rto?.passed == false ? nil : record.rto?.seconds, objective: objective,
                      missing: "RTO not measured: the service was never shown answering again", step: record.rto?.step,
                      check: record.steps.first { $0.id == record.rto?.step }?.spec?.verify?.checks.filter { $0.expect == .up }.map(\.name).joined(separator: ", "))
    }

    /// As RTO; 0 when the marker was not found (data lost). Applies only with an objective and a data check.
    func rpo() -> Part? {
        guard let objective = record.facts?.rpoObjectiveSeconds ?? record.rpo?.objectiveSeconds, objective > 0, dataCheckPlanned else { return nil }
        if record.rpo?.passed == false {
            return Part(earned: 0, losses: [(ID.rpo.weight, .init(points: 0, component: ID.rpo.rawValue, reason: "the data marker was not found on the standby: data written before the failure was lost",
                                                               evidence: record.rpo?.detail))])
        }
        return linear(.rpo, measured: record.rpo?.seconds, objective: objective, missing: "RPO not measured", step: nil, check: nil)
    }

    var dataCheckPlanned: Bool {
        if let plan = record.plan { return (plan["data_check"] ?? .null) != .null }
        return record.marker != nil
    }

    func linear(_ id: ID, measured: Double?, objective: Double, missing: String, step: String?, check: String?) -> Part {
        let name = id == .rto ? "RTO" : "RPO"
        guard let measured else {
            return Part(earned: 0, losses: [(id.weight, .init(points: 0, component: id.rawValue, reason: missing, step: step))])
        }
        let text = "\(name) \(Self.duration(measured))"
        let goal = DurationText.format(.milliseconds(Int64((objective * 1000).rounded())))
        if measured <= objective { return Part(earned: id.weight, note: "\(text) ≤ objective \(goal)") }
        let fraction = max(0, 1 - (measured - objective) / objective)
        let earned = id.weight * fraction
        let where_ = [step.map { s in record.steps.first { $0.id == s }?.label ?? s }, check.map { "verify \($0)" }].compactMap { $0 }.joined(separator: ", ")
        return Part(earned: earned, losses: [(id.weight - earned, .init(points: 0, component: id.rawValue,
                    reason: "\(text) > objective \(goal)" + (where_.isEmpty ? "" : " (\(where_))"), step: step, check: check))],
                    note: "\(text), objective \(goal)")
    }

    /// 20 when restore completed and the steady state held again afterwards.
    func restore() -> Part? {
        let lose = { (reason: String, step: String?, host: String?, evidence: String?) -> Part in
            Part(earned: 0, losses: [(ID.restore.weight, .init(points: 0, component: ID.restore.rawValue, reason: reason, step: step, host: host, evidence: evidence))])
        }
        guard started else { return lose("the drill did not start", nil, nil, nil) }
        guard let status = record.restore?.status else {
            if record.ending?.touched == false { return lose("nothing was failed over, so nothing was restored", nil, nil, nil) }
            return lose("restore did not run", nil, nil, nil)
        }
        guard status == .completed else {
            let bad = restoreSteps.first { $0.result != .passed }
            let failure = bad.flatMap(firstFailure)
            let what = status == .abandoned ? "restore was abandoned" : "\(bad?.label ?? "restore") failed"
            return lose(what + (failure?.host.map { " on \($0)" } ?? ""), bad?.id, failure?.host, failure?.evidence)
        }
        if let bad = record.finalState.first(where: { !$0.met }) {
            return lose("restore completed but the steady state is not back: \(bad.label)", nil, bad.host, bad.detail)
        }
        // A playbook with no steady-state checks has nothing to re-check: restore completing is all it can show.
        if record.finalState.isEmpty, record.ending?.result == .interrupted, plannedSteadyState != 0 {
            return lose("restore completed but the steady state was not re-checked (interrupted)", nil, nil, nil)
        }
        return Part(earned: ID.restore.weight, note: "restore completed, steady state back")
    }

    /// How many steady-state checks the plan has (nil: an older journal without its plan).
    var plannedSteadyState: Int? {
        guard case let .array(checks)? = record.plan?["steady_state"] else { return nil }
        return checks.count
    }

    /// The first thing that went wrong in a step: a host's command, else its verify.
    func firstFailure(_ step: DrillRecord.StepRecord) -> (host: String?, evidence: String?)? {
        if let c = step.commands.first(where: \.failed) {
            return (c.host, c.evidence)
        }
        if let v = step.verify, v.passed == false {
            let s = v.samples.last { !$0.met }
            return (s?.host, s.map { "\($0.label): \($0.detail)" } ?? v.detail)
        }
        if step.manualResult == .failed || step.manualResult == .noAnswer { return (nil, step.manualDetail) }
        return nil
    }

    // MARK: - Caps

    struct Cap { var limit: Double; var reason: String }

    func caps() -> [Cap] {
        var out: [Cap] = []
        if let limit = record.facts?.limit {
            out.append(Cap(limit: 89, reason: "partial drill (--limit \(limit)): cannot grade A"))
        }
        let flagged = record.steps.filter { $0.manualResult != nil && $0.manualAnsweredBy != "operator" }
        if !flagged.isEmpty {
            out.append(Cap(limit: 89, reason: "manual step\(flagged.count == 1 ? "" : "s") \(flagged.map(\.id).joined(separator: ", ")) answered by \(flagged[0].manualAnsweredBy ?? "a flag"), not by a person: cannot grade A"))
        }
        if record.ending?.result == .interrupted || record.interrupts.contains(where: { $0.response == .stopping }) {
            out.append(Cap(limit: 74, reason: "the drill was interrupted: its measurements are incomplete, it cannot grade above C"))
        }
        if let g = record.guardTrip {
            out.append(Cap(limit: 59, reason: "guard \(g.label) tripped (\(g.outcome == .failed ? "failed" : "could not be checked") for \(Self.duration(g.seconds ?? 0))): production was hurt during the drill, it cannot grade above D"))
        }
        if !record.resumes.isEmpty {
            out.append(Cap(limit: 74, reason: "the runner died and the run was resumed: its measurements are incomplete, it cannot grade above C"))
        }
        // The loosest first, so every cap that applies is named with what it took (89 then 74:
        // −11 and −15, not −26 under one name); the total is the same.
        return out.sorted { $0.limit > $1.limit }
    }

    static func duration(_ seconds: Double) -> String {
        DurationText.measured(seconds)
    }
}
