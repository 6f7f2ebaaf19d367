import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One persistent, authenticated SSH connection to a host (libssh2, non-blocking, own thread).
///
/// All libssh2 calls happen on the connection's `WorkerThread`; the cooperative pool only
/// awaits. Every wait is a `poll(2)` bounded by a deadline, so a dead peer cannot hang a drill.
public final class SSHConnection: Transport, @unchecked Sendable {
    public let connection: HostConnection
    public let options: SSHOptions
    private let worker: WorkerThread
    // Touched only on `worker`.
    private var session: OpaquePointer?
    private var socketFD: Int32 = -1
    private var connectCount = 0

    private static let initOnce: Int32 = libssh2_init(0)

    public init(_ connection: HostConnection, options: SSHOptions) {
        _ = Self.initOnce
        self.connection = connection
        self.options = options
        self.worker = WorkerThread(name: "ssh-\(connection.name)")
    }

    deinit {
        // Jobs hold the connection strongly, so none runs now: free the session on the worker, then end it.
        let s = session, fd = socketFD
        if s != nil || fd >= 0 {
            let raw = SessionHandle(session: s, fd: fd)
            worker.submit { raw.close() }
        }
        worker.stop()
    }

    private var user: String { connection.user ?? options.defaultUser }

    private func error(_ kind: TransportError.Kind, _ message: String, hint: String? = nil) -> TransportError {
        TransportError(kind, host: connection.name, endpoint: connection.endpoint, message, hint: hint)
    }

    // MARK: - Public API

    /// Connects, verifies the host key, authenticates and warms the session with a no-op.
    public func connect() async throws(TransportError) {
        try await worker.perform { () throws(TransportError) in try self.connectOnWorker() }
    }

