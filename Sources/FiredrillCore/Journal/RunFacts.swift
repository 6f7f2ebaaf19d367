import Foundation

/// What `run_started` records about a run: the service and its objectives, the scope (playbook
/// and inventory with their SHA-256, `--limit`, the *names* of `-e` variables — never values),
/// who ran it, where, with which version. Enough to resume the run with the same playbook,
/// inventory and limit, and for an auditor to tell what was drilled without the playbook.
public struct RunFacts: Sendable, Equatable, Codable {
    public var service: String
    public var criticality: String
    public var owner: String?
    public var scenario: String?
    public var exercise: String?
    public var rtoObjectiveSeconds: Double?
    public var rpoObjectiveSeconds: Double?
    public var playbook: String
    public var playbookSHA256: String
    public var inventory: [String]
    public var inventorySHA256: String
    public var limit: String?
    /// Names of the `-e` variables given (values can be anything, so they are not recorded).
    public var extraVarNames: [String]
    public var `operator`: String
    public var controller: String
    public var version: String
    /// The approval the drill ran under (nil: none was required).
    public var approval: ApprovalRecord?

    enum CodingKeys: String, CodingKey {
        case service, criticality, owner, scenario, exercise
        case rtoObjectiveSeconds = "rto_objective_seconds", rpoObjectiveSeconds = "rpo_objective_seconds"
        case playbook, playbookSHA256 = "playbook_sha256", inventory, inventorySHA256 = "inventory_sha256", limit
        case extraVarNames = "extra_var_names", `operator`, controller, version, approval
    }

    /// The facts journals before format 1 kept in `run_started`'s `data`.
    public init?(legacy data: [String: String]) {
        guard let playbook = data["playbook"] else { return nil }
        func lines(_ k: String) -> [String] { (data[k] ?? "").split(separator: "\n").map(String.init) }
        self.init(service: data["service"] ?? "", criticality: data["criticality"] ?? "", owner: nil, scenario: nil, exercise: nil,
                  rtoObjectiveSeconds: data["rto_objective_seconds"].flatMap(Double.init),
                  rpoObjectiveSeconds: data["rpo_objective_seconds"].flatMap(Double.init),
                  playbook: playbook, playbookSHA256: data["playbook_sha256"] ?? "", inventory: lines("inventory"),
                  inventorySHA256: data["inventory_sha256"] ?? "", limit: data["limit"].flatMap { $0.isEmpty ? nil : $0 },
                  extraVarNames: lines("extra_vars").compactMap { $0.split(separator: "=").first.map(String.init) },
                  operator: data["operator"] ?? "", controller: data["controller"] ?? "", version: data["firedrill_version"] ?? "")
    }

    public init(service: String, criticality: String, owner: String?, scenario: String?, exercise: String?,
                rtoObjectiveSeconds: Double?, rpoObjectiveSeconds: Double?, playbook: String, playbookSHA256: String,
                inventory: [String], inventorySHA256: String, limit: String?, extraVarNames: [String],
                operator: String, controller: String, version: String) {
        self.service = service; self.criticality = criticality; self.owner = owner; self.scenario = scenario; self.exercise = exercise
        self.rtoObjectiveSeconds = rtoObjectiveSeconds; self.rpoObjectiveSeconds = rpoObjectiveSeconds
        self.playbook = playbook; self.playbookSHA256 = playbookSHA256; self.inventory = inventory; self.inventorySHA256 = inventorySHA256
        self.limit = limit; self.extraVarNames = extraVarNames
        self.operator = `operator`; self.controller = controller; self.version = version
    }
}
