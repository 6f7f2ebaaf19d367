import Foundation

/// Reads Ansible inventories: YAML and INI files, a folder of them, and the
/// `group_vars/` and `host_vars/` folders next to them.
public struct InventoryLoader {
    public struct Result: Sendable {
        public var inventory: Inventory
        public var diagnostics: [Diagnostic]
        public var sources: [String: String]
    }

    static let ignoredExtensions = [".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry"]

    /// The SSH configuration to attach (by default `SSHConfig.standard()`: `FIREDRILL_SSH_CONFIG`,
    /// else `~/.ssh/config`).
    let sshConfig: @Sendable () -> SSHConfig?

    public init(sshConfig: @escaping @Sendable () -> SSHConfig? = { SSHConfig.standard() }) { self.sshConfig = sshConfig }

    /// Loads one or more inventory sources (files or folders) into one inventory, as `-i A -i B` does.
    public func load(paths: [String]) -> Result {
        var inventory = Inventory()
        var diagnostics: [Diagnostic] = []
        var sources: [String: String] = [:]
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                diagnostics.append(.error("inventory '\(path)' does not exist", hint: "give an inventory file or folder with -i, or set 'inventory:' in the playbook"))
                continue
            }
            inventory.sources.append(path)
            if isDir.boolValue {
                let entries = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                for entry in entries where !entry.hasPrefix(".") && entry != "group_vars" && entry != "host_vars"
                    && !Self.ignoredExtensions.contains(where: { entry.hasSuffix($0) }) {
                    let full = (path as NSString).appendingPathComponent(entry)
                    var sub: ObjCBool = false
                    _ = FileManager.default.fileExists(atPath: full, isDirectory: &sub)
                    if sub.boolValue { continue }
                    loadFile(full, into: &inventory, &diagnostics, &sources)
                }
                loadVarsFolders(base: path, into: &inventory, &diagnostics, &sources)
            } else {
                loadFile(path, into: &inventory, &diagnostics, &sources)
                loadVarsFolders(base: (path as NSString).deletingLastPathComponent, into: &inventory, &diagnostics, &sources)
            }
        }
        inventory.reconcile()
        inventory.freeze()
        // How `ssh` would reach the hosts: the team's OpenSSH configuration.
        if let config = sshConfig() {
            diagnostics += config.errors + config.warnings
            inventory.sshConfig = config
        }
        return Result(inventory: inventory, diagnostics: diagnostics, sources: sources)
    }

    /// Loads inventory text directly (for tests and tools).
    public func load(text: String, file: String) -> Result {
        var inventory = Inventory()
        var diagnostics: [Diagnostic] = []
        var sources: [String: String] = [file: text]
        parse(text, file: file, into: &inventory, &diagnostics, &sources)
        inventory.reconcile()
        inventory.sources = [file]
        inventory.freeze()
        return Result(inventory: inventory, diagnostics: diagnostics, sources: sources)
    }

    func loadFile(_ path: String, into inventory: inout Inventory, _ diagnostics: inout [Diagnostic], _ sources: inout [String: String]) {
        let text: String
        switch TextFile.read(path) {
        case let .success(t): text = t
        case let .failure(unreadable):
            let why = unreadable.why
            diagnostics.append(.error("cannot read inventory file '\(path)': \(why)", hint: "give an Ansible inventory (INI or YAML file, or a folder of them)"))
            return
        }
        sources[path] = text
        parse(text, file: path, into: &inventory, &diagnostics, &sources)
    }

    func parse(_ text: String, file: String, into inventory: inout Inventory, _ diagnostics: inout [Diagnostic], _ sources: inout [String: String]) {
        let ext = (file as NSString).pathExtension.lowercased()
        if ["yml", "yaml", "json"].contains(ext) {
            YAMLInventoryParser(file: file).parse(text, into: &inventory, &diagnostics)
        } else if ext.isEmpty, looksLikeYAMLInventory(text) {
            YAMLInventoryParser(file: file).parse(text, into: &inventory, &diagnostics)
        } else {
            INIInventoryParser(file: file).parse(text, into: &inventory, &diagnostics)
        }
    }

    /// Ansible tries its YAML plugin before the INI one for files without an extension.
    func looksLikeYAMLInventory(_ text: String) -> Bool {
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") || line == "---" { continue }
            return line.hasSuffix(":") && !line.hasPrefix("[")
        }
        return false
    }

    /// group_vars/NAME(.yml|.yaml|.json|) or group_vars/NAME/ files; the same for host_vars.
    func loadVarsFolders(base: String, into inventory: inout Inventory, _ diagnostics: inout [Diagnostic], _ sources: inout [String: String]) {
        for kind in ["group_vars", "host_vars"] {
            let dir = ((base.isEmpty ? "." : base) as NSString).appendingPathComponent(kind)
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for entry in entries.sorted() where !entry.hasPrefix(".") {
                let full = (dir as NSString).appendingPathComponent(entry)
                var isDir: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: full, isDirectory: &isDir)
                let name: String
                var files: [String]
                if isDir.boolValue {
                    name = entry
                    files = ((try? FileManager.default.contentsOfDirectory(atPath: full)) ?? []).sorted()
                        .filter { !$0.hasPrefix(".") }.map { (full as NSString).appendingPathComponent($0) }
                } else {
                    let ext = (entry as NSString).pathExtension
                    guard ["", "yml", "yaml", "json"].contains(ext) else { continue }
                    name = ext.isEmpty ? entry : (entry as NSString).deletingPathExtension
                    files = [full]
                }
                files = files.filter { ["", "yml", "yaml", "json"].contains(($0 as NSString).pathExtension) }
                var vars: [String: VarValue] = [:]
                for f in files {
                    guard let data = FileManager.default.contents(atPath: f) else { continue }
                    let text = String(decoding: data, as: UTF8.self)
                    sources[f] = text
                    let (root, d) = YAMLReader.parse(text, file: f)
                    diagnostics += d
                    // Empty, `---` alone or only comments: no variables (placeholders are common).
                    guard let root, !root.isNull else { continue }
                    guard let pairs = root.pairs else {
                        diagnostics.append(.error("\(kind) file must be a mapping of variables, found \(root.typeName)", at: root.location))
                        continue
                    }
                    for p in pairs { if let k = p.key.scalar { vars[k] = VarValue(yaml: p.value) } }
                }
                if kind == "group_vars" {
                    inventory.groupVarsFiles[name, default: [:]].merge(vars) { _, n in n }
                } else {
                    inventory.hostVarsFiles[name, default: [:]].merge(vars) { _, n in n }
                }
            }
        }
    }
}

