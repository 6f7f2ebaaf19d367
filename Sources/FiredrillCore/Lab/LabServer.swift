import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The lab's simulated health endpoints, served by one detached process (`firedrill lab serve`).
///
/// Every answer is computed from the hosts' state files at the moment it is asked, so a
/// failover done by the lab shims (`systemctl stop postgresql`, `pg_ctlcluster … promote`)
/// really changes what the checks see:
///
/// - **VIP** (HTTP): `/ehr/health` answers 200 while some database host is a running
///   primary, 503 otherwise; `/portal/health` while some app host runs nginx;
///   `/bca/` while the BCA host runs nginx; `/metrics` in Prometheus' text format: requests
///   served, the services' health, an error ratio and a replication lag (`metrics/NAME` files
///   in the lab's folder set the last two, for tests of `prometheus:` checks).
/// - **Service ports** (TCP, one per host): a database host's `pg_port` is open while its
///   postgresql runs; an app host's `http_port` is open (and answers `/health`) while its
///   nginx runs. A stopped service's port is closed: connections are refused.
/// - **DNS** (UDP): A records from `DIR/dns/NAME-A` files (the lab `pdnsutil` writes them),
///   answered while a DNS host runs pdns; SERVFAIL otherwise.
/// - **Flapping** (knob): `flap-<service>` in a host's state folder, holding a period in
///   seconds, makes that service alternate up and down, for tests of verify's hold window.
public struct LabServices: Sendable, Codable, Equatable {
    public var vipPort: Int
    public var dnsPort: Int
    /// Host name → TCP port of its service (`pg_port` or `http_port`).
    public var servicePorts: [String: Int]
    public var pid: Int32
    /// The lab's real PostgreSQL servers (`--postgres`): the EHR answers from whichever is a
    /// running primary, and their ports are theirs (not served here).
    public var databases: [LabPostgres.Server]? = nil

    /// Which state file controls a host's service port.
    static func service(of host: String) -> String? {
        if host.hasPrefix("db") { return "postgresql" }
        if host.hasPrefix("app") { return "nginx" }
        return nil
    }
}

/// The server loop behind `LabServices`: one thread, `poll(2)`, non-blocking sockets.
public final class LabServer {
    let directory: String
    let services: LabServices
    private var listeners: [String: Int32] = [:]   // host → listening fd (open while its service runs)
    private var parked: [String: Int32] = [:]      // host → its port, held but refusing (service stopped)
    private var vip: Int32 = -1
    private var dns: Int32 = -1
    private var clients: [Int32: Client] = [:]
    /// HTTP requests the VIP answered (a counter for `/metrics`).
    private var served = 0

    struct Client {
        var buffer: [UInt8] = []
        var host: String?      // nil: the VIP
        var opened = ContinuousClock.now
    }

    public init(directory: String, services: LabServices) {
        self.directory = directory
        self.services = services
    }

