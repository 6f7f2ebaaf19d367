/// The hosts of a drill, as the runner reaches them: by inventory name. `InventoryHosts` reaches
/// real ones (SSH, local); tests give the runner fake ones.
public protocol DrillHosts: Sendable {
    /// Connects (or checks the connection) and runs a no-op command.
    func prepare(_ host: String) async -> Result<HostPool.Connected, TransportError>
    /// The transport of a host, for its commands.
    func transport(for host: String) async -> any Transport
    func closeAll() async
}

/// Evaluates a planned check once. Never throws: every failure is an outcome with its reason.
public protocol CheckProbe: Sendable {
    func evaluate(_ check: PlannedCheck) async -> CheckOutcome
}

extension CheckRunner: CheckProbe {}

/// The inventory's hosts through one connection pool.
public struct InventoryHosts: DrillHosts {
    public let pool: HostPool
    public let inventory: Inventory

    public init(pool: HostPool, inventory: Inventory) { self.pool = pool; self.inventory = inventory }

    public func prepare(_ host: String) async -> Result<HostPool.Connected, TransportError> {
        await pool.prepare(inventory.connection(of: host))
    }

    public func transport(for host: String) async -> any Transport {
        await pool.transport(for: inventory.connection(of: host))
    }

    public func closeAll() async { await pool.closeAll() }
}

/// What a runner reaches the world through: hosts, checks and the secret values its commands need.
public struct DrillEnvironment: Sendable {
    public var hosts: any DrillHosts
    public var checks: any CheckProbe
    public var secrets: [String: Secret]

    public init(hosts: any DrillHosts, checks: any CheckProbe, secrets: [String: Secret]) {
        self.hosts = hosts; self.checks = checks; self.secrets = secrets
    }
}
