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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        // Output goes to files, so a child that writes a lot can never block on a full pipe.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        p.waitUntilExit()
        try? out.close()
        try? err.close()
        let outData = (try? Data(contentsOf: outURL)) ?? Data(), errData = (try? Data(contentsOf: errURL)) ?? Data()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A running `firedrill` (for tests that signal it); output goes to files.
    final class Running {
        let process: Process
        let out: String, err: String
        init(process: Process, out: String, err: String) { self.process = process; self.out = out; self.err = err }
        func wait() -> Result {
            process.waitUntilExit()
            let o = (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", e = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            return Result(status: process.terminationStatus, stdout: o, stderr: e)
        }
    }

    static func start(_ args: [String], environment: [String: String] = [:], cwd: String = repoRoot) throws -> Running {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return Running(process: p, out: dir + "/out", err: dir + "/err")
    }
}
