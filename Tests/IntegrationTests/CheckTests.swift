import Foundation
import Testing
@testable import FiredrillCore

/// Checks against real endpoints: the lab's health endpoints (which follow host state) and a
/// real TLS server (`openssl s_server`).
@Suite(.serialized) struct CheckTests {
    func outcomes(_ checks: [PlannedCheck], _ runtime: DrillRuntime) async -> [String: CheckOutcome] {
        let results = await Preflight.evaluate(checks, with: runtime.checks)
        return Dictionary(uniqueKeysWithValues: zip(checks.map(\.label), results))
    }

    @Test func labEndpointsFollowAFailover() async throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        let d = try lab.definition(TestLab.simulatedEHR)
        let rt = try lab.runtime(d)
        let before = await outcomes(d.preview.steadyState, rt)
        #expect(before.values.allSatisfy { $0.passed }, "\(before)")
        #expect(before["ehr_api"]?.detail.contains("primary db1") == true)

        #expect(try await lab.run("db1", "systemctl stop postgresql").succeeded)
        // The port closes once the lab notices (it polls state): a check is polled the same way by verify.
        var during = await outcomes(d.preview.steadyState, rt)
        for _ in 0..<100 where during["db_port@db1"]?.passed != false { during = await outcomes(d.preview.steadyState, rt) }
        #expect(during["db_port@db1"]?.passed == false)
        #expect(during["db_port@db1"]?.detail.contains("refused") == true, "\(during["db_port@db1"]?.detail ?? "")")
        #expect(during["ehr_api"]?.passed == false)
        #expect(during["ehr_api"]?.detail.contains("HTTP 503") == true)

