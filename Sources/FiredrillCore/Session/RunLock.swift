import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Exclusive locks that keep two drills off the same service, the same hosts, or the same run,
/// held for the whole drill (docs/journal.md, "Locks").
///
/// Each lock is a file in one folder for the whole machine (`$FIREDRILL_LOCK_DIR`, else
/// `/run/lock/firedrill`), locked with `flock(2)`: the kernel releases it when the holder exits,
/// however it exits, so a lock can never outlive its runner. The file names its holder (run,
/// runs folder, PID, start time, operator). A file that still names a holder when we get the
/// lock was left by a runner that died: if that run never finished, a new drill of the same
/// service or hosts is refused until it is resumed; otherwise it is taken over, said out loud.
public final class RunLock: @unchecked Sendable {
    public enum Key: Sendable, Hashable, CustomStringConvertible {
        case service(String)
        /// A host by where it is reached (`address:port`, the address resolved), so two
        /// inventories naming one machine differently still collide.
        case host(String)
        case run(String)

        public var description: String {
            switch self {
            case let .service(s): return "service \(s)"
            case let .host(h): return "host \(h)"
            case let .run(r): return "run \(r)"
            }
        }
    }

    public struct Holder: Sendable, Codable, Equatable {
        public var run: String
        /// The runs folder that holds the run's journal.
        public var runs: String
        public var pid: Int32
        public var started: String
        public var user: String
        public var controller: String

        public init(run: String, runs: String, pid: Int32 = getpid(), started: Date = Date(), user: String, controller: String) {
            self.run = run; self.runs = runs; self.pid = pid; self.started = Journal.timestamp(started); self.user = user
            self.controller = controller
        }

        var text: String { "run \(run) (PID \(pid) on \(controller), started \(started) by \(user))" }
    }

    public struct Refusal: UserFacingError, CustomStringConvertible {
        public enum Why: Sendable { case held, unfinished, unusable(String) }
        public var key: Key
        public var holder: Holder?
        public var why: Why
        /// The lock file.
        public var file: String = ""
        /// For `due --run`: a lock held by a live drill means "skip it" (`ExitStatus.busy`).
        public var busyExit = false

        public var message: String { description }

        /// A lock folder that cannot be used is bad input; a drill in the way is a precondition.
        public var exitStatus: ExitStatus {
            switch why {
            case .unusable: return .invalidInput
            case .held: return busyExit ? .busy : .preconditions
            case .unfinished: return .preconditions
            }
        }

        public var description: String {
            switch why {
            case let .unusable(problem): return "cannot lock \(key): \(problem)"
            case .held:
                guard let h = holder else { return "\(key) is locked by another drill (its lock file does not say which: another user's, or being written)" }
                if case .run = key { return "\(key) is still being run by PID \(h.pid) on \(h.controller) (started \(h.started) by \(h.user))" }
                return "\(key) is being drilled by \(h.text)"
            case .unfinished:
                guard let h = holder else { return "\(key) has an unfinished drill" }
                return "\(key) was being drilled by run \(h.run), whose runner (PID \(h.pid) on \(h.controller)) stopped before the run ended: hosts may still be failed over or a command of it still running"
            }
        }

        public var hint: String? {
            switch why {
            case .unusable: return "set FIREDRILL_LOCK_DIR to a folder every operator can write"
            case .held:
                guard let h = holder else { return "wait for that drill to end" }
                return "wait for that drill to end (firedrill runs --runs-dir \(h.runs)), or stop it where it runs (Ctrl-C, or kill -INT \(h.pid))"
            case .unfinished:
                guard let h = holder else { return "resume the unfinished run first" }
                return "finish it first: firedrill run --resume \(h.run) --runs-dir \(h.runs) (if it cannot be resumed and you restored by hand, remove \(file))"
            }
        }
    }

    private var fds: [Int32]
    /// Run lock files we created: removed on release (run IDs are never reused).
    private var runFiles: [String]
    /// Locks taken over from runners that died (their runs had ended), in words.
    public let takenOver: [String]

    private let mutex = NSLock()

    private init(fds: [Int32], runFiles: [String], takenOver: [String]) { self.fds = fds; self.runFiles = runFiles; self.takenOver = takenOver }

    deinit { release() }

    /// Locks held by this process, so an exit on any path can clear them first (a lock file left
    /// naming a holder that ended normally would later read as a runner that died).
    nonisolated(unsafe) private static var live: [RunLock] = []
    private static let liveMutex = NSLock()

