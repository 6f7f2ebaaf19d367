import Foundation

/// A run's journal as read now: every line parsed and the hash chain checked, only what the seal
/// vouches for kept, folded into its record as it is read (the events themselves are not kept:
/// a journal of 100,000 events is read in constant memory beside its record), and whether it is
/// sealed. The one way to open a journal for reading: the score, reports and `runs` start here.
public struct RunArchive: Sendable {
    public var path: String
    /// Events kept.
    public var eventCount: Int
    /// SHA-256 of each kept line (32 bytes each), for "does this journal extend what was indexed".
    public var lineHashes: [UInt8]
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
        let f = try JournalReader.fold(path: path)
        return RunArchive(path: path, eventCount: f.count, lineHashes: f.lineHashes, record: f.record, lastHash: f.lastHash, problem: f.problem,
                          tornTail: f.tornTail, sealed: FileManager.default.fileExists(atPath: path + ".head"))
    }

    /// The `prev` the kept line `i` (0-based) carries: the hash of the line before it.
    public func prev(ofLine i: Int) -> String? {
        guard i >= 0, i < eventCount else { return nil }
        if i == 0 { return Journal.genesis }
        return Hex.string(lineHashes[(i - 1) * 32..<i * 32])
    }

    /// Damaged only by a torn last line (a write cut short): what precedes it is intact.
    public var onlyTorn: Bool { problem != nil && tornTail != nil }
}

extension RunArchive {
    /// The journal a command names: a `journal.jsonl` path, a run's folder, or a run of `runsDir`
    /// by ID, unique prefix or `latest`. Says why, and what to give, when it is not a journal.
    public static func locate(_ ref: String, runsDir: String?) throws(CommandError) -> String {
        let looksLikePath = ref.contains("/") || ref.hasSuffix(".jsonl")
        var path: String?
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: ref, isDirectory: &isDir) {
            if isDir.boolValue, FileManager.default.fileExists(atPath: ref + "/journal.jsonl") { path = ref + "/journal.jsonl" }
            else if !isDir.boolValue { path = ref }
            else if looksLikePath {
                throw CommandError("\(ref) is a folder without a journal.jsonl", hint: "give a run's folder, its journal.jsonl, or a run ID with --runs-dir")
            }
        } else if looksLikePath {
            throw CommandError("\(ref): no such file", hint: "give a journal.jsonl path, a run's folder, or a run ID with --runs-dir")
        }
        if path == nil {
            let store = RunStore(root: runsDir)
            guard let id = store.resolve(ref) else {
                let matches = store.ids().filter { $0.hasPrefix(ref) }
                if matches.count > 1 {
                    throw CommandError("'\(ref)' names \(matches.count) runs: \(matches.prefix(5).joined(separator: ", "))\(matches.count > 5 ? ", …" : "")",
                                       hint: "give more of the run ID")
                }
                throw CommandError("no run '\(ref)' in \(store.root)", hint: "firedrill runs --runs-dir DIR lists them, or give a journal.jsonl path")
            }
            path = store.journalPath(id)
        }
        let journal = path ?? ref
        if let problem = JournalReader.notAJournal(journal) {
            throw CommandError("\(journal) \(problem)", hint: "a journal is the journal.jsonl a run leaves in its folder")
        }
        return journal
    }
}
