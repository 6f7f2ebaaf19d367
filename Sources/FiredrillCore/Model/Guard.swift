/// `guards:` in a playbook: checks that say production is being hurt, watched for the whole
/// failover and until restore ends, apart from the step verifies (docs/playbook.md, "Guards").
///
///     guards:
///       checks: [portal, error_rate]
///       every: 2s          # one sample of every guard this often
///       hold: 4s           # a guard trips only after failing this long
///       on_unknown: abort  # a guard that cannot be checked counts as failing (or: continue)
public struct GuardSetting: Sendable, Equatable {
    public enum OnUnknown: String, Sendable, Equatable, Codable, CaseIterable {
        /// A guard that could not be checked is treated as failing: nobody can say production is fine.
        case abort
        /// Reported, never trips.
        case `continue`
    }

    public var checks: [Located<String>]
    public var every: Duration
    public var hold: Duration
    public var onUnknown: OnUnknown
    public var location: SourceLocation

    public static let defaultEvery: Duration = .seconds(2)
    public static let defaultHold: Duration = .seconds(4)

    public init(checks: [Located<String>], every: Duration = GuardSetting.defaultEvery, hold: Duration = GuardSetting.defaultHold,
                onUnknown: OnUnknown = .abort, location: SourceLocation) {
        self.checks = checks; self.every = every; self.hold = hold; self.onUnknown = onUnknown; self.location = location
    }
}
