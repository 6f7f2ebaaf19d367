/// A run whose runner died, read back from its journal: what it had touched, which restore steps
/// had passed, and which commands it left running (docs/journal.md, "Resume").
public struct ResumePoint: Sendable {
    public var runID: String
    /// The dead runner's record: the resumed runner goes on folding into it.
    public var record: DrillRecord
    public var facts: RunFacts
    /// `SEQ KIND` of the last event the dead runner journaled.
    public var lastEvent: String
    /// Bytes of an incomplete last line (a write cut short); the journal is cut back before resuming.
    public var tornBytes: Int?

    /// A command the dead runner started and never saw end.
    public typealias Leftover = DrillStateMachine.Leftover

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
        let record = DrillRecord.fold(contents.events)
        if let ended = record.ending {
            return .failure(.error("run \(id) already ended (\(ended.result?.rawValue ?? "?")): nothing to resume",
                                   hint: "start a new run with firedrill run PLAYBOOK"))
        }
        guard let facts = record.facts else {
            return .failure(.error("run \(id) has no run_started event: nothing ran", hint: "start a new run with firedrill run PLAYBOOK"))
        }
        let last = contents.events.last.map { "\($0.seq) \($0.kind.rawValue)" } ?? "none"
        return .success(ResumePoint(runID: id, record: record, facts: facts, lastEvent: last, tornBytes: contents.tornTail))
    }

    /// A failover or on_failure command was sent (its start journaled, and not later recorded as
    /// not sent): restore is needed.
    public var touched: Bool {
        record.steps.contains { s in
            (s.phase == .failover || s.phase == .onFailure) && s.commands.contains { $0.started && $0.failure != .notSent }
        }
    }

    /// The hosts failover commands went to (an `only_touched` restore step runs on these alone;
    /// an on_failure hook looks, it does not change).
    public var touchedHosts: Set<String> {
        Set(record.steps.filter { $0.phase == .failover }.flatMap { s in
            s.commands.filter { $0.started && $0.failure != .notSent }.map(\.host)
        })
    }

    /// Indexes of the restore steps that passed (not repeated).
    public var restoredBefore: Set<Int> {
        Set(record.steps.compactMap { s -> Int? in
            guard s.result == .passed, s.phase == .restore, s.id.hasPrefix("restore."), let n = Int(s.id.dropFirst("restore.".count)) else { return nil }
            return n - 1
        })
    }

    /// Step ids that passed before the runner stopped.
    public var completedSteps: [String] { record.steps.filter { $0.result == .passed }.map(\.id) }

    /// Commands started (their tag journaled) with no `command_finished`, or that timed out, were
    /// interrupted or lost their connection, and were not swept before the runner died (nor on an
    /// earlier resume). The process group is known if the host reported it before the runner died.
    public var leftovers: [Leftover] {
        record.steps.flatMap { s in
            s.commands.compactMap { c -> Leftover? in
                let unclean = c.end.map { $0.timedOut == true || $0.failure == .interrupted || $0.failure == .unknown } ?? true
                guard unclean, c.stopped == nil, let tag = c.processTag else { return nil }
                return Leftover(host: c.host, step: s.id, process: RemoteProcess(pgid: Int32(c.pgid ?? 0), tag: tag), cause: .deadRunner)
            }
        }
    }
}
