import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// How a host that is not reached directly is reached: through a jump host's forwarded
// connection (`ProxyJump`), or through a proxy command's input and output (`ProxyCommand`).
// Either way the target's SSH session runs over one end of a socket pair, exactly as it would
// over TCP: its host key, authentication, deadlines and kills are the same.

/// The jump hosts of a drill: one authenticated connection per jump host, shared by every host
/// behind it (a bastion in front of 50 hosts is logged into once).
public final class JumpHosts: @unchecked Sendable {
    private let lock = NSLock()
    private var connections: [HostConnection: SSHConnection] = [:]
    private let options: SSHOptions

    public init(options: SSHOptions) { self.options = options }

    /// The connection to `hop`, made on first use (it connects when a tunnel is first asked for).
    func connection(for hop: HostConnection) -> SSHConnection {
        lock.lock()
        defer { lock.unlock() }
        if let c = connections[hop] { return c }
        let c = SSHConnection(hop, options: options, jumps: self, role: .jumpHost)
        connections[hop] = c
        return c
    }

    /// Closes every jump host connection (after the hosts behind them are closed), the nearest
    /// to the targets first.
    public func closeAll() async {
        let all = takeAll()
        for c in all.values { c.tunnelPump?.cancelConnect() }
        for (_, c) in all.sorted(by: { $0.key.jumps.count > $1.key.jumps.count }) { await c.close() }
    }

    private func takeAll() -> [HostConnection: SSHConnection] {
        lock.lock()
        defer { lock.unlock() }
        let all = connections
        connections = [:]
        return all
    }
}

/// A forwarded connection asked of a jump host, answered by its pump with our end of a socket
/// pair, or an error.
final class TunnelRequest: @unchecked Sendable {
    let host: String
    let port: Int
    /// How long the jump host has to open the forwarded connection, once it is connected.
    let within: Duration
    /// Set by the pump when it starts opening.
    var deadline: ContinuousClock.Instant = .now
    private let condition = NSCondition()
    private var result: Result<Int32, TransportError>?
    private var abandoned = false

    init(host: String, port: Int, within: Duration) {
        self.host = host; self.port = port; self.within = within
    }

    /// Hands the result over; false (the socket closed) when the asker gave up waiting.
    func finish(_ r: Result<Int32, TransportError>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if abandoned || result != nil {
            if case let .success(fd) = r { Glibc.close(fd) }
            return false
        }
        result = r
        condition.broadcast()
        return true
    }

    /// The result, if it came within `wait`.
    func wait(_ wait: Duration) -> Result<Int32, TransportError>? {
        condition.lock()
        defer { condition.unlock() }
        if result == nil { _ = condition.wait(until: Date(timeIntervalSinceNow: DurationText.seconds(wait))) }
        return result
    }

    var isAbandoned: Bool { condition.lock(); defer { condition.unlock() }; return abandoned }
    /// Answered (or given up on).
    var isFinished: Bool { condition.lock(); defer { condition.unlock() }; return abandoned || result != nil }

    /// Gives up waiting; a result that came meanwhile is returned instead.
    func abandon() -> Result<Int32, TransportError>? {
        condition.lock()
        defer { condition.unlock() }
        if let result { return result }
        abandoned = true
        return nil
    }
}

