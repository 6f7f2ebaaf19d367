import Foundation
import Testing
@testable import FiredrillCore

/// The resident executor: its words cut into frames (pure), and the program itself, run here by
/// the machine's Python 3 on a pipe and driven through its protocol — the host side of every
/// safety rule (process group, deadline, cancel, end of input) without SSH in between.
@Suite struct ResidentExecutorTests {
    // MARK: - Frames

    func frames(_ chunks: [String]) throws -> [ResidentExecutor.Frame] {
        var reader = ResidentExecutor.FrameReader()
        var out: [ResidentExecutor.Frame] = []
        for c in chunks {
            reader.append(Array(c.utf8))
            while let f = try reader.next() { out.append(f) }
        }
        return out
    }

    @Test func noiseBeforeTheGreetingIsSkippedAndFramesMayArriveInPieces() throws {
        let got = try frames(["Welcome to db1\nFIREDRILL-EXEC", "UTOR-1 77\nP 1 4", "242\nO 1 6\nab\ncd", "\nE 1 2\nxyX 1 exit 3 0 ran 0\n"])
        #expect(got == [.ready(pid: 77), .started(id: 1, pgid: 4242), .output(id: 1, stream: 0, bytes: Array("ab\ncd\n".utf8)),
                        .output(id: 1, stream: 1, bytes: Array("xy".utf8)),
                        .ended(id: 1, .init(status: .exited(3), heldOpen: false, why: .ran, forced: false))])
    }

    @Test func endingsSayHowTheCommandEnded() throws {
        let got = try frames(["FIREDRILL-EXECUTOR-1 1\n", "X 2 signal KILL 0 tg 1\nX 3 exit 0 1 ran 0\nX 4 signal TERM 0 kg 0\nN 5 busy\nA 6\n"])
        #expect(got.dropFirst() == [
            .ended(id: 2, .init(status: .signaled("KILL"), heldOpen: false, why: .timedOut, forced: true)),
            .ended(id: 3, .init(status: .exited(0), heldOpen: true, why: .ran, forced: false)),
            .ended(id: 4, .init(status: .signaled("TERM"), heldOpen: false, why: .killed, forced: false)),
            .refused(id: 5, message: "busy"),
            .alive(id: 6),
        ])
    }

    @Test(arguments: ["hello\n", "A 1 2\n", "X 1 exit\n", "O 1 -4\n", "P one 2\n", "X 1 exit three 0 ran 0\n", "X 1 exit 0 0 maybe 0\n"])
    func wordsThatAreNotTheProtocolAreAnError(_ line: String) {
        #expect(throws: ResidentExecutor.Malformed.self) { try frames(["FIREDRILL-EXECUTOR-1 1\n", line]) }
    }

    @Test func aRequestCarriesItsDeadlinesAndTheCommandAsBytes() {
        let r = ResidentExecutor.request(id: 7, command: "echo 'é'\nexit 2", timeout: .seconds(30), grace: .milliseconds(1500),
                                         outputGrace: .seconds(1), tag: "abc")
        #expect(String(decoding: r, as: UTF8.self) == "R 7 30000 1500 1000 abc 16\necho 'é'\nexit 2")
    }

    // MARK: - The program

    /// The executor, started by this machine's Python 3 on pipes.
    final class Executor {
        let process = Process()
        let input = Pipe(), output = Pipe()
        var reader = ResidentExecutor.FrameReader()
        var nextID = 1

        /// `arguments`: what the launch passes (the login's `LC_CTYPE`, and whether it was set);
        /// `environment`: the login's (nil: this process's).
        init(arguments: [String] = [], environment: [String: String]? = nil) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-I", "-S", "-c", ResidentExecutor.script] + arguments
            if let environment { process.environment = environment }
            process.standardInput = input
            process.standardOutput = output
            try process.run()
        }

        deinit { if process.isRunning { process.terminate() } }

        /// The next frame within `seconds` (poll: never a sleep).
        func next(within seconds: Double = 10) throws -> ResidentExecutor.Frame {
            let deadline = Date().addingTimeInterval(seconds)
            while true {
                if let f = try reader.next() { return f }
                var p = pollfd(fd: output.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
                let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
                guard left > 0, poll(&p, 1, left) > 0 else { throw Timeout() }
                let d = output.fileHandleForReading.availableData
                if d.isEmpty { throw Ended() }
                reader.append(Array(d))
            }
        }

        struct Timeout: Error {}
        struct Ended: Error {}

        func send(_ bytes: [UInt8]) { input.fileHandleForWriting.write(Data(bytes)) }

        /// Sends a command; returns its id.
        @discardableResult
        func run(_ command: String, timeout: Duration = .seconds(10), grace: Duration = .seconds(1),
                 outputGrace: Duration = .milliseconds(300), tag: String = "t1") -> Int {
            let id = nextID
            nextID += 1
            send(ResidentExecutor.request(id: id, command: command, timeout: timeout, grace: grace, outputGrace: outputGrace, tag: tag))
            return id
        }

        /// Frames up to and including the command's end.
        func result(within seconds: Double = 10) throws -> (pgid: Int32?, out: String, err: String, end: ResidentExecutor.Ending?, refused: String?) {
            var pgid: Int32?, out = "", err = ""
            while true {
                switch try next(within: seconds) {
                case let .started(_, g): pgid = g
                case let .output(_, s, b): if s == 0 { out += String(decoding: b, as: UTF8.self) } else { err += String(decoding: b, as: UTF8.self) }
                case let .ended(_, e): return (pgid, out, err, e, nil)
                case let .refused(_, m): return (pgid, out, err, nil, m)
                case .ready, .alive: break
                }
            }
        }

        func started(within seconds: Double = 10) throws -> Int32 {
            while true { if case let .started(_, g) = try next(within: seconds) { return g } }
        }
    }

    /// Whether any process of the group is still alive (zombies are dead).
    static func groupAlive(_ pgid: Int32) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.contains { pid in
            guard Int32(pid) != nil, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 3 && fields[0] != "Z" && Int32(fields[3]) == pgid
        }
    }

    /// Waits (bounded) for the group to be gone: signals take a moment to be delivered.
    static func groupGone(_ pgid: Int32, within seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if !groupAlive(pgid) { return true }
            var p = pollfd(fd: -1, events: 0, revents: 0)
            _ = poll(&p, 0, 20)
        }
        return !groupAlive(pgid)
    }

    @Test func aCommandRunsInAGroupOfItsOwnWithItsTagAndNoInput() throws {
        let ex = try Executor()
        guard case .ready = try ex.next() else { Issue.record("no greeting"); return }
        ex.run("echo out; echo err >&2; echo \"tag=$FIREDRILL_CMD\"; cat; yes | head -1; ps -o pgid= -p $$; exit 3", tag: "tag42")
        let r = try ex.result()
        let pgid = try #require(r.pgid)
        #expect(r.end == .init(status: .exited(3), heldOpen: false, why: .ran, forced: false))
        #expect(r.err == "err\n")
        let lines = r.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines == ["out", "tag=tag42", "y", "\(pgid)"])
        // The next command on the same executor.
        ex.run("printf 'no newline'")
        let second = try ex.result()
        #expect(second.out == "no newline" && second.end?.status == .exited(0))
    }

    /// The deadline kills the whole group, SIGKILL after the grace: a leader that ignores
    /// SIGTERM (killed by force), and a leader that dies of it leaving a child that ignores it.
    @Test(arguments: [("trap '' TERM; while :; do sleep 0.05; done", true), ("sh -c \"trap '' TERM; sleep 104\" & wait", false)])
    func theDeadlineIsKeptOnTheHostWithSIGKILLAfterTheGrace(command: String, leaderForced: Bool) throws {
        let ex = try Executor()
        _ = try ex.next()
        ex.run(command, timeout: .milliseconds(300), grace: .milliseconds(300))
        let r = try ex.result()
        #expect(r.end?.why == .timedOut)
        #expect(r.end?.forced == leaderForced)
        #expect(Self.groupGone(try #require(r.pgid)))
        ex.run("sleep 30", timeout: .milliseconds(200))
        let polite = try ex.result()
        #expect(polite.end == .init(status: .signaled("TERM"), heldOpen: false, why: .timedOut, forced: false))
    }

    @Test func pythonsLocaleCoercionDoesNotReachTheCommands() throws {
        // A login in the C locale: Python 3.7+ sets LC_CTYPE=C.UTF-8 in its own environment.
        for (arguments, expected) in [([String](), "LC_CTYPE=C.UTF-8"), (["", ""], ""), (["fr_FR.UTF-8", "set"], "LC_CTYPE=fr_FR.UTF-8")] {
            let ex = try Executor(arguments: arguments, environment: ["PATH": "/usr/bin:/bin"])
            _ = try ex.next()
            ex.run("env | grep '^LC_CTYPE=' || true")
            let r = try ex.result()
            let said = r.out.trimmingCharacters(in: .newlines)
            // Without the launch's arguments Python's coercion shows (C.UTF-8 or C.utf8, as the host has it).
            #expect(arguments.isEmpty ? said.hasPrefix("LC_CTYPE=C.") : said == expected, "\(arguments): \(said)")
        }
    }

    @Test func aCancelKillsTheWholeGroup() throws {
        let ex = try Executor()
        _ = try ex.next()
        let id = ex.run("sleep 30 & sleep 31; wait")
        let pgid = try ex.started()
        ex.send(ResidentExecutor.cancel(id: id))
        let r = try ex.result()
        #expect(r.end?.why == .killed)
        #expect(Self.groupGone(pgid))
    }

    @Test func theEndOfItsInputKillsWhatRunsAndEndsTheExecutor() throws {
        let ex = try Executor()
        _ = try ex.next()
        ex.run("trap '' TERM; sleep 30 & sleep 31; wait")
        let pgid = try ex.started()
        try ex.input.fileHandleForWriting.close()
        #expect(try ex.result().end?.why == .killed)
        #expect(throws: Executor.Ended.self) { _ = try ex.next() }
        ex.process.waitUntilExit()
        #expect(Self.groupGone(pgid))
    }

    @Test func aCommandThatLeavesItsOutputHeldOpenEndsAfterTheOutputGrace() throws {
        let ex = try Executor()
        _ = try ex.next()
        ex.run("(sleep 30 &); echo started; exit 4", outputGrace: .milliseconds(200))
        let r = try ex.result()
        #expect(r.end == .init(status: .exited(4), heldOpen: true, why: .ran, forced: false))
        #expect(r.out == "started\n")
        let pgid = try #require(r.pgid)
        kill(-pgid, SIGKILL)
        #expect(Self.groupGone(pgid))
    }

    @Test func oneCommandAtATimeAndNothingButTheProtocol() throws {
        let ex = try Executor()
        _ = try ex.next()
        let first = ex.run("sleep 30")
        let pgid = try ex.started()
        ex.run("echo never")
        #expect(try ex.next() == .refused(id: 2, message: "busy"))
        // Asked whether it is there, it answers at once, also while a command runs.
        ex.send(ResidentExecutor.probe(id: 9))
        #expect(try ex.next() == .alive(id: 9))
        ex.send(ResidentExecutor.cancel(id: first))
        #expect(try ex.result().end?.why == .killed)
        ex.send(Array("rm -rf /\n".utf8))
        #expect(try ex.next() == .refused(id: -1, message: "bad request"))
        #expect(throws: Executor.Ended.self) { _ = try ex.next() }
        #expect(Self.groupGone(pgid))
    }
}
