import Foundation

/// A drill playbook: the service, its objectives, the checks that prove it answers,
/// and the failover and restore steps. Loaded by `PlaybookLoader`; checked by `Validator`.
public struct Playbook: Sendable, Equatable {
    public var file: String
    public var name: Located<String>
    public var service: String
    public var criticality: Criticality
    public var owner: String?
    public var scenario: String?
    public var exercise: ExerciseType?
    public var schedule: Schedule?
    public var objectives: Objectives
    /// The inventory path as written (relative to the playbook's folder).
    public var inventory: Located<String>?
    public var vars: [Variable]
    public var secrets: [SecretDeclaration]
    public var checks: [Check]
    public var steadyState: [Located<String>]
    public var dataCheck: DataCheck?
    public var steps: [Step]
    public var restore: [Step]
    /// Files of shared checks pulled in with `include:`.
    public var includes: [String]
    /// `become`, `become_user`, `become_method`, `become_flags` at the top: every step's and check's default.
    public var become = BecomeSetting()
    /// `approval:`: the drill runs only under a signed approval (four eyes).
    public var approval: ApprovalSetting?
    /// `guards:`: checks that stop the drill when production is hurt.
    public var guards: GuardSetting?
    /// `notify:`: where to tell how the drill went (with the configuration file's targets).
    public var notify: [NotifyTarget] = []

    public func check(named name: String) -> Check? { checks.first { $0.name == name } }
}

public enum Criticality: String, Sendable, Equatable, Codable, CaseIterable {
    case critical, high, medium, low

    /// Its weight in the readiness over services (critical 4, high 3, medium 2, low 1).
    public var weight: Double {
        switch self {
        case .critical: return 4
        case .high: return 3
        case .medium: return 2
        case .low: return 1
        }
    }
}

/// NIST SP 800-34 exercise types.
public enum ExerciseType: String, Sendable, Equatable, Codable, CaseIterable {
    case tabletop, functional
    case fullScale = "full-scale"
}

public struct Objectives: Sendable, Equatable {
    /// Recovery time objective: the longest acceptable outage.
    public var rto: Duration?
    /// Recovery point objective: the most data (as time) that may be lost.
    public var rpo: Duration?
    public init(rto: Duration? = nil, rpo: Duration? = nil) { self.rto = rto; self.rpo = rpo }
}

/// `schedule:` as written (docs/scheduling.md); `drillSchedule` resolves it.
public struct Schedule: Sendable, Equatable {
    public var every: Recurrence
    /// e.g. `Sat 02:00-04:00`, `Sat,Sun 01:00-05:00`.
    public var window: DrillWindow?
    /// An IANA zone (UTC when not given).
    public var timezone: String?
    public var blackouts: [Blackout] = []
    public var start: LocalDate?
    /// How long past due before overdue (14 days when not given).
    public var grace: Duration?

    public init(every: Recurrence, window: DrillWindow? = nil, timezone: String? = nil, blackouts: [Blackout] = [], start: LocalDate? = nil, grace: Duration? = nil) {
        self.every = every; self.window = window; self.timezone = timezone; self.blackouts = blackouts; self.start = start; self.grace = grace
    }

    public var drillSchedule: DrillSchedule {
        let zone: TimeZone = timezone.flatMap { TimeZone(identifier: $0) } ?? TimeZone(identifier: "UTC")!
        return DrillSchedule(every: every, window: window, timeZone: zone,
                      blackouts: blackouts, start: start ?? DrillSchedule.defaultStart,
                      graceSeconds: grace.map(DurationText.seconds) ?? DrillSchedule.defaultGraceSeconds)
    }
}

public struct Variable: Sendable, Equatable {
    public var name: String
    public var value: VarValue
    public var location: SourceLocation
}

public struct SecretDeclaration: Sendable, Equatable {
    public var name: String
    public var source: SecretSource
    public var location: SourceLocation
}

/// RPO measurement: a marker written on the primary before the disruptive steps and read on the standby after.
public struct DataCheck: Sendable, Equatable {
    public struct Command: Sendable, Equatable {
        public var on: Located<String>
        public var run: Template
    }
    public var write: Command
    public var read: Command
    public var timeout: Duration
    public var location: SourceLocation
}