    public func run(_ command: String, timeout: Duration) async throws(TransportError) -> CommandResult {
        let flag = CancellationFlag()
        let result: Result<CommandResult, TransportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                worker.submit {
                    continuation.resume(returning: Result { () throws(TransportError) in
                        try self.runOnWorker(command, timeout: timeout, cancelled: flag, allowReconnect: true)
                    })
                }
            }
        } onCancel: {
            flag.set()
        }
        return try result.get()
    }

    /// How many times a TCP connection was opened (1 while the connection is reused).
    public func connectionsOpened() async -> Int {
        await worker.perform { () -> Int in self.connectCount }
    }

    public func close() async {
        await worker.perform { () -> Void in self.disconnectOnWorker() }
    }

    // MARK: - Connecting (worker thread)

    private func connectOnWorker() throws(TransportError) {
        if session != nil { return }
        let deadline = ContinuousClock.now + options.connectTimeout
        let fd = try openSocket(deadline: deadline)
        connectCount += 1
        guard let s = libssh2_session_init_ex(nil, nil, nil, nil) else {
            Glibc.close(fd)
            throw error(.handshake, "could not create an SSH session")
        }
        session = s
        socketFD = fd
        do {
            libssh2_session_set_blocking(s, 0)
            // Prefer modern host-key types so the key we are sent matches what known_hosts recorded
            // (libssh2 otherwise may negotiate a type whose line is absent and report a mismatch).
            _ = libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY,
                                            "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa")
            try retry("key exchange", kind: .handshake, deadline: deadline) { libssh2_session_handshake(s, fd) }
            try verifyHostKey(s)
            try authenticate(s, deadline: deadline)
            if options.keepaliveSeconds > 0 { libssh2_keepalive_config(s, 1, UInt32(options.keepaliveSeconds)) }
            // The first command on a fresh connection costs ~50 ms more on the server side: pay it now.
            _ = try execute("true", timeout: .seconds(10), cancelled: CancellationFlag())
        } catch {
            disconnectOnWorker()
            throw error
        }
    }

    private func openSocket(deadline: ContinuousClock.Instant) throws(TransportError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(connection.address, String(connection.port), &hints, &res)
        guard rc == 0, let first = res else {
            throw error(.nameResolution, "cannot resolve '\(connection.address)': \(String(cString: gai_strerror(rc)))",
                        hint: "check ansible_host in the inventory, or DNS")
        }
        defer { freeaddrinfo(res) }
        var lastError: TransportError?
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd < 0 { continue }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                lastError = connectError(errno)
                Glibc.close(fd)
                continue
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ms = Self.milliseconds(until: deadline)
            if ms <= 0 || poll(&pfd, 1, Int32(ms)) <= 0 {
                Glibc.close(fd)
                throw error(.connectTimeout, "no answer within \(options.connectTimeout.text) (TCP connect)",
                            hint: "is the host up and port \(connection.port) open? check ansible_host/ansible_port")
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
            if soError == 0 { return fd }
            lastError = connectError(soError)
            Glibc.close(fd)
        }
        throw lastError ?? error(.connectionRefused, "could not connect")
    }

    private func connectError(_ code: Int32) -> TransportError {
        if code == ECONNREFUSED {
            return error(.connectionRefused, "connection refused", hint: "no SSH server listens on port \(connection.port); check ansible_port and that sshd runs")
        }
        return error(.connectionRefused, "cannot connect: \(String(cString: strerror(code)))")
    }

    private func verifyHostKey(_ s: OpaquePointer) throws(TransportError) {
        var length = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(s, &length, &type) else {
            throw error(.handshake, "the server sent no host key")
        }
        let fingerprint = Self.fingerprint(s)
        guard let kh = libssh2_knownhost_init(s) else { throw error(.handshake, "cannot read known hosts") }
        defer { libssh2_knownhost_free(kh) }
        let path = options.knownHostsOverride ?? connection.knownHostsFile.map { NSString(string: $0).expandingTildeInPath } ?? options.knownHostsFile
        if FileManager.default.fileExists(atPath: path) {
            _ = libssh2_knownhost_readfile(kh, path, 1 /* LIBSSH2_KNOWNHOST_FILE_OPENSSH */)
        }
        let keyBits = Self.knownHostKeyBits(type)
        let mask: Int32 = 1 /* TYPE_PLAIN */ | (1 << 16) /* KEYENC_RAW */ | keyBits
        var found: UnsafeMutablePointer<libssh2_knownhost>?
        let check = libssh2_knownhost_checkp(kh, connection.address, Int32(connection.port), key, length, mask, &found)
        switch check {
        case 0: // MATCH
            return
        case 1: // MISMATCH
            throw error(.hostKeyChanged, "HOST KEY CHANGED — refusing to connect (server key \(Self.keyTypeName(type)) \(fingerprint))",
                        hint: "someone may be intercepting the connection, or the host was rebuilt. Verify the new key out of band, then remove the old line for \(connection.address) from \(path)")
        default:
            guard options.acceptNew else {
                throw error(.hostKeyUnknown, "host key not known (\(Self.keyTypeName(type)) \(fingerprint))",
                            hint: "verify the fingerprint, then rerun with --accept-new to record it in \(path), or add the key with ssh-keyscan")
            }
            let name = connection.port == 22 ? connection.address : "[\(connection.address)]:\(connection.port)"
            let comment = "added by firedrill"
            _ = libssh2_knownhost_addc(kh, name, nil, key, length, comment, comment.utf8.count, 1 | (1 << 16) | keyBits, nil)
            try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if libssh2_knownhost_writefile(kh, path, 1) != 0 {
                throw error(.hostKeyUnknown, "could not record the host key in \(path)", hint: "check that the file is writable")
            }
        }
    }

    static func knownHostKeyBits(_ hostKeyType: Int32) -> Int32 {
        switch hostKeyType {
        case 1: return 2 << 18   // ssh-rsa
        case 2: return 3 << 18   // ssh-dss
        case 3: return 4 << 18   // ecdsa 256
        case 4: return 5 << 18
        case 5: return 6 << 18
        case 6: return 7 << 18   // ed25519
        default: return 15 << 18
        }
    }

    static func keyTypeName(_ t: Int32) -> String {
        ["unknown", "RSA", "DSS", "ECDSA-256", "ECDSA-384", "ECDSA-521", "ED25519"][Int(max(0, min(6, t)))]
    }

    /// `SHA256:base64` as OpenSSH prints it.
    static func fingerprint(_ s: OpaquePointer) -> String {
        guard let raw = libssh2_hostkey_hash(s, 3 /* SHA256 */) else { return "SHA256:?" }
        let data = Data(bytes: raw, count: 32)
        var b64 = data.base64EncodedString()
        while b64.hasSuffix("=") { b64.removeLast() }
        return "SHA256:" + b64
    }

    private func authenticate(_ s: OpaquePointer, deadline: ContinuousClock.Instant) throws(TransportError) {
        var tried: [String] = []
        var rsaRefused = false
        var keys: [String] = []
        if let k = connection.privateKeyFile { keys = [NSString(string: k).expandingTildeInPath] } else {
            keys = options.identityFiles.filter { FileManager.default.fileExists(atPath: $0) }
        }
        for key in keys {
            guard FileManager.default.isReadableFile(atPath: key) else {
                tried.append("publickey \(key) (not readable)")
                continue
            }
            let pass = options.passphrase?.reveal()
            let rc = try pump("authentication", deadline: deadline) {
                libssh2_userauth_publickey_fromfile_ex(s, self.user, UInt32(self.user.utf8.count), nil, key, pass)
            }
            if rc == 0 { return }
            let isRSA = (try? String(contentsOfFile: key + ".pub", encoding: .utf8))?.hasPrefix("ssh-rsa") ?? false
            if isRSA { rsaRefused = true }
            switch rc {
            case LIBSSH2_ERROR_FILE: tried.append("publickey \(key) (cannot read key\(pass == nil ? "; if it has a passphrase set FIREDRILL_KEY_PASSPHRASE" : ": wrong passphrase?"))")
            default: tried.append("publickey \(key)")
            }
        }
        if options.useAgent, let socket = options.agentSocket {
            if try authenticateWithAgent(s, socket: socket) { return }
            tried.append("agent (\(socket))")
        }
        var hint = "check the user (ansible_user=\(user)), that the public key is in the host's authorized_keys, or set ansible_ssh_private_key_file"
        if rsaRefused {
            hint = "the RSA key was refused: libssh2 1.10 signs with SHA-1 only, which OpenSSH 8.8+ rejects. Use an ed25519 or ECDSA key (ssh-keygen -t ed25519)"
        }
        throw error(.authentication, "authentication failed for user '\(user)' (tried: \(tried.isEmpty ? "no key found" : tried.joined(separator: ", ")))", hint: hint)
    }

    private func authenticateWithAgent(_ s: OpaquePointer, socket: String) throws(TransportError) -> Bool {
        // The agent speaks over a local UNIX socket; libssh2's agent calls block briefly, on this thread.
        libssh2_session_set_blocking(s, 1)
        defer { libssh2_session_set_blocking(s, 0) }
        guard let agent = libssh2_agent_init(s) else { return false }
        defer { libssh2_agent_disconnect(agent); libssh2_agent_free(agent) }
        libssh2_agent_set_identity_path(agent, socket)
        guard libssh2_agent_connect(agent) == 0, libssh2_agent_list_identities(agent) == 0 else { return false }
        var prev: UnsafeMutablePointer<libssh2_agent_publickey>?
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
        while libssh2_agent_get_identity(agent, &identity, prev) == 0 {
            if libssh2_agent_userauth(agent, user, identity) == 0 { return true }
            prev = identity
        }
        return false
    }

    private func disconnectOnWorker() {
        if let s = session {
            _ = libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, "drill done", "")
            libssh2_session_free(s)
        }
        if socketFD >= 0 { Glibc.close(socketFD) }
        session = nil
        socketFD = -1
    }

    // MARK: - Commands (worker thread)

    private func runOnWorker(_ command: String, timeout: Duration, cancelled: CancellationFlag, allowReconnect: Bool) throws(TransportError) -> CommandResult {
        if session == nil { try connectOnWorker() }
        do {
            return try execute(RemoteCommand.wrap(command, timeout: timeout, grace: options.killGrace), timeout: timeout,
                               cancelled: cancelled, reportsPGID: true)
        } catch let e where e.kind == .disconnected && allowReconnect {
            // The connection dropped between commands (the command never started): reconnect once.
            disconnectOnWorker()
            try connectOnWorker()
            return try runOnWorker(command, timeout: timeout, cancelled: cancelled, allowReconnect: false)
        }
    }

    /// Opens a channel, runs `command`, reads both streams to EOF, and collects the exit status.
    private func execute(_ command: String, timeout: Duration, cancelled: CancellationFlag, reportsPGID: Bool = false) throws(TransportError) -> CommandResult {
        guard let s = session else { throw error(.disconnected, "not connected") }
        let start = ContinuousClock.now
        let openDeadline = start + options.connectTimeout
        var channel: OpaquePointer?
        while channel == nil {
            channel = libssh2_channel_open_ex(s, "session", 7, 2 * 1024 * 1024, 32768, nil, 0)
            if channel == nil {
                let rc = libssh2_session_last_errno(s)
                guard rc == LIBSSH2_ERROR_EAGAIN else {
                    if rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == -7 /* SOCKET_SEND */ || rc == -43 /* SOCKET_RECV */ {
                        throw error(.disconnected, "the connection was closed")
                    }
                    throw error(.channel, "could not open a channel: \(lastError(s))", hint: "the server may limit sessions (MaxSessions)")
                }
                try waitSocket(s, deadline: openDeadline, what: "opening a channel")
            }
        }
        guard let ch = channel else { throw error(.channel, "could not open a channel") }
        var freed = false
        defer { if !freed { _ = libssh2_channel_free(ch) } }
        try retry("starting the command", kind: .channel, deadline: openDeadline) {
            libssh2_channel_process_startup(ch, "exec", 4, command, UInt32(command.utf8.count))
        }
        var stdout = CapturedOutput(), stderr = CapturedOutput()
        var stderrHead: [UInt8] = []
        var headDone = !reportsPGID
        var pgid: Int32?
        let localDeadline = start + timeout + options.killGrace + .seconds(2)
        var timedOut = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 32768, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            var progressed = false
            for stream: Int32 in [0, 1] {
                while true {
                    let n = libssh2_channel_read_ex(ch, stream, buffer.baseAddress, buffer.count)
                    if n > 0 {
                        progressed = true
                        let chunk = UnsafeRawBufferPointer(start: buffer.baseAddress, count: n)
                        if stream == 0 { stdout.append(chunk) }
                        else if headDone { stderr.append(chunk) }
                        else {
                            stderrHead.append(contentsOf: chunk)
                            if let nl = stderrHead.firstIndex(of: 10) {
                                let line = String(decoding: stderrHead[..<nl], as: UTF8.self)
                                if line.hasPrefix(RemoteCommand.pgidMarker) {
                                    pgid = Int32(line.dropFirst(RemoteCommand.pgidMarker.count))
                                    stderr.append(Array(stderrHead[(nl + 1)...]))
                                } else {
                                    stderr.append(stderrHead)
                                }
                                headDone = true
                            } else if stderrHead.count > 256 {
                                stderr.append(stderrHead); headDone = true
                            }
                        }
                    } else if n == Int(LIBSSH2_ERROR_EAGAIN) || n == 0 {
                        break
                    } else {
                        throw error(.disconnected, "the connection broke while reading output: \(lastError(s))")
                    }
                }
            }
            if libssh2_channel_eof(ch) == 1 { break }
            if cancelled.isSet || ContinuousClock.now >= localDeadline {
                timedOut = !cancelled.isSet
                if let pgid { killRemote(pgid) }
                if !timedOut {
                    _ = libssh2_channel_free(ch); freed = true
                    throw error(.cancelled, "command cancelled; its process group was killed on the host")
                }
                break
            }
            if !progressed {
                try waitSocket(s, deadline: min(localDeadline, ContinuousClock.now + .milliseconds(100)), what: nil)
            }
        }
        stdout.finish(); stderr.finish()
        if !headDone && !stderrHead.isEmpty { stderr.append(stderrHead) }
        // Close politely (bounded), then read exit signal before exit status.
        let closeDeadline = ContinuousClock.now + .seconds(5)
        _ = try? retry("closing the channel", kind: .channel, deadline: closeDeadline) { libssh2_channel_close(ch) }
        _ = try? retry("closing the channel", kind: .channel, deadline: closeDeadline) { libssh2_channel_wait_closed(ch) }
        var sig: UnsafeMutablePointer<CChar>?
        var sigLen = 0
        _ = libssh2_channel_get_exit_signal(ch, &sig, &sigLen, nil, nil, nil, nil)
        var outcome: CommandResult.Outcome
        if let sig, sigLen > 0 {
            outcome = .signaled(String(cString: sig))
            free(sig)
        } else {
            outcome = .exited(libssh2_channel_get_exit_status(ch))
        }
        let elapsed = ContinuousClock.now - start
        // `timeout` exits 124 (TERM worked) or 137 (needed KILL) when the time ran out.
        if timedOut || (reportsPGID && (outcome == .exited(124) || outcome == .exited(137)) && elapsed >= timeout) {
            outcome = .timedOut
        }
        return CommandResult(outcome: outcome, stdout: stdout, stderr: stderr, duration: elapsed)
    }

    /// Kills a command's process group from a second channel.
    private func killRemote(_ pgid: Int32) {
        _ = try? execute(RemoteCommand.kill(pgid: pgid), timeout: .seconds(5), cancelled: CancellationFlag())
    }

    // MARK: - Non-blocking helpers

    /// Calls `body` until it stops answering EAGAIN, waiting on the socket in between; returns its final code.
    /// Throws `.timeout` when the deadline passes first.
    private func pump(_ what: String, deadline: ContinuousClock.Instant, _ body: () -> Int32) throws(TransportError) -> Int32 {
        while true {
            let rc = body()
            guard rc == LIBSSH2_ERROR_EAGAIN, let s = session else { return rc }
            try waitSocket(s, deadline: deadline, what: what)
        }
    }

    /// `pump`, and any result but 0 is an error of `kind`.
    private func retry(_ what: String, kind: TransportError.Kind, deadline: ContinuousClock.Instant, _ body: () -> Int32) throws(TransportError) {
        let rc = try pump(what, deadline: deadline, body)
        if rc == 0 { return }
        if rc == LIBSSH2_ERROR_SOCKET_DISCONNECT { throw error(.disconnected, "the connection was closed during \(what)") }
        throw error(kind, "\(what) failed: \(session.map(lastError) ?? "error \(rc)")")
    }

    private func waitSocket(_ s: OpaquePointer, deadline: ContinuousClock.Instant, what: String?) throws(TransportError) {
        let ms = Self.milliseconds(until: deadline)
        if ms <= 0 {
            if let what { throw error(.timeout, "no answer from the host while \(what)") }
            return
        }
        let dirs = libssh2_session_block_directions(s)
        var events: Int16 = 0
        if dirs & 1 != 0 { events |= Int16(POLLIN) }
        if dirs & 2 != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        var pfd = pollfd(fd: socketFD, events: events, revents: 0)
        _ = poll(&pfd, 1, Int32(min(ms, 1000)))
    }

    private func lastError(_ s: OpaquePointer) -> String {
        var msg: UnsafeMutablePointer<CChar>?
        var len: Int32 = 0
        _ = libssh2_session_last_error(s, &msg, &len, 0)
        return msg.map { String(cString: $0) } ?? "unknown error"
    }

    static func milliseconds(until deadline: ContinuousClock.Instant) -> Int64 {
        let d = deadline - ContinuousClock.now
        return DurationText.milliseconds(d)
    }
}

/// A session and socket to free from another thread after their connection is gone.
private struct SessionHandle: @unchecked Sendable {
    var session: OpaquePointer?
    var fd: Int32

    func close() {
        if let s = session {
            _ = libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, "closing", "")
            libssh2_session_free(s)
        }
        if fd >= 0 { Glibc.close(fd) }
    }
}
