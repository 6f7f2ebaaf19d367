import Foundation

/// What `run_started` records about a run's scope and who ran it: enough to resume it with the
/// same playbook, inventory, `--limit` and `-e`, and for an auditor to tell what was drilled.
/// Stored in the event's `data` (string values; see docs/journal.md).
public struct RunFacts: Sendable, Equatable {
    public var playbook: String
    public var playbookSHA256: String
    public var inventory: [String]
    public var inventorySHA256: String
    public var limit: String?
    public var extraVars: [String]
    public var `operator`: String
    public var controller: String
    public var version: String
    public var service: String
    public var criticality: String
    public var rtoObjectiveSeconds: Double?
    public var rpoObjectiveSeconds: Double?

    /// The facts of a run about to start (absolute paths, content hashes, who and where).
    public static func collect(definition: DrillDefinition, plan: Plan, extraVars: [String], version: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> RunFacts {
        RunFacts(playbook: absolute(definition.playbook.file), playbookSHA256: playbookHash(definition),
                 inventory: definition.inventoryPaths.map(absolute), inventorySHA256: RunStore.sha256(files: definition.inventoryPaths),
                 limit: definition.limit, extraVars: extraVars,
                 operator: environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? NSUserName(),
                 controller: ProcessInfo.processInfo.hostName, version: version,
                 service: plan.playbook.service, criticality: plan.playbook.criticality.rawValue,
                 rtoObjectiveSeconds: plan.objectives.rto.map { DurationText.seconds($0.duration) },
                 rpoObjectiveSeconds: plan.objectives.rpo.map { DurationText.seconds($0.duration) })
    }

    /// The playbook with its includes, hashed by content (the same wherever it is checked out).
    public static func playbookHash(_ definition: DrillDefinition) -> String {
        RunStore.sha256(files: [definition.playbook.file] + definition.playbook.includes)
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    public var data: [String: String] {
        var d: [String: String] = [
            "playbook": playbook, "playbook_sha256": playbookSHA256,
            "inventory": inventory.joined(separator: "\n"), "inventory_sha256": inventorySHA256,
            "limit": limit ?? "", "extra_vars": extraVars.joined(separator: "\n"),
            "operator": `operator`, "controller": controller, "firedrill_version": version,
            "service": service, "criticality": criticality,
        ]
        if let rtoObjectiveSeconds { d["rto_objective_seconds"] = String(rtoObjectiveSeconds) }
        if let rpoObjectiveSeconds { d["rpo_objective_seconds"] = String(rpoObjectiveSeconds) }
        return d.filter { !$0.value.isEmpty }
    }

    public init?(data: [String: String]) {
        guard let playbook = data["playbook"] else { return nil }
        func lines(_ k: String) -> [String] { (data[k] ?? "").split(separator: "\n").map(String.init) }
        self.init(playbook: playbook, playbookSHA256: data["playbook_sha256"] ?? "", inventory: lines("inventory"),
                  inventorySHA256: data["inventory_sha256"] ?? "", limit: data["limit"], extraVars: lines("extra_vars"),
                  operator: data["operator"] ?? "", controller: data["controller"] ?? "", version: data["firedrill_version"] ?? "",
                  service: data["service"] ?? "", criticality: data["criticality"] ?? "",
                  rtoObjectiveSeconds: data["rto_objective_seconds"].flatMap(Double.init),
                  rpoObjectiveSeconds: data["rpo_objective_seconds"].flatMap(Double.init))
    }

    public init(playbook: String, playbookSHA256: String, inventory: [String], inventorySHA256: String, limit: String?,
                extraVars: [String], operator: String, controller: String, version: String, service: String,
                criticality: String, rtoObjectiveSeconds: Double?, rpoObjectiveSeconds: Double?) {
        self.playbook = playbook; self.playbookSHA256 = playbookSHA256; self.inventory = inventory
        self.inventorySHA256 = inventorySHA256; self.limit = limit; self.extraVars = extraVars
        self.operator = `operator`; self.controller = controller; self.version = version; self.service = service
        self.criticality = criticality; self.rtoObjectiveSeconds = rtoObjectiveSeconds; self.rpoObjectiveSeconds = rpoObjectiveSeconds
    }
}
