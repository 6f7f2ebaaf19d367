import CPosixSpawn
import Foundation
import Synchronization

/// The one way Firedrill starts a process (`due --run`'s drills, the lab's daemons, local
/// commands): with default signal handling and an empty signal mask (whatever the spawning
/// thread blocks), standard input from /dev/null, and no descriptor of ours but those asked for.
public enum ChildProcess {
    public struct Failure: Error, CustomStringConvertible, Sendable { public var description: String }

    /// Where the child's process group is.
    public enum Group: Sendable {
        /// A process group of its own (a Ctrl-C reaches it once, passed on by us, not twice; its
        /// whole group can be killed).
        case own
        /// A session of its own: a daemon.
        case session
    }

    /// Where the child's standard output and error go.
    public enum Output: Sendable {
        /// Ours.
        case inherit
        case devNull
        /// The write ends of two pipes (closed in the child after they are duplicated).
        case pipes(stdout: Int32, stderr: Int32)
        /// A socket as standard input and output (a proxy command's connection), stderr to a pipe.
        case socket(Int32, stderr: Int32)
    }

    /// Starts `argv` (`argv[0]` a path, or a name looked up in `PATH` when `searchPath`) with
    /// `environment` (ours when nil); returns its PID.
    public static func spawn(_ argv: [String], group: Group = .own, output: Output = .inherit, environment: [String: String]? = nil,
                             searchPath: Bool = false, input: String = "/dev/null") throws(Failure) -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        // POSIX_SPAWN_SETSID (0x80, glibc) or POSIX_SPAWN_SETPGROUP (0x02), with SETSIGDEF | SETSIGMASK.
        posix_spawnattr_setflags(&attr, Int16((group == .session ? 0x80 : 0x02) | 0x04 | 0x08))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
        switch output {
        case .inherit: break
        case .devNull:
            for fd: Int32 in [1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0) }
        case let .pipes(out, err):
            posix_spawn_file_actions_adddup2(&actions, out, 1)
            posix_spawn_file_actions_adddup2(&actions, err, 2)
        case let .socket(socket, err):
            posix_spawn_file_actions_adddup2(&actions, socket, 0)
            posix_spawn_file_actions_adddup2(&actions, socket, 1)
            posix_spawn_file_actions_adddup2(&actions, err, 2)
        }
        // Nothing else of ours may leak into a child: Foundation's Process learns that a child
        // ended when the child's copy of a socket closes, so a daemon (or a long command) holding
        // a copy would make the caller wait forever for an unrelated child.
        firedrill_spawn_closefrom(&actions, 3)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc: Int32
        if let environment {
            var env: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for p in env { free(p) } }
            rc = searchPath ? posix_spawnp(&pid, argv[0], &actions, &attr, &cargs, &env) : posix_spawn(&pid, argv[0], &actions, &attr, &cargs, &env)
        } else {
            rc = searchPath ? posix_spawnp(&pid, argv[0], &actions, &attr, &cargs, environ) : posix_spawn(&pid, argv[0], &actions, &attr, &cargs, environ)
        }
        guard rc == 0 else { throw Failure(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for `pid` on a thread of its own (never a Swift concurrency thread); its exit status,
    /// or 128 + the signal that ended it.
    public static func wait(_ pid: pid_t) async -> Int32 {
        await WorkerThread.detached("wait-\(pid)") {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
    }

    /// Runs `argv` to its end and returns its exit status and what it wrote (standard output
    /// and error together), read on this thread: for short tools (`ip`, `tmux`), never on the
    /// cooperative pool.
    /// `input`: a file read as its standard input.
    public static func capture(_ argv: [String], input: String = "/dev/null") throws(Failure) -> (status: Int32, output: String) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw Failure(description: "cannot make a pipe: \(String(cString: strerror(errno)))") }
        let pid: pid_t
        do throws(Failure) { pid = try spawn(argv, output: .pipes(stdout: fds[1], stderr: fds[1]), input: input) } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        live.withLock { _ = $0.insert(pid) }
        defer { live.withLock { _ = $0.remove(pid) } }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n > 0 { data += buffer[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), String(decoding: data, as: UTF8.self))
    }

    /// Tools `capture` is running now (their process groups), for `killLive`.
    private static let live = Mutex<Set<pid_t>>([])

    /// Kills every tool `capture` is running, with its process group: a command interrupted
    /// while it waits on one (`ssh-keygen` waiting for a security key's touch) leaves nothing
    /// behind.
    public static func killLive() {
        for pid in live.withLock({ $0 }) { kill(-pid, SIGKILL) }
    }

    /// This program's own path.
    public static var selfPath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
