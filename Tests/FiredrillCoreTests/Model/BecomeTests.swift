import Foundation
import Testing
@testable import FiredrillCore

/// `become` as written (playbook, step, check, inventory) and as planned: each level over the one
/// below, the unsupported refused where it is written, passwords kept out of the plan.
@Suite struct BecomeTests {
    static let inventory = """
    all:
      vars: { vip: 10.0.0.50, ansible_user: deploy }
      children:
        db_primary: { hosts: { db1: { ansible_host: 10.0.0.11, pg_port: 5432, ansible_become: yes, ansible_become_password: s3cret-pw } } }
        db_standby: { hosts: { db2: { ansible_host: 10.0.0.12, pg_port: 5433, ansible_become: true, ansible_become_user: postgres } } }
        web: { hosts: { "web[1:4]": { http_port: 8080 } } }
    """

    @Test func eachLevelOverridesTheOneBelowFieldByField() throws {
        let pb = playbook(steps: """
          - name: Inventory decides
            on: "db1:db2"
            run: "true"
          - name: Step turns it off
            on: db1
            become: false
            run: "true"
          - name: Step names the user
            on: web1
            become: true
            become_user: www-data
            become_flags: "-H -E"
            run: "true"
        """, extra: "become_user: ops")
        let (p, d) = plan(pb.replacingOccurrences(of: "on: db_primary\n    run: systemctl start", with: "on: db_primary\n    run: systemctl start"), inventory: Self.inventory)
        #expect(!d.hasErrors, "\(d.messages)")
        let steps = try #require(p?.steps)
        // db1: the host turns become on; the playbook's user wins over the default root.
        #expect(steps[0].commands.map(\.become) == [Become(user: "ops"), Become(user: "ops")])
        #expect(p?.restore.first?.commands.first?.become == Become(user: "ops"))
        #expect(steps[1].commands.first?.become == nil)
        #expect(steps[2].commands.first?.become == Become(user: "www-data", method: .sudo, flags: "-H -E"))
        // The plan says as whom; never the password.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(try #require(p)), as: UTF8.self)
        #expect(json.contains("\"become\":{\"method\":\"sudo\",\"user\":\"ops\"}"))
        #expect(!json.contains("s3cret-pw"))
    }

    @Test func theHostsUserIsUsedWhenNoLevelAboveNamesOne() throws {
        let (p, d) = plan(playbook(steps: """
          - name: Promote
            on: db2
            run: pg_ctl promote
        """), inventory: Self.inventory)
        #expect(!d.hasErrors, "\(d.messages)")
        #expect(p?.steps.first?.commands.first?.become == Become(user: "postgres"))
        #expect(p?.become(on: "db2") == [Become(user: "postgres")])
        #expect(p?.become(step: "failover.1", host: "db2") == Become(user: "postgres"))
        #expect(p?.become(on: "web1") == [])
    }

    @Test func aCheckRunOnAHostBecomesAndOneRunHereCannot() throws {
        let ok = playbook(steps: """
          - name: Stop
            on: web1
            run: "true"
            verify: { up: [svc], within: 30s }
        """).replacingOccurrences(of: "checks:\n", with: "checks:\n  svc: { command: \"systemctl is-active nginx\", on: web1, become: true }\n")
        let (p, d) = plan(ok)
        #expect(!d.hasErrors, "\(d.messages)")
        #expect(p?.steps.first?.verify?.up.first?.become == Become())
        let bad = ok.replacingOccurrences(of: "api: { http: \"http://{{ vip }}/health\", timeout: 3s }", with: "api: { http: \"http://{{ vip }}/health\", timeout: 3s, become: true }")
        let errors = diagnose(bad).filter { $0.severity == .error }
        #expect(errors.first(containing: "check 'api' has become but runs from here")?.location?.line != nil, "\(errors.messages)")
    }

