import Foundation
import Testing

/// `firedrill inventory` on inventories shaped like real ones (kubespray's empty groups,
/// comment-only vars files, INI literal values), through the binary.
@Suite struct InventoryCLITests {
    static let fixtures = Firedrill.repoRoot + "/Tests/FiredrillCoreTests/Fixtures/ansible"

    @Test func anEmptySelectionIsAValidEmptyListWithAWarning() throws {
        let r = try Firedrill.run(["inventory", "-i", Self.fixtures + "/literals.ini", "calico-rr", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        struct Doc: Decodable { var pattern: String; var hosts: [Host]; struct Host: Decodable { var name: String } }
        let doc = try JSONDecoder().decode(Doc.self, from: Data(r.stdout.utf8))
        #expect(doc.hosts.isEmpty && doc.pattern == "calico-rr")
        #expect(r.stderr.contains("group 'calico-rr' exists but has no hosts") && !r.stderr.contains("did you mean"), "\(r.stderr)")
        // A name that is nowhere still gets its did-you-mean.
        let typo = try Firedrill.run(["inventory", "-i", Self.fixtures + "/literals.ini", "calico-r", "--format", "json"])
        #expect(typo.status == 0 && typo.stderr.contains("matches no group or host") && typo.stderr.contains("calico-rr"), "\(typo.stderr)")
        // A drill on no host stays an error.
        let ping = try Firedrill.run(["ping", "calico-rr", "-i", Self.fixtures + "/literals.ini"])
        #expect(ping.status == 2)
    }

    @Test func commentOnlyVarsFilesAndLiteralValuesLoadAsAnsibleLoadsThem() throws {
        let r = try Firedrill.run(["inventory", "-i", Self.fixtures + "/folder2", "node2", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"node_labels\"") && r.stdout.contains("\"zone\" : \"b\""), "\(r.stdout)")
        let lit = try Firedrill.run(["inventory", "-i", Self.fixtures + "/literals.ini", "osd0", "--format", "json"])
        #expect(lit.stdout.contains("\"/dev/sdb\"") && lit.stdout.contains("\"port\" : 5432"), "\(lit.stdout)")
    }

    @Test func iniShapesAnsibleRefusesAreRefusedWithWhereAndHow() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-inv-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir + "/gv/group_vars", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (text, says) in [("---\n[g]\nh1\n", "sign this is a YAML file"), ("[g]\nh1\n[p:children]\ng extra\n", "expected a group name")] {
            try text.write(toFile: dir + "/inv.ini", atomically: true, encoding: .utf8)
            let r = try Firedrill.run(["inventory", "-i", dir + "/inv.ini"])
            #expect(r.status == 2 && r.stderr.contains(says) && r.stderr.contains("inv.ini:"), "\(r.stderr)")
        }
        // YAML 1.1 as Ansible reads it: a file mode written 0644 is octal.
        try "[g]\nh1\n".write(toFile: dir + "/gv/hosts.ini", atomically: true, encoding: .utf8)
        try "mode: 0644\nports: 1:30\n".write(toFile: dir + "/gv/group_vars/g.yml", atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["inventory", "-i", dir + "/gv", "h1", "--format", "json"])
        #expect(r.status == 0 && r.stdout.contains("\"mode\" : 420") && r.stdout.contains("\"ports\" : 90"), "\(r.stdout)\(r.stderr)")
    }
}
