import Testing
@testable import FiredrillCore

@Suite struct InventoryLoadingTests {
    @Test(arguments: [
        ("db[01:03]", ["db01", "db02", "db03"]),
        ("web[1:9:4]", ["web1", "web5", "web9"]),
        ("rack[a:c]", ["racka", "rackb", "rackc"]),
        ("n[1:2]-[a:b]", ["n1-a", "n1-b", "n2-a", "n2-b"]),
        ("plain", ["plain"]),
        ("[0:2].example", ["0.example", "1.example", "2.example"]),
    ])
    func hostRanges(_ pattern: String, _ hosts: [String]) throws {
        #expect(try HostAddress.expandRange(pattern) == hosts)
    }

    @Test(arguments: ["db[01:3]", "db[3:]", "db[1:2:0]", "db[z:a]"])
    func badRangesAreErrors(_ pattern: String) {
        #expect(throws: HostAddress.RangeError.self) { try HostAddress.expandRange(pattern) }
    }

    @Test func iniCycleIsReportedWithLine() {
        let ini = """
        [a]
        h1
        [b]
        h2
        [a:children]
        b
        [b:children]
        a
        """
        let r = InventoryLoader().load(text: ini, file: "cyc.ini")
        let d = r.diagnostics.first(containing: "cycle")
        #expect(d?.location?.line == 8)
    }

    @Test func yamlCycleIsReported() {
        let yaml = """
        all:
          children:
            a:
              children:
                b:
                  children:
                    a:
        """
        let r = InventoryLoader().load(text: yaml, file: "cyc.yml")
        // Like Ansible, the edge that closes the loop is the outer one (b is attached to a after b is read).
        #expect(r.diagnostics.first(containing: "cycle")?.location?.line == 5)
    }

    @Test func undefinedChildGroupInINI() {
        let r = InventoryLoader().load(text: "[site:children]\neast\nwset\n[east]\nh1\n[west]\nh2\n", file: "x.ini")
        let d = r.diagnostics.first(containing: "never defined")
        #expect(d?.location?.line == 3)
        #expect(d?.hint?.contains("did you mean 'west'") == true)
    }

    @Test func badHostVariableLine() {
        let r = InventoryLoader().load(text: "[web]\nweb1 ansible_port 22\n", file: "x.ini")
        #expect(r.diagnostics.first(containing: "expected key=value")?.location == SourceLocation(file: "x.ini", line: 2, column: 6))
    }

    @Test func connectionSettingsFromVariables() {
        let r = InventoryLoader().load(text: """
        [db]
        db1 ansible_host=10.0.0.1 ansible_port=2222 ansible_user=pg ansible_ssh_private_key_file=/keys/db
        ctl ansible_connection=local
        """, file: "x.ini")
        let c = r.inventory.connection(of: "db1")
        #expect(c == HostConnection(name: "db1", address: "10.0.0.1", port: 2222, user: "pg", privateKeyFile: "/keys/db", kind: .ssh))
        #expect(r.inventory.connection(of: "ctl").kind == .local)
        #expect(r.inventory.connection(of: "localhost").kind == .local, "implicit localhost is the controller")
    }

    @Test func missingInventoryFile() {
        let r = InventoryLoader().load(paths: ["/nonexistent/inventory.yml"])
        #expect(r.diagnostics.first(containing: "does not exist") != nil)
    }
}
