import Foundation

/// A run's journal as read now: its events (every line parsed and the hash chain checked, only
/// what the seal vouches for kept), the record folded from them once, and whether it is sealed.
/// The one way to open a journal for reading: the score, reports, history, resume and `runs`
/// all start here.
public struct RunArchive: Sendable {
    public var path: String
    public var events: [JournalEvent]
    /// The run as its events tell it.
    public var record: DrillRecord
    /// SHA-256 of the last line kept.
    public var lastHash: String
    /// The first damage found (line number, what), nil when the journal is intact.
    public var problem: String?
    /// Bytes after the last complete line (a torn last write), if any.
    public var tornTail: Int?
    /// A seal (`journal.jsonl.head`) lies beside the journal.
    public var sealed: Bool

    /// Reads and checks the journal at `path` (a missing file reads as no events).
    public static func open(_ path: String) throws -> RunArchive {
        let c = try JournalReader.read(path: path)
        return RunArchive(path: path, events: c.events, record: DrillRecord.fold(c.events), lastHash: c.lastHash, problem: c.problem,
                          tornTail: c.tornTail, sealed: FileManager.default.fileExists(atPath: path + ".head"))
    }

    /// Damaged only by a torn last line (a write cut short): what precedes it is intact.
    public var onlyTorn: Bool { problem != nil && tornTail != nil }
}
