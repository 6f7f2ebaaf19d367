/// A run whose runner died, read back from its journal: what it had touched, which restore steps
/// had passed, and which commands it left running (docs/journal.md, "Resume").
public struct ResumePoint: Sendable {
    public var runID: String
    public var events: [JournalEvent]
    public var facts: RunFacts
    /// Bytes of an incomplete last line (a write cut short); the journal is cut back before resuming.
    public var tornBytes: Int?

    /// A command the dead runner started and never saw end.
    public struct Leftover: Sendable, Equatable {
        public var host: String
        public var step: String
        public var process: RemoteProcess
    }

    /// Reads and checks the run's journal. Refused: an unknown run, a damaged journal (other than a
    /// torn last line), a run that already ended, a run that never started.
    public static func load(store: RunStore, id: String) -> Result<ResumePoint, Diagnostic> {
        let contents: JournalReader.Contents
        do {
            contents = try JournalReader.read(path: store.journalPath(id))
        } catch {
            return .failure(.error("cannot read the journal of \(id): \(error)", hint: "firedrill verify-journal \(id)"))
        }
        if let problem = contents.problem, contents.tornTail == nil {
            return .failure(.error("the journal of \(id) is damaged: \(problem)", hint: "firedrill verify-journal \(id); restore by hand"))
        }
        if let ended = contents.events.last(where: { $0.event == .runEnded }) {
            return .failure(.error("run \(id) already ended (\(ended.result?.rawValue ?? "?")): nothing to resume",
                                   hint: "start a new run with firedrill run PLAYBOOK"))
        }
        let started = contents.events.first { $0.event == .runStarted }
        guard let facts = started?.facts ?? started?.data.flatMap(RunFacts.init(legacy:)) else {
            return .failure(.error("run \(id) has no run_started event: nothing ran", hint: "start a new run with firedrill run PLAYBOOK"))
        }
        return .success(ResumePoint(runID: id, events: contents.events, facts: facts, tornBytes: contents.tornTail))
    }

    /// A failover or on_failure command was sent (its start journaled, and not later recorded as
    /// not sent): restore is needed.
    public var touched: Bool {
        var started = Set<String>()
        for e in events where e.phase == .failover || e.phase == .onFailure {
            let key = (e.step ?? "") + "\u{0}" + (e.host ?? "")
            if e.event == .commandStarted { started.insert(key) }
            if e.event == .commandFinished, e.result == .notSent { started.remove(key) }
        }
        return !started.isEmpty
    }

    /// Indexes of the restore steps that passed (not repeated).
    public var restoredBefore: Set<Int> {
        Set(events.compactMap { e -> Int? in
            guard e.event == .stepFinished, e.result == .passed, e.phase == .restore,
                  let id = e.step, id.hasPrefix("restore."), let n = Int(id.dropFirst("restore.".count)) else { return nil }
            return n - 1
        })
    }

    /// Step ids that passed before the runner stopped.
    public var completedSteps: [String] {
        events.filter { $0.event == .stepFinished && $0.result == JournalEvent.Result.passed }.compactMap(\.step)
    }

    /// Commands started (their tag journaled) with no `command_finished` (nor a stop on an earlier
    /// resume). The process group is known if the host reported it before the runner died.
    public var leftovers: [Leftover] {
        var running: [String: Leftover] = [:]
        var order: [String] = []
        for e in events {
            guard let host = e.host, let step = e.step else { continue }
            let key = step + "\u{0}" + host
            switch e.event {
            case .commandStarted:
                guard let tag = e.processTag else { continue }
                if running[key] == nil { order.append(key) }
                running[key] = Leftover(host: host, step: step, process: RemoteProcess(pgid: 0, tag: tag))
            case .commandRunning:
                guard let pgid = e.pgid, let tag = e.processTag else { continue }
                if running[key] == nil { order.append(key) }
                running[key] = Leftover(host: host, step: step, process: RemoteProcess(pgid: Int32(pgid), tag: tag))
            case .commandFinished, .leftoverStopped:
                running[key] = nil
            default:
                continue
            }
        }
        return order.compactMap { running[$0] }
    }
}
