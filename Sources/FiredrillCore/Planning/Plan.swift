/// What a drill will do, resolved against an inventory: hosts, rendered commands (secrets
/// masked in every printed form), checks, order and deadlines. Nothing in it has run.
///
/// Encoded as JSON with `"format": "firedrill.plan/1"` (see docs/plan-format.md).
public struct Plan: Sendable, Encodable {
    public static let formatVersion = "firedrill.plan/1"
    public var format = Plan.formatVersion
    /// The run this plan is for (`{{ run_id }}` in commands); `RUN-ID` in a preview.
    public var runID: String
    public var playbook: PlaybookInfo
    public var inventory: [String]
    public var limit: String?
    public var objectives: ObjectivesInfo
    public var secrets: [SecretInfo]
    public var hosts: [HostConnection]
    /// The inventory groups each planned host belongs to (directly or through a parent), `all` left out.
    public var hostGroups: [String: [String]] = [:]
    public var steadyState: [PlannedCheck]
    public var dataCheck: PlannedDataCheck?
    /// Checks watched from the first failover command until restore ends (`guards:`).
    public var guards: PlannedGuards? = nil
    public var steps: [PlannedStep]
    public var restore: [PlannedStep]
    public var summary: Summary

    enum CodingKeys: String, CodingKey {
        case format, runID = "run_id", playbook, inventory, limit, objectives, secrets, hosts, hostGroups = "host_groups"
        case steadyState = "steady_state", dataCheck = "data_check", guards, steps, restore, summary
    }

    public struct PlaybookInfo: Sendable, Encodable {
        public var name: String
        public var file: String
        public var service: String
        public var criticality: Criticality
        public var owner: String?
        public var scenario: String?
        public var exercise: ExerciseType?
        public var schedule: ScheduleInfo?
        /// The playbook's `approval:` when it requires one (a configuration policy is checked by `run`).
        public var approval: ApprovalInfo? = nil
        /// The playbook's `notify:` targets, as `webhook env:SLACK_URL (slack) on failed, restore_failed`
        /// (the configuration file's are added by `run`).
        public var notify: [String]? = nil
    }

    public struct ApprovalInfo: Sendable, Encodable {
        public var approvers: [String]
        public var allowedSigners: String
        enum CodingKeys: String, CodingKey { case approvers, allowedSigners = "allowed_signers" }
    }

    public struct ScheduleInfo: Sendable, Encodable {
        public var every: Recurrence
        public var window: String?
        public var timezone: String?
        public var blackout: [String]?
        public var start: String?
        public var grace: Seconds?
    }

    public struct ObjectivesInfo: Sendable, Encodable {
        public var rto: Seconds?
        public var rpo: Seconds?
    }

    public struct SecretInfo: Sendable, Encodable {
        public var name: String
        public var source: String
    }

    public struct Summary: Sendable, Encodable {
        public var hosts: Int
        public var steps: Int
        public var restoreSteps: Int
        public var commands: Int
        public var checks: Int
        public var manualSteps: Int
        /// Sum of every timeout and verify deadline on the success path, steady state included.
        public var estimatedWorstCase: Seconds

        enum CodingKeys: String, CodingKey {
            case hosts, steps, restoreSteps = "restore_steps", commands, checks, manualSteps = "manual_steps"
            case estimatedWorstCase = "estimated_worst_case"
        }
    }
}

/// A duration in plan and journal JSON: `{"seconds": 90, "text": "1m30s"}`.
public struct Seconds: Sendable, Encodable, Equatable {
    public var duration: Duration
    public init(_ d: Duration) { duration = d }
    enum CodingKeys: String, CodingKey { case seconds, text }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(DurationText.seconds(duration), forKey: .seconds)
        try c.encode(DurationText.format(duration), forKey: .text)
    }
}

public struct PlannedCommand: Sendable, Encodable {
    public var host: String
    /// The command to send: secrets are pieces of their own and print masked.
    public var command: RenderedText
    /// Run as another user (sudo), from the step's, playbook's or host's `become`.
    public var become: Become?

    public init(host: String, command: RenderedText, become: Become? = nil) {
        self.host = host; self.command = command; self.become = become
    }
}

public struct PlannedStep: Sendable, Encodable {
    public enum Phase: String, Sendable, Encodable { case failover, restore, onFailure = "on_failure" }
    public enum Kind: String, Sendable, Encodable { case command, manual }

