import Foundation
import Testing
@testable import FiredrillCore

/// Stops a process a test started, by its PID: SIGTERM, then SIGKILL when it has not ended
/// within `grace`; reaped either way (so its PID is never signalled after it could be reused).
func stopStarted(_ pid: pid_t, grace: Duration = .seconds(5)) {
    kill(pid, SIGTERM)
    var status: Int32 = 0
    let end = ContinuousClock.now + grace
    while ContinuousClock.now < end {
        if waitpid(pid, &status, WNOHANG) == pid { return }
        usleep(10_000)
    }
    kill(pid, SIGKILL)
    waitpid(pid, &status, 0)
}

/// A real Prometheus (Debian's `prometheus`) on loopback, with a configuration written here,
/// scraping the lab's `/metrics` every 200 ms; stopped by its PID.
struct TestPrometheus {
    let pid: pid_t
    let port: Int
    let dir: String

    var url: String { "http://127.0.0.1:\(port)" }

    static func start(scraping target: String, in parent: String) throws -> TestPrometheus {
        let dir = parent + "/prometheus"
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try """
        global: { scrape_interval: 200ms, scrape_timeout: 150ms, evaluation_interval: 1s }
        scrape_configs:
          - job_name: lab
            static_configs: [{ targets: ["\(target)"] }]
        """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let port = try Lab.freePort()
        let pid = try ChildProcess.spawn(["/usr/bin/prometheus", "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                                          "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"], output: .devNull)
        let p = TestPrometheus(pid: pid, port: port, dir: dir)
        // Ready when it answers (a bound, so a broken install fails the test rather than hangs it).
        guard p.waitFor("up", deadline: .seconds(60), { $0 == 1 }) else {
            p.stop()
            throw Lab.Failure(message: "Prometheus did not start scraping \(target) within 60 s")
        }
        return p
    }

    func stop() { stopStarted(pid) }

    /// The query's single value now, as Prometheus answers it (nil: none).
    func value(_ query: String) -> Double? {
        guard let r = try? ChildProcess.capture(["/usr/bin/curl", "-sS", "-m", "2", "-G", "--data-urlencode", "query=" + query, url + "/api/v1/query"]),
              r.status == 0, let json = try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
              let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]], result.count == 1,
              let v = (result[0]["value"] as? [Any])?.last as? String else { return nil }
        return Double(v)
    }

    /// Waits until the query's value satisfies `condition` (Prometheus scrapes on its own clock),
    /// at most `deadline`.
    func waitFor(_ query: String, deadline: Duration = .seconds(30), _ condition: (Double?) -> Bool) -> Bool {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if condition(value(query)) { return true }
            usleep(50_000)
        }
        return condition(value(query))
    }
}
