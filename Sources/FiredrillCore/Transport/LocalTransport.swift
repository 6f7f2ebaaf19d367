import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs commands on this machine (`ansible_connection=local`), through the same contract as SSH:
/// `sh -c` under GNU `timeout` in its own process group, which is killed on timeout or cancellation.
public final class LocalTransport: Transport, @unchecked Sendable {
    public let name: String
    public let killGrace: Duration
    private let worker: WorkerThread

    /// Passwords are not used here: become on this machine is for the user Firedrill runs as.
    public init(name: String = "localhost", killGrace: Duration = .seconds(5), credentials: HostCredentials = HostCredentials()) {
        self.name = name
        self.killGrace = killGrace
        self.worker = WorkerThread(name: "local-\(name)")
    }

    deinit { worker.stop() }

    public func close() async {}

    public func run(_ command: String, timeout: Duration, tag: String, become: Become?, started: (@Sendable (RemoteProcess) -> Void)?) async throws(TransportError) -> CommandResult {
        // On this machine Firedrill does not switch users: a local step that must run as another
        // user needs Firedrill run as that user (sudo firedrill …), and says so before it starts.
        if let become, become.user != CurrentUser.name() {
            throw TransportError(.become, host: name, endpoint: "local", "become (\(become)) on a local host is not supported: Firedrill runs as \(CurrentUser.name()) here",
                                 hint: "run Firedrill as \(become.user) for this playbook, or drop become for the local host (ansible_become: false)")
        }
        let flag = CancellationFlag()
        let result: Result<CommandResult, TransportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                worker.submit {
                    continuation.resume(returning: Result { () throws(TransportError) in
                        try self.runOnWorker(command, timeout: timeout, tag: tag, cancelled: flag, started: started)
                    })
                }
            }
        } onCancel: { flag.set() }
        return try result.get()
    }

    private func fail(_ message: String, kind: TransportError.Kind = .local) -> TransportError {
        TransportError(kind, host: name, endpoint: "local", message)
    }

    private func runOnWorker(_ command: String, timeout: Duration, tag: String, cancelled: CancellationFlag,
                             started: (@Sendable (RemoteProcess) -> Void)?) throws(TransportError) -> CommandResult {
        if cancelled.isSet { throw fail("cancelled before the command was started", kind: .cancelled) }
        let start = ContinuousClock.now
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw fail("cannot create pipes: \(String(cString: strerror(errno)))") }
        let secs = String(max(1, Int(DurationText.seconds(timeout).rounded(.up))))
        let grace = String(max(1, Int(DurationText.seconds(killGrace).rounded(.up))))
        // The tag in the group leader's environment lets a later run prove the group is ours (RemoteCommand.stopLeftover).
        var env = ProcessInfo.processInfo.environment
        env["FIREDRILL_CMD"] = tag
        let pid: pid_t
        do throws(ChildProcess.Failure) {
            pid = try ChildProcess.spawn(["timeout", "-k", grace, secs, "/bin/sh", "-c", RemoteCommand.inner(tag: tag), "firedrill", command], group: .own,
                                         output: .pipes(stdout: outPipe[1], stderr: errPipe[1]), environment: env, searchPath: true)
        } catch {
            Glibc.close(outPipe[1]); Glibc.close(errPipe[1])
            Glibc.close(outPipe[0]); Glibc.close(errPipe[0])
            throw fail("\(error.description) (is coreutils' timeout installed?)")
        }
        Glibc.close(outPipe[1]); Glibc.close(errPipe[1])
        // GNU timeout makes itself the leader of a new process group.
        started?(RemoteProcess(pgid: pid, tag: tag))
        var stdout = CapturedOutput(), stderr = CapturedOutput()
        var open: [Int32: Bool] = [outPipe[0]: true, errPipe[0]: true]
        let deadline = start + CommandBudget(timeout: timeout, grace: killGrace).waitForEnd
        var timedOut = false
        // The command's own end, said on stderr before its output closes (RemoteCommand.wrap).
        let marker = Array(RemoteCommand.endMarker(tag: tag).utf8)
        var endSaidAt: ContinuousClock.Instant?
        var heldOpen = false
        var buffer = [UInt8](repeating: 0, count: 32768)
        while open.values.contains(true) {
            if let said = endSaidAt, ContinuousClock.now >= said + RemoteCommand.outputGrace { heldOpen = true; break }
            if cancelled.isSet || ContinuousClock.now >= deadline {
                timedOut = !cancelled.isSet
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                break
            }
            var fds = open.filter(\.value).map { pollfd(fd: $0.key, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 100)
            for p in fds where p.revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    buffer.withUnsafeBytes { raw in
                        let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                        if p.fd == outPipe[0] { stdout.append(chunk) } else {
                            stderr.append(chunk)
                            if endSaidAt == nil, stderr.endStatus(marker: marker, window: n + marker.count + 8) != nil { endSaidAt = .now }
                        }
                    }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[p.fd] = false
                }
            }
        }
        Glibc.close(outPipe[0]); Glibc.close(errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        stdout.finish(); stderr.finish()
        let said = stderr.endStatus(marker: marker, window: stderr.bytes.count)
        stderr.removeEndMarker(marker)
        let elapsed = ContinuousClock.now - start
        if cancelled.isSet { throw TransportError(.cancelled, host: name, endpoint: "local", "command cancelled; its process group was killed") }
        var outcome: CommandResult.Outcome
        let termsig = status & 0x7f
        if termsig != 0 { outcome = .signaled(Self.signalName(termsig)) } else { outcome = .exited((status >> 8) & 0xff) }
        if heldOpen, let said, termsig == 0 { outcome = .exited(said) }
        let forced = outcome == .signaled("KILL") || outcome == .exited(137)
        let endedLate = heldOpen && endSaidAt.map { $0 - start >= timeout } == true
        if timedOut || endedLate || ((outcome == .exited(124) || forced) && elapsed >= timeout) { outcome = .timedOut }
        return CommandResult(outcome: outcome, stdout: stdout, stderr: stderr, duration: elapsed,
                             killedAfterGrace: outcome == .timedOut && forced, outputHeldOpen: heldOpen)
    }

    static func signalName(_ s: Int32) -> String {
        switch s {
        case SIGKILL: return "KILL"
        case SIGTERM: return "TERM"
        case SIGINT: return "INT"
        case SIGSEGV: return "SEGV"
        case SIGABRT: return "ABRT"
        case SIGHUP: return "HUP"
        default: return "SIG\(s)"
        }
    }
}
