/// One transport per host, made on first use and reused for every command of a drill.
public actor HostPool {
    private var transports: [String: any Transport] = [:]
    private var ssh: [String: SSHConnection] = [:]
    public let options: SSHOptions
    /// The jump hosts the pool's hosts are reached through: one connection each, shared.
    private let jumps: JumpHosts

    public init(options: SSHOptions) {
        self.options = options
        self.jumps = JumpHosts(options: options)
    }

    public func transport(for connection: HostConnection, credentials: HostCredentials = HostCredentials()) -> any Transport {
        if let t = transports[connection.name] { return t }
        let t: any Transport
        switch connection.kind {
        case .local:
            t = LocalTransport(name: connection.name, killGrace: options.killGrace, credentials: credentials.or(options.passwords))
        case .ssh:
            let c = SSHConnection(connection, credentials: credentials, options: options, jumps: jumps, role: .target)
            ssh[connection.name] = c
            t = c
        }
        transports[connection.name] = t
        return t
    }

    /// Opens (or checks) the connection to a host; local hosts need none. Returns the host key
    /// trusted on first use (`--accept-new`), described with its fingerprint, if one was.
    @discardableResult
    public func connect(_ connection: HostConnection, credentials: HostCredentials = HostCredentials()) async throws(TransportError) -> String? {
        let t = transport(for: connection, credentials: credentials)
        if let c = t as? SSHConnection { return try await c.connect() }
        return nil
    }

    /// A host that answered: how long connecting (and a no-op command) took, and the key trusted
    /// on first use, if any.
    public struct Connected: Sendable, Equatable {
        /// Connecting (TCP, the way through jump hosts, key exchange, login) and a no-op.
        public var latency: Duration
        /// One no-op command on the open connection: what each of the drill's commands costs.
        public var roundTrip: Duration
        public var trustedNewKey: String?
        /// How the host runs commands (`ExecutorState`, in words); nil for a local host.
        public var executor: String?

        public init(latency: Duration, roundTrip: Duration? = nil, trustedNewKey: String?, executor: String? = nil) {
            self.latency = latency; self.roundTrip = roundTrip ?? latency; self.trustedNewKey = trustedNewKey; self.executor = executor
        }
    }

    /// Connects (fresh connection + authentication + a no-op command), then runs the no-op once
    /// as each user the drill becomes on the host: a password that is missing or wrong, or a
    /// user without the rights, is found here, before anything disruptive.
    public func prepare(_ c: HostConnection, credentials: HostCredentials = HostCredentials(), become: [Become] = []) async -> Result<Connected, TransportError> {
        let clock = ContinuousClock()
        let start = clock.now
        do throws(TransportError) {
            let trusted = try await connect(c, credentials: credentials)
            let t = transport(for: c, credentials: credentials)
            let sent = clock.now
            let r = try await t.run("true", timeout: .seconds(10))
            let roundTrip = clock.now - sent
            guard r.succeeded else {
                return .failure(TransportError(.channel, host: c.name, endpoint: c.endpoint, "the no-op command failed: \(r.stderr.text)"))
            }
            let latency = clock.now - start
            for b in become {
                let r = try await t.run("true", timeout: .seconds(10), become: b)
                guard r.succeeded else {
                    return .failure(TransportError(.become, host: c.name, endpoint: c.endpoint, "the no-op command run with \(b) failed (\(r.outcome)): \(r.stderr.text.prefix(200))",
                                                   hint: "run `sudo -u \(b.user) true` on the host as \(c.user ?? "the login user") to see why"))
                }
            }
            let executor = await (t as? SSHConnection)?.executorStatus().description
            return .success(Connected(latency: latency, roundTrip: roundTrip, trustedNewKey: trusted, executor: executor))
        } catch {
            return .failure(error)
        }
    }

    public func closeAll() async {
        for t in transports.values { await t.close() }
        transports = [:]
        ssh = [:]
        // The hosts behind the jump hosts are closed: their tunnels end, then the jump hosts.
        await jumps.closeAll()
    }
}
