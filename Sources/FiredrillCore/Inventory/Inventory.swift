import Foundation
/// An Ansible-compatible inventory: hosts and groups in the order Ansible keeps them,
/// with their variables. Built by `InventoryBuilder`; queried with `InventoryPattern`.
public struct Inventory: Sendable {
    public struct Group: Sendable, Equatable {
        public var name: String
        /// Hosts directly in the group, in the order they were added.
        public var hosts: [String] = []
        public var children: [String] = []
        public var parents: [String] = []
        public var vars: [String: VarValue] = [:]
        /// Longest distance from `all` (Ansible's `Group.depth`).
        public var depth = 0
        /// `ansible_group_priority` (default 1).
        public var priority = 1
        public var location: SourceLocation?
    }

    public struct Host: Sendable, Equatable {
        public var name: String
        public var vars: [String: VarValue] = [:]
        /// Groups the host was put in directly, plus their ancestors (Ansible's `Host.groups`).
        public var groups: [String] = []
        public var location: SourceLocation?
    }

    /// Hosts by name, and their order of first appearance (Ansible's `InventoryData.hosts`).
    public internal(set) var hosts: [String: Host] = [:]
    public internal(set) var hostOrder: [String] = []
    public internal(set) var groups: [String: Group] = [:]
    public internal(set) var groupOrder: [String] = []
    /// Variables from `group_vars/` and `host_vars/` folders next to the inventory.
    public internal(set) var groupVarsFiles: [String: [String: VarValue]] = [:]
    public internal(set) var hostVarsFiles: [String: [String: VarValue]] = [:]
    /// Files and folders the inventory was read from.
    public internal(set) var sources: [String] = []
    /// The team's OpenSSH configuration, consulted as Ansible's `ssh` would (inventory variables win).
    public var sshConfig: SSHConfig?

    /// Filled by `freeze()` once loading is done: merged variables per host and hosts per group,
    /// which planning asks for once per host and step.
    private var variablesCache: [String: [String: VarValue]]?
    private var groupHostsCache: [String: [String]]?

    /// Precomputes what planning asks for repeatedly. Any later change clears it.
    public mutating func freeze() {
        var groupsCache: [String: [String]] = [:]
        for g in groupOrder { groupsCache[g] = computeHostsOf(group: g) }
        var vars: [String: [String: VarValue]] = [:]
        for h in hostOrder { vars[h] = computeVariables(of: h) }
        groupHostsCache = groupsCache
        variablesCache = vars
    }

    private mutating func thaw() {
        variablesCache = nil
        groupHostsCache = nil
    }

    public init() {
        addGroup("all")
        addGroup("ungrouped")
        _ = try? addChild("all", "ungrouped")
    }

    // MARK: - Building (mirrors ansible inventory/data.py and group.py)

    @discardableResult
    mutating func addGroup(_ name: String, at location: SourceLocation? = nil) -> String {
        thaw()
        if groups[name] == nil {
            groups[name] = Group(name: name, location: location)
            groupOrder.append(name)
        }
        return name
    }

    /// InventoryData.add_host: creates the host on first sight, then adds it to `group`.
    mutating func addHost(_ name: String, group: String?, at location: SourceLocation? = nil) {
        thaw()
        if hosts[name] == nil {
            hosts[name] = Host(name: name, location: location)
            hostOrder.append(name)
        }
        if let group { addHostToGroup(name, group) }
    }

    /// Group.add_host + Host.add_group (which also records the group's ancestors).
    mutating func addHostToGroup(_ host: String, _ group: String) {
        thaw()
        guard var g = groups[group], !g.hosts.contains(host) else { return }
        g.hosts.append(host)
        groups[group] = g
        populateAncestors(host: host, of: group)
    }

    private mutating func populateAncestors(host: String, of group: String) {
        guard var h = hosts[host] else { return }
        for name in [group] + ancestors(of: group) where !h.groups.contains(name) {
            h.groups.append(name)
        }
        hosts[host] = h
    }

    mutating func removeHostFromGroup(_ host: String, _ group: String) {
        thaw()
        groups[group]?.hosts.removeAll { $0 == host }
        hosts[host]?.groups.removeAll { $0 == group }
    }

    public struct CycleError: Error { public var parent: String, child: String }

