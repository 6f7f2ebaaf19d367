import Testing
@testable import FiredrillCore

@Suite struct ValidationTests {
    @Test func validPlaybookHasNoErrors() {
        let d = diagnose(playbook())
        #expect(!d.hasErrors, "\(d.messages)")
    }

    @Test func tlsChecksCannotRunFromAHost() {
        let d = diagnose("""
        name: TLS
        service: ehr
        checks:
          cert: { tls: "ehr.hospital.example:443", on: db_primary }
        steady_state: [cert]
        steps:
          - { name: Stop, on: db_primary, run: "true" }
        """)
        let found = d.first(containing: "tls check 'cert' cannot run from a host")
        #expect(found?.location?.line == 4 && found?.location?.column == 48, "\(String(describing: found?.location))")
        #expect(found?.hint?.contains("targets:") == true)
    }

    @Test func everyProblemIsReportedAtOnce() {
        let d = diagnose("""
        name: Broken
        service: ehr
        criticality: critcal
        objectives: { rto: 5 minutes }
        checks:
          api: { http: "http://{{ vipp }}/health", timeout: 3s }
        steps:
          - name: Stop
            on: db_primray
            run: systemctl stop x
            verify: { up: [apii], within: 1m }
          - name: Stop
            on: web
            run: echo hi
        """)
        let expected: [(String, Int, Int)] = [
            ("'critcal' is not a valid criticality", 3, 14),
            ("'5 minutes' is not a duration", 4, 20),
            ("undefined variable 'vipp'", 6, 24),
            ("pattern 'db_primray' selects no host", 9, 9),
            ("unknown check 'apii'", 11, 20),
            ("duplicate step name 'Stop'", 12, 11),
        ]
        for (text, line, column) in expected {
            let found = d.first(containing: text)
            #expect(found?.location?.line == line && found?.location?.column == column, "\(text): \(String(describing: found?.location))")
        }
        #expect(d.first(containing: "db_primray")?.hint?.contains("did you mean 'db_primary'") == true)
        #expect(d.first(containing: "'apii'")?.hint?.contains("did you mean 'api'") == true)
    }

    @Test func unknownKeySuggestsTheRightOne() {
        let d = diagnose(playbook(steps: """
          - name: Stop primary
            on: db_primary
            run: systemctl stop postgresql
            timout: 30s
        """))
        let e = d.first(containing: "unknown key 'timout'")
        #expect(e?.hint?.contains("did you mean 'timeout'") == true)
    }

    @Test func wrongTypesAreNamedInUserWords() {
        let d = diagnose(playbook(steps: """
          - name: Stop primary
            on: [db_primary]
            run: systemctl stop postgresql
            max_fail_percentage: lots
        """))
        #expect(d.first(containing: "on must be text, found a list") != nil)
        #expect(d.first(containing: "max_fail_percentage must be a whole number") != nil)
    }

    @Test func verifyNeedsUpOrDownAndEnoughTime() {
        let d = diagnose(playbook(steps: """
          - name: A
            on: db_primary
            run: "true"
            verify: { within: 1m }
          - name: B
            on: db_primary
            run: "true"
            verify: { up: [api], within: 1s }
        """))
        #expect(d.first(containing: "neither 'up' nor 'down'") != nil)
        #expect(d.first(containing: "less than the 3s timeout of check 'api'") != nil)
    }

    @Test func emptyStepsAndMissingKeys() {
        let d = diagnose("name: X\nservice: y\nsteps: []\n")
        #expect(d.first(containing: "has no steps") != nil)
        let d2 = diagnose("name: X\n")
        #expect(d2.first(containing: "has no 'service'") != nil)
        #expect(d2.first(containing: "has no 'steps'") != nil)
    }

    @Test func perHostCheckInSteadyStateNeedsTargets() {
        let d = diagnose(playbook(extra: "").replacingOccurrences(of: "steady_state: [api]", with: "steady_state: [api, db_port]"))
        #expect(d.first(containing: "check 'db_port' uses '{{ host }}' but is used where there is no host") != nil)
    }

    @Test func secretsDeclaredUndeclaredAndUnset() {
        let d = diagnose(playbook(steps: """
          - name: Use secret
            on: db_primary
            run: "psql -c {{ secrets.other }}"
        """))
        #expect(d.first(containing: "secret 'other' is used but not declared") != nil)
        #expect(d.first(containing: "environment variable TEST_DB_PASSWORD") != nil)
        #expect(d.first(containing: "secret 'db_password' is declared but never used") != nil)
    }

    @Test func inlineSecretValueIsRefused() {
        let d = diagnose(playbook(extra: "").replacingOccurrences(of: "env:TEST_DB_PASSWORD", with: "hunter2"))
        let e = d.first(containing: "must come from env:NAME or file:PATH")
        #expect(e != nil)
    }

    @Test func tabsAndSyntaxErrorsPointAtTheLine() {
        let d = diagnose("name: X\n\tservice: y\n")
        #expect(d.first?.message == "tab character in indentation")
        #expect(d.first?.location?.line == 2)
        let d2 = diagnose("name: X\nservice: [unclosed\nsteps: []\n")
        #expect(d2.first?.message.hasPrefix("invalid YAML") == true)
        #expect(d2.first?.location != nil)
    }

    @Test func duplicateKeysAreErrors() {
        let d = diagnose("name: X\nname: Y\nservice: y\nsteps: []\n")
        let dup = d.first(containing: "duplicate key")
        #expect(dup?.message.contains("'name'") == true)
        #expect(dup?.location?.line == 2)
    }

    @Test func limitThatExcludesAStepsHostsIsAWarning() {
        let loaded = PlaybookLoader().load(text: playbook(), file: "t.yml")
        let inv = InventoryLoader().load(text: defaultInventory, file: "i.yml")
        let d = Validator(playbook: loaded.playbook!, inventory: inv.inventory, limit: "web", environment: [:]).validateAndPlan().diagnostics
        let w = d.first(containing: "selects no host within --limit")
        #expect(w?.severity == .warning)
    }
}
