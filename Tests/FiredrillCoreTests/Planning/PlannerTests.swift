import Foundation
import Testing
@testable import FiredrillCore

@Suite struct PlannerTests {
    @Test func stepsResolveHostsAndRenderCommands() throws {
        let (p, d) = plan(playbook(steps: """
          - name: Restart web
            on: "web:!web2"
            run: "systemctl restart app --port {{ http_port }} --host {{ inventory_hostname }}"
            serial: 2
        """))
        #expect(!d.hasErrors, "\(d.messages)")
        let step = try #require(p?.steps.first)
        #expect(step.hosts == ["web1", "web3", "web4"])
        #expect(step.batches == [["web1", "web3"], ["web4"]])
        #expect(step.commands.map(\.command.description) == [
            "systemctl restart app --port 8080 --host web1",
            "systemctl restart app --port 8080 --host web3",
            "systemctl restart app --port 8080 --host web4",
        ])
    }

    /// An SSH exec request carries ~32 KB: a longer command (here through a variable) is refused
    /// where it is written, once per step, not sent to fail as "connection lost".
    @Test func aCommandTooLongForSSHIsRefusedAtItsStep() throws {
        let step = """
          - name: Huge
            on: web
            run: "echo {{ blob }}"
        """
        let (_, d) = plan(playbook(steps: step), extraVars: ["blob": .string(String(repeating: "a", count: 40_000))])
        let errors = d.filter { $0.severity == .error }
        #expect(errors.count == 1 && errors[0].message.contains("at most 30 KB can be sent over SSH") && errors[0].location?.line != nil, "\(d.messages)")
        let (ok, d2) = plan(playbook(steps: step), extraVars: ["blob": .string(String(repeating: "a", count: 20_000))])
        #expect(ok != nil && !d2.hasErrors, "\(d2.messages)")
    }

    @Test func perHostChecksExpandForTheStepsHosts() throws {
        let (p, _) = plan(playbook())
        let verify = try #require(p?.steps.first?.verify)
        #expect(verify.down.map(\.label) == ["db_port@db1"])
        #expect(verify.down.first?.target.description == "10.0.0.11:5432")
    }

    @Test func distinctCommandsShowTheirHostsWithinEightyColumns() throws {
        let (p, _) = plan(playbook(steps: """
          - name: Per-host restart with a long command line that names each host it runs on
            on: web
            run: "systemctl restart application-server-with-a-long-name --instance {{ inventory_hostname }} --verbose"
        """))
        let text = PlanTextRenderer().render(try #require(p))
        #expect(text.contains("[web1]"))
        for line in text.split(separator: "\n") { #expect(line.count <= 80, "\(line)") }
    }

    @Test func limitRestrictsHosts() throws {
        let (p, _) = plan(playbook(steps: """
          - name: Restart web
            on: web
            run: "true"
        """), limit: "web[0:1]")
        #expect(p?.steps.first?.hosts == ["web1", "web2"])
    }

    @Test func extraVarsWinOverPlaybookAndInventory() throws {
        let (p, _) = plan(playbook(steps: """
          - name: Echo
            on: db1
            run: "echo {{ vip }}"
        """), extraVars: ["vip": .string("192.0.2.1")])
        #expect(p?.steps.first?.commands.first?.command.description == "echo 192.0.2.1")
        #expect(p?.steadyState.first?.target.description == "http://192.0.2.1/health")
    }

    @Test func secretsAreMaskedInEveryFormat() throws {
        let (p, _) = plan(playbook(steps: """
          - name: Use secret
            on: db1
            run: "psql -c {{ db_password }}"
        """))
        let plan = try #require(p)
        let json = try JSONOutput.encode(plan)
        #expect(json.contains(Secret.mask))
        #expect(PlanTextRenderer().render(plan).contains("psql -c ••••••"))
        #expect(PlanMarkdownRenderer().render(plan).contains("psql -c ••••••"))
    }

    @Test func jsonHasVersionedShape() throws {
        let (p, _) = plan(playbook())
        let json = try JSONOutput.encode(try #require(p))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "firedrill.plan/1")
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(summary["steps"] as? Int == 1)
        #expect(summary["restore_steps"] as? Int == 1)
        // steady state 3s × 2 + step (5m timeout + 30s verify) + restore (5m + 1m)
        let worst = (summary["estimated_worst_case"] as? [String: Any])?["seconds"] as? Double
        #expect(worst == 696)
    }

    @Test func textPlanFitsEightyColumns() throws {
        for file in ["ehr-db-failover", "web-tier-failover", "dns-failover", "downtime-procedures"] {
            let loaded = DrillDefinition.load(playbookPath: "\(Fixtures.repoRoot)/Playbooks/\(file).yml", environment: [:])
            let plan = try #require(loaded.definition?.preview, "\(file): \(loaded.diagnostics.messages)")
            for line in PlanTextRenderer().render(plan).split(separator: "\n") {
                #expect(line.count <= 80, "\(file): \(line)")
            }
            // With colour the visible width is the same: escape codes are added after wrapping.
            let colored = TerminalText.forTerminal(PlanTextRenderer(style: TerminalStyle(enabled: true)).render(plan))
            #expect(colored.contains("\u{1B}["))
            for line in colored.split(separator: "\n") {
                let visible = line.replacingOccurrences(of: #"\u{1B}\[[0-9;]*m"#, with: "", options: .regularExpression)
                #expect(visible.count <= 80, "\(file) (colour): \(visible)")
            }
        }
    }
}
