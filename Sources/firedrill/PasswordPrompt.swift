import ArgumentParser
import FiredrillCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Asks for a password on the controlling terminal, without echo (`-k`, `-K`). Never reads
/// standard input (a drill's input may be a script), never prints the answer.
enum PasswordPrompt {
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    /// The terminal's settings while echo is off, to put back if the prompt is interrupted.
    nonisolated(unsafe) private static var saved = termios()
    nonisolated(unsafe) private static var savedFD: Int32 = -1

    static func ask(_ prompt: String) throws(Unavailable) -> Secret {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw Unavailable(description: "there is no terminal to ask for the password on")
        }
        defer { close(fd) }
        var original = termios()
        guard tcgetattr(fd, &original) == 0 else { throw Unavailable(description: "cannot set up the terminal to ask for the password") }
        saved = original
        savedFD = fd
        // An interrupt while echo is off would leave the operator's terminal silent.
        let restore: @convention(c) (Int32) -> Void = { sig in
            if PasswordPrompt.savedFD >= 0 { tcsetattr(PasswordPrompt.savedFD, TCSAFLUSH, &PasswordPrompt.saved) }
            _exit(128 + sig)
        }
        let oldInt = signal(SIGINT, restore), oldTerm = signal(SIGTERM, restore), oldHup = signal(SIGHUP, restore)
        defer {
            signal(SIGINT, oldInt); signal(SIGTERM, oldTerm); signal(SIGHUP, oldHup)
            savedFD = -1
        }
        var quiet = original
        quiet.c_lflag &= ~tcflag_t(ECHO)
        quiet.c_lflag |= tcflag_t(ICANON)
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
        tcsetattr(fd, TCSAFLUSH, &quiet)
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(fd, &byte, 1)
            if n == 1 {
                if byte == 10 || byte == 13 { break }
                bytes.append(byte)
                if bytes.count > 4096 { break }
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        tcsetattr(fd, TCSAFLUSH, &original)
        _ = write(fd, "\n", 1)
        // Nothing typed (Enter, Ctrl-D) is not a password: sent to sudo on every host, it would
        // only cost a failed attempt each (an empty password file is refused the same way).
        guard !bytes.isEmpty else { throw Unavailable(description: "no password was typed") }
        return Secret(String(decoding: bytes, as: UTF8.self))
    }

    /// Files whose loose mode was already warned about.
    private static let warned = Mutex<Set<String>>([])

    /// A password from a file: its first line (a trailing newline is not part of it).
    static func fromFile(_ path: String, flag: String) throws -> Secret {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ValidationError("\(flag) '\(path)' does not exist: give the file that holds the password on its first line")
        }
        guard !isDir.boolValue else {
            throw ValidationError("\(flag) '\(path)' is a folder, not a file: give the file that holds the password on its first line")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(flag) '\(path)' cannot be read by this user: check its permissions (it should be 0600, yours)")
        }
        var text = String(decoding: data, as: UTF8.self)
        if let nl = text.firstIndex(where: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) { text = String(text[..<nl]) }
        guard !text.isEmpty else { throw ValidationError("\(flag) '\(path)' is empty: write the password on its first line") }
        var st = stat()
        // Said once per file, though the file is read when the options are checked and again when used.
        if stat(path, &st) == 0, st.st_mode & 0o077 != 0, warned.withLock({ $0.insert(path).inserted }) {
            Terminal.err("warning: \(path) can be read by other users (mode \(String(st.st_mode & 0o777, radix: 8))): chmod 600 \(path)\n")
        }
        return Secret(text)
    }
}