/// Ansible's YAML inventory plugin (plugins/inventory/yaml.py), with positions.
struct YAMLInventoryParser {
    let file: String

    func parse(_ text: String, into inventory: inout Inventory, _ diagnostics: inout [Diagnostic]) {
        let (root, d) = YAMLReader.parse(text, file: file)
        diagnostics += d
        guard let root else {
            if d.isEmpty { diagnostics.append(.error("inventory file is empty", at: SourceLocation(file: file, line: 1, column: 1), hint: "define groups under 'all:'")) }
            return
        }
        guard let pairs = root.pairs else {
            diagnostics.append(.error("a YAML inventory must be a mapping of groups, found \(root.typeName)", at: root.location,
                                      hint: "start with 'all:' and put hosts and children under it"))
            return
        }
        if root["plugin"] != nil {
            diagnostics.append(.error("inventory plugins are not supported", at: root.location, hint: "export the inventory with 'ansible-inventory --list -y' and use that file"))
            return
        }
        for p in pairs {
            guard let name = p.key.scalar else { continue }
            parseGroup(name, p.key, p.value, &inventory, &diagnostics, depth: 0)
        }
    }

    @discardableResult
    func parseGroup(_ name: String, _ key: YAMLNode, _ node: YAMLNode, _ inv: inout Inventory, _ diagnostics: inout [Diagnostic], depth: Int) -> String? {
        guard depth < 100 else {
            diagnostics.append(.error("groups are nested too deeply", at: key.location))
            return nil
        }
        guard node.isNull || node.pairs != nil else {
            diagnostics.append(.warning("'\(name)' is not a valid group definition and is skipped", at: key.location, length: key.displayWidth,
                                        hint: "a group is a mapping with hosts:, children: and vars:"))
            return nil
        }
        inv.addGroup(name, at: key.location)
        for p in node.pairs ?? [] {
            guard let section = p.key.scalar else { continue }
            let value = p.value
            if value.isNull { continue }
            // A bare string is allowed and means a mapping with that one key.
            let entries: [YAMLNode.Pair]
            if let s = value.scalar {
                entries = [YAMLNode.Pair(key: YAMLNode(.scalar(s, plain: true), at: value.location), value: YAMLNode(.scalar("", plain: true), at: value.location))]
            } else if let ps = value.pairs {
                entries = ps
            } else {
                if ["hosts", "children", "vars"].contains(section) {
                    diagnostics.append(.error("'\(section)' of group '\(name)' must be a mapping, found \(value.typeName)", at: value.location,
                                              hint: section == "hosts" ? "write hosts as keys: 'hosts: { db1: {}, db2: {} }' or one per line ending in ':'" : nil))
                } else {
                    diagnostics.append(.warning("key '\(section)' in group '\(name)' is not a mapping and is skipped", at: p.key.location))
                }
                continue
            }
            switch section {
            case "vars":
                for e in entries {
                    guard let k = e.key.scalar else { continue }
                    inv.setGroupVariable(name, k, VarValue(yaml: e.value))
                }
            case "children":
                for e in entries {
                    guard let child = e.key.scalar else { continue }
                    let sub = parseGroup(child, e.key, e.value, &inv, &diagnostics, depth: depth + 1) ?? child
                    if inv.groups[sub] == nil { inv.addGroup(sub, at: e.key.location) }
                    do { try inv.addChild(name, sub) } catch {
                        diagnostics.append(.error("group '\(sub)' is a child of '\(name)', which makes a cycle", at: e.key.location, length: e.key.displayWidth,
                                                  hint: "a group cannot contain itself, directly or through its children"))
                    }
                }
            case "hosts":
                for e in entries {
                    guard let pattern = e.key.scalar else { continue }
                    if !e.key.isNull, case let .scalar(_, plain) = e.key.kind, plain, Int(pattern) != nil || Double(pattern) != nil {
                        diagnostics.append(.error("host name '\(pattern)' is a number", at: e.key.location, hint: "quote it: \"\(pattern)\":"))
                        continue
                    }
                    do {
                        let (hosts, port) = try HostAddress.expand(pattern)
                        var vars: [String: VarValue] = [:]
                        if !e.value.isNull {
                            if let vp = e.value.pairs {
                                for v in vp { if let k = v.key.scalar { vars[k] = VarValue(yaml: v.value) } }
                            } else {
                                diagnostics.append(.error("variables of host '\(pattern)' must be a mapping, found \(e.value.typeName)", at: e.value.location,
                                                          hint: "e.g. \(pattern): { ansible_host: 10.0.0.5 }"))
                            }
                        }
                        for h in hosts {
                            inv.addHost(h, group: name, at: e.key.location)
                            if let port { inv.setHostVariable(h, "ansible_port", .int(port)) }
                            for (k, v) in vars { inv.setHostVariable(h, k, v) }
                        }
                    } catch let error as HostAddress.RangeError {
                        diagnostics.append(.error(error.message, at: e.key.location, length: e.key.displayWidth, hint: error.hint))
                    } catch {}
                }
            default:
                let guess = Suggestions.closest(to: section, in: ["hosts", "children", "vars"]).map { "did you mean '\($0)'? " } ?? ""
                diagnostics.append(.warning("unexpected key '\(section)' in group '\(name)' is skipped", at: p.key.location, length: p.key.displayWidth,
                                            hint: "\(guess)a group holds only hosts:, children: and vars:"))
            }
        }
        return name
    }
}

