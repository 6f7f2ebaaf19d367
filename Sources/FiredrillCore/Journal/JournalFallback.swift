import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where events go once the journal cannot take them (a full disk, a failed fsync): one JSON line
/// each to `echo` (the command prints them on stderr, prefixed `journal-fallback: `, through its
/// output queue, so a paused terminal cannot hold up restore), and in a fallback file — next to
/// the journal if that folder still takes writes, else in the temporary folder. Restore goes on;
/// its evidence is not lost with the journal.
public final class JournalFallback: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32 = -1
    /// The fallback file in use, if one could be opened.
    public private(set) var path: String?
    private let candidates: [String]

    public init(journalPath: String, runID: String, echo: (@Sendable (String) -> Void)? = nil) {
        self.echo = echo
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        candidates = [journalPath + ".fallback", "\(tmp)/firedrill-\(runID).journal.fallback"]
    }

    /// Shows each event's line (`journal-fallback: {…}`), if set.
    let echo: (@Sendable (String) -> Void)?

    public func write(_ event: JournalEvent) {
        let line = (try? Journal.encoder.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let bytes = Array((line + "\n").utf8)
        lock.withLock {
            // Raw write(2): FileHandle traps when stderr is a closed pipe, and nothing here may stop restore.
            echo?("journal-fallback: \(line)\n")
            while true {
                if fd < 0 {
                    guard next < candidates.count else { return }
                    let c = candidates[next]
                    next += 1
                    fd = open(c, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                    if fd < 0 { continue }
                    path = c
                    wrote = false
                }
                if bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count {
                    wrote = true
                    _ = fsync(fd)
                    return
                }
                // That place is full too: the next one takes this event and the rest. A file the
                // disk would not let us write anything into is not left behind empty.
                close(fd)
                fd = -1
                if !wrote, let p = path { unlink(p) }
                path = nil
            }
        }
    }

    /// The next candidate to try.
    private var next = 0
    private var wrote = false

    deinit { if fd >= 0 { close(fd) } }
}
