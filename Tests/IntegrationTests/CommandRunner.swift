import Foundation
import Testing

/// Runs the built `firedrill` binary and captures stdout, stderr and the exit status.
enum Firedrill {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The binary next to the test bundle (`.build/<config>/firedrill`), or $FIREDRILL_BIN.
    static let binary: String = {
        if let env = ProcessInfo.processInfo.environment["FIREDRILL_BIN"] { return env }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("firedrill").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "\(repoRoot)/.build/debug/firedrill"
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ args: [String], environment: [String: String] = [:], cwd: String = repoRoot, stdin: String? = nil) throws -> Result {
        try start(args, environment: environment, cwd: cwd, stdin: stdin).wait()
    }

    /// A running `firedrill` (for tests that signal it); output goes to files.
    final class Running {
        let process: Process
        let out: String, err: String
        init(process: Process, out: String, err: String) { self.process = process; self.out = out; self.err = err }
        func wait() -> Result {
            process.waitUntilExit()
            let o = (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", e = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: (out as NSString).deletingLastPathComponent)
            return Result(status: process.terminationStatus, stdout: o, stderr: e)
        }
    }

    /// Output goes to files, so a child that writes a lot can never block on a full pipe.
    /// Another program (a pty wrapper, say), run like `start` runs ours.
    static func startProcess(_ path: String, _ args: [String], environment: [String: String] = [:], cwd: String = repoRoot) throws -> Running {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        p.standardInput = Pipe()   // kept open: the pty's input never ends on its own
        try p.run()
        return Running(process: p, out: dir + "/out", err: dir + "/err")
    }

    /// With `closedStdout`, stdout is a pipe whose reading end is closed at once (a terminal or a
    /// `| head` gone): every write the runner makes there fails.
    static func start(_ args: [String], environment: [String: String] = [:], cwd: String = repoRoot, stdin: String? = nil,
                      closedStdout: Bool = false, stdout: FileHandle? = nil) throws -> Running {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-run-\(UUID().uuidString)").path
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        // Locks are machine-wide by default; tests drilling the same service on labs of their own
        // lock within their runs folder (or alone), so they exclude only each other's drills.
        // The same for the history database: one per runs folder, or per invocation.
        if let i = args.firstIndex(of: "--runs-dir"), i + 1 < args.count {
            env["FIREDRILL_LOCK_DIR"] = args[i + 1] + "/.locks"
            env["FIREDRILL_DB"] = args[i + 1] + "/history.sqlite"
        } else {
            env["FIREDRILL_LOCK_DIR"] = dir + "/locks"
            env["FIREDRILL_DB"] = dir + "/history.sqlite"
        }
        for (k, v) in environment { env[k] = v }
        p.environment = env
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let closed = Pipe()
        p.standardOutput = closedStdout ? closed : try stdout ?? FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        if let stdin {
            _ = FileManager.default.createFile(atPath: dir + "/in", contents: Data(stdin.utf8))
            p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: dir + "/in"))
        } else {
            p.standardInput = FileHandle.nullDevice
        }
        try p.run()
        if closedStdout {
            try closed.fileHandleForReading.close()
            try closed.fileHandleForWriting.close()
        }
        return Running(process: p, out: dir + "/out", err: dir + "/err")
    }
}
