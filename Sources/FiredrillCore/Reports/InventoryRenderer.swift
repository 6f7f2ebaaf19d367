/// `firedrill inventory` output: hosts with connection settings and variables, or a group graph.
public struct InventoryRenderer: Sendable {
    public var style: TerminalStyle

    public init(style: TerminalStyle = TerminalStyle(enabled: false)) { self.style = style }

    /// Like `ansible-inventory --graph [GROUP]`: children in inventory order, then hosts.
    public func graph(_ inventory: Inventory, from group: String = "all") -> String {
        func name(_ n: String, _ depth: Int) -> String { depth == 0 ? n : String(repeating: "  |", count: depth) + "--" + n }
        var lines: [String] = []
        var guardCount = 0
        func visit(_ g: String, _ depth: Int) {
            guardCount += 1
            guard let group = inventory.groups[g], guardCount < 100_000 else { return }
            lines.append(name("@\(g):", depth))
            for kid in group.children { visit(kid, depth + 1) }
            if g != "all" { for h in group.hosts { lines.append(name(h, depth + 1)) } }
        }
        visit(group, 0)
        return lines.joined(separator: "\n") + "\n"
    }

    public func list(_ inventory: Inventory, hosts: [String]) -> String {
        var out: [String] = []
        for h in hosts {
            let c = inventory.connection(of: h)
            var line = style.bold(h) + "  " + c.endpoint
            if let u = c.user { line += "  user \(u)" }
            if let k = c.privateKeyFile { line += "  key \(k)" }
            out.append(line)
            let groups = (inventory.hosts[h]?.groups ?? []).filter { $0 != "all" }
            if !groups.isEmpty { out.append("  groups: " + groups.joined(separator: ", ")) }
            let vars = inventory.variables(of: h)
            for k in vars.keys.sorted() { out.append("  \(k) = \(vars[k]!.text)") }
        }
        out.append(style.dim("\(hosts.count) host\(hosts.count == 1 ? "" : "s")"))
        return out.joined(separator: "\n") + "\n"
    }

    public struct JSONHost: Encodable {
        public var name: String
        public var connection: HostConnection
        public var groups: [String]
        public var vars: [String: VarValue]
    }

    public struct JSONInventory: Encodable {
        public var format = "firedrill.inventory/1"
        public var pattern: String
        public var hosts: [JSONHost]
    }

    public func json(_ inventory: Inventory, pattern: String, hosts: [String]) throws -> String {
        let list = hosts.map {
            JSONHost(name: $0, connection: inventory.connection(of: $0),
                     groups: (inventory.hosts[$0]?.groups ?? []).filter { $0 != "all" }, vars: inventory.variables(of: $0))
        }
        return try JSONOutput.encode(JSONInventory(pattern: pattern, hosts: list)) + "\n"
    }
}