    @Test(arguments: [
        ("become_method: doas", "become_method 'doas' is not supported"),
        ("become_user: \"root; rm -rf /\"", "is not a user name"),
        ("become_flags: \"-S\"", "has '-S', which Firedrill sets itself for sudo"),
        ("become_flags: \"-p x\"", "has '-p', which Firedrill sets itself for sudo"),
        ("become_flags: \"-H; id\"", "shell characters"),
        ("become_flags: \"-H #\"", "shell characters"),
        ("become_flags: \"-s '/bin/sh'\"", "shell characters"),
        ("become: maybe", "become"),
    ])
    func unsupportedBecomeIsRefusedWhereItIsWritten(_ line: String, _ message: String) throws {
        let text = playbook(steps: """
          - name: Stop
            on: db1
            \(line)
            run: "true"
        """)
        let errors = diagnose(text).filter { $0.severity == .error }
        let e = try #require(errors.first(containing: message), "\(errors.messages)")
        let written = text.components(separatedBy: "\n").firstIndex { $0.contains(line) }.map { $0 + 1 }
        #expect(e.location?.line == written, "\(e.location.map { "\($0)" } ?? "no location")")
    }

    /// Which flags are Firedrill's own depends on the method, which may be written at another
    /// level: `-s /bin/sh` is su's shell but sudo's `--shell`; `-c` is su's command.
    @Test(arguments: [
        ("become_method: su", "become_flags: \"-s /bin/sh\"", nil),
        ("become_method: su", "become_flags: \"-\"", nil),
        ("become_method: su", "become_flags: \"-c id\"", "has '-c', which Firedrill sets itself for su"),
        ("become_method: sudo", "become_flags: \"-s /bin/sh\"", "has '-s', which Firedrill sets itself for sudo"),
        ("become_method: su", "become_flags: \"--pty\"", "has '--pty', which Firedrill sets itself for su"),
        // As getopt reads them: bundled short options, long ones by prefix, values skipped.
        ("become_method: sudo", "become_flags: \"-Hi\"", "has '-Hi', which Firedrill sets itself for sudo"),
        ("become_method: sudo", "become_flags: \"-E -g wheel\"", nil),
        ("become_method: su", "become_flags: \"--pt\"", "has '--pt', which Firedrill sets itself for su"),
        ("become_method: su", "become_flags: \"--comm=id\"", "has '--comm=id', which Firedrill sets itself for su"),
        ("become_method: su", "become_flags: \"-lc id\"", "has '-lc', which Firedrill sets itself for su"),
        ("become_method: su", "become_flags: \"--shell /bin/sh -\"", nil),
        // A bare word is a user to su, a command to sudo; an option at the end takes the next word.
        ("become_method: su", "become_flags: fd-deploy", "has 'fd-deploy', which is not an option: su would take it as the user to become"),
        ("become_method: su", "become_flags: 42", "has '42', which is not an option"),
        ("become_method: su", "become_flags: \"-- x\"", "has '--', which is not an option"),
        ("become_method: sudo", "become_flags: \"id\"", "sudo would run it as the command"),
        ("become_method: su", "become_flags: \"-s\"", "has '-s', whose value is missing"),
    ] as [(String, String, String?)])
    func flagsAreCheckedForTheMethodTheyGoWith(_ method: String, _ flags: String, _ message: String?) throws {
        // The method on the playbook, the flags on the step: the error points at the flags.
        let text = playbook(steps: """
          - name: Stop
            on: db1
            become: true
            \(flags)
            run: "true"
        """).replacingOccurrences(of: "steps:\n", with: "\(method)\nsteps:\n")
        let errors = diagnose(text).filter { $0.severity == .error }
        guard let message else {
            #expect(errors.isEmpty, "\(errors.messages)")
            let (p, _) = plan(text)
            #expect(p?.steps.first?.commands.first?.become?.method.rawValue == method.split(separator: " ").last.map(String.init))
            return
        }
        let e = try #require(errors.first(containing: message), "\(errors.messages)")
        let written = text.components(separatedBy: "\n").firstIndex { $0.contains(flags) }.map { $0 + 1 }
        #expect(e.location?.line == written)
    }

    /// SSH carries a command as a C string: a NUL would break the connection when sent.
    @Test func aCommandWithANULIsRefusedWhereItIsWritten() throws {
        let text = playbook(steps: """
          - name: Stop
            on: db1
            run: "echo a\\0b"
        """)
        let errors = diagnose(text).filter { $0.severity == .error }
        let e = try #require(errors.first(containing: "NUL character"), "\(errors.messages)")
        #expect(e.location?.line == text.components(separatedBy: "\n").firstIndex { $0.contains("echo a") }.map { $0 + 1 })
    }

