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
    /// A restore step that runs only on the hosts the failover touched (`only_touched: true`):
    /// a staged rollout rolls back exactly the batches that ran.
    public var onlyTouched = false

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

/// `serial:` — run a step's hosts in batches: a count, a percentage of them, or a list of those
/// (`[1, 25%, 100%]`: a canary, then a quarter, then the rest), the last size repeating until
/// every host had its turn, as Ansible reads it.
public enum Serial: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Int)
    indirect case list([Serial])

    /// The size of one batch of `hostCount` hosts (a percentage of them all, at least 1).
    public func batchSize(of hostCount: Int) -> Int {
        switch self {
        case let .count(n): return max(1, min(n, max(hostCount, 1)))
        case let .percent(p): return max(1, hostCount * p / 100)
        case let .list(sizes): return sizes.first?.batchSize(of: hostCount) ?? max(hostCount, 1)
        }
    }

    /// `hosts` cut into batches, in order.
    public func batches<T>(of hosts: [T]) -> [[T]] {
        let sizes: [Serial]
        if case let .list(list) = self { sizes = list.isEmpty ? [.percent(100)] : list } else { sizes = [self] }
        var out: [[T]] = [], i = 0, k = 0
        while i < hosts.count {
            let size = sizes[min(k, sizes.count - 1)].batchSize(of: hosts.count)
            out.append(Array(hosts[i..<min(i + size, hosts.count)]))
            i += size
            k += 1
        }
        return out
    }

    public var description: String {
        switch self {
        case let .count(n): return "\(n)"
        case let .percent(p): return "\(p)%"
        case let .list(sizes): return "[" + sizes.map(\.description).joined(separator: ", ") + "]"
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
