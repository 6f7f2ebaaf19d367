import Foundation
import Testing
@testable import FiredrillCore

/// `prometheus:` checks against a real Prometheus scraping the lab's `/metrics`: a query
/// passes and fails as its value crosses the threshold, from the controller and from a host;
/// no data, several series and a server that is down are "could not check", never a verdict.
@Suite struct PrometheusCheckTests {
    static func playbook(_ prometheus: String, dir: String) throws -> String {
        let path = dir + "/prometheus-checks.yml"
        try """
        name: Portal error budget
        service: portal
        checks:
          errors: { prometheus: "\(prometheus)", query: "max(firedrill_lab_error_ratio)", expect: "< 0.05" }
          errors_from_db1: { prometheus: "\(prometheus)/", query: "max(firedrill_lab_error_ratio)", expect: "< 0.05", on: db1 }
          lag: { prometheus: "\(prometheus)", query: "firedrill_lab_replication_lag_seconds", expect: "<= 5" }
          nothing: { prometheus: "\(prometheus)", query: "firedrill_no_such_metric", expect: "== 0" }
          several: { prometheus: "\(prometheus)", query: "firedrill_lab_service_up", expect: "== 1" }
          broken: { prometheus: "\(prometheus)", query: "sum(", expect: "== 0" }
          down: { prometheus: "http://127.0.0.1:9", query: "up", expect: "== 1", timeout: 2s }
        steady_state: [errors, errors_from_db1, lag, nothing, several, broken, down]
        steps:
          - { name: Look, on: db1, run: "true" }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `plan --preflight --format json`: each steady-state check's outcome by name.
    static func outcomes(_ playbook: String, _ lab: TestLab) throws -> [String: (status: String, detail: String)] {
        let r = try Firedrill.run(["plan", playbook, "-i", lab.inventory, "--preflight", "--format", "json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)\(r.stderr)")
        let checks = try #require((json["preflight"] as? [String: Any])?["checks"] as? [[String: Any]])
        var out: [String: (String, String)] = [:]
        for c in checks {
            let o = c["outcome"] as? [String: Any]
            out[c["check"] as? String ?? ""] = (o?["status"] as? String ?? "", o?["detail"] as? String ?? "")
        }
        return out
    }

    @Test func aQueryPassesAndFailsAsItsValueCrossesTheThreshold() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let vip = try #require(lab.state.services?.vipPort)
        try FileManager.default.createDirectory(atPath: lab.dir + "/metrics", withIntermediateDirectories: true)
        try "0.01".write(toFile: lab.dir + "/metrics/error_ratio", atomically: true, encoding: .utf8)
        let prometheus = try TestPrometheus.start(scraping: "127.0.0.1:\(vip)", in: lab.dir)
        defer { prometheus.stop() }
        #expect(prometheus.waitFor("max(firedrill_lab_error_ratio)") { $0 == 0.01 })
        let playbook = try Self.playbook(prometheus.url, dir: lab.dir)

        let low = try Self.outcomes(playbook, lab)
        #expect(low["errors"]?.status == "passed" && low["errors"]?.detail.contains("max(firedrill_lab_error_ratio) = 0.01") == true, "\(low)")
        #expect(low["errors_from_db1@db1"]?.status == "passed", "\(low)")
        #expect(low["lag"]?.status == "passed")
        #expect(low["nothing"]?.status == "error" && low["nothing"]?.detail.contains("no data") == true, "\(low)")
        #expect(low["several"]?.status == "error" && low["several"]?.detail.contains("2 series") == true, "\(low)")
        #expect(low["broken"]?.status == "error" && low["broken"]?.detail.contains("Prometheus answered HTTP 400") == true, "\(low)")
        #expect(low["down"]?.status == "error" && low["down"]?.detail.contains("cannot ask Prometheus at http://127.0.0.1:9") == true, "\(low)")

        // The error ratio rises past 5 %: the same checks fail, with the value seen.
        try "0.2".write(toFile: lab.dir + "/metrics/error_ratio", atomically: true, encoding: .utf8)
        #expect(prometheus.waitFor("max(firedrill_lab_error_ratio)") { $0 == 0.2 })
        let high = try Self.outcomes(playbook, lab)
        #expect(high["errors"]?.status == "failed" && high["errors"]?.detail.contains("= 0.2") == true
                && high["errors"]?.detail.contains("expected < 0.05") == true, "\(high)")
        #expect(high["errors_from_db1@db1"]?.status == "failed", "\(high)")
    }

    @Test func aPrometheusCheckThatCannotWorkIsRefusedAtValidate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-prom-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, String)] = [
            ("{ prometheus: \"http://p:9090\", query: up, expect: \"about 1\" }", "'about 1' is not a comparison"),
            ("{ prometheus: \"http://p:9090\", expect: \"== 1\" }", "needs query"),
            ("{ prometheus: \"http://p:9090\", query: up }", "needs expect"),
            ("{ prometheus: \"ftp://p\", query: up, expect: \"== 1\" }", "is not an http(s) URL"),
            ("{ prometheus: \"http://p:9090\", query: up, expect: \"== 1\", bearer_token: \"{{ t }}\", on: db1 }", "has a bearer_token and runs from a host"),
            ("{ prometheus: \"http://p:9090\", query: up, expect: \"== 1\", bearer_token: \"abc123\" }", "the bearer token is written in the playbook"),
            ("{ prometheus: \"http://p:9090/?token=abc\", query: up, expect: \"== 1\" }", "the Prometheus URL holds a query string"),
            ("{ prometheus: \"http://u:pw@p:9090\", query: up, expect: \"== 1\" }", "the Prometheus URL holds a user name or password"),
            ("{ prometheus: \"http://p:9090\", query: up, expect: \"== 1\", timeout: 0s }", "has a timeout of 0s"),
        ]
        for (check, expected) in cases {
            let path = dir + "/pb.yml"
            try "name: P\nservice: p\nsecrets: { t: env:T }\nchecks:\n  c: \(check)\nsteady_state: [c]\nsteps:\n  - { name: s, on: all, run: \"true\" }\n"
                .write(toFile: path, atomically: true, encoding: .utf8)
            let r = try Firedrill.run(["validate", path])
            #expect(r.status == 2 && r.stderr.contains(expected) && r.stderr.contains("pb.yml:5:"), "\(check): \(r.stderr)")
        }
    }
}
