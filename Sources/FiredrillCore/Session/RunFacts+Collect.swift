import Foundation

extension RunFacts {
    /// The facts of a run about to start (absolute paths, content hashes, who and where).
    public static func collect(definition: DrillDefinition, plan: Plan, version: String, approval: ApprovalRecord? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> RunFacts {
        let pb = plan.playbook
        var facts = RunFacts(service: pb.service, criticality: pb.criticality.rawValue, owner: pb.owner, scenario: pb.scenario,
                        exercise: pb.exercise?.rawValue,
                        rtoObjectiveSeconds: plan.objectives.rto.map { DurationText.seconds($0.duration) },
                        rpoObjectiveSeconds: plan.objectives.rpo.map { DurationText.seconds($0.duration) },
                        playbook: absolute(definition.playbook.file), playbookSHA256: playbookHash(definition),
                        inventory: definition.inventoryPaths.map(absolute), inventorySHA256: RunStore.sha256(files: definition.inventoryPaths),
                        limit: definition.limit, extraVarNames: definition.extraVars.keys.sorted(),
                        operator: CurrentUser.name(environment: environment),
                        controller: ProcessInfo.processInfo.hostName, version: version)
        facts.approval = approval
        return facts
    }

    /// The playbook with its includes, hashed by content (the same wherever it is checked out).
    public static func playbookHash(_ definition: DrillDefinition) -> String {
        RunStore.sha256(files: [definition.playbook.file] + definition.playbook.includes)
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