    /// Serves until the process is terminated.
    public func run() throws {
        signal(SIGPIPE, SIG_IGN)
        // Every service port is held from the start, stopped or not: a port only closed while
        // its service is down is free for another lab on this machine to take (two labs that
        // drew the same free port once made a stopped database answer for 30 s). A port that
        // cannot be held stops the server before the VIP listens, so `lab up` draws again.
        for (host, port) in services.servicePorts where LabServices.service(of: host) != nil
            && services.databases?.contains(where: { $0.name == host }) != true {
            parked[host] = try Self.park(Self.bound(port: port))
        }
        vip = try Self.listen(port: services.vipPort)
        dns = try Self.bindUDP(port: services.dnsPort)
        var lastReconcile = ContinuousClock.now - .seconds(1)
        while true {
            if ContinuousClock.now - lastReconcile >= .milliseconds(10) {
                reconcile()
                lastReconcile = .now
            }
            var fds = [pollfd(fd: vip, events: Int16(POLLIN), revents: 0), pollfd(fd: dns, events: Int16(POLLIN), revents: 0)]
            fds += listeners.values.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            fds += clients.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 10) >= 0 || errno == EINTR else { throw Lab.Failure(message: "poll failed: \(errno)") }
            for p in fds where p.revents != 0 {
                if p.fd == dns { answerDNS() }
                else if p.fd == vip { accept(from: vip, host: nil) }
                else if let host = listeners.first(where: { $0.value == p.fd })?.key { accept(from: p.fd, host: host) }
                else { read(client: p.fd) }
            }
            for (fd, c) in clients where ContinuousClock.now - c.opened > .seconds(5) { drop(fd) }
        }
    }

    // MARK: state

    func state(_ host: String, _ file: String) -> String? {
        guard let data = FileManager.default.contents(atPath: "\(directory)/hosts/\(host)/state/\(file)") else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A knob `flap-<service>` (a period in seconds) makes the service flap: up for the first
    /// half of every period, down for the second, whatever its state file says.
    func running(_ host: String, _ service: String) -> Bool {
        if let period = state(host, "flap-\(service)").flatMap(Double.init), period > 0 {
            let ms = Int64(Date().timeIntervalSince1970 * 1000)
            return (ms / Int64(period * 500)) % 2 == 0
        }
        return state(host, service) == "running"
    }

    var hostNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/hosts")) ?? []).sorted()
    }

    /// Opens or closes each host's service port to match its state.
    func reconcile() {
        for (host, port) in services.servicePorts {
            guard let service = LabServices.service(of: host) else { continue }
            // A real database's port is its own server's to open.
            if services.databases?.contains(where: { $0.name == host }) == true { continue }
            let up = running(host, service)
            if up, listeners[host] == nil {
                // A parked socket cannot listen again: it gives its port to a new one.
                if let fd = parked.removeValue(forKey: host) { Glibc.close(fd) }
                listeners[host] = try? Self.listen(port: port)
            } else if !up, let fd = listeners.removeValue(forKey: host) {
                for (cfd, c) in clients where c.host == host { drop(cfd) }
                parked[host] = Self.park(fd)
            }
        }
    }

    // MARK: HTTP

    func accept(from listener: Int32, host: String?) {
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { return }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        // A database port only has to accept: TCP checks connect and close.
        if let host, LabServices.service(of: host) == "postgresql" { Glibc.close(fd); return }
        clients[fd] = Client(host: host)
    }

    func read(client fd: Int32) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = Glibc.read(fd, &chunk, chunk.count)
        guard n > 0 else { if n == 0 || errno != EAGAIN { drop(fd) }; return }
        clients[fd]?.buffer += chunk[..<n]
        guard let c = clients[fd], let text = String(validating: c.buffer, as: UTF8.self), text.contains("\r\n\r\n") else {
            if (clients[fd]?.buffer.count ?? 0) > 16_384 { drop(fd) }
            return
        }
        let path = text.split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init) ?? "/"
        let (status, body) = respond(path: path, host: c.host)
        let reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Service Unavailable"
        let response = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = response.withCString { Glibc.write(fd, $0, strlen($0)) }
        drop(fd)
    }

    func respond(path: String, host: String?) -> (Int, String) {
        if let host { return (200, "ok: \(host) serves\n") }
        served += 1
        switch path {
        case "/metrics":
            return (200, metrics())
        case "/ehr/health":
            if let databases = services.databases {
                // As an application would see it: one database accepting writes, or none, or
                // two (split brain: the EHR must not write to either).
                let primaries = databases.filter { LabPostgres.role(of: $0) == .primary }.map(\.name)
                if primaries.count == 1 { return (200, "ok: EHR answering, database primary \(primaries[0]) (PostgreSQL)\n") }
                if primaries.isEmpty { return (503, "unavailable: no PostgreSQL server accepts writes\n") }
                return (503, "unavailable: split brain, \(primaries.joined(separator: " and ")) both accept writes\n")
            }
            if let primary = hostNames.first(where: { state($0, "pg-role") == "primary" && running($0, "postgresql") }) {
                return (200, "ok: EHR answering, database primary \(primary)\n")
            }
            return (503, "unavailable: no running primary database\n")
        case "/portal/health":
            if let app = hostNames.first(where: { running($0, "nginx") }) { return (200, "ok: portal served by \(app)\n") }
            return (503, "unavailable: no application server\n")
        case "/bca/":
            if running("app2", "nginx") { return (200, "medication list (BCA copy) available\n") }
            return (503, "unavailable: BCA host down\n")
        default:
            return (404, "no such lab endpoint: \(path)\n")
        }
    }

    /// The lab's metrics, as Prometheus scrapes them. `error_ratio` follows the portal (1 while
    /// it is down) and `replication_lag_seconds` is 0, unless a file `metrics/NAME` in the lab's
    /// folder holds another value.
    func metrics() -> String {
        func knob(_ name: String) -> String? {
            (try? String(contentsOfFile: "\(directory)/metrics/\(name)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let ehr = respond(path: "/ehr/health", host: nil).0 == 200, portal = respond(path: "/portal/health", host: nil).0 == 200
        served -= 2
        return """
        # HELP firedrill_lab_requests_total HTTP requests the lab's VIP answered.
        # TYPE firedrill_lab_requests_total counter
        firedrill_lab_requests_total \(served)
        # HELP firedrill_lab_service_up Whether the lab's service answers (1) or not (0).
        # TYPE firedrill_lab_service_up gauge
        firedrill_lab_service_up{service="ehr"} \(ehr ? 1 : 0)
        firedrill_lab_service_up{service="portal"} \(portal ? 1 : 0)
        # HELP firedrill_lab_error_ratio Share of the portal's requests that fail.
        # TYPE firedrill_lab_error_ratio gauge
        firedrill_lab_error_ratio \(knob("error_ratio") ?? (portal ? "0" : "1"))
        # HELP firedrill_lab_replication_lag_seconds How far the standby database is behind.
        # TYPE firedrill_lab_replication_lag_seconds gauge
        firedrill_lab_replication_lag_seconds \(knob("replication_lag_seconds") ?? "0")

        """
    }

    func drop(_ fd: Int32) {
        clients.removeValue(forKey: fd)
        Glibc.close(fd)
    }

    // MARK: DNS

    func answerDNS() {
        var packet = [UInt8](repeating: 0, count: 512)
        var from = sockaddr_storage()
        var fromLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &from) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(dns, &packet, packet.count, 0, $0, &fromLen) }
        }
        guard n > 0, let query = DNSMessage.Query(parsing: Array(packet[..<n])) else { return }
        let serving = hostNames.contains { running($0, "pdns") }
        var addresses: [String] = []
        var rcode: UInt8 = 2   // SERVFAIL
        if serving {
            let file = "\(directory)/dns/\(query.name.lowercased())-\(query.type == 28 ? "AAAA" : "A")"
            if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                addresses = text.split(whereSeparator: \.isWhitespace).map(String.init)
                rcode = 0
            } else {
                rcode = 3   // NXDOMAIN
            }
        }
        let reply = DNSMessage.response(to: query, rcode: rcode, addresses: addresses)
        _ = withUnsafePointer(to: &from) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(dns, reply, reply.count, 0, $0, fromLen) }
        }
    }

    // MARK: sockets

    static func listen(port: Int) throws -> Int32 {
        let fd = try bound(port: port)
        guard Glibc.listen(fd, 128) == 0 else { Glibc.close(fd); throw Lab.Failure(message: "cannot listen on 127.0.0.1:\(port)") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    /// A TCP socket bound to 127.0.0.1:`port` (SO_REUSEADDR: the connections a stopped service
    /// closed linger in TIME_WAIT on it).
    static func bound(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        try bind(fd, port: port)
        return fd
    }

    /// Stops `fd` listening but keeps its port: Linux refuses connections to a listener shut
    /// down, keeps an explicitly bound port bound, and — once SO_REUSEADDR is off — lets no
    /// other socket bind it until this one is closed (tried on Debian 12's kernel).
    static func park(_ fd: Int32) -> Int32 {
        _ = Glibc.listen(fd, 1)
        _ = shutdown(fd, Int32(SHUT_RDWR))
        var zero: Int32 = 0
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &zero, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    static func bindUDP(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try bind(fd, port: port)
        return fd
    }

    static func bind(_ fd: Int32, port: Int) throws {
        let rc = withLoopback(port: port) { Glibc.bind(fd, $0, $1) }
        guard rc == 0 else { Glibc.close(fd); throw Lab.Failure(message: "cannot bind 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
    }
}

/// Calls `body` with a `sockaddr` for 127.0.0.1:`port` and its length.
func withLoopback<R>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