    /// Group.add_child_group: refuses cycles, updates depths and the hosts' ancestor lists.
    mutating func addChild(_ parent: String, _ child: String) throws {
        thaw()
        guard parent != child else { throw CycleError(parent: parent, child: child) }
        guard let p = groups[parent], groups[child] != nil, !p.children.contains(child) else { return }
        if ancestors(of: parent).contains(child) { throw CycleError(parent: parent, child: child) }
        groups[parent]!.children.append(child)
        groups[child]!.depth = max(p.depth + 1, groups[child]!.depth)
        fixDepth(below: child)
        if !groups[child]!.parents.contains(parent) {
            groups[child]!.parents.append(parent)
            for h in hostsOf(group: child) { populateAncestors(host: h, of: child) }
        }
    }

    private mutating func fixDepth(below group: String) {
        var stack = [group]
        var visited = 0
        while let g = stack.popLast(), visited < 100_000 {
            visited += 1
            let d = groups[g]!.depth
            for c in groups[g]!.children where groups[c]!.depth < d + 1 {
                groups[c]!.depth = d + 1
                stack.append(c)
            }
        }
    }

    mutating func setGroupVariable(_ group: String, _ key: String, _ value: VarValue) {
        thaw()
        // Group.set_variable: the priority is an attribute of the group, not a variable.
        if key == "ansible_group_priority" {
            if case let .int(p) = value { groups[group]?.priority = p }
            else if let p = Int(value.text) { groups[group]?.priority = p }
            return
        }
        groups[group]?.vars[key] = value
    }

    mutating func setHostVariable(_ host: String, _ key: String, _ value: VarValue) {
        thaw()
        hosts[host]?.vars[key] = value
    }

    /// InventoryData.reconcile_inventory: top-level groups become children of `all`;
    /// hosts in no group go to `ungrouped`, and leave it once they are in another group.
    mutating func reconcile() {
        thaw()
        for name in groupOrder where name != "all" && ancestors(of: name).isEmpty {
            try? addChild("all", name)
        }
        for name in hostOrder {
            let mine = hosts[name]!.groups
            if mine.contains("ungrouped") {
                if !Set(mine).subtracting(["all", "ungrouped"]).isEmpty { removeHostFromGroup(name, "ungrouped") }
            } else if mine.isEmpty || (mine.count == 1 && mine[0] == "all") {
                addHostToGroup(name, "ungrouped")
            }
        }
    }

    // MARK: - Queries

    /// All ancestors of a group (Group.get_ancestors).
    public func ancestors(of group: String) -> [String] {
        var out: [String] = []
        var queue = groups[group]?.parents ?? []
        while !queue.isEmpty {
            let g = queue.removeFirst()
            if out.contains(g) { continue }
            out.append(g)
            queue += groups[g]?.parents ?? []
        }
        return out
    }

    /// Group.get_descendants(include_self=True, preserve_ordering=True): the group, its
    /// children in order, then each further level. Ansible walks the levels below the
    /// children in set order (not deterministic across runs); we walk them in list order.
    public func descendants(of group: String) -> [String] {
        guard groups[group] != nil else { return [] }
        var ordered = [group] + groups[group]!.children
        var seen = Set(ordered)
        var level = ordered
        while !level.isEmpty {
            var next: [String] = []
            for g in level {
                for c in groups[g]?.children ?? [] where !seen.contains(c) {
                    seen.insert(c)
                    ordered.append(c)
                    next.append(c)
                }
            }
            level = next
        }
        return ordered
    }

    /// Group.get_hosts: hosts of the group and all its descendants, first appearance first.
    public func hostsOf(group: String) -> [String] {
        if let cached = groupHostsCache?[group] { return cached }
        return computeHostsOf(group: group)
    }