    /// Releases every lock this process holds; call before exiting.
    public static func releaseAll() {
        let all = liveMutex.withLock { () -> [RunLock] in defer { live = [] }; return live }
        for l in all { l.release() }
    }

    /// The folder of lock files: one for the machine, so operators with their own runs folders
    /// (the default is per user) still exclude each other.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let d = environment["FIREDRILL_LOCK_DIR"], !d.isEmpty { return d }
        return FileManager.default.fileExists(atPath: "/run/lock") ? "/run/lock/firedrill" : "/tmp/firedrill-locks"
    }

    /// Takes every lock or none, and writes our name in them only once all are ours.
    public static func acquire(_ keys: [Key], in directory: String = RunLock.directory(), holder: Holder) -> Result<RunLock, Refusal> {
        var held: [(key: Key, fd: Int32, writable: Bool, stale: Holder?)] = []
        func giveBack() { for h in held { close(h.fd) } }
        if let problem = prepare(directory) {
            return .failure(Refusal(key: keys.first ?? .run(holder.run), why: .unusable(problem)))
        }
        // One order for every runner (run, service, hosts; then by file), so two runners cannot
        // each hold what the other waits for; a refusal names the run or service before a host.
        for key in Set(keys).sorted(by: { (rank($0), path(of: $0, in: directory)) < (rank($1), path(of: $1, in: directory)) }) {
            let file = path(of: key, in: directory)
            let (fd, writable, problem) = open(file)
            guard fd >= 0 else {
                giveBack()
                return .failure(Refusal(key: key, why: .unusable(problem), file: file))
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let other = readHolder(fd)
                close(fd)
                giveBack()
                return .failure(Refusal(key: key, holder: other, why: .held, file: file))
            }
            let stale = readHolder(fd)
            // A service or host whose last drill died mid-way is not drilled again until that run is resumed.
            if let stale, stale.run != holder.run, key.isScope, unfinished(stale) {
                close(fd)
                giveBack()
                return .failure(Refusal(key: key, holder: stale, why: .unfinished, file: file))
            }
            held.append((key, fd, writable, stale))
        }
        var notes: [String] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = (try? encoder.encode(holder)) ?? Data()
        data.append(0x0a)
        for h in held {
            if let stale = h.stale, stale.run != holder.run || stale.pid != holder.pid {
                notes.append(stale.run == holder.run ? "took over the lock on \(h.key) left by this run's previous runner (PID \(stale.pid)), which is no longer running"
                                                      : "took over the lock on \(h.key) left by \(stale.text), which is no longer running")
            }
            // A lock file another operator created is locked all the same; only its creator writes our name in it.
            guard h.writable else { continue }
            _ = ftruncate(h.fd, 0)
            _ = data.withUnsafeBytes { pwrite(h.fd, $0.baseAddress, $0.count, 0) }
        }
        let lock = RunLock(fds: held.map(\.fd), runFiles: held.filter { if case .run = $0.key { return $0.writable } else { return false } }.map { path(of: $0.key, in: directory) },
                           takenOver: notes)
        liveMutex.withLock { live.append(lock) }
        return .success(lock)
    }

    /// Whether a live process holds `key` now, and who: without taking it or writing anything
    /// (`due --run` skips a service that is being drilled).
    public static func holder(of key: Key, in directory: String = RunLock.directory()) -> (held: Bool, holder: Holder?) {
        let fd = Glibc.open(path(of: key, in: directory), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return (false, nil) }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { _ = flock(fd, LOCK_UN); return (false, nil) }
        return (true, readHolder(fd))
    }

    /// Opens a lock file without following a symbolic link and without changing an existing
    /// file's mode: created 0644 (only its creator writes the holder's name), opened read-only
    /// when another operator created it (flock needs no write access).
    static func open(_ file: String) -> (fd: Int32, writable: Bool, problem: String) {
        var fd = Glibc.open(file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        var writable = fd >= 0
        if fd < 0 && errno == EEXIST {
            fd = Glibc.open(file, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            writable = fd >= 0
            if fd < 0 && errno == EACCES { fd = Glibc.open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        }
        guard fd >= 0 else {
            let why = errno == ELOOP ? "it is a symbolic link (refused: a lock file must be a plain file)" : String(cString: strerror(errno))
            return (-1, false, "cannot open \(file): \(why)")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 1 else {
            close(fd)
            return (-1, false, "\(file) is not a plain file: refused")
        }
        return (fd, writable, "")
    }

    /// Lets go of every lock (also done when the process ends, by the kernel).
    public func release() {
        mutex.withLock {
            for f in runFiles { unlink(f) }
            for fd in fds { _ = ftruncate(fd, 0); close(fd) }
            fds = []
            runFiles = []
        }
    }

    /// The lock folder must be ours or root's, a real folder, and — when others may write in it —
    /// sticky (nobody can replace another's lock file). Created (one level only) sticky and
    /// writable by all, like /tmp, so every operator's runner can lock.
    static func prepare(_ directory: String) -> String? {
        var st = stat()
        if lstat(directory, &st) != 0 {
            guard errno == ENOENT else { return "cannot use \(directory): \(String(cString: strerror(errno)))" }
            let parent = (directory as NSString).deletingLastPathComponent
            guard FileManager.default.fileExists(atPath: parent) else { return "\(parent) does not exist (FIREDRILL_LOCK_DIR names the lock folder itself; its parent must exist)" }
            if mkdir(directory, 0o755) != 0 && errno != EEXIST { return "cannot create \(directory): \(String(cString: strerror(errno)))" }
            _ = chmod(directory, 0o1777)
            guard lstat(directory, &st) == 0 else { return "cannot use \(directory): \(String(cString: strerror(errno)))" }
        }
        if st.st_mode & S_IFMT == S_IFLNK { return "\(directory) is a symbolic link: refused as the lock folder" }
        guard st.st_mode & S_IFMT == S_IFDIR else { return "\(directory) is not a folder" }
        guard st.st_uid == 0 || st.st_uid == getuid() else { return "\(directory) belongs to another user (uid \(st.st_uid)): refused as the lock folder" }
        if st.st_mode & 0o002 != 0 && st.st_mode & 0o1000 == 0 { return "\(directory) is writable by all but not sticky: refused as the lock folder" }
        return nil
    }

    /// Whether the run a dead holder was running never wrote `run_ended`.
    static func unfinished(_ h: Holder) -> Bool {
        let journal = RunStore(root: h.runs).journalPath(h.run)
        guard FileManager.default.fileExists(atPath: journal), let a = try? RunArchive.open(journal) else { return false }
        return a.eventCount > 0 && !a.record.isFinished
    }

    static func rank(_ key: Key) -> Int {
        switch key {
        case .run: return 0
        case .service: return 1
        case .host: return 2
        }
    }

    static func path(of key: Key, in directory: String) -> String {
        switch key {
        case let .service(s): return "\(directory)/service-\(slug(s)).lock"
        case let .host(h): return "\(directory)/host-\(slug(h)).lock"
        case let .run(r): return "\(directory)/run-\(slug(r)).lock"
        }
    }

    /// File-name-safe and still readable; different names stay different.
    static func slug(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if (u.isASCII && CharacterSet.alphanumerics.contains(u)) || u == "-" || u == "." { out.unicodeScalars.append(u) }
            else { out += "_\(String(u.value, radix: 16))_" }
        }
        return out
    }

    /// The holder a lock file names, trusted only if the file is root's or ours (anyone else could
    /// have written a false one, to block drills or to suggest a resume of their own making).
    private static func readHolder(_ fd: Int32) -> Holder? {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == 0 || st.st_uid == getuid() else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return try? JSONDecoder().decode(Holder.self, from: Data(buffer[..<n]))
    }
}

extension RunLock.Key {
    var isScope: Bool { if case .run = self { return false } else { return true } }

    /// The locks a drill of `plan` holds: its run, its service and every host it reaches (by
    /// every address the host's name resolves to, so `localhost` and `127.0.0.1` collide).
    public static func drill(_ plan: Plan, run: String) -> [RunLock.Key] {
        [.run(run), .service(plan.playbook.service)] + hosts(plan.hosts)
    }

    /// Host locks: one per address each host resolves to.
    static func hosts(_ connections: [HostConnection]) -> [RunLock.Key] {
        connections.flatMap { c -> [RunLock.Key] in
            if c.kind == .local { return [.host("local:\(c.name)")] }
            let addresses = resolve(c.address)
            return (addresses.isEmpty ? [c.address] : addresses).map { .host($0.contains(":") ? "[\($0)]:\(c.port)" : "\($0):\(c.port)") }
        }
    }

    /// Numeric addresses of a host name (the name itself when it does not resolve).
    static func resolve(_ name: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &res) == 0, let first = res else { return [] }
        defer { freeaddrinfo(res) }
        var out: [String] = []
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(a.pointee.ai_addr, a.pointee.ai_addrlen, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 {
                let s = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !out.contains(s) { out.append(s) }
            }
            ai = a.pointee.ai_next
        }
        return out.sorted()
    }
}
