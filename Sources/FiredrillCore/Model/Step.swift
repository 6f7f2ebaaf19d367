/// One failover or restore step: a command on the hosts a pattern selects (or a manual
/// instruction for the operator), and what must hold afterwards.
public struct Step: Sendable, Equatable {
    public var name: Located<String>
    public var location: SourceLocation
    public var action: Action
    public var timeout: Duration
    public var serial: Serial?
    public var maxFailPercentage: Int
    public var verify: Verify?
    /// Hooks run when this step fails, before restore.
    public var onFailure: [Step]
    /// Whether the step disrupts the service: RTO is measured from the first disruptive step.
    public var disruptive: Bool
    /// The step's own `become*` keys (over the playbook's and the host's).
    public var become = BecomeSetting()

    public static let defaultTimeout: Duration = .seconds(300)

    public enum Action: Sendable, Equatable {
        case command(on: Located<String>, run: Template)
        case manual(instruction: String)
    }

    public var pattern: Located<String>? {
        if case let .command(on, _) = action { return on }
        return nil
    }
}

/// `serial:` — run a step's hosts in batches of a count or a percentage of them.
public enum Serial: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Int)

    /// Batch sizes for `hostCount` hosts, as Ansible computes them.
    public func batchSize(of hostCount: Int) -> Int {
        switch self {
        case let .count(n): return max(1, min(n, max(hostCount, 1)))
        case let .percent(p): return max(1, hostCount * p / 100)
        }
    }

    public var description: String {
        switch self {
        case let .count(n): return "\(n)"
        case let .percent(p): return "\(p)%"
        }
    }
}

public struct Verify: Sendable, Equatable {
    /// Checks that must pass.
    public var up: [Located<String>]
    /// Checks that must fail.
    public var down: [Located<String>]
    /// How long the checks are polled until they hold.
    public var within: Duration
    /// How long the checks must hold — every sample in a row passing — before the verify passes.
    public var hold: Duration
    public var location: SourceLocation

    public static let defaultWithin: Duration = .seconds(60)
    /// At least 3 s of consecutive passing samples (taken at least 4 times per window): a service
    /// flapping with a period of a few seconds cannot pass. (Half of `within` when that is shorter;
    /// `hold: 0s` takes one passing sample.)
    public static let defaultHold: Duration = .seconds(3)
}
