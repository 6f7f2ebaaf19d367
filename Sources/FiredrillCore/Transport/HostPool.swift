/// One transport per host, made on first use and reused for every command of a drill.
public actor HostPool {
    private var transports: [String: any Transport] = [:]
    private var ssh: [String: SSHConnection] = [:]
    public let options: SSHOptions

    public init(options: SSHOptions) { self.options = options }

    public func transport(for connection: HostConnection) -> any Transport {
        if let t = transports[connection.name] { return t }
        let t: any Transport
        switch connection.kind {
        case .local:
            t = LocalTransport(name: connection.name, killGrace: options.killGrace)
        case .ssh:
            let c = SSHConnection(connection, options: options)
            ssh[connection.name] = c
            t = c
        }
        transports[connection.name] = t
        return t
    }

    /// Opens (or checks) the connection to a host; local hosts need none. Returns the host key
    /// trusted on first use (`--accept-new`), described with its fingerprint, if one was.
    @discardableResult
    public func connect(_ connection: HostConnection) async throws(TransportError) -> String? {
        let t = transport(for: connection)
        if let c = t as? SSHConnection { return try await c.connect() }
        return nil
    }

    /// A host that answered: how long connecting (and a no-op command) took, and the key trusted
    /// on first use, if any.
    public struct Connected: Sendable, Equatable {
        public var latency: Duration
        public var trustedNewKey: String?

        public init(latency: Duration, trustedNewKey: String?) { self.latency = latency; self.trustedNewKey = trustedNewKey }
    }

    /// Connects (fresh connection + authentication + a no-op command).
    public func prepare(_ c: HostConnection) async -> Result<Connected, TransportError> {
        let clock = ContinuousClock()
        let start = clock.now
        do throws(TransportError) {
            let trusted = try await connect(c)
            let r = try await transport(for: c).run("true", timeout: .seconds(10))
            guard r.succeeded else {
                return .failure(TransportError(.channel, host: c.name, endpoint: c.endpoint, "the no-op command failed: \(r.stderr.text)"))
            }
            return .success(Connected(latency: clock.now - start, trustedNewKey: trusted))
        } catch {
            return .failure(error)
        }
    }

    public func closeAll() async {
        for t in transports.values { await t.close() }
        transports = [:]
        ssh = [:]
    }
}
