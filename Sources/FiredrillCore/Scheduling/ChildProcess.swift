import CLibSSH2
import Foundation

/// A `firedrill run` started by `due --run`: in its own process group (a Ctrl-C reaches it once,
/// passed on by the parent, not twice), with default signal handling and an empty signal mask
/// (whatever the spawning thread blocks), standard input from /dev/null, our standard output
/// and error, and no other descriptor of ours.
public enum ChildProcess {
    public struct Failure: Error, CustomStringConvertible, Sendable { public var description: String }

    public static func spawn(_ argv: [String]) throws(Failure) -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        // POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK.
        posix_spawnattr_setflags(&attr, Int16(0x02 | 0x04 | 0x08))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        firedrill_spawn_closefrom(&actions, 3)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, &cargs, environ)
        guard rc == 0 else { throw Failure(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for `pid` on a thread of its own (never a Swift concurrency thread); its exit status,
    /// or 128 + the signal that ended it.
    public static func wait(_ pid: pid_t) async -> Int32 {
        await withCheckedContinuation { c in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                c.resume(returning: code)
            }
        }
    }

    /// This program's own path.
    public static var selfPath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
