import Foundation

/// A playbook with its inventory, loaded and validated: what `validate`, `plan` and `run` start from.
public struct DrillDefinition: Sendable {
    public var playbook: Playbook
    public var inventory: Inventory
    public var inventoryPaths: [String]
    public var extraVars: [String: VarValue]
    public var limit: String?
    /// The plan with a placeholder run ID, as `plan` shows it.
    public var preview: Plan

    public struct Loaded: Sendable {
        public var definition: DrillDefinition?
        public var diagnostics: [Diagnostic]
        public var sources: [String: String]
    }

    /// Loads `playbookPath` and its inventory (`inventoryOverride` replaces the playbook's `inventory:`),
    /// then validates. `definition` is nil when there are errors.
    public static func load(playbookPath: String, inventoryOverride: [String] = [], extraVars: [String: VarValue] = [:],
                            limit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> Loaded {
        let loaded = PlaybookLoader().load(file: playbookPath)
        var diagnostics = loaded.diagnostics
        var sources = loaded.sources
        guard let playbook = loaded.playbook else {
            return Loaded(definition: nil, diagnostics: diagnostics, sources: sources)
        }
        var paths = inventoryOverride
        if paths.isEmpty, let inv = playbook.inventory {
            let path = resolvePath(inv.value, relativeTo: playbook.file)
            if FileManager.default.fileExists(atPath: path) {
                paths = [path]
            } else {
                diagnostics.append(.error("inventory '\(inv.value)' does not exist (looked for \(path))", at: inv.location, length: inv.width,
                                          hint: "paths are relative to the playbook's folder; or pass one with -i INVENTORY"))
            }
        } else if paths.isEmpty {
            diagnostics.append(.error("no inventory", at: SourceLocation(file: playbook.file, line: 1, column: 1),
                                      hint: "add 'inventory: PATH' to the playbook or pass -i INVENTORY"))
        }
        var inventory: Inventory?
        if !paths.isEmpty {
            let inv = InventoryLoader().load(paths: paths)
            diagnostics += inv.diagnostics
            sources.merge(inv.sources) { a, _ in a }
            if !inv.diagnostics.hasErrors { inventory = inv.inventory }
        }
        let (preview, validation) = Validator(playbook: playbook, inventory: inventory, extraVars: extraVars, limit: limit, environment: environment).validateAndPlan()
        diagnostics += validation
        diagnostics = diagnostics.uniqued()
        guard let inventory, let preview, !diagnostics.hasErrors else {
            return Loaded(definition: nil, diagnostics: diagnostics, sources: sources)
        }
        return Loaded(definition: DrillDefinition(playbook: playbook, inventory: inventory, inventoryPaths: paths,
                                                  extraVars: extraVars, limit: limit, preview: preview),
                      diagnostics: diagnostics, sources: sources)
    }

    public func plan(runID: String = Planner.previewRunID) -> Plan? {
        Planner(playbook: playbook, inventory: inventory, extraVars: extraVars, limit: limit, runID: runID).plan().0
    }
}

/// Parses `-e key=value` arguments; values are typed as YAML would type them.
public func parseExtraVars(_ args: [String]) -> Result<[String: VarValue], Diagnostic> {
    var out: [String: VarValue] = [:]
    for arg in args {
        guard let eq = arg.firstIndex(of: "="), eq != arg.startIndex else {
            return .failure(.error("-e '\(arg)' is not key=value", hint: "e.g. -e vip=10.0.0.50"))
        }
        let key = String(arg[..<eq])
        guard Template.isValidName(key), !key.contains(".") else {
            return .failure(.error("-e '\(key)' is not a valid variable name", hint: "use letters, digits and '_', starting with a letter"))
        }
        let text = String(arg[arg.index(after: eq)...])
        out[key] = VarValue(yaml: YAMLNode(.scalar(text, plain: true), at: SourceLocation(file: "-e", line: 1, column: 1)))
    }
    return .success(out)
}
