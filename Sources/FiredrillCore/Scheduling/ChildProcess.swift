import CLibSSH2
import Foundation

/// A `firedrill run` started by `due --run`: in its own process group (a Ctrl-C reaches it once,
/// passed on by the parent, not twice), with default signal handling and an empty signal mask
/// (whatever the spawning thread blocks), standard input from /dev/null, our standard output
/// and error, and no other descriptor of ours.
public enum ChildProcess {
    public struct Failure: Error, CustomStringConvertible, Sendable { public var description: String }

    /// `detached`: a daemon in a session of its own with its output to /dev/null (the lab's
    /// servers); else a child in a process group of its own that shares our output.
    public static func spawn(_ argv: [String], detached: Bool = false) throws(Failure) -> pid_t {
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
        posix_spawnattr_setflags(&attr, Int16((detached ? 0x80 : 0x02) | 0x04 | 0x08))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in detached ? [0, 1, 2] : [0] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        // Nothing else of ours may leak into a child: Foundation's Process learns that a child
        // ended when the child's copy of a socket closes, so a daemon holding a copy would make
        // the caller wait forever for an unrelated child.
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
