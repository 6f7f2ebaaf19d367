import Foundation

/// Journals of drills that never ran, written exactly as a runner writes them (hash chain,
/// seal): the material of `firedrill bench score|import|history` and of tests of what reads
/// journals. `steps` failover steps on `hosts` hosts, each with a verify of `samples` samples.
public enum SyntheticJournal {
    public static func write(runs: String, id: String, service: String = "ehr-db", rto: Double = 60,
                             started: String = "2026-11-01T02:00:00.000Z", result: JournalEvent.Result = .passed,
                             steps: Int = 1, hosts: Int = 1, samples: Int = 0, checksPerAttempt: Int = 1,
                             finish: Bool = true) async throws -> String {
        let store = RunStore(root: runs)
        if let problem = RunStore.folderProblem(store.directory(id)) { throw Journal.Failure(message: problem) }
        let facts = RunFacts(service: service, criticality: "critical", owner: nil, scenario: nil, exercise: nil, rtoObjectiveSeconds: 300,
                             rpoObjectiveSeconds: nil, playbook: "/p.yml", playbookSHA256: "x", inventory: [], inventorySHA256: "y",
                             limit: nil, extraVarNames: [], operator: "o", controller: "c", version: "v")
        var offset = 0.0
        func e(_ k: JournalEvent.Kind, _ fill: (inout JournalEvent) -> Void = { _ in }) -> JournalEvent {
            var ev = JournalEvent(k)
            ev.time = started
            offset += 1
            ev.offsetMS = offset
            fill(&ev)
            return ev
        }
        var events = [e(.runStarted) { $0.facts = facts; $0.format = JournalEvent.format; $0.name = "EHR" }]
        for s in 1...max(1, steps) {
            let id = "failover.\(s)"
            events.append(e(.stepStarted) { $0.step = id; $0.name = "Step \(s)"; $0.phase = .failover })
            for h in 1...max(1, hosts) {
                events.append(e(.commandStarted) { $0.step = id; $0.host = "host\(h)"; $0.phase = .failover; $0.command = "true"; $0.processTag = "t\(s)x\(h)" })
                events.append(e(.commandFinished) { $0.step = id; $0.host = "host\(h)"; $0.phase = .failover; $0.passed = true; $0.exit = 0; $0.durationMS = 5 })
            }
            if samples > 0 {
                events.append(e(.verifyStarted) { $0.step = id; $0.phase = .failover })
                let perAttempt = max(1, checksPerAttempt)
                for i in 0..<samples {
                    events.append(e(.checkResult) {
                        $0.step = id; $0.phase = .failover; $0.check = "api"; $0.attempt = i / perAttempt + 1
                        if perAttempt > 1 { $0.host = "host\(i % perAttempt + 1)" }
                        $0.outcome = .passed; $0.expect = .up; $0.met = true; $0.detail = "HTTP 200"
                    })
                }
                events.append(e(.verifyFinished) { $0.step = id; $0.phase = .failover; $0.passed = true; $0.attempt = (samples - 1) / perAttempt + 1 })
            }
            events.append(e(.stepFinished) { $0.step = id; $0.phase = .failover; $0.result = .passed })
        }
        events += [e(.rto) { $0.step = "failover.1"; $0.seconds = rto },
                   e(.restoreStarted) { $0.result = .completed },
                   e(.restoreFinished) { $0.result = .completed },
                   e(.checkResult) { $0.phase = .final; $0.check = "api"; $0.outcome = .passed; $0.expect = .up; $0.met = true }]
        if finish { events.append(e(.runEnded) { $0.result = result; $0.data = ["touched": "true"] }) }
        // Chained in memory and written at once: the bytes a runner writes, without an fsync per event.
        try writeAtOnce(events, run: id, path: store.journalPath(id), seal: finish)
        return store.journalPath(id)
    }

    static func writeAtOnce(_ events: [JournalEvent], run: String, path: String, seal: Bool) throws {
        var bytes = Data()
        var prev = Journal.genesis
        for (i, event) in events.enumerated() {
            var e = event
            e.seq = i + 1
            e.run = run
            e.prev = prev
            let line = try Journal.encoder.encode(e)
            prev = Journal.sha256(line)
            bytes += line + Data([0x0a])
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        if seal { try "\(events.count) \(prev)\n".write(toFile: path + ".head", atomically: true, encoding: .utf8) }
    }
}
