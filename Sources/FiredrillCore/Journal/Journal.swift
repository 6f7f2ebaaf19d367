import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The append-only, hash-chained journal of one run. `append` returns only once the event is
/// on disk (written and fsync'd); the engine acts on nothing before that.
///
/// Group commit: events appended while a write is in flight (the hosts of a step finishing
/// together) are written and fsync'd together in the next single write, so a step on 50 hosts
/// costs a handful of fsyncs, not 100. The write runs on a thread of its own, never on Swift's
/// cooperative pool.
public actor Journal {
    public nonisolated let path: String
    private let fd: Int32
    private let worker: WorkerThread
    private var seq: Int
    private var lastHash: String
    private var pending: [UInt8] = []
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    private var flushing = false
    /// Why the journal stopped taking events (a failed write or fsync); nil while it works.
    public private(set) var broken: String?
    public private(set) var fsyncs = 0
    /// Bytes the file holds by our count (what was there, and every write since).
    private var written: Int
    /// The file as opened: a journal deleted, replaced or cut under us is not the one written.
    private let identity: (dev: UInt64, ino: UInt64)
    /// Bytes of an incomplete last line that `init(path:dropTornTail:)` cut off, if any.
    public nonisolated let droppedTornBytes: Int
    /// Stamps events that come without a time.
    private let wallClock: @Sendable () -> Date
    /// SHA-256 of every byte the file should hold (what was there, and every line since): the
    /// end of a run reads the file back against it.
    private var digest = SHA256()

    /// A journal that cannot be written or read, in words.
    public struct Failure: UserFacingError, CustomStringConvertible {
        public var message: String
        public var hint: String?
        public var exitStatus: ExitStatus
        public var description: String { message }
        public init(message: String, hint: String? = nil, exit: ExitStatus = .invalidInput) {
            self.message = message; self.hint = hint; self.exitStatus = exit
        }
    }

    static let genesis = String(repeating: "0", count: 64)

    /// Opens (creating) the journal; an existing one is verified and continued. With
    /// `dropTornTail`, a journal whose only damage is an incomplete last line (a write cut short
    /// by a crash or a full disk) is cut back to its last complete line (`droppedTornBytes`).
    public init(path: String, dropTornTail: Bool = false, wallClock: @escaping @Sendable () -> Date = { Date() }) throws {
        self.path = path
        self.wallClock = wallClock
        let folder = (path as NSString).deletingLastPathComponent
        if let problem = RunStore.folderProblem(folder) { throw Failure(message: problem) }
        var existing = try JournalReader.read(path: path)
        var dropped = 0
        if let torn = existing.tornTail, dropTornTail, existing.problem == JournalReader.tornProblem(existing) {
            guard truncate(path, off_t(existing.completeBytes)) == 0 else {
                throw Failure(message: "cannot cut the incomplete last line off \(path): \(String(cString: strerror(errno)))")
            }
            dropped = torn
            existing.problem = nil
        }
        if let p = existing.problem { throw Failure(message: "journal \(path) is damaged: \(p)") }
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        fstat(fd, &st)
        identity = (UInt64(st.st_dev), UInt64(st.st_ino))
        written = Int(st.st_size)
        seq = existing.events.last?.seq ?? 0
        lastHash = existing.lastHash
        droppedTornBytes = dropped
        if written > 0, let data = FileManager.default.contents(atPath: path) { digest.update(data: data.prefix(written)) }
        worker = WorkerThread(name: "journal")
    }

    deinit {
        worker.stop()
        Glibc.close(fd)
    }

    /// Appends and makes durable; the event's `seq`, `time`, `run` and `prev` are filled in here.
    @discardableResult
    public func append(_ event: JournalEvent, run: String) async throws -> JournalEvent {
        // After a failed write the file may end in a torn line: nothing more is added to it.
        if let broken { throw Failure(message: broken) }
        var e = event
        seq += 1
        e.seq = seq
        if e.time.isEmpty { e.time = Journal.timestamp(wallClock()) }
        e.run = run
        e.prev = lastHash
        let line = try Journal.encoder.encode(e) + Data([0x0a])
        lastHash = Journal.sha256(line.dropLast())
        digest.update(data: line)
        pending += line
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            waiters.append(c)
            if !flushing { flushing = true; Task { await self.flush() } }
        }
        return e
    }

    /// Whether the file is still the journal being written: not deleted, not replaced by another
    /// file, not cut short or written to by someone else. Nil when it is; else what happened, in
    /// words. (A journal that is gone keeps nothing of what is appended to it: the run must say so.)
    public func integrity(full: Bool = false) -> String? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "the journal \(path) cannot be checked: \(String(cString: strerror(errno)))" }
        if st.st_nlink == 0 { return "the journal \(path) was deleted while the run went on" }
        var named = stat()
        if stat(path, &named) != 0 { return "the journal \(path) is gone (moved or deleted) while the run went on" }
        if UInt64(named.st_dev) != identity.dev || UInt64(named.st_ino) != identity.ino {
            return "the journal \(path) was replaced by another file while the run went on"
        }
        // A write in flight is counted when it lands: only then can the file be longer than our count.
        let size = Int(st.st_size)
        if size < written { return "the journal \(path) was cut to \(size) bytes while the run went on (the run had written \(written))" }
        if size > written && !flushing { return "the journal \(path) was written to by something else while the run went on (\(size - written) bytes the run did not write)" }
        guard full, !flushing, written > 0 else { return nil }
        // Read back what the run wrote (the file just checked to be ours): the chain must still
        // hold and end at the run's last hash.
        let rfd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard rfd >= 0 else { return "the journal \(path) cannot be read back: \(String(cString: strerror(errno)))" }
        defer { close(rfd) }
        var opened = stat()
        guard fstat(rfd, &opened) == 0, UInt64(opened.st_dev) == identity.dev, UInt64(opened.st_ino) == identity.ino else {
            return "the journal \(path) was replaced by another file while the run went on"
        }
        var data = Data(count: written)
        let got = data.withUnsafeMutableBytes { buf -> Int in
            var done = 0
            while done < written {
                let n = pread(rfd, buf.baseAddress! + done, written - done, off_t(done))
                if n <= 0 { break }
                done += n
            }
            return done
        }
        guard got == written else { return "the journal \(path) cannot be read back: \(String(cString: strerror(errno)))" }
        // One hash over the bytes; only a mismatch pays for reading the chain to say where.
        let expected = digest
        if Data(SHA256.hash(data: data)) == Data(expected.finalize()) { return nil }
        let contents = JournalReader.verify(data)
        if let problem = contents.problem { return "the journal \(path) was changed while the run went on (\(problem))" }
        return "the journal \(path) was changed while the run went on (its bytes are not the ones the run wrote)"
    }

    /// Records the final line's sequence number and hash next to the journal (`journal.jsonl.head`),
    /// so that cutting lines off the end of a finished run is detected too.
    public func seal() throws {
        if let broken { throw Failure(message: broken) }
        if let problem = RunStore.replace(path + ".head", with: "\(seq) \(lastHash)\n") {
            throw Failure(message: "cannot write \(path).head: \(problem)", exit: .recordIncomplete)
        }
    }

    /// Writes a whole journal at once (chained in memory, one write, no fsync per event), and
    /// its seal: the bytes a runner writes, for journals made rather than run (tests, benchmarks).
    public static func write(_ events: [JournalEvent], run: String, to path: String, seal: Bool) throws {
        var bytes = Data()
        var prev = genesis
        for (i, event) in events.enumerated() {
            var e = event
            e.seq = i + 1
            e.run = run
            e.prev = prev
            let line = try encoder.encode(e)
            prev = sha256(line)
            bytes += line + Data([0x0a])
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        if seal { try "\(events.count) \(prev)\n".write(toFile: path + ".head", atomically: true, encoding: .utf8) }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = pending, batchWaiters = waiters
            pending = []
            waiters = []
            let fd = self.fd
            let result: Result<Void, Failure> = await worker.perform {
                var offset = 0
                while offset < batch.count {
                    let n = batch[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                    if n < 0 { if errno == EINTR { continue }; return .failure(Failure(message: "journal write failed: \(String(cString: strerror(errno)))")) }
                    offset += n
                }
                guard fsync(fd) == 0 else { return .failure(Failure(message: "journal fsync failed: \(String(cString: strerror(errno)))")) }
                return .success(())
            }
            fsyncs += 1
            if case .success = result { written += batch.count }
            if case let .failure(f) = result, broken == nil { broken = f.message }
            for w in batchWaiters { w.resume(with: result.mapError { $0 as any Error }) }
        }
        flushing = false
    }

    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func sha256<D: DataProtocol>(_ bytes: D) -> String {
        Hex.string(SHA256.hash(data: bytes))
    }

    /// ISO 8601 UTC with milliseconds; one format for every event (a value type, safe to share).
    static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public static func timestamp(_ date: Date) -> String { timeFormat.format(date) }

    /// A journal timestamp (or any ISO 8601 UTC time, with or without fractions) back to a date.
    public static func date(_ text: String) -> Date? {
        (try? timeFormat.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}

/// Reads and verifies a journal: the hash chain, the sequence, and that every line parses.
public enum JournalReader {
    public struct Contents: Sendable {
        public var events: [JournalEvent]
        public var lastHash: String
        /// The first problem found (line number, what), nil when the journal is intact.
        public var problem: String?
        /// Bytes after the last complete line (a torn last write), if any.
        public var tornTail: Int?
        /// Bytes of the complete lines.
        public var completeBytes = 0
    }

    /// The problem text of a journal whose only damage is its torn last line.
    static func tornProblem(_ c: Contents) -> String {
        "line \(c.events.count + 1) is incomplete (the runner stopped while writing it)"
    }

    /// Why the file at `path` cannot be a journal (not a regular file, empty, not JSON lines), or nil.
    /// Looks at the first bytes only: a FIFO is never opened, a huge file never read whole.
    public static func notAJournal(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return "cannot be read: \(String(cString: strerror(errno)))" }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return "is not a regular file" }
        guard st.st_size > 0 else { return "is empty: it holds no events" }
        guard let h = FileHandle(forReadingAtPath: path) else { return "cannot be read" }
        defer { try? h.close() }
        let head = (try? h.read(upToCount: 16)) ?? Data()
        guard head.first == UInt8(ascii: "{") else { return "is not a journal (a journal's lines are JSON events)" }
        return nil
    }

    public static func read(path: String, requireIntact: Bool = false) throws -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Contents(events: [], lastHash: Journal.genesis, problem: nil)
        }
        var contents = verify(data)
        if contents.problem == nil, let head = try? String(contentsOfFile: path + ".head", encoding: .utf8) {
            contents = checkSeal(contents, head, name: (path as NSString).lastPathComponent)
        }
        if requireIntact, let p = contents.problem { throw Journal.Failure(message: "journal \(path) is damaged: \(p)") }
        return contents
    }

    /// The contents against the seal written when the run ended (`N HASH`): only events the
    /// seal vouches for are kept — a last line changed, or lines added after the seal, are
    /// dropped and said; a journal cut short keeps what it has and says so.
    static func checkSeal(_ c: Contents, _ head: String, name: String) -> Contents {
        let parts = head.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let sealed = Int(parts[0]), sealed >= 1 else {
            var bad = c
            bad.problem = "its seal (\(name).head) is not a seal: the end of the journal cannot be checked"
            return bad
        }
        let hash = String(parts[1])
        var out = c
        let n = c.events.count
        if sealed == n && c.lastHash == hash { return c }
        if sealed > n {
            out.problem = "the journal ends at line \(n), but the run was sealed at line \(sealed): lines were removed from the end"
            return out
        }
        if sealed < n && c.events[sealed].prev == hash {
            out.events = Array(c.events[..<sealed])
            out.lastHash = hash
            out.problem = "\(n - sealed == 1 ? "1 line was" : "\(n - sealed) lines were") added after the run was sealed at line \(sealed): they are not part of the record"
            return out
        }
        // Line `sealed` is not the one sealed: it was changed; what precedes it is still vouched for by its chain.
        out.events = Array(c.events[..<(sealed - 1)])
        out.lastHash = c.events[sealed - 1].prev
        out.problem = "line \(sealed) was changed after the run was sealed (it no longer hashes to the seal in \(name).head): it is not part of the record"
        return out
    }

    public static func verify(_ data: Data) -> Contents {
        var events: [JournalEvent] = []
        var hash = Journal.genesis
        var lineNumber = 0
        let bytes = [UInt8](data)
        if !bytes.isEmpty && bytes.last != 0x0a {
            // A torn last write (power loss mid-line): everything before it still verifies.
            let complete = bytes.lastIndex(of: 0x0a).map { Array(bytes[...$0]) } ?? []
            var c = verify(Data(complete))
            if c.problem == nil {
                c.problem = tornProblem(c)
                c.tornTail = bytes.count - complete.count
            }
            return c
        }
        // Decoding and hashing each line are independent: done on every core, then the chain is
        // checked in order (a 100,000-event journal is read for every score, report and import).
        let lines = Array(bytes.split(separator: 0x0a, omittingEmptySubsequences: false).dropLast())
        let (decoded, digests) = decodeAndHash(lines)
        var problem: String?
        var checked = 0
        for index in decoded.indices {
            lineNumber = index + 1
            guard let e = decoded[index] else { problem = "line \(lineNumber) is not a journal event"; break }
            guard e.prev == hash else {
                problem = "line \(lineNumber) does not follow line \(lineNumber - 1): the chain is broken (edited, removed or reordered lines)"
                break
            }
            guard e.seq == lineNumber else { problem = "line \(lineNumber) has sequence number \(e.seq)"; break }
            hash = Hex.string(digests[index * 32..<(index + 1) * 32])
            checked = index + 1
        }
        if let problem { return Contents(events: decoded[..<checked].map { $0! }, lastHash: hash, problem: problem) }
        events = decoded.map { $0! }   // every one checked above
        return Contents(events: events, lastHash: hash, problem: nil, completeBytes: bytes.count)
    }
}

