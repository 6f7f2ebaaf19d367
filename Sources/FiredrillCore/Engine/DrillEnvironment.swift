import Synchronization
/// The hosts of a drill, as the runner reaches them: by inventory name. `InventoryHosts` reaches
/// real ones (SSH, local); tests give the runner fake ones.
public protocol DrillHosts: Sendable {
    /// Connects (or checks the connection) and runs a no-op command, also as each user the drill
    /// becomes there.
    func prepare(_ host: String, become: [Become]) async -> Result<HostPool.Connected, TransportError>
    /// The transport of a host, for its commands.
    func transport(for host: String) async -> any Transport
    func closeAll() async
}

/// Evaluates a planned check once. Never throws: every failure is an outcome with its reason.
public protocol CheckProbe: Sendable {
    func evaluate(_ check: PlannedCheck) async -> CheckOutcome
}

extension CheckRunner: CheckProbe {}

/// Whether the controller itself ran: a paused runner (SIGSTOP, a laptop lid, a suspended VM)
/// must not let a verify's samples vouch for the time it saw nothing. `Heartbeat` watches the
/// real process; tests tell the runner when it "was paused".
public protocol PauseWatch: Sendable {
    /// A point to ask "since then?" from.
    func mark() -> Int
    /// How long the controller did not run since `mark`; nil when it ran throughout.
    func stalled(since: Int) -> Duration?
}

extension Heartbeat: PauseWatch {}

/// Never sees a pause (for runners whose clock is not the real one).
public struct NoPauseWatch: PauseWatch {
    public init() {}
    public func mark() -> Int { 0 }
    public func stalled(since: Int) -> Duration? { nil }
}

/// The inventory's hosts through one connection pool.
public struct InventoryHosts: DrillHosts {
    public let pool: HostPool
    public let inventory: Inventory

    /// Each host's connection and credentials, worked out once (the SSH configuration and the
    /// inventory's variables), not once per command.
    private let resolved = ResolvedHosts()

    public init(pool: HostPool, inventory: Inventory) { self.pool = pool; self.inventory = inventory }

    private func reach(_ host: String) -> (HostConnection, HostCredentials) {
        if let r = resolved.hosts.withLock({ $0[host] }) { return r }
        let r = (inventory.connection(of: host), inventory.credentials(of: host))
        resolved.hosts.withLock { $0[host] = r }
        return r
    }

    private final class ResolvedHosts: Sendable {
        let hosts = Mutex<[String: (HostConnection, HostCredentials)]>([:])
    }

    public func prepare(_ host: String, become: [Become]) async -> Result<HostPool.Connected, TransportError> {
        let (c, credentials) = reach(host)
        return await pool.prepare(c, credentials: credentials, become: become)
    }

    public func transport(for host: String) async -> any Transport {
        let (c, credentials) = reach(host)
        return await pool.transport(for: c, credentials: credentials)
    }

    public func closeAll() async { await pool.closeAll() }
}

/// Tells people how a drill goes (webhooks, commands: `Notifier`). The runner asks it at the
/// drill's moments and journals every attempt it reports; it must never throw or hang.
public protocol DrillNotifier: Sendable {
    func hears(_ event: NotifyEvent) -> Bool
    /// Delivers one notification to every target that hears it, each within its budget.
    func deliver(_ event: NotifyEvent, record: DrillRecord, detail: String) async -> [JournalEvent.NotificationAttempt]
}

/// What a runner reaches the world through: hosts, checks, the secret values its commands
/// need, and whom to tell.
public struct DrillEnvironment: Sendable {
    public var hosts: any DrillHosts
    public var checks: any CheckProbe
    public var secrets: [String: Secret]
    public var pauses: any PauseWatch
    public var notifier: (any DrillNotifier)?

    public init(hosts: any DrillHosts, checks: any CheckProbe, secrets: [String: Secret], pauses: any PauseWatch = NoPauseWatch(),
                notifier: (any DrillNotifier)? = nil) {
        self.hosts = hosts; self.checks = checks; self.secrets = secrets; self.pauses = pauses; self.notifier = notifier
    }
}
