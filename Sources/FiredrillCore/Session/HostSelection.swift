import Foundation

/// The hosts a pattern selects from inventories, for commands that take `-i` and a pattern
/// (`inventory`, `ping`): the inventory, the hosts in order, and warnings (a word that matches
/// nothing, a group with no host). Bad inventories, patterns or limits, and selecting nothing
/// (unless `allowEmpty`), are errors.
public enum HostSelection {
    public struct Selected: Sendable {
        public var inventory: Inventory
        public var hosts: [String]
        public var warnings: DiagnosticsError
    }

    public static func select(inventory paths: [String], pattern: String, limit: String?, allowEmpty: Bool = false) throws -> Selected {
        let loaded = InventoryLoader().load(paths: paths)
        if loaded.diagnostics.hasErrors { throw DiagnosticsError(loaded.diagnostics, sources: loaded.sources) }
        let inventory = loaded.inventory
        if let limit, let problem = InventoryPattern(inventory).limitProblem(limit) { throw DiagnosticsError([problem]) }
        let selection: InventoryPattern.Selection
        do { selection = try InventoryPattern(inventory).select(pattern, limit: limit) } catch { throw DiagnosticsError([error.diagnostic()]) }
        let unmatched = selection.unmatched.map { word -> Diagnostic in
            // A group that exists but holds no host (a placeholder such as kubespray's [calico-rr]) is said as such,
            // and so is a wildcard or regex that matches only such groups.
            if inventory.groups[word] != nil {
                return .warning("group '\(word)' exists but has no hosts", hint: "add hosts to it, or leave it out of the pattern")
            }
            let empty = (try? InventoryPattern.matcher(word)).map { m in inventory.userGroups.filter(m) } ?? []
            if !empty.isEmpty {
                return .warning("'\(word)' matches only groups with no hosts (\(empty.prefix(5).joined(separator: ", "))\(empty.count > 5 ? ", …" : ""))",
                                hint: "add hosts to them, or leave them out of the pattern")
            }
            return .warning("'\(word)' matches no group or host",
                            hint: Suggestions.hint(for: word, among: inventory.userGroups + inventory.hostOrder, noun: "group or host", listLabel: "groups and hosts"))
        }
        let nothing = "'\(pattern)' selects no host" + (limit.map { " within --limit \($0)" } ?? "")
        if selection.hosts.isEmpty && !allowEmpty { throw DiagnosticsError(unmatched + [.error(nothing)]) }
        let warnings = unmatched + (selection.hosts.isEmpty ? [.warning(nothing)] : [])
        return Selected(inventory: inventory, hosts: selection.hosts, warnings: DiagnosticsError(warnings, sources: loaded.sources))
    }
}

/// The playbooks of a folder: `*.yml` and `*.yaml`, not hidden (editor backups, copies being
/// written), sorted.
public enum PlaybookFolder {
    public static func files(in dir: String) throws(CommandError) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CommandError("--dir \(dir) is not a folder", hint: "give the folder holding the playbooks, e.g. --dir Playbooks")
        }
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yml") || $0.hasSuffix(".yaml")) }
            .sorted().map { "\(dir)/\($0)" }
    }
}