/// The state of a jump host's pump: requests from any thread; tunnels touched only on the jump
/// host connection's worker.
final class TunnelPump: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [TunnelRequest] = []
    private var running = false
    /// A pipe that wakes the pump's poll when a request comes.
    let wake: (read: Int32, write: Int32)
    // Worker only.
    var opening: [TunnelRequest] = []
    /// The one open in progress (libssh2 allows one per session).
    var started: TunnelRequest?
    var tunnels: [Tunnel] = []
    var closing: [ClosingChannel] = []
    let gate = SendGate()

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC); _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        } else {
            fds = [-1, -1]
        }
        wake = (fds[0], fds[1])
    }

    deinit {
        if wake.read >= 0 { Glibc.close(wake.read); Glibc.close(wake.write) }
    }

    /// Queues a request; true when the pump is not running and must be started.
    func enqueue(_ r: TunnelRequest) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        pending.append(r)
        var one: UInt8 = 1
        _ = Glibc.write(wake.write, &one, 1)
        if running { return false }
        running = true
        return true
    }

    /// The requests a connect of the jump host is for, and the flag that ends that connect.
    private var connecting: (batch: [TunnelRequest], flag: CancellationFlag)?

    /// A connect for `batch` begins: its flag is set when every one of them stops waiting, or
    /// when the jump host is closed.
    func beginConnect(_ batch: [TunnelRequest]) -> CancellationFlag {
        lock.lock()
        defer { lock.unlock() }
        let flag = CancellationFlag()
        connecting = (batch, flag)
        return flag
    }

    func endConnect() {
        lock.lock()
        connecting = nil
        lock.unlock()
    }

    /// An asker stopped waiting: if nobody the connect is for still waits, it ends.
    func noteAbandoned() {
        lock.lock()
        defer { lock.unlock() }
        if let c = connecting, c.batch.allSatisfy(\.isAbandoned) { c.flag.set() }
    }

    /// The jump host is being closed: a connect in progress ends now.
    func cancelConnect() {
        lock.lock()
        defer { lock.unlock() }
        connecting?.flag.set()
    }

    func takePending() -> [TunnelRequest] {
        lock.lock()
        defer { lock.unlock() }
        var drain = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wake.read, &drain, drain.count) > 0 {}
        let taken = pending
        pending = []
        return taken
    }

    /// Stops the pump when nothing is left to do (under the lock, so a request that comes now
    /// starts it again).
    func stopIfIdle() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard pending.isEmpty, opening.isEmpty, started == nil, tunnels.isEmpty, closing.isEmpty else { return false }
        running = false
        return true
    }
}

/// libssh2 1.10 keeps ONE outgoing packet that the socket could not take whole; until the call
/// that made it is repeated and completes, any other call that sends (another channel's write,
/// a read that adjusts its window, a close) fails with LIBSSH2_ERROR_BAD_USE and would break a
/// tunnel. The gate lets only that call through until it is done (worker only).
final class SendGate {
    enum Call { case write, eof, read, free, open }
    private var holder: (object: AnyObject, call: Call)?

    func may(_ object: AnyObject, _ call: Call) -> Bool {
        guard let h = holder else { return true }
        return h.object === object && h.call == call
    }

    /// After a call: held when it left a packet half sent, free again when the holder is done.
    func record(_ rc: Int, _ object: AnyObject, _ call: Call, session: OpaquePointer) {
        if rc == Int(LIBSSH2_ERROR_EAGAIN), libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
            holder = (object, call)
        } else if let h = holder, h.object === object, h.call == call {
            holder = nil
        }
    }

    var isHeld: Bool { holder != nil }
    func reset() { holder = nil }
}

/// A channel being closed (freed once libssh2 can send its close).
final class ClosingChannel {
    let channel: OpaquePointer
    let until: ContinuousClock.Instant
    init(_ channel: OpaquePointer, until: ContinuousClock.Instant) { self.channel = channel; self.until = until }
}

/// One forwarded connection: bytes between a `direct-tcpip` channel and our end of the socket
/// pair whose other end carries the target's SSH session.
final class Tunnel {
    let channel: OpaquePointer
    let fd: Int32
    private var toChannel: [UInt8] = []
    private var toChannelAt = 0
    private var toLocal: [UInt8] = []
    private var toLocalAt = 0
    /// The target's session closed its end (it disconnected): the tunnel is done.
    private(set) var localEOF = false
    private var eofSent = false
    private var remoteEOF = false
    private var localShut = false
    /// The channel failed; `sessionFailed` when the jump host's session itself broke.
    private(set) var failed = false
    private(set) var sessionFailed = false

    init(channel: OpaquePointer, fd: Int32) { self.channel = channel; self.fd = fd }

    var finished: Bool { failed || (localEOF && (eofSent || remoteEOF)) }
    var wantsRead: Bool { !localEOF && toChannelAt >= toChannel.count }
    var wantsWrite: Bool { toLocalAt < toLocal.count }

    private static func isSessionError(_ rc: Int) -> Bool {
        rc == Int(LIBSSH2_ERROR_SOCKET_SEND) || rc == Int(LIBSSH2_ERROR_SOCKET_RECV) || rc == Int(LIBSSH2_ERROR_SOCKET_DISCONNECT)
            || rc == Int(LIBSSH2_ERROR_TIMEOUT) || rc == Int(LIBSSH2_ERROR_SOCKET_TIMEOUT)
    }