/// Ansible's INI inventory plugin (plugins/inventory/ini.py), with positions.
struct INIInventoryParser {
    let file: String

    struct Pending { var line: Int; var state: String; var parents: [String] }

    func parse(_ text: String, into inv: inout Inventory, _ diagnostics: inout [Diagnostic]) {
        var pending: [String: Pending] = [:]
        var pendingOrder: [String] = []
        var group = "ungrouped"
        var state = "hosts"
        var lineNo = 0
        func loc(_ col: Int = 1) -> SourceLocation { SourceLocation(file: file, line: lineNo, column: col) }

        func addPendingChildren(_ g: String) {
            guard let p = pending[g] else { return }
            pending[g] = nil
            for parent in p.parents {
                do { try inv.addChild(parent, g) } catch {
                    diagnostics.append(.error("group '\(g)' is a child of '\(parent)', which makes a cycle", at: SourceLocation(file: file, line: p.line, column: 1),
                                              hint: "a group cannot contain itself, directly or through its children"))
                }
                if pending[parent]?.state == "children" { addPendingChildren(parent) }
            }
        }

        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            var raw = String(rawLine)
            if raw.hasSuffix("\r") { raw.removeLast() }
            let indent = raw.prefix { $0 == " " || $0 == "\t" }.count
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard let (name, tag) = parseSection(line) else {
                    diagnostics.append(.error("invalid section '\(line)'", at: loc(indent + 1), length: line.count,
                                              hint: "sections look like [group], [group:vars] or [group:children], with no spaces"))
                    continue
                }
                guard ["hosts", "children", "vars"].contains(tag) else {
                    diagnostics.append(.error("section [\(name):\(tag)] has unknown type '\(tag)'", at: loc(indent + 2 + name.count), length: tag.count,
                                              hint: (Suggestions.closest(to: tag, in: ["children", "vars"]).map { "did you mean '\($0)'? " } ?? "") + "use [\(name)], [\(name):vars] or [\(name):children]"))
                    group = name; state = "skip"
                    continue
                }
                group = name; state = tag
                if inv.groups[name] == nil {
                    if tag == "vars" && pending[name] == nil {
                        pending[name] = Pending(line: lineNo, state: "vars", parents: [])
                        pendingOrder.append(name)
                    }
                    inv.addGroup(name, at: loc(indent + 2))
                }
                if let p = pending[name], tag != "vars" {
                    if p.state == "children" { addPendingChildren(name) } else if p.state == "vars" { pending[name] = nil }
                }
                continue
            }
            switch state {
            case "hosts":
                let tokens: [String]
                do { tokens = try Shlex.split(line) } catch {
                    diagnostics.append(.error("unclosed quote in host line", at: loc(indent + 1), length: line.count, hint: "close the quote, e.g. key=\"two words\""))
                    continue
                }
                guard let first = tokens.first else { continue }
                if first.hasPrefix("---") {
                    diagnostics.append(.error("'---' is not a host: it is normally a sign this is a YAML file", at: loc(indent + 1), length: first.count,
                                              hint: "write the inventory as YAML (starting with a group such as all:), or remove the '---' line from the INI file"))
                    continue
                }
                let hosts: [String], port: Int?
                do { (hosts, port) = try HostAddress.expand(first) } catch let e as HostAddress.RangeError {
                    diagnostics.append(.error(e.message, at: loc(indent + 1), length: first.count, hint: e.hint))
                    continue
                } catch { continue }
                var vars: [(String, VarValue)] = []
                var bad = false
                for t in tokens.dropFirst() {
                    guard let eq = t.firstIndex(of: "=") else {
                        let col = (raw.range(of: t).map { raw.distance(from: raw.startIndex, to: $0.lowerBound) } ?? indent) + 1
                        diagnostics.append(.error("expected key=value after the host name, found '\(t)'", at: loc(col), length: t.count,
                                                  hint: "host variables are written key=value, e.g. \(first) ansible_host=10.0.0.5"))
                        bad = true
                        continue
                    }
                    vars.append((String(t[..<eq]), Self.parseValue(String(t[t.index(after: eq)...]))))
                }
                if bad { continue }
                for h in hosts {
                    inv.addHost(h, group: group, at: loc(indent + 1))
                    if let port { inv.setHostVariable(h, "ansible_port", .int(port)) }
                    for (k, v) in vars { inv.setHostVariable(h, k, v) }
                }
            case "vars":
                guard let eq = line.firstIndex(of: "=") else {
                    diagnostics.append(.error("expected key=value in [\(group):vars], found '\(line)'", at: loc(indent + 1), length: line.count,
                                              hint: "group variables are written key=value, one per line"))
                    continue
                }
                let k = line[..<eq].trimmingCharacters(in: .whitespaces)
                let v = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                inv.setGroupVariable(group, k, Self.parseValue(v))
            case "children":
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                // Ansible: one group name per line (a comment may follow).
                if words.count > 1 && !words[1].hasPrefix("#") && !words[1].hasPrefix(";") {
                    diagnostics.append(.error("expected a group name in [\(group):children], found '\(line)'", at: loc(indent + 1), length: line.count,
                                              hint: "write one group name per line"))
                    continue
                }
                let child = words.first.map(String.init) ?? line
                if inv.groups[child] == nil {
                    if pending[child] == nil {
                        pending[child] = Pending(line: lineNo, state: "children", parents: [group])
                        pendingOrder.append(child)
                    } else {
                        pending[child]!.parents.append(group)
                    }
                } else {
                    do { try inv.addChild(group, child) } catch {
                        diagnostics.append(.error("group '\(child)' is a child of '\(group)', which makes a cycle", at: loc(indent + 1), length: child.count,
                                                  hint: "a group cannot contain itself, directly or through its children"))
                    }
                }
            default:
                continue
            }
        }
        for name in pendingOrder {
            guard let p = pending[name] else { continue }
            let at = SourceLocation(file: file, line: p.line, column: 1)
            if p.state == "vars" {
                diagnostics.append(.error("section [\(name):vars] is for a group that is never defined", at: at,
                                          hint: "add a [\(name)] section with its hosts, or fix the group name"))
            } else {
                let known = inv.userGroups.filter { pending[$0] == nil }
                diagnostics.append(.error("[\(p.parents.last ?? ""):children] names group '\(name)', which is never defined", at: at, length: name.count,
                                          hint: Suggestions.hint(for: name, among: known, noun: "group")))
            }
        }
    }

    /// `^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$`
    func parseSection(_ line: String) -> (String, String)? {
        guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return nil }
        let inner = line[line.index(after: line.startIndex)..<close]
        let rest = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
        guard rest.isEmpty || rest.hasPrefix("#") else { return nil }
        let parts = inner.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace }) else { return nil }
        if parts.count == 2 {
            let tag = String(parts[1])
            guard !tag.isEmpty, tag.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
            return (name, tag)
        }
        return (name, "hosts")
    }

    /// `_parse_value`: Python's `ast.literal_eval` where the text is a literal (lists, dicts,
    /// numbers, booleans, quoted strings), else the text itself.
    static func parseValue(_ v: String) -> VarValue {
        PythonLiteral.parse(v) ?? .string(v)
    }
}