    @Test func aManualStepCannotBecome() {
        let errors = diagnose(playbook(steps: """
          - name: Call pharmacy
            manual: "Call them"
            become: true
        """)).filter { $0.severity == .error }
        #expect(errors.first(containing: "manual step 'Call pharmacy' cannot have become") != nil, "\(errors.messages)")
    }

    @Test func inventoryBecomeProblemsAndVaultPasswordsAreRefusedBeforeConnecting() {
        let inv = """
        all:
          children:
            db_primary: { hosts: { db1: { ansible_host: 10.0.0.11, ansible_become: true, ansible_become_method: doas } } }
            db_standby: { hosts: { db2: { ansible_host: 10.0.0.12, ansible_become_password: "{{ vault_sudo }}" } } }
            web: { hosts: { "web[1:4]": { ansible_password: "$ANSIBLE_VAULT;1.1;AES256\\n6162" } } }
            app: { hosts: { app1: { ansible_host: 10.0.0.21, ansible_become_flags: "-H; touch /tmp/x" } } }
        """
        let errors = diagnose(playbook(steps: """
          - name: Everywhere
            on: all
            run: "true"
        """), inventory: inv).filter { $0.severity == .error }
        #expect(errors.first(containing: "ansible_become_method of db1 is 'doas': Firedrill supports sudo and su") != nil, "\(errors.messages)")
        #expect(errors.first(containing: "ansible_become_password of db2 is a template") != nil, "\(errors.messages)")
        #expect(errors.first(containing: "ansible_password of web1 is encrypted with ansible-vault") != nil, "\(errors.messages)")
        #expect(errors.first(containing: "ansible_become_flags of app1 may hold only options, found shell characters") != nil, "\(errors.messages)")
    }

    @Test func passwordsComeFromTheInventoryAndElseFromTheOperator() throws {
        let inv = InventoryLoader().load(text: Self.inventory, file: "inventory.yml").inventory
        let db1 = inv.credentials(of: "db1")
        #expect(db1.becomePassword?.reveal() == "s3cret-pw")
        #expect("\(db1.becomePassword!)" == Secret.mask)
        let operatorGiven = HostCredentials(password: Secret("login"), becomePassword: Secret("typed"))
        #expect(db1.or(operatorGiven).becomePassword?.reveal() == "s3cret-pw")
        #expect(inv.credentials(of: "db2").or(operatorGiven).becomePassword?.reveal() == "typed")
        #expect(inv.credentials(of: "db2").or(operatorGiven).password?.reveal() == "login")
        #expect(inv.becomeSetting(of: "db1") == BecomeSetting(enabled: true))
        #expect(inv.becomeSetting(of: "web1") == BecomeSetting())
    }

    @Test func theWrappedCommandCarriesNoPasswordAndQuotesTheCommand() {
        let b = Become(user: "postgres")
        let text = b.wrap("echo 'it''s' && id", prompt: Become.prompt(nonce: "abc"))
        #expect(text == "sudo -S -p '[firedrill-become-abc] password: ' -H -u postgres -- sh -c " + ShellQuoting.quote("[ -x . ] || cd /; echo 'it''s' && id"))
        let su = Become(user: "postgres", method: .su, flags: "-")
        #expect(su.wrap("echo 'it''s' && id", prompt: Become.prompt(nonce: "abc"))
                    == "su - postgres -c " + ShellQuoting.quote("sh -c " + ShellQuoting.quote("[ -x . ] || cd /; echo 'it''s' && id")))
    }

    /// The su wrapping, run by a real shell with `su` replaced by a function that runs its
    /// `-c` argument: the command arrives intact, quotes and all.
    @Test func theSuWrappingGivesTheCommandIntact() throws {
        let command = "printf '%s|' \"a b\" 'it'\\''s' \"$((1+2))\""
        let wrapped = Become(user: "postgres", method: .su).wrap(command, prompt: "")
        let r = try ChildProcess.capture(["/bin/sh", "-c", "su() { shift; shift; sh -c \"$1\"; }; " + wrapped])
        #expect(r.status == 0 && r.output == "a b|it's|3|", "\(r.output)")
    }
}

