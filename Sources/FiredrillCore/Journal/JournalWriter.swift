/// Where a runner appends its events: the run's `Journal`, or (in tests) one that fails on demand.
public protocol JournalWriter: Sendable {
    /// The journal file (for messages and the fallback file next to it).
    var path: String { get }
    /// Appends and makes durable; fills in `seq`, `run` and `prev` (and `time` when empty).
    func append(_ event: JournalEvent, run: String) async throws -> JournalEvent
    /// Records the last line's sequence number and hash beside the journal.
    func seal() async throws
    /// Nil while the file is the journal being written; else what happened to it (deleted,
    /// replaced, cut, written to by someone else; with `full`, also edited in place).
    func integrity(full: Bool) async -> String?
}

extension Journal: JournalWriter {}
