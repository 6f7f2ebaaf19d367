import CLibSSH2
#if canImport(Glibc)
import Glibc
#endif

/// The resident executor's channel on one connection (touched only on the connection's worker).
final class ExecutorChannel {
    let channel: OpaquePointer
    var reader: ResidentExecutor.FrameReader
    var nextID = 1
    /// When the executor last said anything.
    var lastHeard = ContinuousClock.now

    init(channel: OpaquePointer, reader: ResidentExecutor.FrameReader) {
        self.channel = channel; self.reader = reader
    }
}

extension SSHConnection {
    /// Starts the resident executor on its own channel and waits for it to say it is ready, within
    /// `deadline`. Where it cannot start (no Python 3 on the host, a shell that refuses it), the
    /// reason is kept in `executorState` and commands use a channel each; a broken connection is
    /// an error, as for any command.
    func startExecutor(deadline: ContinuousClock.Instant) throws(TransportError) {
        executor = nil
        guard let s = session else { throw error(.disconnected, "not connected") }
        let python = connection.pythonInterpreter ?? "python3"
        let ch = try openChannel(s, deadline: deadline)
        var keep = false
        defer { if !keep { _ = libssh2_channel_free(ch) } }
        let launch = ResidentExecutor.launch(python: python)
        let startup = try pump("starting the resident executor", deadline: deadline) {
            libssh2_channel_process_startup(ch, "exec", 4, launch, UInt32(launch.utf8.count))
        }
        guard startup == 0 else {
            if startup == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED {
                executorState = .unavailable("the host refused to start it: \(lastError(s))")
                return
            }
            throw error(.connectionLost, "connection lost while starting the resident executor (\(lastError(s)))")
        }
        // Asked, as soon as the start is confirmed, whether it is there: its greeting and its
        // answer prove the program that runs is one that reads requests (the question overlaps
        // Python's start; measured at 40 ms each way it costs ~1 round trip more than the greeting).
        try writeInput(ch, ResidentExecutor.probe(id: 0), deadline: deadline, during: "starting the resident executor")
        var reader = ResidentExecutor.FrameReader()
        var said = CapturedOutput(limit: 4096)
        // The first bytes of standard error, kept whole: the launch's process id is in them
        // (`said` keeps the tail, for the reason).
        var head: [UInt8] = []
        var greeted: Int32?
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 1)
        defer { buffer.deallocate() }
        /// The launch's process id, as its shell said it.
        func launched() -> Int32? {
            String(decoding: head, as: UTF8.self).split(separator: "\n").lazy.compactMap { line in
                line.hasPrefix(ResidentExecutor.launchMarker) ? Int32(line.dropFirst(ResidentExecutor.launchMarker.count)) : nil
            }.first
        }
        /// What the interpreter said on its way out (the launch's own line left out).
        func lastWords() -> String {
            let why = said.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .last { !$0.isEmpty && !$0.hasPrefix(ResidentExecutor.launchMarker) }
            return why.map { ": " + TerminalText.safe(String($0.prefix(160))) } ?? ""
        }
        /// Gives up on the launch: what still runs of it (an interpreter that is not the executor,
        /// and whatever it started) is killed by its process group from a channel of its own.
        func abandon(_ why: String) {
            executorState = .unavailable(why)
            guard libssh2_channel_eof(ch) != 1, let pid = launched(), pid > 1 else { return }
            _ = try? execute("kill -KILL -\(pid) 2>/dev/null; kill -KILL \(pid) 2>/dev/null; true", openWithin: CommandBudget.kill,
                             endWithin: CommandBudget.kill, cancelled: CancellationFlag())
        }
        while true {
            var progressed = false
            for stream: Int32 in [0, 1] {
                let n = libssh2_channel_read_ex(ch, stream, buffer.baseAddress, buffer.count)
                if n > 0 {
                    progressed = true
                    let chunk = UnsafeRawBufferPointer(start: buffer.baseAddress, count: n)
                    if stream == 0 { reader.append(chunk) } else {
                        said.append(chunk)
                        if head.count < 256 { head += chunk.prefix(256 - head.count) }
                    }
                } else if n < 0 && n != Int(LIBSSH2_ERROR_EAGAIN) {
                    throw error(.connectionLost, "connection lost while starting the resident executor (\(lastError(s)))")
                }
            }
            // Lines before the greeting (a login script that prints) are skipped by the reader.
            do throws(ResidentExecutor.Malformed) {
                while let frame = try reader.next() {
                    switch frame {
                    case let .ready(pid): greeted = pid
                    case .alive(0) where greeted != nil:
                        executor = ExecutorChannel(channel: ch, reader: reader)
                        executorState = .resident(pid: greeted!)
                        keep = true
                        return
                    default:
                        abandon("\(python) said something that is not the executor's protocol")
                        return
                    }
                }
            } catch {
                abandon("\(python) said something that is not the executor's protocol ('\(TerminalText.safe(error.line))')")
                return
            }
            if libssh2_channel_eof(ch) == 1 {
                abandon("\(python) could not run it" + lastWords())
                return
            }
            if ContinuousClock.now >= deadline {
                abandon("\(python) did not start it within \(connectTimeout.text)" + (greeted == nil ? "" : " (it greeted, then did not answer)"))
                return
            }
            if !progressed { try waitSocket(s, deadline: min(deadline, ContinuousClock.now + .milliseconds(100)), what: nil) }
        }
    }

    /// The executor cannot be used any more (it ended, or said what cannot be read): its channel is
    /// freed (its input ends: it stops what runs and exits), and later commands open a channel each.
    private func dropExecutor(_ why: String) {
        if let ex = executor { _ = libssh2_channel_free(ex.channel) }
        executor = nil
        executorState = .unavailable(why)
    }

    /// Runs one command through the resident executor. Returns nil when the executor turned out
    /// to be gone before the whole request was sent (the command did not start: the caller sends
    /// it on a channel of its own). From then on, the rules of `execute` hold: the command's end
    /// within `CommandBudget.waitForEnd`, then a kill within `CommandBudget.kill`; a cancel
    /// kills its process group; a connection or executor lost is an unknown outcome, never a resend.
    func executeResident(_ ex: ExecutorChannel, _ command: String, timeout: Duration, tag: String, cancelled: CancellationFlag,
                         started: (@Sendable (RemoteProcess) -> Void)?) throws(TransportError) -> CommandResult? {
        guard let s = session else { return nil }
        let budget = CommandBudget(timeout: timeout, grace: options.killGrace)
        let id = ex.nextID
        ex.nextID += 1
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 32768, alignment: 1)
        defer { buffer.deallocate() }
        // What an earlier command given up on still said is read and set aside; an executor that
        // ended since has not been sent this command: it goes on a channel of its own.
        if try drain(ex, buffer: buffer).state == .unusable { return nil }
        if ContinuousClock.now - ex.lastHeard >= ResidentExecutor.quietBeforeProbe {
            guard try probe(ex, buffer: buffer) else { return nil }
        }
        let start = ContinuousClock.now
        // Sending: the executor starts a command only once its whole request has come, so a
        // request cut short never runs.
        let request = ResidentExecutor.request(id: id, command: command, timeout: timeout, grace: options.killGrace,
                                               outputGrace: RemoteCommand.outputGrace, tag: tag)
        do throws(TransportError) {
            try writeInput(ex.channel, request, deadline: start + options.connectTimeout, during: "sending the command")
        } catch {
            disconnectOnWorker()
            throw self.error(.disconnected, "the connection stopped taking data before the command was sent")
        }
        var stdout = CapturedOutput(), stderr = CapturedOutput()
        var ending: ResidentExecutor.Ending?
        var refused: String?
        // When a cancel was sent, and whether for the controller's own deadline.
        var killSentAt: ContinuousClock.Instant?
        var killForDeadline = false
        let endDeadline = start + budget.waitForEnd
        func lost(_ why: String) -> TransportError {
            error(.connectionLost, "\(why) while the command ran — outcome unknown", hint: "the command was not sent again; check the host")
        }
        /// The host did not confirm the kill (of a cancel, or at the controller's deadline): the
        /// connection is dropped and the outcome is unknown.
        func notKilled(_ why: String) -> TransportError {
            disconnectOnWorker()
            return killForDeadline
                ? error(.unresponsive, "the host stopped answering: the command did not end within its timeout (\(DurationText.format(budget.waitForEnd)) with grace) and could not be killed — outcome unknown, it may still be running")
                : error(.cancelled, "command cancelled, but \(why): it may still be running")
        }
        reading: while true {
            var progressed = false
            while ending == nil && refused == nil {
                let n = libssh2_channel_read_ex(ex.channel, 0, buffer.baseAddress, buffer.count)
                if n == Int(LIBSSH2_ERROR_EAGAIN) || n == 0 { break }
                guard n > 0 else {
                    let why = lastError(s)
                    disconnectOnWorker()
                    throw lost("connection lost (\(why))")
                }
                progressed = true
                ex.lastHeard = .now
                ex.reader.append(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n))
                do throws(ResidentExecutor.Malformed) {
                    while let frame = try ex.reader.next() {
                        switch frame {
                        case let .started(fid, pgid) where fid == id:
                            started?(RemoteProcess(pgid: pgid, tag: tag))
                        case let .output(fid, stream, bytes) where fid == id:
                            if stream == 0 { stdout.append(bytes) } else { stderr.append(bytes) }
                        case let .ended(fid, end) where fid == id:
                            ending = end
                        case let .refused(fid, message) where fid == id || fid == -1:
                            refused = message
                        default:
                            // An earlier command's late words (it was given up on): not this one's.
                            break
                        }
                        if ending != nil || refused != nil { break }
                    }
                } catch {
                    dropExecutor("it said something that is not its protocol")
                    throw lost("the resident executor said something that is not its protocol ('\(TerminalText.safe(error.line))')")
                }
            }
            // Its own standard error (Python's): not the command's; read so the channel never stalls.
            while libssh2_channel_read_ex(ex.channel, 1, buffer.baseAddress, buffer.count) > 0 { progressed = true }
            if ending != nil || refused != nil { break reading }
            if libssh2_channel_eof(ex.channel) == 1 {
                dropExecutor("it ended during a command")
                throw lost("the resident executor on the host ended")
            }
            let now = ContinuousClock.now
            if killSentAt == nil && (cancelled.isSet || now >= endDeadline) {
                killForDeadline = !cancelled.isSet
                killSentAt = now
                do throws(TransportError) {
                    try writeInput(ex.channel, ResidentExecutor.cancel(id: id), deadline: now + CommandBudget.kill, during: "sending a kill")
                } catch {
                    throw notKilled("it could not be killed on the host (the connection stopped taking data)")
                }
                continue
            }
            if let sent = killSentAt, now >= sent + CommandBudget.kill {
                throw notKilled("the host did not confirm it was killed")
            }
            if !progressed {
                var next: Int32 = 0
                _ = libssh2_keepalive_send(s, &next)
                let until = killSentAt.map { $0 + CommandBudget.kill } ?? endDeadline
                try waitSocket(s, deadline: min(until, ContinuousClock.now + .milliseconds(100)), what: nil)
            }
        }
        if let refused {
            dropExecutor("it refused a command: \(TerminalText.safe(refused))")
            throw error(.channel, "the resident executor could not start the command: \(TerminalText.safe(refused))")
        }
        guard let ending else { throw lost("the resident executor's answer was lost") }
        if killSentAt != nil && !killForDeadline {
            throw error(.cancelled, "command cancelled; its process group was killed on the host")
        }
        stdout.finish(); stderr.finish()
        var outcome = ending.status
        if ending.why == .timedOut || (killForDeadline && ending.why == .killed) { outcome = .timedOut }
        return CommandResult(outcome: outcome, stdout: stdout, stderr: stderr, duration: ContinuousClock.now - start,
                             killedAfterGrace: outcome == .timedOut && ending.forced, outputHeldOpen: ending.heldOpen)
    }

    /// Asks the executor whether it is there, before a command is sent: true when it answered;
    /// false when it ended (the command goes on a channel of its own). A connection that stays
    /// silent for the connect timeout is dropped, and the error (`.timeout`: nothing was sent)
    /// lets the caller send the command once on a new connection.
    private func probe(_ ex: ExecutorChannel, buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Bool {
        guard let s = session else { throw error(.disconnected, "not connected") }
        let id = ex.nextID
        ex.nextID += 1
        let deadline = ContinuousClock.now + connectTimeout
        do throws(TransportError) {
            try writeInput(ex.channel, ResidentExecutor.probe(id: id), deadline: deadline, during: "asking the executor")
        } catch {
            disconnectOnWorker()
            throw self.error(.disconnected, "the connection stopped taking data before the command was sent")
        }
        while true {
            let (state, progressed) = try drain(ex, buffer: buffer) { if case .alive(id) = $0 { return true } else { return false } }
            if state == .matched { return true }
            if state == .unusable { return false }
            if ContinuousClock.now >= deadline {
                disconnectOnWorker()
                throw error(.timeout, "no answer from the host within \(connectTimeout.text) before the command was sent")
            }
            if !progressed { try waitSocket(s, deadline: min(deadline, ContinuousClock.now + .milliseconds(100)), what: nil) }
        }
    }

    enum Drained { case matched, pending, unusable }

    /// Reads what the executor has said so far, without waiting, between commands: frames are set
    /// aside (an earlier command's late words) until one is `wanted` (`matched`). An executor that
    /// ended or said what is not its protocol is dropped (`unusable`); a broken connection is
    /// `.disconnected` (no command was being sent: the caller may send it on a new connection).
    private func drain(_ ex: ExecutorChannel, buffer: UnsafeMutableRawBufferPointer,
                       until wanted: (ResidentExecutor.Frame) -> Bool = { _ in false }) throws(TransportError) -> (state: Drained, progressed: Bool) {
        var progressed = false
        for stream: Int32 in [0, 1] {
            while case let n = libssh2_channel_read_ex(ex.channel, stream, buffer.baseAddress, buffer.count), n != Int(LIBSSH2_ERROR_EAGAIN), n != 0 {
                guard n > 0 else { disconnectOnWorker(); throw error(.disconnected, "the connection was closed") }
                progressed = true
                ex.lastHeard = .now
                if stream == 0 { ex.reader.append(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n)) }
            }
        }
        do throws(ResidentExecutor.Malformed) {
            while let frame = try ex.reader.next() {
                if wanted(frame) { return (.matched, progressed) }
            }
        } catch {
            dropExecutor("it said something that is not its protocol")
            return (.unusable, progressed)
        }
        if libssh2_channel_eof(ex.channel) == 1 {
            dropExecutor("it ended between commands")
            return (.unusable, progressed)
        }
        return (.pending, progressed)
    }
}
