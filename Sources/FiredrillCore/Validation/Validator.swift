import Foundation

/// Checks a loaded playbook against its inventory and reports every problem at once.
/// Structural rules live here; pattern and template problems come from `Planner`.
public struct Validator {
    public var playbook: Playbook
    public var inventory: Inventory?
    public var extraVars: [String: VarValue]
    public var limit: String?
    public var environment: [String: String]

    public init(playbook: Playbook, inventory: Inventory?, extraVars: [String: VarValue] = [:], limit: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.playbook = playbook
        self.inventory = inventory
        self.extraVars = extraVars
        self.limit = limit
        self.environment = environment
    }

    /// Every diagnostic, and the preview plan built on the way (nil only when it cannot be built).
    public func validateAndPlan() -> (plan: Plan?, diagnostics: [Diagnostic]) {
        var d: [Diagnostic] = []
        let pb = playbook
        let top = SourceLocation(file: pb.file, line: 1, column: 1)

        if pb.steps.isEmpty {
            d.append(.error("the playbook has no steps", at: pb.name.location, length: pb.name.width,
                            hint: "add at least one step under 'steps:' — the failover being rehearsed"))
        }
        if pb.restore.isEmpty {
            d.append(.warning("the playbook has no restore steps", at: pb.name.location, length: pb.name.width,
                              hint: "add 'restore:' steps that put the service back; they run even when the drill fails"))
        }
        // RTO runs from the first disruptive failover step to the first verify, at or after it,
        // that shows the service answering (`up`): without both it can never be measured.
        let disruptiveAt = pb.steps.firstIndex { $0.disruptive }
        let measurable = disruptiveAt.map { i in pb.steps[i...].contains { !($0.verify?.up.isEmpty ?? true) } } ?? false
        if pb.objectives.rto == nil, disruptiveAt != nil {
            d.append(.warning("no RTO objective", at: top, hint: "add objectives: { rto: 5m } so the drill can say whether recovery was fast enough"))
        }
        if pb.objectives.rto != nil, !measurable {
            d.append(.warning(disruptiveAt == nil
                                ? "an RTO objective is set but no failover step is disruptive: the RTO can never be measured (and would cost the score)"
                                : "an RTO objective is set but no failover step from the first disruptive one on verifies the service answering (verify up): the RTO can never be measured",
                              at: top,
                              hint: disruptiveAt == nil ? "remove objectives.rto, or mark the step that takes the service down with disruptive: true"
                                  : "give the step that brings the service back verify: { up: [CHECK] }"))
        }
        if pb.objectives.rpo != nil, pb.dataCheck == nil {
            d.append(.warning("an RPO objective is set but there is no data_check to measure it", at: top,
                              hint: "add data_check: { write: …, read: … } (see docs/playbook.md)"))
        }
        if pb.steadyState.isEmpty {
            d.append(.warning("no steady_state checks", at: top,
                              hint: "list the checks that prove the service is healthy before the drill and after restore"))
        }

        // Step names are how people, the journal and reports refer to steps: keep them unique.
        var names: [String: SourceLocation] = [:]
        func visit(_ steps: [Step]) {
            for step in steps {
                if let first = names[step.name.value] {
                    d.append(.error("duplicate step name '\(step.name.value)' (first at line \(first.line))", at: step.name.location,
                                    length: step.name.width, hint: "give each step its own name"))
                } else {
                    names[step.name.value] = step.name.location
                }
                if let v = step.verify {
                    for ref in v.up + v.down {
                        if let check = pb.check(named: ref.value), v.within < check.timeout {
                            d.append(.error("verify waits \(DurationText.format(v.within)), less than the \(DurationText.format(check.timeout)) timeout of check '\(check.name)'",
                                            at: ref.location, length: ref.width,
                                            hint: "raise 'within' to at least \(DurationText.format(check.timeout)), or lower the check's timeout"))
                        }
                    }
                    let both = Set(v.up.map(\.value)).intersection(v.down.map(\.value))
                    for name in both.sorted() {
                        let at = v.down.first { $0.value == name }!
                        d.append(.error("check '\(name)' is in both up and down", at: at.location, length: at.width,
                                        hint: "a check cannot be required to pass and to fail at once"))
                    }
                }
                if step.timeout < .seconds(1), case .command = step.action {
                    d.append(.warning("timeout \(DurationText.format(step.timeout)) is very short for a remote command", at: step.name.location, length: step.name.width))
                }
                visit(step.onFailure)
            }
        }
        visit(pb.steps)
        visit(pb.restore)

        // Checks nobody uses are likely a typo elsewhere.
        var used = Set(pb.steadyState.map(\.value) + (pb.guards?.checks.map(\.value) ?? []))
        func collect(_ steps: [Step]) {
            for s in steps {
                s.verify.map { used.formUnion(($0.up + $0.down).map(\.value)) }
                collect(s.onFailure)
            }
        }
        collect(pb.steps)
        collect(pb.restore)
        var unusedRefs: [Located<String>] = []
        for check in pb.checks where !used.contains(check.name) && check.file == pb.file {
            d.append(.warning("check '\(check.name)' is never used", at: check.location, length: check.name.count,
                              hint: "reference it in steady_state, guards or a step's verify, or remove it"))
            // Still render it, so its template mistakes show now rather than when someone uses it.
            if check.on != nil || check.targets != nil || !check.isPerHost {
                unusedRefs.append(Located(check.name, at: check.location, width: check.name.count))
            }
        }

        // Secrets: declared but unavailable, or declared and unused.
        var referenced = Set<String>()
        func templates(_ steps: [Step]) -> [Template] {
            steps.flatMap { s -> [Template] in
                var t: [Template] = []
                if case let .command(_, run) = s.action { t.append(run) }
                return t + templates(s.onFailure)
            }
        }
        var allTemplates = templates(pb.steps) + templates(pb.restore) + pb.checks.flatMap(\.kind.templates)
        if let dc = pb.dataCheck { allTemplates += [dc.write.run, dc.read.run] }
        for t in allTemplates {
            for p in t.placeholders {
                referenced.insert(p.name.hasPrefix("secrets.") ? String(p.name.dropFirst(8)) : p.name)
            }
        }
        for secret in pb.secrets {
            if !referenced.contains(secret.name) {
                d.append(.warning("secret '\(secret.name)' is declared but never used", at: secret.location, length: secret.name.count))
            }
            switch secret.source {
            case let .environment(name) where environment[name] == nil:
                d.append(.warning("environment variable \(name) for secret '\(secret.name)' is not set", at: secret.location, length: secret.name.count,
                                  hint: "set it before 'firedrill run'; the drill refuses to start without it"))
            case let .file(path):
                let full = resolvePath(path, relativeTo: pb.file)
                if !FileManager.default.isReadableFile(atPath: full) {
                    d.append(.warning("file \(full) for secret '\(secret.name)' is not readable", at: secret.location, length: secret.name.count,
                                      hint: "create it (mode 600) before 'firedrill run'"))
                }
            default:
                break
            }
        }

        let planner = Planner(playbook: pb, inventory: inventory, extraVars: extraVars, limit: limit)
        let (plan, planDiagnostics) = planner.plan()
        d += planDiagnostics
        d += planner.checkDiagnostics(unusedRefs)
        return (plan, d.uniqued())
    }
}