extension JournalReader {
    /// Each line decoded into its event (nil: not one) and its SHA-256 (32 bytes per line),
    /// on every core: decoding and hashing lines are independent; the chain is checked after.
    static func decodeAndHash(_ lines: [ArraySlice<UInt8>]) -> (events: [JournalEvent?], digests: [UInt8]) {
        var decoded = [JournalEvent?](repeating: nil, count: lines.count)
        var digests = [UInt8](repeating: 0, count: lines.count * 32)
        let workers = lines.count < 2_000 ? 1 : max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))
        decoded.withUnsafeMutableBufferPointer { events in
            digests.withUnsafeMutableBufferPointer { hashes in
                let results = LineResults(events: events, hashes: hashes)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let decoder = JSONDecoder()
                    var j = w * lines.count / workers
                    let end = (w + 1) * lines.count / workers
                    while j < end {
                        let line = JournalLineDecoder.decode(lines[j]) ?? (try? decoder.decode(JournalLine.self, from: Data(lines[j])))
                        results.events[j] = line.map(JournalEvent.init(line:))
                        SHA256.hash(data: lines[j]).withUnsafeBytes { raw in
                            for k in 0..<32 { results.hashes[j * 32 + k] = raw[k] }
                        }
                        j += 1
                    }
                }
            }
        }
        return (decoded, digests)
    }
}

/// Where the workers of `decodeAndHash` put each line's event and digest (each writes its own indexes).
private struct LineResults: @unchecked Sendable {
    let events: UnsafeMutableBufferPointer<JournalEvent?>
    let hashes: UnsafeMutableBufferPointer<UInt8>
}

/// Lower-case hex of bytes, by table: `String(format: "%02x")` per byte cost ~30 µs a journal
/// line (a 100,000-event journal took 5 s to verify).
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func string<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
