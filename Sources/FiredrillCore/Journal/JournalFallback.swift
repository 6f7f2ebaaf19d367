import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where events go once the journal cannot take them (a full disk, a failed fsync): one JSON line
/// each on stderr, prefixed `journal-fallback: `, and in a fallback file — next to the journal if
/// that folder still takes writes, else in the temporary folder. Restore goes on; its evidence is
/// not lost with the journal.
final class JournalFallback: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var opened = false
    /// The fallback file in use, if one could be opened.
    private(set) var path: String?
    private let candidates: [String]

    init(journalPath: String, runID: String) {
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        candidates = [journalPath + ".fallback", "\(tmp)/firedrill-\(runID).journal.fallback"]
    }

    func write(_ event: JournalEvent) {
        let line = (try? Journal.encoder.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        lock.withLock {
            FileHandle.standardError.write(Data("journal-fallback: \(line)\n".utf8))
            if !opened {
                opened = true
                while next < candidates.count, fd < 0 {
                    let c = candidates[next]
                    next += 1
                    let f = open(c, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                    if f >= 0 { fd = f; path = c }
                }
            }
            guard fd >= 0 else { return }
            let bytes = Array((line + "\n").utf8)
            if bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) != bytes.count {
                // That file is full too: try the next place for the rest.
                close(fd); fd = -1; opened = false; path = nil
            } else {
                _ = fsync(fd)
            }
        }
    }

    /// The next candidate to try.
    private var next = 0

    deinit { if fd >= 0 { close(fd) } }
}
