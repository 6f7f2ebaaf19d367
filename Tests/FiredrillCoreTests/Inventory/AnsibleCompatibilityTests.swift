import Foundation
import Testing
@testable import FiredrillCore

/// Host selection, graphs and host variables compared with what ansible-core printed
/// for the same inventories (Fixtures/ansible/expected.json, made by generate.sh).
@Suite struct AnsibleCompatibilityTests {
    struct Expected: Decodable {
        var ansible_core: String
        var selections: [String: [String: [String]]]
        var graphs: [String: String]
        var hostvars: [String: [String: [String: VarValue]]]
    }

    static let expected: Expected = {
        let data = FileManager.default.contents(atPath: Fixtures.path("ansible/expected.json")) ?? Data()
        return (try? JSONDecoder().decode(Expected.self, from: data)) ?? Expected(ansible_core: "", selections: [:], graphs: [:], hostvars: [:])
    }()

    static let inventories = ["basic.ini", "nested.yml", "order.ini", "folder", "literals.ini", "folder2"]

    static func load(_ name: String) -> Inventory {
        InventoryLoader().load(paths: [Fixtures.path("ansible/\(name)")]).inventory
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var inventory: String, pattern: String, hosts: [String]
        var testDescription: String { "\(inventory) '\(pattern)'" }
    }

    static let cases: [Case] = inventories.flatMap { inv in
        (expected.selections[inv] ?? [:]).keys.sorted().map { Case(inventory: inv, pattern: $0, hosts: expected.selections[inv]![$0]!) }
    }

    @Test func fixturesArePresent() {
        #expect(Self.cases.count > 100, "expected.json should hold the ansible selections")
        for inv in Self.inventories {
            #expect(InventoryLoader().load(paths: [Fixtures.path("ansible/\(inv)")]).diagnostics.isEmpty)
        }
    }

    /// Inventories where groups two or more levels below the selected group have siblings with
    /// children: Ansible walks those levels by iterating a `set` of Group objects hashed by
    /// object id (memory address), so its order there is not reproducible. We walk them in
    /// inventory order; for these files only membership is compared.
    static let addressOrdered: Set<String> = ["nested.yml"]

    @Test(arguments: cases)
    func selectionMatchesAnsible(_ c: Case) {
        let inventory = Self.load(c.inventory)
        let selected = (try? InventoryPattern(inventory).select(c.pattern).hosts) ?? []
        if Self.addressOrdered.contains(c.inventory) {
            #expect(Set(selected) == Set(c.hosts))
            #expect(selected.count == c.hosts.count)
        } else {
            #expect(selected == c.hosts)
        }
    }

    @Test(arguments: inventories)
    func graphMatchesAnsible(_ name: String) {
        #expect(InventoryRenderer().graph(Self.load(name)) == Self.expected.graphs[name])
    }

    @Test(arguments: inventories)
    func hostVariablesMatchAnsible(_ name: String) {
        let inventory = Self.load(name)
        let expected = Self.expected.hostvars[name] ?? [:]
        // ansible-inventory leaves hosts without variables out of _meta.hostvars.
        #expect(Set(expected.keys).isSubset(of: Set(inventory.hostOrder)))
        for host in inventory.hostOrder {
            #expect(Self.numeric(.map(inventory.variables(of: host))) == Self.numeric(.map(expected[host] ?? [:])), "variables of \(host)")
        }
    }

    /// JSON cannot tell Python's 1000.0 from 1000 once decoded: whole floats compare as integers.
    static func numeric(_ v: VarValue) -> VarValue {
        switch v {
        case let .double(d) where d == d.rounded() && abs(d) < 1e15: return .int(Int(d))
        case let .list(items): return .list(items.map(numeric))
        case let .map(m): return .map(m.mapValues(numeric))
        default: return v
        }
    }

    @Test func limitIntersectsSelection() throws {
        let inventory = Self.load("basic.ini")
        let s = try InventoryPattern(inventory).select("web", limit: "east")
        #expect(s.hosts == ["web01", "web03"])
    }
}
