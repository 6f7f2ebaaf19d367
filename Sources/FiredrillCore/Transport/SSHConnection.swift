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
    /// The host's passwords (the inventory's, else the operator's): secrets, only ever sent.
    let credentials: HostCredentials
    let worker: WorkerThread
    /// What the connection is for: a host's commands, or forwarding to the hosts behind it.
    enum Role { case target, jumpHost }
    let role: Role
    /// The jump hosts this drill reaches hosts through (shared by the hosts of one pool).
    let jumps: JumpHosts?
    /// A jump host's forwarding (nil for a target).
    let tunnelPump: TunnelPump?
    // Touched only on `worker`.
    var session: OpaquePointer?
    var socketFD: Int32 = -1
    /// The `ProxyCommand` the session runs over, if the host is reached through one.
    private var proxyProcess: ProxyCommandProcess?
    private var connectCount = 0
    /// The host key trusted on first use by the last connect, described (set on `worker`).
    private var trustedKey: String?
    /// Set while `connect()` runs: its task's cancellation, seen by every wait (on `worker`).
    var connectCancel: CancellationFlag?
    /// The resident executor's channel, while it runs (ResidentExecutor; on `worker`).
    var executor: ExecutorChannel?
    /// How this host runs commands: said at preflight (on `worker`).
    var executorState: ExecutorState = .perCommand

    private static let initOnce: Int32 = libssh2_init(0)

    public convenience init(_ connection: HostConnection, credentials: HostCredentials = HostCredentials(), options: SSHOptions) {
        self.init(connection, credentials: credentials, options: options, jumps: nil, role: .target)
    }

    init(_ connection: HostConnection, credentials: HostCredentials = HostCredentials(), options: SSHOptions, jumps: JumpHosts?, role: Role) {
        _ = Self.initOnce
        self.connection = connection
        self.options = options
        self.credentials = credentials.or(options.passwords)
        self.jumps = jumps
        self.role = role
        self.tunnelPump = role == .jumpHost ? TunnelPump() : nil
        self.worker = WorkerThread(name: "ssh-\(connection.name)")
    }

    deinit {
        // Jobs hold the connection strongly, so none runs now: free the session on the worker, then end it.
        // A proxy command's socket is closed by the command's own stop (never twice).
        let s = session, proxy = proxyProcess, fd = proxy == nil ? socketFD : -1
        if s != nil || fd >= 0 || proxy != nil {
            let raw = SessionHandle(session: s, fd: fd)
            worker.submit { raw.close(); proxy?.stop() }
        }
        worker.stop()
    }

    var user: String { connection.user ?? options.defaultUser }

    func error(_ kind: TransportError.Kind, _ message: String, hint: String? = nil) -> TransportError {
        TransportError(kind, host: connection.name, endpoint: connection.endpoint, message, hint: hint)
    }

    // MARK: - Public API

    /// Connects, verifies the host key, authenticates and warms the session with a no-op.
    /// Returns the host key trusted on first use (`--accept-new`), with its fingerprint, if one was.
    @discardableResult
    public func connect() async throws(TransportError) -> String? {
        // An interrupt ends a connect at its next wait (a stalled server would otherwise keep a
        // Ctrl-C waiting for the whole connect deadline).
        let flag = CancellationFlag()
        let result: Result<String?, TransportError> = await withTaskCancellationHandler {
            await worker.perform { () -> Result<String?, TransportError> in
                self.connectCancel = flag
                defer { self.connectCancel = nil; self.trustedKey = nil }
                do throws(TransportError) {
                    try self.connectOnWorker()
                    return .success(self.trustedKey)
                } catch {
                    return .failure(error)
                }
            }
        } onCancel: {
            flag.set()
        }
        return try result.get()
    }

    public func run(_ command: String, timeout: Duration, tag: String, become: Become?, started: (@Sendable (RemoteProcess) -> Void)?) async throws(TransportError) -> CommandResult {
        let flag = CancellationFlag()
        let result: Result<CommandResult, TransportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                worker.submit {
                    continuation.resume(returning: Result { () throws(TransportError) in
                        try self.runOnWorker(command, timeout: timeout, tag: tag, become: become, cancelled: flag, started: started, allowReconnect: true)
                    })
                }
            }
        } onCancel: {
            flag.set()
        }
        return try result.get()
    }

    /// How the host runs commands: through the resident executor, or one channel per command (and why).
    public func executorStatus() async -> ExecutorState {
        await worker.perform { () -> ExecutorState in self.executorState }
    }

    /// How many times a TCP connection was opened (1 while the connection is reused).
    public func connectionsOpened() async -> Int {
        await worker.perform { () -> Int in self.connectCount }
    }

    public func close() async {
        await worker.perform { () -> Void in self.disconnectOnWorker() }
    }

    // MARK: - Connecting (worker thread)

    /// `ConnectTimeout` of the host (its SSH configuration) when it is shorter than --connect-timeout.
    var connectTimeout: Duration {
        connection.connectTimeoutSeconds.map { min(options.connectTimeout, .seconds($0)) } ?? options.connectTimeout
    }

    func connectOnWorker() throws(TransportError) {
        if session != nil { return }
        // A route that cannot be followed is refused: reaching the host directly instead could
        // reach another machine, or none.
        if let problem = connection.routeProblem {
            throw error(.unsupported, problem, hint: "fix ProxyJump ([user@]host[:port][,…]), ProxyCommand or ansible_ssh_common_args for the host")
        }
        let fd = try openSocket(deadline: ContinuousClock.now + connectTimeout)
        // Through a jump host or a proxy command, the host's own deadline starts once the way
        // there is open (each hop has its own, as with ssh).
        let deadline = ContinuousClock.now + connectTimeout
        connectCount += 1
        guard let s = libssh2_session_init_ex(nil, nil, nil, nil) else {
            socketFD = fd
            disconnectOnWorker()
            throw error(.handshake, "could not create an SSH session")
        }
        session = s
        socketFD = fd
        // A peer that keeps sending without completing the handshake (a proxy command printing
        // forever, a hostile server) keeps libssh2 inside one call, where no deadline of ours is
        // looked at: a watchdog shuts the socket at the deadline, or at an interrupt, and the
        // call returns.
        let watchdog = ConnectWatchdog(fd: fd, deadline: deadline + .seconds(1), cancel: connectCancel)
        do throws(TransportError) {
            defer { watchdog.finish() }
            libssh2_session_set_blocking(s, 0)
            // Offer the key types known_hosts already has for this host first, so the server presents
            // a key we can check (otherwise a host known by ECDSA that also has ED25519 looks new).
            _ = libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, KnownHosts.algorithmPreference(known: knownHosts.entries(host: connection.address, port: connection.port)))
            do throws(TransportError) {
                try retry("key exchange", kind: .handshake, deadline: deadline) { libssh2_session_handshake(s, fd) }
            } catch let failure {
                // A proxy command that ended is why the handshake failed: say so.
                if let ended = proxyProcess?.endedDescription("before the SSH handshake") {
                    throw error(.connectionRefused, ended,
                                hint: "run the ProxyCommand by hand to see why; check ProxyCommand in the SSH configuration or ansible_ssh_common_args")
                }
                if proxyProcess != nil, failure.kind == .timeout {
                    throw error(.connectTimeout, "no SSH server answered through the ProxyCommand within \(connectTimeout.text) (it was running; it is stopped now)",
                                hint: "run the ProxyCommand by hand: it must connect to \(connection.address) port \(connection.port) and carry that connection")
                }
                throw failure
            }
            try verifyHostKey(s)
            try authenticate(s, deadline: deadline)
            let keepalive = connection.keepaliveSeconds ?? options.keepaliveSeconds
            if keepalive > 0 { libssh2_keepalive_config(s, 1, UInt32(keepalive)) }
            // The first command on a fresh connection costs ~50 ms more on the server side: pay it
            // now (a jump host runs no commands: many allow forwarding only). Starting the
            // resident executor pays it; where it cannot start, a no-op does.
            if role == .target {
                if options.executor == .auto { try startExecutor(deadline: ContinuousClock.now + connectTimeout) }
                if executor == nil {
                    _ = try execute("true", openWithin: connectTimeout, endWithin: connectTimeout, cancelled: CancellationFlag())
                }
            }
        } catch let failure {
            disconnectOnWorker()
            switch watchdog.fired {
            case .deadline?:
                throw error(.connectTimeout, "the SSH handshake did not finish within \(connectTimeout.text)\(connection.pathDescription.map { " (\($0))" } ?? ""): the other end kept sending without completing it",
                            hint: connection.route.map { if case .command = $0 { return "run the ProxyCommand by hand: it must carry an SSH server's connection and nothing else" } else { return "check the jump host and the host behind it" } } ?? "is port \(connection.port) an SSH server?")
            case .cancelled?:
                throw error(.cancelled, "connecting was interrupted")
            case nil:
                throw failure
            }
        }
    }

    private func openSocket(deadline: ContinuousClock.Instant) throws(TransportError) -> Int32 {
        switch connection.route {
        case nil:
            return try openTCP(deadline: deadline)
        case let .jump(hop)?:
            guard let jumps else { throw error(.unsupported, "reached through \(hop.name), but no jump hosts were set up for this connection") }
            do throws(TransportError) {
                return try jumps.connection(for: hop).openTunnel(to: connection.address, port: connection.port, within: connectTimeout, cancelled: connectCancel)
            } catch {
                // The jump host's own problems are about ProxyJump, not the host's ansible_* variables.
                var hint = error.hint
                let about = "the jump host \(hop.user.map { "\($0)@" } ?? "")\(hop.name):\(hop.port) in ProxyJump (the SSH configuration or ansible_ssh_common_args)"
                switch error.kind {
                case .nameResolution: hint = "check \(about), or DNS"
                case .connectionRefused where !error.message.hasPrefix("refused to forward"): hint = "check \(about): is its sshd up on that port?"
                case .connectTimeout where !error.message.hasPrefix("opened no forwarded"): hint = "check \(about): is it up and reachable?"
                case .authentication: hint = "check the user and key for \(about) (its IdentityFile, else the host's ansible_ssh_private_key_file, the default keys and the agent)"
                default: break
                }
                throw TransportError(error.kind, host: connection.name, endpoint: connection.endpoint,
                                     "through the jump host \(hop.name) (\(hop.user.map { "\($0)@" } ?? "")\(hop.endpoint)): \(error.message)", hint: hint)
            }
        case let .command(command)?:
            do throws(ChildProcess.Failure) {
                let p = try ProxyCommandProcess.start(command)
                proxyProcess = p
                return p.fd
            } catch {
                throw self.error(.connectionRefused, "cannot start the ProxyCommand '\(command)': \(error.description)")
            }
        }
    }

    private func openTCP(deadline: ContinuousClock.Instant) throws(TransportError) -> Int32 {
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
            var ready = false
            while !ready {
                let ms = Self.milliseconds(until: deadline)
                if connectCancel?.isSet == true { Glibc.close(fd); throw error(.cancelled, "connecting was interrupted") }
                if ms <= 0 { break }
                ready = poll(&pfd, 1, Int32(clamping: min(ms, 200))) > 0
            }
            if !ready {
                Glibc.close(fd)
                throw error(.connectTimeout, "no answer within \(connectTimeout.text) (TCP connect)",
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

    private var knownHosts: KnownHosts {
        KnownHosts(path: options.knownHostsOverride ?? connection.knownHostsFile.map { NSString(string: $0).expandingTildeInPath } ?? options.knownHostsFile)
    }

    /// The presented key must be one known_hosts records for the host. A host known under any key
    /// type that presents a key not recorded is *changed* and refused, as OpenSSH refuses it;
    /// only a host with no key recorded at all is new (trusted with `--accept-new`, and said so).
    private func verifyHostKey(_ s: OpaquePointer) throws(TransportError) {
        var length = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(s, &length, &type) else {
            throw error(.handshake, "the server sent no host key")
        }
        let key = Data(bytes: raw, count: length)
        let typeName = KnownHosts.typeName(libssh2: type)
        let fingerprint = Self.fingerprint(s)
        let file = knownHosts
        // A key marked @revoked is refused whatever else the file says, as OpenSSH refuses it.
        if let revoked = file.entries(host: connection.address, port: connection.port, revoked: true).first(where: { $0.key == key }) {
            throw error(.hostKeyChanged, "REVOKED HOST KEY — refusing to connect: \(Self.keyTypeName(type)) \(fingerprint) is marked @revoked in \(file.path) (line \(revoked.line))",
                        hint: "this key must not be trusted; find out why the host presents it")
        }
        let known = file.entries(host: connection.address, port: connection.port)
        if known.contains(where: { $0.type == typeName && $0.key == key }) { return }
        let recorded = known.map { "\($0.type) (line \($0.line))" }.joined(separator: ", ")
        if !known.isEmpty {
            throw error(.hostKeyChanged, "HOST KEY CHANGED — refusing to connect: the host presented \(Self.keyTypeName(type)) \(fingerprint), but \(file.path) records \(recorded) for \(KnownHosts.name(host: connection.address, port: connection.port))",
                        hint: "someone may be intercepting the connection, or the host was rebuilt. Verify the new key out of band, then remove the old lines for \(connection.address) from \(file.path)")
        }
        // A host the team trusts through a certificate authority cannot be checked here (libssh2
        // 1.10 negotiates no host certificates): refused, never trusted on first use instead.
        if let line = file.certificateAuthorityLines(host: connection.address, port: connection.port).first {
            throw error(.hostKeyUnknown, "\(file.path) trusts a host certificate authority for \(KnownHosts.name(host: connection.address, port: connection.port)) (line \(line)), but libssh2 1.10 cannot check host certificates, and the host's own key is not recorded",
                        hint: "record the host's own key beside the @cert-authority line (ssh-keyscan -p \(connection.port) \(connection.address), then verify its fingerprint)")
        }
        // StrictHostKeyChecking (SSH configuration, -o): `yes` never records a new key, even with
        // --accept-new; `accept-new` and `no` record a new one as --accept-new does. A changed key
        // is refused whatever it says (`no` would accept one in ssh; never here).
        let strict = connection.strictHostKeyChecking
        if strict == "yes" {
            throw error(.hostKeyUnknown, "host key not known (\(Self.keyTypeName(type)) \(fingerprint)), and StrictHostKeyChecking is yes for this host",
                        hint: "verify the fingerprint, then add the key to \(file.path) (ssh-keyscan -p \(connection.port) \(connection.address))")
        }
        guard options.acceptNew || strict == "accept-new" || strict == "no" || strict == "off" else {
            throw error(.hostKeyUnknown, "host key not known (\(Self.keyTypeName(type)) \(fingerprint))",
                        hint: "verify the fingerprint, then rerun with --accept-new to record it in \(file.path), or add the key with ssh-keyscan")
        }
        if let problem = file.append(host: connection.address, port: connection.port, type: typeName, key: key) {
            throw error(.hostKeyUnknown, "could not record the host key: \(problem)", hint: "check that the file is writable")
        }
        trustedKey = "trusted new host key \(Self.keyTypeName(type)) \(fingerprint) (recorded in \(file.path))"
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

    /// The methods the server offers this user (`userauth_list`), or nil if it let the user in
    /// without any ("none" authentication).
    private func offeredMethods(_ s: OpaquePointer, deadline: ContinuousClock.Instant) throws(TransportError) -> [String]? {
        while true {
            if let list = libssh2_userauth_list(s, user, UInt32(user.utf8.count)) {
                return String(cString: list).split(separator: ",").map(String.init)
            }
            if libssh2_userauth_authenticated(s) != 0 { return nil }
            let rc = libssh2_session_last_errno(s)
            guard rc == LIBSSH2_ERROR_EAGAIN else {
                throw error(.authentication, "the server ended authentication before it began: \(lastError(s))")
            }
            try waitSocket(s, deadline: deadline, what: "authentication")
        }
    }

    /// Tries what the operator has, in OpenSSH's order (publickey: keys, then the agent's; then
    /// keyboard-interactive and password, with the inventory's or -k's password), only methods
    /// the server offers. A refusal names what was tried and what the server offered.
    private func authenticate(_ s: OpaquePointer, deadline: ContinuousClock.Instant) throws(TransportError) {
        guard let offered = try offeredMethods(s, deadline: deadline) else { return }
        var tried: [String] = []
        var rsaRefused = false
        let password = credentials.password
        let publickey = offered.contains("publickey")
        // The inventory's key, then the SSH configuration's `IdentityFile`s; only without either,
        // the default key files.
        var keys: [String] = ([connection.privateKeyFile].compactMap { $0 } + (connection.identityFiles ?? []))
            .map { NSString(string: $0).expandingTildeInPath }
        if keys.isEmpty { keys = options.identityFiles.filter { FileManager.default.fileExists(atPath: $0) } }
        // `IdentityFile`s the configuration names that do not exist are skipped, as ssh does.
        if connection.identityFiles != nil { keys = keys.filter { $0 == connection.privateKeyFile.map { NSString(string: $0).expandingTildeInPath } || FileManager.default.fileExists(atPath: $0) } }
        for key in keys where publickey {
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
        if publickey, options.useAgent, connection.identitiesOnly != true, let socket = options.agentSocket {
            switch try authenticateWithAgent(s, socket: socket, deadline: deadline) {
            case .success: return
            case let .failure(why): tried.append("agent \(socket): \(why.message)")
            }
        }
        if let password, offered.contains("keyboard-interactive") {
            let context = KeyboardInteractiveContext(password: password)
            let abstract = libssh2_session_abstract(s)
            let before = abstract?.pointee
            abstract?.pointee = Unmanaged.passUnretained(context).toOpaque()
            let rc = try withExtendedLifetime(context) { () throws(TransportError) -> Int32 in
                defer { abstract?.pointee = before }
                return try pump("keyboard-interactive authentication", deadline: deadline) {
                    libssh2_userauth_keyboard_interactive_ex(s, self.user, UInt32(self.user.utf8.count), keyboardInteractiveCallback)
                }
            }
            if rc == 0 { return }
            tried.append("keyboard-interactive" + (context.unanswered.isEmpty ? " (password refused)" : " (asked \(context.unanswered.map { "'\($0)'" }.joined(separator: ", ")), which Firedrill cannot answer)"))
        }
        if let password, offered.contains("password") {
            let secret = password.reveal()
            let rc = try pump("password authentication", deadline: deadline) {
                libssh2_userauth_password_ex(s, self.user, UInt32(self.user.utf8.count), secret, UInt32(secret.utf8.count), nil)
            }
            if rc == 0 { return }
            tried.append(rc == LIBSSH2_ERROR_PASSWORD_EXPIRED ? "password (expired: change it on the host)" : "password (refused)")
        }
        var hint = "check the user (ansible_user=\(user)), that the public key is in the host's authorized_keys, or set ansible_ssh_private_key_file"
        if password == nil, offered.contains("password") || offered.contains("keyboard-interactive"), !publickey || tried.isEmpty {
            hint = "the server takes a password for \(user): set ansible_password (from a vault) or pass -k / --connection-password-file"
        } else if password != nil, tried.contains(where: { $0.hasPrefix("password") || $0.hasPrefix("keyboard") }) {
            hint = "the password given for \(user) (ansible_password, or -k/--connection-password-file) was refused: check it, and that the account is not locked"
        } else if password != nil {
            hint = "a password was given, but the server does not take one for \(user) (it offers \(offered.joined(separator: ", ")))"
        }
        if let cert = keys.first(where: { FileManager.default.fileExists(atPath: $0 + "-cert.pub") }) {
            hint = "\(cert)-cert.pub is a user certificate, which Firedrill does not present (only the plain key was offered). Add its public key to the host's authorized_keys for \(user), or run from a controller that reaches the host with a key"
        }
        if rsaRefused {
            hint = "the RSA key was refused: libssh2 1.10 signs with SHA-1 only, which OpenSSH 8.8+ rejects. Use an ed25519 or ECDSA key (ssh-keygen -t ed25519)"
        }
        throw error(.authentication, "authentication failed for user '\(user)' (tried: \(tried.isEmpty ? "no key found" : tried.joined(separator: ", ")); the server offers: \(offered.joined(separator: ", ")))", hint: hint)
    }

    /// Tries each of the agent's keys. The agent is spoken to by our own client (SSHAgentClient),
    /// bounded by the connection's deadline like the server's side of each attempt: neither a
    /// stalled agent nor a server that stalls during userauth can hang the run.
    private func authenticateWithAgent(_ s: OpaquePointer, socket: String, deadline: ContinuousClock.Instant) throws(TransportError) -> Result<Void, SSHAgentClient.Failure> {
        let agent: SSHAgentClient
        let identities: [SSHAgentClient.Identity]
        do throws(SSHAgentClient.Failure) {
            agent = try SSHAgentClient.connect(socket, deadline: deadline)
            identities = try agent.identities(deadline: deadline)
        } catch {
            return .failure(error)
        }
        defer { agent.close() }
        if identities.isEmpty { return .failure(.init(message: "the agent holds no keys")) }
        for identity in identities {
            let context = AgentSignContext(agent: agent, blob: identity.blob, deadline: deadline)
            var abstract: UnsafeMutableRawPointer? = Unmanaged.passUnretained(context).toOpaque()
            let rc = try withExtendedLifetime(context) { () throws(TransportError) -> Int32 in
                try pump("authentication with the agent's key", deadline: deadline) {
                    identity.blob.withUnsafeBufferPointer { blob in
                        libssh2_userauth_publickey(s, self.user, blob.baseAddress, blob.count, agentSignCallback, &abstract)
                    }
                }
            }
            if rc == 0 { return .success(()) }
            if let failure = context.failure { return .failure(.init(message: failure)) }
        }
        return .failure(.init(message: "the server accepted none of its \(identities.count) key\(identities.count == 1 ? "" : "s")"))
    }

    func disconnectOnWorker() {
        // Freed with the session; its end of input tells the executor to stop and exit.
        executor = nil
        if let s = session {
            _ = libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, "drill done", "")
            libssh2_session_free(s)
        }
        if let p = proxyProcess {
            // The command's socket is ours: it closes it and ends the command (by its PID).
            p.stop()
            proxyProcess = nil
        } else if socketFD >= 0 {
            Glibc.close(socketFD)
        }
        session = nil
        socketFD = -1
    }

    // MARK: - Commands (worker thread)

    private func runOnWorker(_ command: String, timeout: Duration, tag: String, become: Become?, cancelled: CancellationFlag,
                             started: (@Sendable (RemoteProcess) -> Void)?, allowReconnect: Bool) throws(TransportError) -> CommandResult {
        if cancelled.isSet { throw error(.cancelled, "cancelled before the command was sent") }
        if session == nil { try connectOnWorker() }
        let budget = CommandBudget(timeout: timeout, grace: options.killGrace)
        do throws(TransportError) {
            // Through the resident executor when it runs (and the command needs no sudo: those
            // open their own channel, where sudo's prompt is answered). nil: it ended before the
            // command was sent, which then goes on a channel of its own.
            if become == nil, let ex = executor,
               let result = try executeResident(ex, command, timeout: timeout, tag: tag, cancelled: cancelled, started: started) {
                return result
            }
            return try execute(RemoteCommand.wrap(command, timeout: timeout, grace: options.killGrace, tag: tag),
                               openWithin: options.connectTimeout, endWithin: budget.waitForEnd, cancelled: cancelled,
                               tag: tag, become: become, started: started)
        } catch let e where (e.kind == .disconnected || e.kind == .timeout) && allowReconnect {
            // The connection was found closed (or silent: no channel within the deadline) before
            // the exec request went out: the command never started, so it may be sent once on a
            // new connection. Any later error never re-sends.
            disconnectOnWorker()
            try connectOnWorker()
            return try runOnWorker(command, timeout: timeout, tag: tag, become: become, cancelled: cancelled, started: started, allowReconnect: false)
        }
    }

    /// Opens a channel, runs `command`, reads both streams to EOF, and collects the exit status.
    ///
    /// Errors before the exec request is sent mean the command did not start (`.disconnected`,
    /// `.channel`, `.timeout`); from then on a broken or silent connection is `.connectionLost` or
    /// `.unresponsive` (outcome unknown), and the session is dropped. Every wait has a deadline:
    /// opening within `openWithin`, the end of the command within `endWithin` of its start, then
    /// a kill within `CommandBudget.kill` and closing within `CommandBudget.close`.
    func execute(_ command: String, openWithin: Duration, endWithin: Duration, cancelled: CancellationFlag,
                         tag: String? = nil, become: Become? = nil, started: (@Sendable (RemoteProcess) -> Void)? = nil) throws(TransportError) -> CommandResult {
        guard let s = session else { throw error(.disconnected, "not connected") }
        // Under become, sudo runs the wrapped command; its prompt (unique to this command) is
        // answered on the channel's input, and what sudo says before the command starts is read
        // apart from the command's output (`BecomeExchange`).
        // Without become, the same reading finds the command's first line after whatever the
        // login itself printed on stderr (a shell start-up file that talks).
        var sudo = BecomeExchange(become: become, password: credentials.becomePassword, loginIsRoot: user == "root")
        let sent = become == nil ? command : sudo.wrap(tag == nil ? "echo \(RemoteCommand.pgidMarker)$$ >&2; " + command : command)
        let start = ContinuousClock.now
        let openDeadline = start + openWithin
        let ch = try openChannel(s, deadline: openDeadline)
        var freed = false
        defer { if !freed { _ = libssh2_channel_free(ch) } }
        /// The session cannot be trusted any more: drop it (freeing it frees the channel too).
        func abandonSession() { freed = true; disconnectOnWorker() }

        // From the first exec request on, the command may be running on the host.
        let startup: Int32
        do throws(TransportError) {
            startup = try pump("starting the command", deadline: openDeadline) {
                libssh2_channel_process_startup(ch, "exec", 4, sent, UInt32(sent.utf8.count))
            }
        } catch {
            abandonSession()
            throw self.error(.unresponsive, "no answer from the host while the command was being started: outcome unknown (it may be running)")
        }
        if startup == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED {
            throw error(.channel, "the host refused to start the command: \(lastError(s))")
        } else if startup != 0 {
            let why = lastError(s)
            abandonSession()
            throw error(.connectionLost, "connection lost while the command was being started — outcome unknown (\(why))")
        }
        var stdout = CapturedOutput(), stderr = CapturedOutput()
        var stderrHead: [UInt8] = []
        var headDone = tag == nil && become == nil
        // When su's output last grew (its prompt is answered once it has stayed quiet).
        var headGrewAt = ContinuousClock.now
        var pgid: Int32?
        let endDeadline = start + endWithin
        var timedOut = false
        // The command's own end, said on stderr before its output closes (RemoteCommand.wrap).
        let marker = tag.map { Array(RemoteCommand.endMarker(tag: $0).utf8) }
        var endSaidAt: ContinuousClock.Instant?
        var heldOpen = false
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
                        else if headDone {
                            stderr.append(chunk)
                            if endSaidAt == nil, let marker, stderr.endStatus(marker: marker, window: n + marker.count + 8) != nil { endSaidAt = .now }
                        }
                        else {
                            stderrHead.append(contentsOf: chunk)
                            headGrewAt = .now
                            switch sudo.read(&stderrHead) {
                            case .waiting: continue
                            case let .answer(bytes):
                                do throws(TransportError) { try writeInput(ch, bytes, deadline: openDeadline, during: "answering sudo's prompt") } catch {
                                    abandonSession(); throw error
                                }
                                continue
                            case let .refused(failure):
                                // sudo has not run the command: end its channel, and say why.
                                _ = libssh2_channel_free(ch); freed = true
                                throw becomeError(failure, become: become!)
                            case .started:
                                stderr.append(sudo.preamble)
                            }
                            headDone = true
                            // `head` now starts with the command's first line (or is all the
                            // command's output when it never came).
                            if let nl = stderrHead.firstIndex(of: 10),
                               case let line = String(decoding: stderrHead[..<nl], as: UTF8.self),
                               line.hasPrefix(RemoteCommand.pgidMarker), let id = Int32(line.dropFirst(RemoteCommand.pgidMarker.count)) {
                                pgid = id
                                if let tag { started?(RemoteProcess(pgid: id, tag: tag)) }
                                stderr.append(Array(stderrHead[(nl + 1)...]))
                            } else {
                                stderr.append(stderrHead)
                            }
                            // A quick command's end can come in the same read as its process group.
                            if endSaidAt == nil, let marker, stderr.endStatus(marker: marker, window: stderrHead.count + 8) != nil { endSaidAt = .now }
                        }
                    } else if n == Int(LIBSSH2_ERROR_EAGAIN) || n == 0 {
                        break
                    } else {
                        let why = lastError(s)
                        abandonSession()
                        throw error(.connectionLost, "connection lost while the command ran — outcome unknown (\(why))",
                                    hint: "the command was not sent again; check the host")
                    }
                }
            }
            // su's prompt: a line ending in a colon, after which nothing more came.
            if !headDone, become?.method == .su, !stderrHead.isEmpty, ContinuousClock.now - headGrewAt >= BecomeExchange.suQuiet {
                switch sudo.settle(&stderrHead) {
                case let .answer(bytes):
                    headGrewAt = .now
                    do throws(TransportError) { try writeInput(ch, bytes, deadline: openDeadline, during: "answering sudo's prompt") } catch {
                        abandonSession(); throw error
                    }
                case let .refused(failure):
                    _ = libssh2_channel_free(ch); freed = true
                    throw becomeError(failure, become: become!)
                case .waiting, .started:
                    break
                }
            }
            if libssh2_channel_eof(ch) == 1 {
                // sudo or su ended without starting the command: what it said is why.
                if let become, !headDone {
                    throw becomeError(sudo.failure(said: stderrHead, stdout: stdout.bytes), become: become)
                }
                break
            }
            // The command ended, but something it started keeps its output open: its status is
            // known; it is not waited for.
            if let said = endSaidAt, ContinuousClock.now >= said + RemoteCommand.outputGrace { heldOpen = true; break }
            if cancelled.isSet {
                let kill = pgid.map { killRemote($0, become: become) } ?? .notKilled("its process group was not known yet")
                switch kill {
                case .killed:
                    _ = libssh2_channel_free(ch); freed = true
                    throw error(.cancelled, "command cancelled; its process group was killed on the host")
                case let .notKilled(why):
                    abandonSession()
                    throw error(.cancelled, "command cancelled, but it could not be killed on the host (\(why)): it may still be running")
                }
            }
            if ContinuousClock.now >= endDeadline {
                // The host's own `timeout` should have ended the command by now; either something
                // keeps its output open, or the host stopped answering.
                switch pgid.map({ killRemote($0, become: become) }) ?? .notKilled("its process group was never reported") {
                case .killed:
                    timedOut = true
                case let .notKilled(why):
                    abandonSession()
                    throw error(.unresponsive, "the host stopped answering: the command did not end within its timeout (\(DurationText.format(endWithin)) with grace) and could not be killed (\(why)) — outcome unknown, it may still be running")
                }
                break
            }
            if !progressed {
                // A long command keeps the connection alive (ServerAliveInterval, else every 15 s):
                // a firewall or a bastion that drops idle connections does not cut it.
                var next: Int32 = 0
                _ = libssh2_keepalive_send(s, &next)
                try waitSocket(s, deadline: min(endDeadline, ContinuousClock.now + .milliseconds(100)), what: nil)
            }
        }
        stdout.finish(); stderr.finish()
        if !headDone && !stderrHead.isEmpty { stderr.append(stderrHead) }
        let said = marker.flatMap { stderr.endStatus(marker: $0, window: stderr.bytes.count) }
        if let marker { stderr.removeEndMarker(marker) }
        // Close politely (bounded), then read exit signal before exit status.
        let closeDeadline = ContinuousClock.now + CommandBudget.close
        _ = try? retry("closing the channel", kind: .channel, deadline: closeDeadline) { libssh2_channel_close(ch) }
        _ = try? retry("closing the channel", kind: .channel, deadline: closeDeadline) { libssh2_channel_wait_closed(ch) }
        var sig: UnsafeMutablePointer<CChar>?
        var sigLen = 0
        _ = libssh2_channel_get_exit_signal(ch, &sig, &sigLen, nil, nil, nil, nil)
        var outcome: CommandResult.Outcome
        if let sig, sigLen > 0 {
            outcome = .signaled(String(cString: sig))
            free(sig)
        } else if heldOpen, let said {
            outcome = .exited(said)
        } else {
            outcome = .exited(libssh2_channel_get_exit_status(ch))
        }
        let elapsed = ContinuousClock.now - start
        // `timeout` exits 124 (TERM worked) or 137 (needed KILL) when the time ran out; a command
        // that ignored SIGTERM takes timeout's process group down with SIGKILL after the grace.
        let ranOut = tag != nil && elapsed >= endWithin - options.killGrace - CommandBudget.slack
        let forced = outcome == .signaled("KILL") || outcome == .exited(137)
        // A command that timed out, said it ended (a shell that runs its EXIT trap on SIGTERM) and
        // left its output held open.
        let endedLate = heldOpen && endSaidAt.map { $0 - start >= endWithin - options.killGrace - CommandBudget.slack } == true
        if timedOut || endedLate || (ranOut && (outcome == .exited(124) || forced)) {
            outcome = .timedOut
        }
        return CommandResult(outcome: outcome, stdout: stdout, stderr: stderr, duration: elapsed,
                             killedAfterGrace: outcome == .timedOut && forced, outputHeldOpen: heldOpen)
    }

    /// Opens a session channel within the deadline.
    func openChannel(_ s: OpaquePointer, deadline: ContinuousClock.Instant) throws(TransportError) -> OpaquePointer {
        while true {
            if let channel = libssh2_channel_open_ex(s, "session", 7, 2 * 1024 * 1024, 32768, nil, 0) { return channel }
            let rc = libssh2_session_last_errno(s)
            guard rc == LIBSSH2_ERROR_EAGAIN else {
                if rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV {
                    throw error(.disconnected, "the connection was closed")
                }
                throw error(.channel, "could not open a channel: \(lastError(s))", hint: "the server may limit sessions (MaxSessions)")
            }
            try waitSocket(s, deadline: deadline, what: "opening a channel")
        }
    }

    enum KillResult { case killed, notKilled(String) }

    /// Kills a command's process group from a second channel, within `CommandBudget.kill` in all,
    /// with the privileges the command ran with (a root process group is not the login user's to kill).
    private func killRemote(_ pgid: Int32, become: Become?) -> KillResult {
        do throws(TransportError) {
            let within = CommandBudget.kill - CommandBudget.close
            let r = try execute(RemoteCommand.kill(pgid: pgid), openWithin: within, endWithin: within,
                                cancelled: CancellationFlag(), become: become)
            return r.succeeded ? .killed : .notKilled("the kill command ended with \(r.outcome)")
        } catch {
            return .notKilled(error.message)
        }
    }

    private func becomeError(_ failure: BecomeFailure, become: Become) -> TransportError {
        let (message, hint) = failure.explain(login: user, host: connection.name, become: become)
        return error(.become, message, hint: hint)
    }

    /// Writes all of `bytes` to the channel's input (a password, a request: never logged) within
    /// the deadline: `.connectionLost` when the channel or the connection takes no more, `.timeout`
    /// when the deadline passes first. Nothing it writes has started a command (sudo's answer, an
    /// executor's request that only runs once whole).
    func writeInput(_ ch: OpaquePointer, _ bytes: [UInt8], deadline: ContinuousClock.Instant, during what: String) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBufferPointer { b in
                libssh2_channel_write_ex(ch, 0, UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self), b.count)
            }
            if n > 0 { offset += n; continue }
            guard n == Int(LIBSSH2_ERROR_EAGAIN), let s = session else {
                throw error(.connectionLost, "connection lost while \(what) — the command did not start")
            }
            try waitSocket(s, deadline: deadline, what: what)
        }
    }

    // MARK: - Non-blocking helpers

    /// Calls `body` until it stops answering EAGAIN, waiting on the socket in between; returns its final code.
    /// Throws `.timeout` when the deadline passes first.
    func pump(_ what: String, deadline: ContinuousClock.Instant, _ body: () -> Int32) throws(TransportError) -> Int32 {
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

    func waitSocket(_ s: OpaquePointer, deadline: ContinuousClock.Instant, what: String?) throws(TransportError) {
        if connectCancel?.isSet == true { throw error(.cancelled, "connecting was interrupted") }
        let ms = Self.milliseconds(until: deadline)
        if ms <= 0 {
            if let what { throw error(.timeout, "no answer from the host during \(what)") }
            return
        }
        let dirs = libssh2_session_block_directions(s)
        var events: Int16 = 0
        if dirs & 1 != 0 { events |= Int16(POLLIN) }
        if dirs & 2 != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        var pfd = pollfd(fd: socketFD, events: events, revents: 0)
        _ = poll(&pfd, 1, Int32(clamping: min(ms, 1000)))
    }

    func lastError(_ s: OpaquePointer) -> String {
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

/// What the keyboard-interactive callback answers with, and the prompts it could not answer.
final class KeyboardInteractiveContext: @unchecked Sendable {
    let password: Secret
    var unanswered: [String] = []
    init(password: Secret) { self.password = password }
}

/// libssh2's `LIBSSH2_USERAUTH_KBDINT_RESPONSE_FUNC`: answers a prompt that asks for the password
/// (a hidden prompt naming a password) with it; any other (a one-time code) gets no answer and is
/// named. Answers are allocated with malloc: libssh2 frees them.
let keyboardInteractiveCallback: @convention(c) (UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, Int32, Int32,
                                                 UnsafePointer<LIBSSH2_USERAUTH_KBDINT_PROMPT>?, UnsafeMutablePointer<LIBSSH2_USERAUTH_KBDINT_RESPONSE>?,
                                                 UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Void = {
    _, _, _, _, count, prompts, responses, abstract in
    guard let raw = abstract?.pointee, let prompts, let responses, count > 0 else { return }
    let context = Unmanaged<KeyboardInteractiveContext>.fromOpaque(raw).takeUnretainedValue()
    for i in 0..<Int(count) {
        let p = prompts[i]
        let text = p.text.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(p.length)), as: UTF8.self) } ?? ""
        if p.echo == 0 && text.lowercased().contains("password") {
            let value = context.password.reveal()
            responses[i].text = strdup(value)
            responses[i].length = UInt32(value.utf8.count)
        } else {
            context.unanswered.append(String(text.trimmingCharacters(in: .whitespaces).prefix(60)))
            responses[i].text = strdup("")
            responses[i].length = 0
        }
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