    private func computeHostsOf(group: String) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        for g in descendants(of: group) {
            for h in groups[g]?.hosts ?? [] where seen.insert(h).inserted {
                out.append(h)
            }
        }
        return out
    }

    /// The host's variables merged as Ansible does: groups by (depth, priority, name), inventory
    /// group vars, then group_vars/ files, then inventory host vars, then host_vars/ files.
    public func variables(of host: String) -> [String: VarValue] {
        if let cached = variablesCache?[host] { return cached }
        return computeVariables(of: host)
    }

    private func computeVariables(of host: String) -> [String: VarValue] {
        guard let h = hosts[host] else { return [:] }
        var names = h.groups
        if !names.contains("all") { names.append("all") }
        let sorted = names.compactMap { groups[$0] }.sorted {
            ($0.depth, $0.priority, $0.name) < ($1.depth, $1.priority, $1.name)
        }
        var vars: [String: VarValue] = [:]
        for g in sorted { vars.merge(g.vars) { _, new in new } }
        for g in sorted { vars.merge(groupVarsFiles[g.name] ?? [:]) { _, new in new } }
        vars.merge(h.vars) { _, new in new }
        vars.merge(hostVarsFiles[host] ?? [:]) { _, new in new }
        return vars
    }

    /// Variables every host has: the `all` group's, then `group_vars/all`.
    public func variablesOfAll() -> [String: VarValue] {
        var vars = groups["all"]?.vars ?? [:]
        vars.merge(groupVarsFiles["all"] ?? [:]) { _, new in new }
        return vars
    }

    /// How to reach a host, as Ansible's `ssh` would: the inventory's variables (`ansible_host`,
    /// `ansible_port`, `ansible_user`, `ansible_ssh_private_key_file`) first, then the `-o`
    /// options in `ansible_ssh_common_args`/`ansible_ssh_extra_args` (they are on `ssh`'s command
    /// line), then `~/.ssh/config` for the host's address (its `HostName`, `Port`, `User`,
    /// `IdentityFile`…), then OpenSSH's defaults.
    public func connection(of host: String) -> HostConnection {
        if hosts[host] == nil, Inventory.localhostNames.contains(host) {
            return HostConnection(name: host, address: "127.0.0.1", port: 22, kind: .local)
        }
        let vars = variables(of: host)
        func text(_ k: String) -> String? { vars[k].flatMap { $0 == .null ? nil : $0.text } }
        var port: Int?
        switch vars["ansible_port"] ?? vars["ansible_ssh_port"] {
        case let .int(p)?: port = p
        case let .string(s)?: port = Int(s)
        default: port = nil
        }
        let local = text("ansible_connection") == "local"
        let target = text("ansible_host") ?? text("ansible_ssh_host") ?? host
        // `ssh`'s command line: the first value of each option wins over the configuration file.
        var commandLine: [String: String] = [:]
        var commandLineKeys: [String] = []
        var openQuote: String?
        for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
            guard let args = text(key) else { continue }
            if SSHConfig.hasOpenQuote(args) { openQuote = key }
            for o in SSHConfig.commandLineOptions(args).options {
                if o.key == "identityfile" { commandLineKeys.append(o.value); continue }
                if commandLine[o.key] == nil { commandLine[o.key] = o.value }
            }
        }
        let file = local ? nil : sshConfig?.resolve(target)
        func option(_ key: String) -> String? { commandLine[key] ?? file?.value(key) }
        let address = commandLine["hostname"] ?? file?.hostName ?? target
        let user = text("ansible_user") ?? text("ansible_ssh_user") ?? option("user")
        var result = HostConnection(
            name: host,
            address: address,
            port: port ?? option("port").flatMap(Int.init) ?? 22,
            user: user,
            privateKeyFile: text("ansible_ssh_private_key_file") ?? text("ansible_private_key_file"),
            kind: local ? .local : .ssh)
        guard !local else { return result }
        if let python = text("ansible_python_interpreter")?.trimmingCharacters(in: .whitespaces), !python.isEmpty, !python.hasPrefix("auto") {
            result.pythonInterpreter = python
        }
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        let me = CurrentUser.name()
        let expand: (String) -> String = { s in
            (file ?? SSHConfig.Resolved(host: target.lowercased())).expanded(s, home: home, localUser: me, remoteUser: user ?? me, port: result.port)
        }
        result.knownHostsFile = option("userknownhostsfile").map { $0.split(separator: " ").map(String.init).first.map(expand) ?? $0 }
        let identities = (commandLineKeys + (file?.identityFiles ?? [])).map(expand)
        if !identities.isEmpty { result.identityFiles = identities }
        if option("identitiesonly")?.lowercased() == "yes" { result.identitiesOnly = true }
        result.connectTimeoutSeconds = option("connecttimeout").flatMap(Int.init)
        // Arguments Ansible could not split are not guessed at: the host is refused.
        if let openQuote {
            result.routeProblem = "\(openQuote) of \(host) has a quote that is never closed (Ansible would refuse it too)"
            return result
        }
        result.keepaliveSeconds = option("serveraliveinterval").flatMap(Int.init)
        result.strictHostKeyChecking = option("stricthostkeychecking")?.lowercased()
        // ProxyJump and ProxyCommand are one setting: the first given wins (the command line's
        // over the file's, as ssh reads them).
        let proxy: (key: String, value: String)? = ["proxyjump", "proxycommand"].compactMap { k in commandLine[k].map { (k, $0) } }.first
            ?? file.flatMap { f in f.proxyJump.map { ("proxyjump", $0) } ?? f.proxyCommand.map { ("proxycommand", $0) } }
        if let proxy, proxy.value.lowercased() != "none" {
            switch proxy.key {
            case "proxyjump":
                switch jumpRoute(proxy.value, knownHostsFile: result.knownHostsFile, privateKeyFile: result.privateKeyFile, depth: 0) {
                case let .success(route): result.route = route
                case let .failure(problem): result.routeProblem = problem.message
                }
            default:
                // %h, %n and %r go into a shell command: a name with shell characters is refused,
                // as ssh refuses it, never run.
                // (%h is what the file's HostName makes of the host; -o HostName= gives `address`.)
                let tokens = [("%h", address), ("%h", file?.hostName ?? target), ("%n", target), ("%r", user ?? me)]
                if let bad = tokens.first(where: { proxy.value.contains($0.0) && !Self.isSafeName($0.1) }) {
                    result.routeProblem = "the ProxyCommand would be given \(bad.0) = '\(TerminalText.safe(String(bad.1.prefix(80))))', which contains characters a \(bad.0 == "%r" ? "user" : "host") name cannot have"
                } else {
                    result.route = .command(expand(proxy.value))
                }
            }
        }
        return result
    }

    struct RouteProblem: Error { var message: String }

    /// A host or user name ssh would accept (no shell characters, no blanks or control
    /// characters, not starting with `-`, at most 255 characters), as OpenSSH's
    /// `valid_hostname`/`valid_ruser` judge them.
    static func isSafeName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 255, !s.hasPrefix("-") else { return false }
        return !s.unicodeScalars.contains { c in
            "'`\"$\\;&<>|(){},*".unicodeScalars.contains(c) || c.properties.isWhitespace || c.value < 0x20 || c.value == 0x7f
        }
    }

    /// The route `ProxyJump` names (`[user@]host[:port]`, several separated by commas, or
    /// `ssh://user@host:port`): each hop is read from the SSH configuration under its own name
    /// (its `HostName`, `User`, `Port`, `IdentityFile`…), as `ssh` reads it; the first hop's own
    /// `ProxyJump`/`ProxyCommand` is followed (to 8 levels), later hops are reached through the
    /// one before. A hop's host keys are checked in its own `UserKnownHostsFile`, else in the
    /// target's; a hop with no `IdentityFile` of its own is offered the host's key
    /// (`ansible_ssh_private_key_file`) before the default keys and the agent.
    func jumpRoute(_ spec: String, knownHostsFile: String?, privateKeyFile: String?, depth: Int) -> Result<ProxyRoute, RouteProblem> {
        guard depth < 8 else { return .failure(RouteProblem(message: "ProxyJump \(spec): jump hosts nest more than 8 deep (a loop in the SSH configuration?)")) }
        var previous: HostConnection?
        for raw in spec.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            var hop = raw
            if hop.hasPrefix("ssh://") { hop.removeFirst(6) }
            var user: String?
            if let at = hop.lastIndex(of: "@") { user = String(hop[..<at]); hop = String(hop[hop.index(after: at)...]) }
            var port: Int?
            if hop.hasPrefix("["), let close = hop.firstIndex(of: "]") {
                let rest = hop[hop.index(after: close)...]
                if rest.hasPrefix(":") { port = Int(rest.dropFirst()); if port == nil { return .failure(RouteProblem(message: "ProxyJump \(spec): '\(raw)' has a port that is not a number")) } }
                hop = String(hop[hop.index(after: hop.startIndex)..<close])
            } else if let colon = hop.firstIndex(of: ":"), hop.firstIndex(of: ":") == hop.lastIndex(of: ":") {
                port = Int(hop[hop.index(after: colon)...])
                if port == nil { return .failure(RouteProblem(message: "ProxyJump \(spec): '\(raw)' has a port that is not a number")) }
                hop = String(hop[..<colon])
            }
            guard !hop.isEmpty, user?.isEmpty != true, (port ?? 22) > 0, (port ?? 22) < 65536 else {
                return .failure(RouteProblem(message: "ProxyJump \(TerminalText.safe(String(spec.prefix(200)))): '\(TerminalText.safe(String(raw.prefix(200))))' is not [user@]host[:port]"))
            }
            guard Self.isSafeName(hop), user.map(Self.isSafeName) ?? true else {
                return .failure(RouteProblem(message: "ProxyJump \(TerminalText.safe(String(spec.prefix(200)))): '\(TerminalText.safe(String(raw.prefix(200))))' has characters a host or user name cannot have"))
            }
            let file = sshConfig?.resolve(hop)
            var c = HostConnection(name: hop, address: file?.hostName ?? hop, port: port ?? file?.port ?? 22, user: user ?? file?.user)
            let home = FileManager.default.homeDirectoryForCurrentUser.path
            let me = CurrentUser.name()
            let expand: (String) -> String = { s in
                (file ?? SSHConfig.Resolved(host: hop.lowercased())).expanded(s, home: home, localUser: me, remoteUser: c.user ?? me, port: c.port)
            }
            c.knownHostsFile = file?.userKnownHostsFiles?.first.map(expand) ?? knownHostsFile
            let identities = (file?.identityFiles ?? []).map(expand)
            if !identities.isEmpty { c.identityFiles = identities } else { c.privateKeyFile = privateKeyFile }
            if file?.identitiesOnly == true { c.identitiesOnly = true }
            c.connectTimeoutSeconds = file?.connectTimeout
            c.keepaliveSeconds = file?.serverAliveInterval
            c.strictHostKeyChecking = file?.strictHostKeyChecking
            if let previous {
                c.route = .jump(previous)
            } else if let own = file?.proxyJump {
                switch jumpRoute(own, knownHostsFile: c.knownHostsFile, privateKeyFile: privateKeyFile, depth: depth + 1) {
                case let .success(route): c.route = route
                case let .failure(problem): return .failure(problem)
                }
            } else if let command = file?.proxyCommand {
                c.route = .command(expand(command))
            }
            previous = c
        }
        guard let last = previous else { return .failure(RouteProblem(message: "ProxyJump is empty")) }
        return .success(.jump(last))
    }

    /// The host's become defaults (`ansible_become`, `ansible_become_user`, `ansible_become_method`,
    /// `ansible_become_flags`), under what a playbook, step or check says.
    public func becomeSetting(of host: String) -> BecomeSetting {
        guard hosts[host] != nil else { return BecomeSetting() }
        let vars = variables(of: host)
        func text(_ k: String) -> String? { vars[k].flatMap { $0 == .null ? nil : $0.text } }
        var setting = BecomeSetting()
        switch vars["ansible_become"] {
        case let .bool(b)?: setting.enabled = b
        case let .string(s)?: setting.enabled = ["yes", "true", "1", "on"].contains(s.lowercased()) ? true : (["no", "false", "0", "off"].contains(s.lowercased()) ? false : nil)
        case let .int(i)?: setting.enabled = i != 0
        default: break
        }
        setting.user = text("ansible_become_user")
        setting.method = text("ansible_become_method").flatMap { BecomeMethod(rawValue: $0.lowercased()) }
        setting.flags = text("ansible_become_flags")
        return setting
    }

    /// What about the host's become variables and passwords is not usable, in words (for validate).
    public func becomeProblems(of host: String) -> [String] {
        guard hosts[host] != nil else { return [] }
        let vars = variables(of: host)
        func text(_ k: String) -> String? { vars[k].flatMap { $0 == .null ? nil : $0.text } }
        var out: [String] = []
        // A vault value or a template would be sent as the password itself, and refused (or,
        // worse, lock the account after a few tries): said before anything connects.
        for key in ["ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_password", "ansible_become_pass"] {
            guard let v = text(key) else { continue }
            if v.hasPrefix("$ANSIBLE_VAULT") {
                out.append("\(key) of \(host) is encrypted with ansible-vault, which Firedrill does not decrypt")
            } else if v.contains("{{") {
                out.append("\(key) of \(host) is a template (\(v.prefix(40))), which Firedrill does not render in inventory variables")
            }
        }
        if let m = text("ansible_become_method"), BecomeMethod(rawValue: m.lowercased()) == nil {
            out.append("ansible_become_method of \(host) is '\(m)': Firedrill supports sudo and su")
        }
        if let v = vars["ansible_become"], case let .string(s) = v, !["yes", "true", "1", "on", "no", "false", "0", "off"].contains(s.lowercased()) {
            out.append("ansible_become of \(host) is '\(s)', which is neither true nor false")
        }
        if let u = text("ansible_become_user"), !Become.isValidUser(u) { out.append("ansible_become_user of \(host) is not a user name: '\(u)'") }
        // Flags Firedrill sets itself are refused by the planner, once a playbook may have
        // chosen the method.
        if let f = text("ansible_become_flags"), Become.hasShellCharacters(f) {
            out.append("ansible_become_flags of \(host) may hold only options, found shell characters in '\(TerminalText.safe(String(f.prefix(80))))'")
        }
        return out
    }

    /// The host's passwords from the inventory (`ansible_password`/`ansible_ssh_pass`,
    /// `ansible_become_password`/`ansible_become_pass`): secrets, never in a plan or journal.
    public func credentials(of host: String) -> HostCredentials {
        guard hosts[host] != nil else { return HostCredentials() }
        let vars = variables(of: host)
        func secret(_ keys: String...) -> Secret? {
            for k in keys { if let v = vars[k], v != .null, !v.text.isEmpty { return Secret(v.text) } }
            return nil
        }
        return HostCredentials(password: secret("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
                               becomePassword: secret("ansible_become_password", "ansible_become_pass"))
    }

    /// What about reaching `host` Firedrill reads but does not act on, in words: options in the
    /// SSH configuration or in `ansible_ssh_common_args` it does not use (never silently dropped).
    public func sshNotes(of host: String) -> [String] {
        guard hosts[host] != nil else { return [] }
        let vars = variables(of: host)
        func text(_ k: String) -> String? { vars[k].flatMap { $0 == .null ? nil : $0.text } }
        guard text("ansible_connection") != "local" else { return [] }
        var notes: [String] = []
        for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
            guard let args = text(key) else { continue }
            let parsed = SSHConfig.commandLineOptions(args)
            let ignored = parsed.options.map(\.key).filter { !SSHConfig.understood.contains($0) && !SSHConfig.harmless.contains($0) }
            if !parsed.unknown.isEmpty || !ignored.isEmpty {
                notes.append("\(key) of \(host): not used: \((parsed.unknown + ignored).joined(separator: ", "))")
            }
        }
        let target = text("ansible_host") ?? text("ansible_ssh_host") ?? host
        if let ignored = sshConfig?.ignoredOptions(target), !ignored.isEmpty {
            notes.append("the SSH configuration's options for \(target) that Firedrill does not use: \(ignored.joined(separator: ", "))")
        }
        return notes
    }

    /// Names Ansible treats as the implicit, local controller host when the inventory lacks them.
    public static let localhostNames: Set<String> = ["localhost", "127.0.0.1", "::1"]

    /// Names of every group except `all` and `ungrouped`, in inventory order.
    public var userGroups: [String] { groupOrder.filter { $0 != "all" && $0 != "ungrouped" } }
}