/// `serial:` as Ansible reads it, and `only_touched` where it means something.
@Suite struct StagedStepTests {
    @Test(arguments: [
        (Serial.list([.count(1), .percent(25), .percent(100)]), 24, [1, 6, 17]),
        (Serial.list([.count(1), .percent(25)]), 24, [1, 6, 6, 6, 5]),
        (Serial.count(2), 5, [2, 2, 1]),
        (Serial.percent(30), 10, [3, 3, 3, 1]),
        (Serial.percent(10), 3, [1, 1, 1]),
    ])
    func batchesFollowTheListAndTheLastSizeRepeats(_ serial: Serial, _ hosts: Int, _ sizes: [Int]) {
        #expect(serial.batches(of: Array(0..<hosts)).map(\.count) == sizes)
        #expect(serial.batches(of: Array(0..<hosts)).joined().map { $0 } == Array(0..<hosts), "every host once, in order")
    }

    func diagnose(_ text: String) -> [Diagnostic] {
        PlaybookLoader().load(text: text, file: "pb.yml").diagnostics
    }

    @Test func serialListsAndOnlyTouchedAreCheckedWhereTheyAreWritten() throws {
        let base = """
        name: Stage
        service: agent
        criticality: low
        steps:
          - name: Update
            on: all
            run: "true"
            SERIAL
        restore:
          - name: Roll back
            on: all
            run: "true"
            only_touched: true
        """
        #expect(diagnose(base.replacingOccurrences(of: "SERIAL", with: "serial: [1, 25%, 100%]")).filter { $0.severity == .error }.isEmpty)
        let bad = diagnose(base.replacingOccurrences(of: "SERIAL", with: "serial: [1, lots]")).filter { $0.severity == .error }
        let e = try #require(bad.first { $0.message.contains("serial must be a count") }, "\(bad.map(\.message))")
        #expect(e.location?.line == 8)
        let empty = diagnose(base.replacingOccurrences(of: "SERIAL", with: "serial: []")).filter { $0.severity == .error }
        #expect(empty.contains { $0.message.contains("serial is an empty list") })
        let misplaced = diagnose(base.replacingOccurrences(of: "SERIAL", with: "only_touched: true")).filter { $0.severity == .error }
        #expect(misplaced.first { $0.message.contains("only_touched is for restore steps") }?.location?.line == 8, "\(misplaced.map(\.message))")
    }
}

/// An objective the drill can never measure is said at validate (it would only cost the score).
@Suite struct ObjectiveWarningTests {
    func warnings(_ steps: String, objectives: String) throws -> [String] {
        let text = "name: D\nservice: d\ncriticality: low\n\(objectives)\nsteps:\n\(steps)\nrestore:\n  - name: Back\n    on: localhost\n    run: \"true\"\n"
        let pb = try #require(PlaybookLoader().load(text: text, file: "pb.yml").playbook)
        return Validator(playbook: pb, inventory: nil).validateAndPlan().diagnostics.filter { $0.severity == .warning }.map(\.message)
    }

    @Test func anRTONoStepCanMeasureIsSaid() throws {
        let quiet = "  - name: Look\n    on: localhost\n    run: \"true\"\n    disruptive: false\n    verify: { up: [c], within: 5s }"
        #expect(try warnings(quiet, objectives: "objectives: { rto: 15m }\nchecks: { c: { command: \"true\", on: localhost } }")
                    .contains { $0.contains("no failover step is disruptive: the RTO can never be measured") })
        #expect(try !warnings(quiet, objectives: "checks: { c: { command: \"true\", on: localhost } }").contains { $0.contains("no RTO objective") },
                "nothing is taken down: no RTO to ask for")
        let unverified = "  - name: Stop\n    on: localhost\n    run: \"true\""
        #expect(try warnings(unverified, objectives: "objectives: { rto: 5m }").contains { $0.contains("verifies the service answering (verify up)") })
        let good = "  - name: Stop\n    on: localhost\n    run: \"true\"\n    verify: { up: [c], within: 5s }"
        #expect(try !warnings(good, objectives: "objectives: { rto: 5m }\nchecks: { c: { command: \"true\", on: localhost } }").contains { $0.contains("RTO") })
    }
}