    /// Moves what can move without waiting; true if anything did.
    func step(_ buffer: inout [UInt8], gate: SendGate, session: OpaquePointer) -> Bool {
        var progress = false
        // Target → jump host.
        if wantsRead {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                toChannel = Array(buffer[0..<n]); toChannelAt = 0; progress = true
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                localEOF = true; progress = true
            }
        }
        while toChannelAt < toChannel.count, gate.may(self, .write) {
            let w = toChannel.withUnsafeBytes { raw in
                libssh2_channel_write_ex(channel, 0, raw.baseAddress!.assumingMemoryBound(to: CChar.self) + toChannelAt, toChannel.count - toChannelAt)
            }
            gate.record(w, self, .write, session: session)
            if w > 0 { toChannelAt += w; progress = true; continue }
            if w == Int(LIBSSH2_ERROR_EAGAIN) { break }
            failed = true; sessionFailed = Self.isSessionError(w)
            return true
        }
        if localEOF, toChannelAt >= toChannel.count, !eofSent, gate.may(self, .eof) {
            let rc = libssh2_channel_send_eof(channel)
            gate.record(Int(rc), self, .eof, session: session)
            if rc != LIBSSH2_ERROR_EAGAIN { eofSent = true; progress = true }
        }
        // Jump host → target.
        if !remoteEOF, toLocalAt >= toLocal.count, gate.may(self, .read) {
            let r = buffer.withUnsafeMutableBytes { raw in
                libssh2_channel_read_ex(channel, 0, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
            }
            gate.record(r, self, .read, session: session)
            if r > 0 {
                toLocal = Array(buffer[0..<r]); toLocalAt = 0; progress = true
            } else if r == 0 || r == Int(LIBSSH2_ERROR_EAGAIN) {
                if libssh2_channel_eof(channel) != 0 { remoteEOF = true; progress = true }
            } else {
                remoteEOF = true; progress = true
                if Self.isSessionError(r) { failed = true; sessionFailed = true }
            }
        }
        if toLocalAt < toLocal.count {
            let w = toLocal.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + toLocalAt, toLocal.count - toLocalAt, Int32(MSG_NOSIGNAL))
            }
            if w > 0 { toLocalAt += w; progress = true }
            else if w < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR { localEOF = true; toLocalAt = toLocal.count; progress = true }
        }
        if remoteEOF, toLocalAt >= toLocal.count, !localShut {
            Glibc.shutdown(fd, Int32(SHUT_WR)); localShut = true
        }
        return progress
    }

    /// Data libssh2 already holds for the channel (read off the socket while serving another).
    var hasBuffered: Bool {
        guard !remoteEOF, toLocalAt >= toLocal.count else { return false }
        var available: UInt = 0
        _ = libssh2_channel_window_read_ex(channel, &available, nil)
        return available > 0
    }
}

/// A `ProxyCommand` running on the controller: its standard input and output are the target
/// connection's socket; its standard error is kept (the last 4 KB) to say why it ended.
final class ProxyCommandProcess: @unchecked Sendable {
    let pid: pid_t
    /// Our end of the socket pair.
    let fd: Int32
    private let tailLock = NSCondition()
    /// The reader saw the end of the command's stderr.
    private var stderrClosed = false
    private var stderrTail: [UInt8] = []
    private var exitStatus: Int32?