/// Connection settings of one host.
/// A host's passwords, apart from its connection (which plans and journals record).
public struct HostCredentials: Sendable, Equatable {
    public var password: Secret?
    public var becomePassword: Secret?

    public init(password: Secret? = nil, becomePassword: Secret? = nil) {
        self.password = password; self.becomePassword = becomePassword
    }

    /// Each value from `self`, or else from `fallback` (the operator's -k/-K).
    public func or(_ fallback: HostCredentials) -> HostCredentials {
        HostCredentials(password: password ?? fallback.password, becomePassword: becomePassword ?? fallback.becomePassword)
    }
}

public struct HostConnection: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable { case ssh, local }
    public var name: String
    public var address: String
    public var port: Int
    public var user: String?
    public var privateKeyFile: String?
    public var kind: Kind
    /// known_hosts file from `-o UserKnownHostsFile=` in ansible_ssh_common_args (or the SSH
    /// configuration), if any.
    public var knownHostsFile: String?
    /// Key files from `IdentityFile` (the SSH configuration, `-i`), after `privateKeyFile`.
    public var identityFiles: [String]?
    /// `IdentitiesOnly yes`: only those key files, never the agent's other keys.
    public var identitiesOnly: Bool?
    /// `ConnectTimeout` for this host, in seconds.
    public var connectTimeoutSeconds: Int?
    /// How the host is reached when not directly: through a jump host (`ProxyJump`, `-J`), or
    /// through a proxy command's input and output (`ProxyCommand`).
    public var route: ProxyRoute?
    /// A `ProxyJump`/`ProxyCommand` that cannot be followed (said at plan; the host is refused,
    /// never reached directly instead).
    public var routeProblem: String?
    /// `ServerAliveInterval`: seconds between keepalives on this host's connection.
    public var keepaliveSeconds: Int?
    /// `StrictHostKeyChecking` (`yes`, `accept-new`, `no`, `ask`), lower-cased.
    public var strictHostKeyChecking: String?
    /// `ansible_python_interpreter`: the Python that runs the resident executor (nil: `python3`
    /// on the login's PATH; Ansible's `auto…` values count as nil).
    public var pythonInterpreter: String?

    public init(name: String, address: String, port: Int = 22, user: String? = nil, privateKeyFile: String? = nil, kind: Kind = .ssh) {
        self.name = name; self.address = address; self.port = port; self.user = user
        self.privateKeyFile = privateKeyFile; self.kind = kind
    }

    /// `address:port` (IPv6 in brackets), or `local`.
    public var endpoint: String {
        if kind == .local { return "local" }
        return address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// The jump hosts in the order they are reached (the first is reached directly, or by a
    /// proxy command), empty when the host is reached directly.
    public var jumps: [HostConnection] {
        guard case let .jump(hop)? = route else { return [] }
        return hop.jumps + [hop]
    }

    /// Where and how a command gets there: `10.2.0.11:22 via bastion-b (10.0.0.5:22) as deploy`.
    public var reachDescription: String {
        endpoint + (pathDescription.map { " \($0)" } ?? "") + (user.map { " as \($0)" } ?? "")
    }

    /// The way there, in words: `via bastion (10.0.0.5:22)`, `via a (…) → b (…)`, `via the
    /// ProxyCommand 'nc %h %p'`; nil when the host is reached directly.
    public var pathDescription: String? {
        switch route {
        case nil: return nil
        case let .command(c)?: return "via the ProxyCommand '\(c)'"
        case .jump?:
            let hops = jumps
            let first = hops.first.flatMap { h -> String? in if case let .command(c)? = h.route { return "the ProxyCommand '\(c)' → " } else { return nil } } ?? ""
            return "via " + first + hops.map { "\($0.name) (\($0.user.map { "\($0)@" } ?? "")\($0.endpoint))" }.joined(separator: " → ")
        }
    }
}

/// How a host is reached when it is not reached directly.
public indirect enum ProxyRoute: Sendable, Hashable, Codable {
    /// Through a forwarded connection (`direct-tcpip`) opened by this jump host, itself reached
    /// by its own route.
    case jump(HostConnection)
    /// Through the standard input and output of this command (`ProxyCommand`, tokens expanded),
    /// run on the controller.
    case command(String)

    enum CodingKeys: String, CodingKey { case jump, command }

    // `{"jump": {host…}}` or `{"command": "nc %h %p"}` in plans.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case let .jump(h): try c.encode(h, forKey: .jump)
        case let .command(s): try c.encode(s, forKey: .command)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let h = try c.decodeIfPresent(HostConnection.self, forKey: .jump) { self = .jump(h); return }
        self = .command(try c.decode(String.self, forKey: .command))
    }
}
