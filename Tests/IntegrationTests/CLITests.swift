import Foundation
import Testing

/// End-to-end: the built binary, its output and its exit status.
@Suite struct CLITests {
    static let examples = ["ehr-db-failover", "web-tier-failover", "dns-failover", "downtime-procedures"]

    @Test func binaryExists() {
        #expect(FileManager.default.isExecutableFile(atPath: Firedrill.binary), "build first: swift build")
    }

    @Test(arguments: examples)
    func examplesValidate(_ name: String) throws {
        let r = try Firedrill.run(["validate", "Playbooks/\(name).yml"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("valid"))
    }

    @Test(arguments: examples)
    func examplesPlanInEveryFormat(_ name: String) throws {
        let text = try Firedrill.run(["plan", "Playbooks/\(name).yml"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("Nothing was executed"))
        #expect(!text.stdout.contains("\u{1B}["), "no colour when not a TTY")
        let md = try Firedrill.run(["plan", "Playbooks/\(name).yml", "--format", "markdown"])
        #expect(md.stdout.hasPrefix("# Drill plan:"))
        let json = try Firedrill.run(["plan", "Playbooks/\(name).yml", "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["format"] as? String == "firedrill.plan/1")
    }

    /// A misspelled command is invalid input with a did-you-mean, at any level.
    @Test(arguments: [
        (["valdiate", "Playbooks/ehr-db-failover.yml"], "firedrill has no command 'valdiate'", "did you mean 'validate'?"),
        (["shedule"], "firedrill has no command 'shedule'", "did you mean 'schedule'?"),
        (["lab", "staus"], "firedrill lab has no command 'staus'", "did you mean 'status'?"),
        (["lab", "xyz"], "firedrill lab has no command 'xyz'", "commands: up, down, status, backup"),
    ])
    func aMisspelledCommandGetsADidYouMean(_ args: [String], _ says: String, _ hint: String) throws {
        let r = try Firedrill.run(args)
        #expect(r.status == 2 && r.stderr.contains(says) && r.stderr.contains(hint), "\(r.stderr)")
    }

    @Test func planShowsRenderedCommandsAndHosts() throws {
        let r = try Firedrill.run(["plan", "Playbooks/ehr-db-failover.yml"])
        #expect(r.stdout.contains("on db_primary → db1"))
        #expect(r.stdout.contains("$ /usr/lib/postgresql/15/bin/pg_ctl -D /etc/postgresql/15/main stop -m"), "\(r.stdout)")
        #expect(r.stdout.contains("db_port@db1  tcp  10.10.1.11:5432"))
        // Nothing ran: no check is shown as "ok"; a down check says it must fail.
        #expect(!r.stdout.split(separator: "\n").contains { $0.hasPrefix("  ok ") }, "\(r.stdout)")
        #expect(r.stdout.contains("must fail (not: connection accepted)"), "\(r.stdout)")
    }

    @Test func planWithLimitAndExtraVarsAndINIInventory() throws {
        let r = try Firedrill.run(["plan", "Playbooks/web-tier-failover.yml", "-i", "Inventory/hospital.ini",
                                   "-e", "portal_url=http://192.0.2.7/health", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("http://192.0.2.7/health"))
    }

    @Test func invalidPlaybookExitsTwoWithLocatedErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = "\(dir)/bad.yml"
        try """
        name: Bad
        service: ehr
        inventory: \(Firedrill.repoRoot)/Inventory/hospital.yml
        checks:
          api: { http: "{{ ehr_url }}" }
        steps:
          - name: Stop
            on: db_primray
            run: systemctl stop postgresql
            verify: { up: [apii] }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Firedrill.run(["validate", file])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(file):8:9: error: pattern 'db_primray' selects no host"))
        #expect(r.stderr.contains("hint: did you mean 'db_primary'?"))
        #expect(r.stderr.contains("\(file):10:20: error: unknown check 'apii'"))
        #expect(r.stderr.contains("        ^~~~~~~~~~"))
        let plan = try Firedrill.run(["plan", file])
        #expect(plan.status == 2)
        #expect(plan.stdout.isEmpty)
    }

    @Test(arguments: [
        ["validate", "/nonexistent.yml"],
        ["plan", "Playbooks/dns-failover.yml", "--format", "yaml"],
        ["plan", "Playbooks/dns-failover.yml", "-e", "novalue"],
        ["inventory", "all"],
        ["inventory", "-i", "Inventory/hospital.yml", "~("],
        ["inventory", "-i", "Inventory/hospital.yml", "db[7]"],
        // Patterns that select nothing: ping must say so, not try to connect.
        ["ping", "nosuchgroup", "-i", "Inventory/hospital.yml"],
        ["ping", "~(", "-i", "Inventory/hospital.yml"],
        ["nosuchcommand"],
    ])
    func badInputExitsTwoWithoutTypeNames(_ args: [String]) throws {
        let r = try Firedrill.run(args)
        #expect(r.status == 2, "\(args): \(r.stderr)")
        #expect(!r.stderr.contains("Swift."))
        #expect(!r.stderr.contains("Optional("))
        #expect(!r.stderr.isEmpty)
    }

    /// Each bad input gets one clear line that says what and where, and exit 2.
    @Test func badInputIsSaidInWords() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-bad-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/loop1", withDestinationPath: "\(dir)/loop2")
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/loop2", withDestinationPath: "\(dir)/loop1")
        try ("name: deep\nservice: s\nvars: { a: " + String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000) + " }\n")
            .write(toFile: "\(dir)/deep.yml", atomically: true, encoding: .utf8)
        var bomb = "name: bomb\nservice: s\nvars:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n"
        for (n, prev) in zip(["b", "c", "d", "e", "f", "g"], ["a", "b", "c", "d", "e", "f"]) {
            bomb += "  \(n): &\(n) [" + Array(repeating: "*\(prev)", count: 10).joined(separator: ",") + "]\n"
        }
        try bomb.write(toFile: "\(dir)/bomb.yml", atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["validate", "\(dir)/missing.yml"], "cannot read playbook '\(dir)/missing.yml': no such file"),
            (["validate", dir], "it is a folder, not a file"),
            (["validate", "\(dir)/loop1"], "it is a symbolic link loop"),
            (["validate", Firedrill.binary], "it is not a text file (it looks binary)"),
            (["validate", "\(dir)/deep.yml"], "deep.yml:3:13: error: nesting is too deep"),
            (["validate", "\(dir)/bomb.yml"], "the document expands to too many nodes"),
            (["run", "Playbooks/dns-failover.yml", "--forks", "-1"], "--forks must be at least 1 (got -1)"),
            (["bench", "plan", "--hosts", "-5"], "--hosts must be at least 1 (got -5)"),
            (["ping", "all", "-i", "Inventory/hospital.yml", "--connect-timeout", "0s"], "--connect-timeout '0s' must be above zero"),
            (["ping", "all", "-i", "Inventory/hospital.yml", "--connect-timeout", "-5s"], "--connect-timeout '-5s' must be above zero"),
            (["ping", "all", "-i", "Inventory/hospital.yml", "--kill-grace", "10x"], "--kill-grace '10x' is not a duration"),
            (["ping", "all", "-i", "Inventory/hospital.yml", "--known-hosts", "\(dir)/none"], "--known-hosts '\(dir)/none' does not exist"),
        ]
        for (args, expected) in cases {
            let r = try Firedrill.run(args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
            #expect(r.stderr.utf8.count < 800, "\(args): one clear message, not a dump (\(r.stderr.utf8.count) bytes)")
            for leak in ["NSCocoaErrorDomain", "yaml_set_max_nest_level", "has no 'steps'", "duplicate key", "Missing value", "Swift.", "Optional("] {
                #expect(!r.stderr.contains(leak), "\(args): \(r.stderr)")
            }
        }
    }

    @Test func inventoryListAndGraph() throws {
        let list = try Firedrill.run(["inventory", "-i", "Inventory/hospital.ini", "db:!db_standby"])
        #expect(list.status == 0)
        #expect(list.stdout.contains("db1  10.10.1.11:22  user drill"))
        #expect(!list.stdout.contains("db2"))
        let graph = try Firedrill.run(["inventory", "-i", "Inventory/hospital.yml", "--graph", "db"])
        #expect(graph.stdout == "@db:\n  |--@db_primary:\n  |  |--db1\n  |--@db_standby:\n  |  |--db2\n")
        let json = try Firedrill.run(["inventory", "-i", "Inventory/hospital.yml", "app", "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["hosts"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["app1", "app2"])
    }

    @Test func helpDescribesCommands() throws {
        let r = try Firedrill.run(["--help"])
        #expect(r.status == 0)
        for command in ["validate", "plan", "inventory"] { #expect(r.stdout.contains(command)) }
    }
}
