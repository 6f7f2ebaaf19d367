import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The lab's slow link: a TCP relay on 127.0.0.1 that delays every byte by a fixed latency
/// (plus jitter) in each direction, in front of the bastion or of each host. The kernel here has
/// no netem, so a drill across sites is rehearsed through this userspace relay (`lab up
/// --latency 40ms`). Order is kept (jitter never reorders bytes); end of input is passed on
/// after the same delay.
public enum LabRelay {
    public struct Route: Sendable, Codable, Equatable {
        public var listen: Int
        public var target: Int
        /// The target's address (nil: 127.0.0.1).
        public var host: String?
    }

    /// Where a route leads.
    struct Target { var host: String; var port: Int }

    public struct Config: Sendable, Codable, Equatable {
        public var pid: Int32
        public var latencyMS: Int64
        public var jitterMS: Int64
        public var routes: [Route]

        enum CodingKeys: String, CodingKey { case pid, latencyMS = "latency_ms", jitterMS = "jitter_ms", routes }

        /// The relay's port in front of `target`, if it has one.
        public func listenPort(for target: Int) -> Int? { routes.first { $0.target == target }?.listen }
    }

    /// Starts `firedrill lab relay --dir DIR` detached, after recording (with `save`) the ports it
    /// is to listen on and the delay; returns its configuration once it listens.
    static func start(directory: String, executable: String, targets: [Target], latency: Duration, jitter: Duration,
                      save: (Config) throws -> Void) throws -> Config {
        let lab = Lab(directory: directory)
        for _ in 0..<5 {
            var config = Config(pid: 0, latencyMS: DurationText.milliseconds(latency), jitterMS: DurationText.milliseconds(jitter),
                                routes: try targets.map { Route(listen: try Lab.freePort(), target: $0.port, host: $0.host == "127.0.0.1" ? nil : $0.host) })
            try save(config)
            config.pid = try lab.spawnDetached([executable, "lab", "relay", "--dir", directory])
            if config.routes.allSatisfy({ lab.waitUntilListening(port: $0.listen, pid: config.pid, deadline: .now + .seconds(5)) }) {
                try save(config)
                return config
            }
            kill(config.pid, SIGKILL)
            var st: Int32 = 0
            waitpid(config.pid, &st, 0)
        }
        throw Lab.Failure(message: "the lab's latency relay did not start", hint: "run `\(executable) lab relay --dir \(directory)` to see why")
    }

    /// Relays every route until the process is terminated (`lab relay`).
    public static func serve(_ config: Config) throws -> Never {
        signal(SIGPIPE, SIG_IGN)
        var listeners: [(Int32, Route)] = []
        for route in config.routes {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = loopback(port: route.listen)
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard fd >= 0, bound == 0, listen(fd, 128) == 0 else {
                throw Lab.Failure(message: "the relay cannot listen on 127.0.0.1:\(route.listen): \(String(cString: strerror(errno)))")
            }
            listeners.append((fd, route))
        }
        let delay = Delay(latencyMS: config.latencyMS, jitterMS: config.jitterMS)
        for (fd, route) in listeners {
            let t = Thread {
                while true {
                    let client = accept(fd, nil, nil)
                    if client < 0 { continue }
                    let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    var addr = loopback(port: route.target)
                    if let host = route.host { addr.sin_addr.s_addr = inet_addr(host) }
                    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                    guard ok == 0 else { close(client); close(server); continue }
                    for s in [client, server] {
                        var one: Int32 = 1
                        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    }
                    let pair = Pair(client, server)
                    Direction(from: client, to: server, delay: delay, pair: pair).start()
                    Direction(from: server, to: client, delay: delay, pair: pair).start()
                }
            }
            t.stackSize = 256 * 1024
            t.start()
        }
        while true { pause() }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    /// The delay of one chunk: the latency, plus or minus up to the jitter.
    struct Delay: Sendable {
        var latencyMS: Int64
        var jitterMS: Int64
        func next() -> Duration {
            let j = jitterMS > 0 ? Int64.random(in: -jitterMS...jitterMS) : 0
            return .milliseconds(max(0, latencyMS + j))
        }
    }

    /// Both sockets of one relayed connection, closed when both directions are done.
    final class Pair: @unchecked Sendable {
        private let lock = NSLock()
        private var open = 2
        let a: Int32, b: Int32
        init(_ a: Int32, _ b: Int32) { self.a = a; self.b = b }
        func done() {
            lock.lock(); open -= 1; let last = open == 0; lock.unlock()
            if last { close(a); close(b) }
        }
    }

    /// One direction: a reader that stamps each chunk with when it may be delivered (never
    /// before the one read before it), and a writer that delivers it then.
    final class Direction: @unchecked Sendable {
        let from: Int32, to: Int32
        let delay: Delay
        let pair: Pair
        private let condition = NSCondition()
        private var queue: [(at: ContinuousClock.Instant, bytes: [UInt8]?)] = []

        init(from: Int32, to: Int32, delay: Delay, pair: Pair) { self.from = from; self.to = to; self.delay = delay; self.pair = pair }

        func start() {
            let reader = Thread { self.read() }
            reader.stackSize = 256 * 1024
            reader.start()
            let writer = Thread { self.write() }
            writer.stackSize = 256 * 1024
            writer.start()
        }

        private func read() {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            var last = ContinuousClock.now
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(from, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                let at = max(last, ContinuousClock.now + delay.next())
                last = at
                condition.lock()
                queue.append((at, n > 0 ? Array(buffer[0..<n]) : nil))
                condition.signal()
                condition.unlock()
                if n <= 0 { return }
            }
        }

        private func write() {
            while true {
                condition.lock()
                while queue.isEmpty { condition.wait() }
                let item = queue.removeFirst()
                condition.unlock()
                let wait = item.at - ContinuousClock.now
                if wait > .zero { usleep(UInt32(clamping: DurationText.milliseconds(wait) * 1000)) }
                guard let bytes = item.bytes else {
                    shutdown(to, Int32(SHUT_WR))
                    pair.done()
                    return
                }
                var offset = 0
                while offset < bytes.count {
                    let w = bytes.withUnsafeBytes { Glibc.send(to, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
                    if w < 0 && errno == EINTR { continue }
                    if w <= 0 { shutdown(from, Int32(SHUT_RD)); break }
                    offset += w
                }
            }
        }
    }
}
