import Foundation

/// What executing a drill needs beyond its definition: secret values, connections, checks.
public struct DrillRuntime: Sendable {
    public var definition: DrillDefinition
    public var secrets: [String: Secret]
    public var pool: HostPool
    public var checks: CheckRunner
    /// Whom to tell how the drill goes (nil: nobody).
    public var notifier: Notifier?

    /// The hosts and checks as a runner reaches them.
    public var environment: DrillEnvironment {
        DrillEnvironment(hosts: InventoryHosts(pool: pool, inventory: definition.inventory), checks: checks, secrets: secrets, pauses: Heartbeat.shared,
                         notifier: notifier)
    }

    /// Resolves the playbook's secrets; errors (a secret without a value) say which and how to set it.
    public static func make(_ definition: DrillDefinition, ssh: SSHOptions,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> Result<DrillRuntime, DiagnosticsError> {
        var secrets: [String: Secret] = [:], problems: [Diagnostic] = []
        for declaration in definition.playbook.secrets {
            switch declaration.resolve(playbookFile: definition.playbook.file, environment: environment) {
            case let .success(s): secrets[declaration.name] = s
            case let .failure(d): problems.append(d)
            }
        }
        guard problems.isEmpty else { return .failure(DiagnosticsError(problems)) }
        let pool = HostPool(options: ssh)
        let inventory = definition.inventory
        // Login and become passwords (the operator's, the inventory's) are masked in output like
        // secrets: a command may print one it was given. Their names (with a space) are no
        // template's, so `{{ … }}` cannot reach them.
        var values = Set<String>()
        for c in [ssh.passwords] + inventory.hosts.keys.map({ inventory.credentials(of: $0) }) {
            for p in [c.password, c.becomePassword].compactMap({ $0 }) where values.insert(p.reveal()).inserted {
                secrets[" password \(values.count)"] = p
            }
        }
        let checks = CheckRunner(secrets: secrets) { host in
            guard inventory.hosts[host] != nil || Inventory.localhostNames.contains(host) else { return nil }
            return await pool.transport(for: inventory.connection(of: host), credentials: inventory.credentials(of: host))
        }
        return .success(DrillRuntime(definition: definition, secrets: secrets, pool: pool, checks: checks))
    }
}
