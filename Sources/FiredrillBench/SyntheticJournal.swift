import FiredrillCore
import Foundation

/// Journals of drills that never ran, written exactly as a runner writes them (hash chain,
/// seal): the material of `firedrill bench score|import|history` and of tests of what reads
/// journals. `steps` failover steps on `hosts` hosts, each with a verify of `samples` samples.
public enum SyntheticJournal {
    public static func write(runs: String, id: String, service: String = "ehr-db", rto: Double = 60,
                             started: String = "2026-11-01T02:00:00.000Z", result: RunResult = .passed,
                             steps: Int = 1, hosts: Int = 1, samples: Int = 0, checksPerAttempt: Int = 1,
                             finish: Bool = true) async throws -> String {
        let store = RunStore(root: runs)
        if let problem = RunStore.folderProblem(store.directory(id)) { throw Journal.Failure(message: problem) }
        let facts = RunFacts(service: service, criticality: "critical", owner: nil, scenario: nil, exercise: nil, rtoObjectiveSeconds: 300,
                             rpoObjectiveSeconds: nil, playbook: "/p.yml", playbookSHA256: "x", inventory: [], inventorySHA256: "y",
                             limit: nil, extraVarNames: [], operator: "o", controller: "c", version: "v")
        var offset = 0.0
        func e(_ payload: JournalEvent.Payload) -> JournalEvent {
            offset += 1
            var ev = JournalEvent(payload, offsetMS: offset)
            ev.time = started
            return ev
        }
        var events = [e(.runStarted(.init(name: "EHR", facts: facts, plan: nil)))]
        for s in 1...max(1, steps) {
            let id = "failover.\(s)"
            events.append(e(.stepStarted(.init(phase: .failover, step: id, name: "Step \(s)"))))
            for h in 1...max(1, hosts) {
                events.append(e(.commandStarted(.init(phase: .failover, step: id, host: "host\(h)", command: "true", processTag: "t\(s)x\(h)"))))
                events.append(e(.commandFinished(.init(phase: .failover, step: id, host: "host\(h)", passed: true, exit: 0, durationMS: 5))))
            }
            if samples > 0 {
                events.append(e(.verifyStarted(.init(phase: .failover, step: id, detail: nil))))
                let perAttempt = max(1, checksPerAttempt)
                for i in 0..<samples {
                    events.append(e(.checkResult(.init(phase: .failover, step: id, check: "api", host: perAttempt > 1 ? "host\(i % perAttempt + 1)" : nil,
                                                       attempt: i / perAttempt + 1, outcome: .passed, expect: .up, met: true, detail: "HTTP 200"))))
                }
                events.append(e(.verifyFinished(.init(phase: .failover, step: id, passed: true, attempt: (samples - 1) / perAttempt + 1))))
            }
            events.append(e(.stepFinished(.init(phase: .failover, step: id, result: .passed))))
        }
        events += [e(.rto(.init(step: "failover.1", seconds: rto))),
                   e(.restoreStarted(.init(reason: .completed, detail: nil))),
                   e(.restoreFinished(.init(status: .completed, detail: nil))),
                   e(.checkResult(.init(phase: .final, check: "api", outcome: .passed, expect: .up, met: true, detail: "")))]
        if finish { events.append(e(.runEnded(.init(result: result, touched: true)))) }
        // Chained in memory and written at once: the bytes a runner writes, without an fsync per event.
        try Journal.write(events, run: id, to: store.journalPath(id), seal: finish)
        return store.journalPath(id)
    }
}
