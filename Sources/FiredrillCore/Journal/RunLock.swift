import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Exclusive locks that keep two drills off the same service, the same hosts, or the same run,
/// held for the whole drill (docs/journal.md, "Locks").
///
/// Each lock is a file under the runs folder, locked with `flock(2)`: the kernel releases it when
/// the holder exits, however it exits, so a lock can never outlive its runner. The file names its
/// holder (run, PID, start time, operator); a file that still names a holder when we get the lock
/// was left by a runner that died, and taking it over is said out loud.
public final class RunLock: @unchecked Sendable {
    public enum Key: Sendable, Hashable, CustomStringConvertible {
        case service(String)
        /// A host by where it is reached (`address:port`), so two inventories naming one machine differently still collide.
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
        public var pid: Int32
        public var started: String
        public var user: String
        public var controller: String

        public init(run: String, pid: Int32 = getpid(), started: Date = Date(), user: String, controller: String) {
            self.run = run; self.pid = pid; self.started = Journal.timestamp(started); self.user = user; self.controller = controller
        }

        var text: String { "run \(run) (PID \(pid) on \(controller), started \(started) by \(user))" }
    }

    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var key: Key
        public var holder: Holder?
        public var problem: String?

        public var description: String {
            if let problem { return "cannot lock \(key): \(problem)" }
            guard let holder else { return "\(key) is locked by another drill" }
            if case .run = key { return "\(key) is still being run: \(holder.text)" }
            return "\(key) is being drilled by \(holder.text)"
        }

        public var hint: String {
            guard let holder else { return "check the runs folder's .locks" }
            return "wait for that drill to end (firedrill runs), or stop it where it runs (Ctrl-C, or kill -INT \(holder.pid))"
        }
    }

    private var fds: [Int32]
    /// Locks taken over from runners that died, in words.
    public let takenOver: [String]

    private init(fds: [Int32], takenOver: [String]) { self.fds = fds; self.takenOver = takenOver }

    deinit { release() }

    /// Takes every lock or none.
    public static func acquire(_ keys: [Key], store: RunStore, holder: Holder) -> Result<RunLock, Refusal> {
        var fds: [Int32] = [], notes: [String] = []
        func giveBack() { for fd in fds { _ = ftruncate(fd, 0); close(fd) } }
        // One order for every runner (run, service, hosts; then by file), so two runners cannot
        // each hold what the other waits for; a refusal names the run or service before a host.
        for key in Set(keys).sorted(by: { (rank($0), path(of: $0, store: store)) < (rank($1), path(of: $1, store: store)) }) {
            let file = path(of: key, store: store)
            if let problem = RunStore.folderProblem((file as NSString).deletingLastPathComponent) {
                giveBack()
                return .failure(Refusal(key: key, problem: problem))
            }
            let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                giveBack()
                return .failure(Refusal(key: key, problem: "cannot open \(file): \(String(cString: strerror(errno)))"))
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let previous = readHolder(fd)
                close(fd)
                giveBack()
                return .failure(Refusal(key: key, holder: previous))
            }
            if let stale = readHolder(fd), stale.run != holder.run || stale.pid != holder.pid {
                notes.append("took over the lock on \(key) left by \(stale.text), which is no longer running")
            }
            var data = (try? JSONEncoder().encode(holder)) ?? Data()
            data.append(0x0a)
            _ = ftruncate(fd, 0)
            _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            fds.append(fd)
        }
        return .success(RunLock(fds: fds, takenOver: notes))
    }

    /// Lets go of every lock (also done when the process ends, by the kernel).
    public func release() {
        for fd in fds { _ = ftruncate(fd, 0); close(fd) }
        fds = []
    }

    static func rank(_ key: Key) -> Int {
        switch key {
        case .run: return 0
        case .service: return 1
        case .host: return 2
        }
    }

    static func path(of key: Key, store: RunStore) -> String {
        switch key {
        case let .service(s): return "\(store.root)/.locks/service-\(slug(s)).lock"
        case let .host(h): return "\(store.root)/.locks/host-\(slug(h)).lock"
        case let .run(r): return "\(store.directory(r))/run.lock"
        }
    }

    /// File-name-safe and still readable; different names stay different.
    static func slug(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if (u.isASCII && (CharacterSet.alphanumerics.contains(u))) || u == "-" || u == "." { out.unicodeScalars.append(u) }
            else { out += "_\(String(u.value, radix: 16))_" }
        }
        return out
    }

    private static func readHolder(_ fd: Int32) -> Holder? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return try? JSONDecoder().decode(Holder.self, from: Data(buffer[..<n]))
    }
}

extension RunLock.Key {
    /// The locks a drill of `plan` holds: its service and every host it reaches.
    public static func drill(_ plan: Plan, run: String) -> [RunLock.Key] {
        [.run(run), .service(plan.playbook.service)] + plan.hosts.map { .host($0.kind == .local ? "local:\($0.name)" : $0.endpoint) }
    }
}