        #expect(try await lab.run("db2", "pg_ctlcluster 15 main promote").succeeded)
        let after = await outcomes(d.preview.steadyState, rt)
        #expect(after["ehr_api"]?.passed == true)
        #expect(after["ehr_api"]?.detail.contains("primary db2") == true)
        #expect(after["standby_is_replica@db2"]?.passed == false, "db2 is now primary")
        await rt.pool.closeAll()
    }

    @Test func dnsAnswersFollowTheRecordAndTheServer() async throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        let d = try lab.definition("dns-failover.yml")
        let rt = try lab.runtime(d)
        let check = try #require(d.preview.steps.first?.verify?.up.first)   // resolves_secondary
        #expect(await rt.checks.evaluate(d.preview.steadyState[0]).passed)
        let wrong = await rt.checks.evaluate(check)
        #expect(!wrong.passed)
        #expect(wrong.detail.contains("10.10.0.10") && wrong.detail.contains("expected 10.20.0.10"), "\(wrong.detail)")
        #expect(try await lab.run("dns1", "pdnsutil replace-rrset hospital.example ehr A 60 10.20.0.10").succeeded)
        #expect(await rt.checks.evaluate(check).passed)
        #expect(try await lab.run("dns1", "systemctl stop pdns").succeeded)
        try lab.knob("dns2", "pdns", "stopped\n")
        let down = await rt.checks.evaluate(check)
        #expect(!down.passed)
        #expect(down.detail.contains("SERVFAIL"), "\(down.detail)")
        await rt.pool.closeAll()
    }

    @Test func fileAgeChecksRunOnTheHost() async throws {
        let lab = try TestLab.start(hosts: 4)
        defer { lab.stop() }
        let d = try lab.definition("downtime-procedures.yml")
        let rt = try lab.runtime(d)
        let fresh = try #require(d.preview.steadyState.first { $0.name == "bca_copy_fresh" })
        #expect(fresh.from == "app2")
        #expect(await rt.checks.evaluate(fresh).passed)
        #expect(try await lab.run("app2", "touch -d '3 days ago' \(lab.dir)/hosts/app2/srv/bca/medication-list.pdf").succeeded)
        let stale = await rt.checks.evaluate(fresh)
        #expect(!stale.passed)
        #expect(stale.detail.contains("older than 1d"), "\(stale.detail)")
        #expect(try await lab.run("app2", "rm \(lab.dir)/hosts/app2/srv/bca/medication-list.pdf").succeeded)
        let missing = await rt.checks.evaluate(fresh)
        #expect(!missing.passed && missing.detail.contains("No such file"), "\(missing.detail)")
        await rt.pool.closeAll()
    }

    @Test func tlsAndHTTPSAgainstARealTLSServer() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Lab.runTool("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                                         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                                         "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem"])
        let port = try Lab.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", "\(dir)/cert.pem", "-key", "\(dir)/key.pem", "-www", "-quiet"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }   // s_server ignores SIGTERM
        #expect(Lab(directory: dir).waitUntilListening(port: port, pid: server.processIdentifier, deadline: .now + .seconds(10)))

        try """
        name: TLS probe
        service: tls-probe
        inventory: inv.ini
        checks:
          cert_ok:    { tls: "127.0.0.1:\(port)", server_name: localhost, ca_file: \(dir)/cert.pem, min_days_valid: 7 }
          cert_short: { tls: "127.0.0.1:\(port)", server_name: localhost, ca_file: \(dir)/cert.pem, min_days_valid: 60 }
          cert_untrusted: { tls: "127.0.0.1:\(port)", server_name: localhost }
          https_ok:   { http: "https://localhost:\(port)/", ca_file: \(dir)/cert.pem, expect: { status: 200 } }
          https_untrusted: { http: "https://localhost:\(port)/", expect: { status: 200 }, timeout: 2s }
          https_insecure: { http: "https://localhost:\(port)/", insecure: true, expect: { status: 200 } }
        steady_state: [cert_ok, cert_short, cert_untrusted, https_ok, https_untrusted, https_insecure]
        steps:
          - { name: nothing, on: localhost, run: "true" }
        """.write(toFile: "\(dir)/probe.yml", atomically: true, encoding: .utf8)
        try "localhost ansible_connection=local\n".write(toFile: "\(dir)/inv.ini", atomically: true, encoding: .utf8)
        let loaded = DrillDefinition.load(playbookPath: "\(dir)/probe.yml")
        let d = try #require(loaded.definition, "\(loaded.diagnostics.map { "\($0.location.map { "\($0.line):\($0.column)" } ?? "") \($0.message)" })")
        let rt = try DrillRuntime.make(d, ssh: SSHOptions()).get()
        let o = await outcomes(d.preview.steadyState, rt)
        #expect(o["cert_ok"]?.passed == true, "\(o["cert_ok"]?.detail ?? "")")
        #expect(o["cert_ok"]?.detail.contains("expires in 29 days") == true || o["cert_ok"]?.detail.contains("expires in 30 days") == true)
        #expect(o["cert_short"]?.passed == false)
        #expect(o["cert_short"]?.detail.contains("fewer than 60") == true)
        #expect(o["cert_untrusted"]?.passed == false)
        #expect(o["https_ok"]?.passed == true, "\(o["https_ok"]?.detail ?? "")")
        #expect(o["https_untrusted"]?.passed == false, "TLS verification is on by default")
        #expect(o["https_insecure"]?.passed == true, "\(o["https_insecure"]?.detail ?? "")")
    }

    @Test func planPreflightReportsHostsAndSteadyState() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let ok = try Firedrill.run(["plan", TestLab.simulatedEHR, "-i", lab.inventory, "--preflight"])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("2/2 hosts ready, 5/5 steady-state checks pass"))
        #expect(!ok.stdout.contains("no connection was made"), "the preflight below does connect")
        try lab.knob("db2", "pg-role", "primary\n")
        try lab.lab.stopHost("db1")
        let bad = try Firedrill.run(["plan", TestLab.simulatedEHR, "-i", lab.inventory, "--preflight", "--format", "json"])
        #expect(bad.status == 3)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any])
        let pre = try #require(json["preflight"] as? [String: Any])
        let hosts = try #require(pre["hosts"] as? [[String: Any]])
        #expect(hosts.first { $0["host"] as? String == "db1" }?["error_kind"] as? String == "connectionRefused")
        let checks = try #require(pre["checks"] as? [[String: Any]])
        let replica = checks.first { $0["check"] as? String == "standby_is_replica@db2" }?["outcome"] as? [String: Any]
        #expect(replica?["passed"] as? Bool == false)
        #expect(json["steps"] != nil, "the plan itself is still there")
    }

    @Test func httpExpectationsAreJudged() {
        var h = HTTPCheck(url: Template(literal: "http://x/", at: SourceLocation(file: "t", line: 1, column: 1)), method: "GET", headers: [],
                          expectStatus: [200], bodyContains: "ok", bodyRegex: "v[0-9]+", expectHeaders: ["X-Role": "primary"],
                          maxLatency: .milliseconds(100), verifyTLS: true, caFile: nil)
        let good = CheckRunner.judgeHTTP(h, status: 200, headers: ["x-role": "primary"], body: "ok v12", latency: .milliseconds(5))
        #expect(good.passed)
        let bad = CheckRunner.judgeHTTP(h, status: 503, headers: [:], body: "down", latency: .milliseconds(150))
        #expect(!bad.passed)
        for needle in ["expected status 200", "does not contain \"ok\"", "does not match /v[0-9]+/", "header X-Role is missing", "slower than"] {
            #expect(bad.detail.contains(needle), "\(bad.detail)")
        }
        h.expectStatus = [200, 204]
        #expect(CheckRunner.judgeHTTP(h, status: 204, headers: ["x-role": "primary"], body: "ok v1", latency: .zero).passed)
    }

    @Test func dnsMessagesRoundTrip() throws {
        let q = DNSMessage.Query(id: 4242, name: "ehr.hospital.example", type: 1)
        let parsed = try #require(DNSMessage.Query(parsing: q.bytes))
        #expect(parsed.name == "ehr.hospital.example" && parsed.type == 1 && parsed.id == 4242)
        let reply = DNSMessage.response(to: parsed, rcode: 0, addresses: ["10.20.0.10", "10.20.0.11"])
        #expect(DNSMessage.parseResponse(reply, id: 4242) == DNSMessage.Answer(rcode: 0, values: ["10.20.0.10", "10.20.0.11"]))
        #expect(DNSMessage.parseResponse(reply, id: 1) == nil, "another query's answer is ignored")
        let six = DNSMessage.response(to: DNSMessage.Query(id: 7, name: "a.b", type: 28), rcode: 0, addresses: ["fd00::1"])
        #expect(DNSMessage.parseResponse(six, id: 7)?.values == ["fd00:0:0:0:0:0:0:1"])
        #expect(DNSMessage.parseResponse(Array(reply.prefix(20)), id: 4242) == nil, "truncated packets are rejected")
    }
}