    /// Its standard error is read all along by a thread of its own, keeping the last 4 KB: a
    /// command that writes much there (`ssh -v -W …`) would otherwise block on a full pipe and
    /// stall the connection it carries. The thread ends when the command's stderr closes.
    private init(pid: pid_t, fd: Int32, stderrFD: Int32) {
        self.pid = pid; self.fd = fd
        let reader = Thread { [self] in
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buf.withUnsafeMutableBytes { Glibc.read(stderrFD, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                tailLock.withLock {
                    stderrTail += buf[0..<n]
                    if stderrTail.count > 4096 { stderrTail.removeFirst(stderrTail.count - 4096) }
                }
            }
            Glibc.close(stderrFD)
            tailLock.withLock { stderrClosed = true; tailLock.broadcast() }
        }
        reader.name = "proxy-stderr"
        reader.stackSize = 64 * 1024
        reader.start()
    }

    /// Starts `/bin/sh -c command` in a process group of its own.
    static func start(_ command: String) throws(ChildProcess.Failure) -> ProxyCommandProcess {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw ChildProcess.Failure(description: "cannot make a socket pair: \(String(cString: strerror(errno)))")
        }
        var err: [Int32] = [-1, -1]
        guard pipe(&err) == 0 else {
            Glibc.close(pair[0]); Glibc.close(pair[1])
            throw ChildProcess.Failure(description: "cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(["/bin/sh", "-c", command], group: .own, output: .socket(pair[1], stderr: err[1]))
        } catch {
            for fd in pair + err { Glibc.close(fd) }
            throw error
        }
        Glibc.close(pair[1]); Glibc.close(err[1])
        _ = fcntl(err[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
        return ProxyCommandProcess(pid: pid, fd: pair[0], stderrFD: err[0])
    }


    /// Reaps the command if it ended (never waits).
    private func reap() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
        return exitStatus
    }

    /// Why the connection through the command failed, when the command ended (given it 200 ms
    /// to end once its connection broke): its status, `when`, and the last line it wrote on
    /// stderr.
    func endedDescription(_ when: String) -> String? {
        var status = reap()
        var waited = 0
        while status == nil, waited < 20 { usleep(10_000); waited += 1; status = reap() }
        guard let status else { return nil }
        // What it wrote last may still be in the pipe: the reader takes it up to the end of
        // stderr (a child left holding it gets 200 ms).
        let tail: [UInt8] = tailLock.withLock {
            let until = Date(timeIntervalSinceNow: 0.2)
            while !stderrClosed, tailLock.wait(until: until) {}
            return stderrTail
        }
        let lastLine = String(decoding: tail, as: UTF8.self).split(whereSeparator: \.isNewline).last.map(String.init)
        return "the ProxyCommand exited with status \(status) \(when)" + (lastLine.map { ": \(TerminalText.safe(String($0.prefix(300))))" } ?? "")
    }

    /// Ends the command: its socket closed, then SIGTERM to its process group, SIGKILL half a
    /// second later to whatever of the group is still there (the shell may have gone while a
    /// child that ignores SIGTERM stays), and the command reaped. Only this PID's group is
    /// signalled, and only while it has members.
    func stop() {
        Glibc.close(fd)
        _ = reap()
        if kill(-pid, 0) == 0 {
            kill(-pid, SIGTERM)
            kill(-pid, SIGCONT)
            var waited = 0
            while kill(-pid, 0) == 0, waited < 50 { _ = reap(); usleep(10_000); waited += 1 }
            if kill(-pid, 0) == 0 { kill(-pid, SIGKILL) }
        }
        if exitStatus == nil {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
    }
}

extension SSHConnection {
    /// Opens a forwarded connection through this jump host to `host:port` and returns our end
    /// of a socket pair carrying it. Called on the target's worker (a blocking wait, never on
    /// the cooperative pool); the jump host's own worker does the work (its pump).
    func openTunnel(to host: String, port: Int, within: Duration, cancelled: CancellationFlag?) throws(TransportError) -> Int32 {
        guard let pump = tunnelPump else { throw error(.unsupported, "not a jump host") }
        let request = TunnelRequest(host: host, port: port, within: within)
        if pump.enqueue(request) { worker.submit { self.pumpLoop(pump) } }
        // The jump host's own connect, then the forwarded connection, each within its deadline.
        let limit = ContinuousClock.now + connectTimeout + within + .seconds(2)
        while true {
            if let r = request.wait(.milliseconds(100)) { return try r.get() }
            if cancelled?.isSet == true || ContinuousClock.now > limit {
                if let r = request.abandon() { return try r.get() }
                pump.noteAbandoned()
                if cancelled?.isSet == true { throw error(.cancelled, "connecting was interrupted") }
                throw error(.connectTimeout, "no forwarded connection to \(host):\(port) within \((connectTimeout + within).text)")
            }
        }
    }

    /// The jump host's pump, on its worker, while any tunnel is open or asked for: connects (or
    /// reconnects) the jump host, opens `direct-tcpip` channels one at a time, moves bytes both
    /// ways through the send gate; when the jump host's session breaks, every tunnel through it ends (the hosts
    /// behind it see their connection lost, as they would if their own TCP broke).
    func pumpLoop(_ pump: TunnelPump) {
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        while true {
            // Requests whose askers stopped waiting before they were looked at are dropped.
            let batch = pump.takePending().filter { !$0.isAbandoned }
            if session == nil, !batch.isEmpty {
                // One connect for every request that came with it (a stalled bastion costs them
                // one deadline, not one each); it ends early when none of them waits any more,
                // or when the jump host is closed.
                connectCancel = pump.beginConnect(batch)
                do throws(TransportError) {
                    defer { connectCancel = nil; pump.endConnect() }
                    try connectOnWorker()
                    for r in batch { r.deadline = .now + r.within; pump.opening.append(r) }
                } catch {
                    for r in batch { _ = r.finish(.failure(error)) }
                }
            } else {
                for r in batch { r.deadline = .now + r.within; pump.opening.append(r) }
            }
            var progress = false
            var broken = false
            if let s = session {
                // Requests whose asker stopped waiting, and that were never started, are dropped.
                pump.opening.removeAll { r in r !== pump.started && r.isAbandoned }
                // libssh2 keeps ONE channel open in progress per session: a call for another
                // request while one is in progress would continue that one and hand its channel
                // to the wrong host. Opens go one at a time, each driven with its own arguments
                // until it ends; one whose asker gave up is still driven to its end (its channel
                // then freed), within a bound after which the session is dropped.
                if let r = pump.started ?? pump.opening.first, pump.gate.may(r, .open) {
                    pump.started = r
                    let opened = libssh2_channel_direct_tcpip_ex(s, r.host, Int32(r.port), "127.0.0.1", 22)
                    pump.gate.record(opened == nil ? Int(libssh2_session_last_errno(s)) : 0, r, .open, session: s)
                    if let ch = opened {
                        pump.started = nil
                        pump.opening.removeAll { $0 === r }
                        progress = true
                        var pair: [Int32] = [-1, -1]
                        if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) != 0 {
                            pump.closing.append(ClosingChannel(ch, until: .now + .seconds(2)))
                            _ = r.finish(.failure(error(.local, "cannot make a socket pair: \(String(cString: strerror(errno)))")))
                        } else {
                            _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
                            if r.finish(.success(pair[1])) {
                                pump.tunnels.append(Tunnel(channel: ch, fd: pair[0]))
                            } else {
                                Glibc.close(pair[0])
                                pump.closing.append(ClosingChannel(ch, until: .now + .seconds(2)))
                            }
                        }
                    } else {
                        let rc = libssh2_session_last_errno(s)
                        if rc == LIBSSH2_ERROR_EAGAIN {
                            if ContinuousClock.now >= r.deadline, !r.isAbandoned {
                                _ = r.finish(.failure(error(.connectTimeout, "opened no forwarded connection to \(r.host):\(r.port) within \(r.within.text)",
                                                            hint: "is \(r.host) up, and reachable from \(connection.name)?")))
                            }
                            // Given up on long ago and still not answered: the session is in a
                            // state no other open may share.
                            if ContinuousClock.now >= r.deadline + .seconds(30) { broken = true }
                        } else {
                            pump.started = nil
                            pump.opening.removeAll { $0 === r }
                            progress = true
                            if rc == LIBSSH2_ERROR_CHANNEL_FAILURE {
                                let why = lastError(s)
                                let prohibited = why.lowercased().contains("prohibited")
                                _ = r.finish(.failure(error(.connectionRefused, "refused to forward a connection to \(r.host):\(r.port) (\(why))",
                                                            hint: prohibited
                                                                ? "the jump host does not allow forwarding (AllowTcpForwarding or PermitOpen in its sshd_config) for \(user)"
                                                                : "check that \(r.host) resolves and listens on port \(r.port) as seen from \(connection.name)")))
                            } else {
                                broken = true
                                _ = r.finish(.failure(error(.connectionLost, "the connection broke while forwarding to \(r.host):\(r.port): \(lastError(s))")))
                            }
                        }
                    }
                }
                // Waiting requests time out on their own deadlines.
                for r in pump.opening where r !== pump.started && ContinuousClock.now >= r.deadline {
                    _ = r.finish(.failure(error(.connectTimeout, "opened no forwarded connection to \(r.host):\(r.port) within \(r.within.text) (the jump host was busy opening others)",
                                                hint: "is \(connection.name) overloaded? try fewer --forks")))
                }
                pump.opening.removeAll { $0 !== pump.started && $0.isFinished }
                for t in pump.tunnels {
                    if t.step(&buffer, gate: pump.gate, session: s) { progress = true }
                    if t.sessionFailed { broken = true }
                }
                pump.tunnels.removeAll { t in
                    guard t.finished else { return false }
                    Glibc.close(t.fd)
                    pump.closing.append(ClosingChannel(t.channel, until: .now + .seconds(2)))
                    return true
                }
                pump.closing.removeAll { c in
                    guard pump.gate.may(c, .free) else { return false }
                    let rc = libssh2_channel_free(c.channel)
                    pump.gate.record(Int(rc), c, .free, session: s)
                    // Past its time it is left to the session's own end (never freed twice).
                    return rc != LIBSSH2_ERROR_EAGAIN || (ContinuousClock.now > c.until && !pump.gate.isHeld)
                }
                // No keepalives of its own: libssh2 1.10's keepalive leaves a half-sent packet
                // no later call may complete; the hosts' own traffic (and their keepalives)
                // goes through the jump host's connection.
                // (Not while a half-sent packet holds the gate: nothing could be read then, and the
                // loop would spin instead of waiting for the socket.)
                if !pump.gate.isHeld, pump.tunnels.contains(where: \.hasBuffered) { progress = true }
            }
            if broken || session == nil {
                // Every tunnel through a broken session ends; the session is dropped (freeing its
                // channels) and made again for the next request.
                for t in pump.tunnels { Glibc.close(t.fd) }
                pump.tunnels = []
                pump.closing = []
                pump.gate.reset()
                for r in pump.opening { _ = r.finish(.failure(error(.connectionLost, "the connection to the jump host broke"))) }
                pump.opening = []
                pump.started = nil
                disconnectOnWorker()
            }
            if pump.stopIfIdle() { return }
            if progress { continue }
            var fds = [pollfd(fd: pump.wake.read, events: Int16(POLLIN), revents: 0)]
            if let s = session {
                let dirs = libssh2_session_block_directions(s)
                fds.append(pollfd(fd: socketFD, events: Int16(POLLIN) | (dirs & 2 != 0 ? Int16(POLLOUT) : 0), revents: 0))
            }
            for t in pump.tunnels {
                var events: Int16 = 0
                if t.wantsRead { events |= Int16(POLLIN) }
                if t.wantsWrite { events |= Int16(POLLOUT) }
                if events != 0 { fds.append(pollfd(fd: t.fd, events: events, revents: 0)) }
            }
            _ = poll(&fds, nfds_t(fds.count), pump.opening.isEmpty && pump.closing.isEmpty ? 200 : 20)
        }
    }
}

/// Shuts a connecting socket when its deadline passes or the connect is interrupted, so a
/// libssh2 call that never returns on its own (the peer keeps sending) returns. `finish()` is
/// called before the socket can be closed: after it, the socket is never touched.
final class ConnectWatchdog: @unchecked Sendable {
    enum Reason { case deadline, cancelled }
    private let condition = NSCondition()
    private var done = false
    private var reason: Reason?

    init(fd: Int32, deadline: ContinuousClock.Instant, cancel: CancellationFlag?) {
        let thread = Thread { [self] in
            condition.lock()
            defer { condition.unlock() }
            while !done {
                if cancel?.isSet == true { reason = .cancelled } else if ContinuousClock.now >= deadline { reason = .deadline }
                if reason != nil {
                    Glibc.shutdown(fd, Int32(SHUT_RDWR))
                    return
                }
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
            }
        }
        thread.name = "connect-watchdog"
        thread.stackSize = 64 * 1024
        thread.start()
    }

    /// The connect is over: the socket is no longer watched.
    func finish() {
        condition.lock()
        done = true
        condition.signal()
        condition.unlock()
    }

    /// Why the socket was shut, if it was.
    var fired: Reason? {
        condition.lock()
        defer { condition.unlock() }
        return reason
    }
}