    /// Stable identifier: `failover.2`, `restore.1`, `failover.2.on_failure.1`.
    public var id: String
    public var number: Int
    public var name: String
    public var phase: Phase
    public var kind: Kind
    public var pattern: String?
    public var instruction: String?
    public var hosts: [String]
    public var batches: [[String]]
    public var commands: [PlannedCommand]
    public var timeout: Seconds
    public var maxFailPercentage: Int
    public var disruptive: Bool
    public var verify: PlannedVerify?
    public var onFailure: [PlannedStep]
    public var worstCase: Seconds
    /// A restore step run only on the hosts the failover touched.
    public var onlyTouched = false

    enum CodingKeys: String, CodingKey {
        case id, number, name, phase, kind, pattern, instruction, hosts, batches, commands, timeout
        case maxFailPercentage = "max_fail_percentage", disruptive, verify, onFailure = "on_failure", worstCase = "worst_case"
        case onlyTouched = "only_touched"
    }
}

public struct PlannedVerify: Sendable, Encodable {
    public var within: Seconds
    /// How long the checks must hold, every sample passing, before the verify passes.
    public var hold: Seconds
    public var up: [PlannedCheck]
    public var down: [PlannedCheck]
}

/// One evaluation of a named check: for one host when the check is per host, from a host when it has `on:`.
public struct PlannedCheck: Sendable, Encodable {
    public var name: String
    public var type: String
    /// The host this instance is about (`{{ host }}`), if the check is per host.
    public var host: String?
    /// The host the check runs from over SSH (`on:`); nil means from the controller.
    public var from: String?
    /// URL, host:port, name, or command — rendered, secrets masked when printed.
    public var target: RenderedText
    public var headers: [String: RenderedText]
    /// DNS: the server to ask (`address[:port]`), rendered.
    public var server: RenderedText?
    /// DNS: addresses the answer must contain, rendered.
    public var expectValues: [RenderedText]
    public var timeout: Seconds
    public var expect: String
    /// The check as written, for the engine.
    public var definition: Check
    /// For a check run on a host: as another user (sudo).
    public var become: Become?
    /// Prometheus: the PromQL query, rendered; and the bearer token (never encoded).
    public var query: RenderedText? = nil
    public var token: RenderedText? = nil

    enum CodingKeys: String, CodingKey { case name, type, host, from, target, query, timeout, expect, become }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(host, forKey: .host)
        try c.encodeIfPresent(from, forKey: .from)
        try c.encode(target, forKey: .target)
        try c.encodeIfPresent(query, forKey: .query)
        try c.encode(timeout, forKey: .timeout)
        try c.encode(expect, forKey: .expect)
        try c.encodeIfPresent(become, forKey: .become)
    }

    /// `name` or `name@host`.
    public var label: String { host.map { "\(name)@\($0)" } ?? name }
}

extension Plan {
    /// Every user the drill becomes on `host` (for preflight to try each once).
    public func become(on host: String) -> [Become] {
        var out: [Become] = []
        func add(_ b: Become?) { if let b, !out.contains(b) { out.append(b) } }
        func step(_ s: PlannedStep) {
            s.commands.filter { $0.host == host }.forEach { add($0.become) }
            s.verify.map { ($0.up + $0.down).filter { $0.from == host }.forEach { add($0.become) } }
            s.onFailure.forEach(step)
        }
        steadyState.filter { $0.from == host }.forEach { add($0.become) }
        dataCheck.map { ($0.write + $0.read).filter { $0.host == host }.forEach { add($0.become) } }
        (steps + restore).forEach(step)
        return out
    }

    /// The user the command of step `id` (an on_failure hook too) ran as on `host`.
    public func become(step id: String, host: String) -> Become? {
        func find(_ steps: [PlannedStep]) -> PlannedStep? {
            for s in steps { if s.id == id { return s }; if let f = find(s.onFailure) { return f } }
            return nil
        }
        if id == "data_check" { return dataCheck.flatMap { ($0.write + $0.read).first { $0.host == host }?.become } }
        return find(steps + restore)?.commands.first { $0.host == host }?.become
    }
}

/// `guards:` resolved: the checks (one per host for `on:`), how often and how long.
public struct PlannedGuards: Sendable, Encodable {
    public var checks: [PlannedCheck]
    public var every: Seconds
    public var hold: Seconds
    public var onUnknown: GuardSetting.OnUnknown

    enum CodingKeys: String, CodingKey { case checks, every, hold, onUnknown = "on_unknown" }
}

public struct PlannedDataCheck: Sendable, Encodable {
    public var write: [PlannedCommand]
    public var read: [PlannedCommand]
    public var timeout: Seconds
}
