import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal ssh-agent client (listing identities, signing), every read and write bounded by a
/// deadline. libssh2's own agent calls talk to the agent socket synchronously with no timeout: an
/// agent that accepts and never answers (hung, or waiting for an `ssh-add -c` confirmation nobody
/// sees) would hang the drill forever.
struct SSHAgentClient {
    struct Failure: Error { var message: String }

    struct Identity { var blob: [UInt8]; var comment: String }

    private let fd: Int32

    /// Connects to the agent's socket.
    static func connect(_ path: String, deadline: ContinuousClock.Instant) throws(Failure) -> SSHAgentClient {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(message: "cannot create a socket: \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { Glibc.close(fd); throw Failure(message: "the agent socket path is too long") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 && errno != EINPROGRESS && errno != EAGAIN {
            let e = errno
            Glibc.close(fd)
            throw Failure(message: "cannot reach the SSH agent at \(path): \(String(cString: strerror(e)))")
        }
        let client = SSHAgentClient(fd: fd)
        if rc != 0 { try client.wait(POLLOUT, deadline: deadline, what: "connecting to the SSH agent") }
        return client
    }

    func close() { Glibc.close(fd) }

    /// SSH_AGENTC_REQUEST_IDENTITIES → SSH_AGENT_IDENTITIES_ANSWER.
    func identities(deadline: ContinuousClock.Instant) throws(Failure) -> [Identity] {
        var r = try request([11], deadline: deadline, what: "listing the SSH agent's keys")
        guard r.byte() == 12, let n = r.uint32() else { throw Failure(message: "the SSH agent refused to list its keys") }
        var out: [Identity] = []
        for _ in 0..<min(n, 1000) {
            guard let blob = r.string(), let comment = r.string() else { break }
            out.append(Identity(blob: blob, comment: String(decoding: comment, as: UTF8.self)))
        }
        return out
    }

    /// SSH_AGENTC_SIGN_REQUEST → SSH_AGENT_SIGN_RESPONSE; returns the raw signature (without its
    /// algorithm name), as libssh2's sign callback hands it on.
    func sign(_ blob: [UInt8], data: [UInt8], deadline: ContinuousClock.Instant) throws(Failure) -> [UInt8] {
        var body: [UInt8] = [13]
        Self.put(blob, into: &body)
        Self.put(data, into: &body)
        body += [0, 0, 0, 0]
        var r = try request(body, deadline: deadline, what: "waiting for the SSH agent's signature")
        guard r.byte() == 14, var sig = r.string().map({ Reader($0) }), sig.string() != nil, let raw = sig.string() else {
            throw Failure(message: "the SSH agent refused to sign")
        }
        return raw
    }

    // MARK: - wire

    private func request(_ body: [UInt8], deadline: ContinuousClock.Instant, what: String) throws(Failure) -> Reader {
        var message: [UInt8] = []
        Self.put(body, into: &message)
        var sent = 0
        while sent < message.count {
            let n = message[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0 && errno != EAGAIN && errno != EINTR { throw Failure(message: "the SSH agent closed the connection while \(what)") }
            try wait(POLLOUT, deadline: deadline, what: what)
        }
        let header = try read(4, deadline: deadline, what: what)
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length > 0, length <= 256 * 1024 else { throw Failure(message: "the SSH agent sent a malformed answer") }
        return Reader(try read(length, deadline: deadline, what: what))
    }

    private func read(_ count: Int, deadline: ContinuousClock.Instant, what: String) throws(Failure) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { got += n; continue }
            if n == 0 { throw Failure(message: "the SSH agent closed the connection while \(what)") }
            if errno != EAGAIN && errno != EINTR { throw Failure(message: "reading from the SSH agent failed: \(String(cString: strerror(errno)))") }
            try wait(POLLIN, deadline: deadline, what: what)
        }
        return out
    }

    private func wait(_ events: Int32, deadline: ContinuousClock.Instant, what: String) throws(Failure) {
        let ms = DurationText.milliseconds(deadline - ContinuousClock.now)
        var pfd = pollfd(fd: fd, events: Int16(events), revents: 0)
        if ms <= 0 || poll(&pfd, 1, Int32(clamping: min(ms, 1000))) == 0 && ContinuousClock.now >= deadline {
            throw Failure(message: "the SSH agent did not answer in time (\(what))")
        }
    }

    static func put(_ bytes: [UInt8], into out: inout [UInt8]) {
        let n = UInt32(bytes.count)
        out += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + bytes
    }

    struct Reader {
        var bytes: [UInt8]
        var at = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        mutating func byte() -> UInt8? { guard at < bytes.count else { return nil }; defer { at += 1 }; return bytes[at] }
        mutating func uint32() -> Int? {
            guard at + 4 <= bytes.count else { return nil }
            defer { at += 4 }
            return Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        mutating func string() -> [UInt8]? {
            guard let n = uint32(), at + n <= bytes.count else { return nil }
            defer { at += n }
            return Array(bytes[at..<at + n])
        }
    }
}

/// What libssh2's sign callback needs: the agent, the key, the deadline, and what went wrong.
final class AgentSignContext {
    let agent: SSHAgentClient
    let blob: [UInt8]
    let deadline: ContinuousClock.Instant
    var failure: String?

    init(agent: SSHAgentClient, blob: [UInt8], deadline: ContinuousClock.Instant) {
        self.agent = agent; self.blob = blob; self.deadline = deadline
    }
}

/// libssh2's `LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC`: asks the agent to sign `data`. The
/// signature is allocated with malloc, the allocator of sessions made with default allocators.
let agentSignCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<Int>?,
                                       UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 = {
    _, sig, sigLen, data, dataLen, abstract in
    guard let raw = abstract?.pointee, let data else { return -1 }
    let context = Unmanaged<AgentSignContext>.fromOpaque(raw).takeUnretainedValue()
    do throws(SSHAgentClient.Failure) {
        let signature = try context.agent.sign(context.blob, data: Array(UnsafeBufferPointer(start: data, count: dataLen)), deadline: context.deadline)
        guard !signature.isEmpty, let buffer = malloc(signature.count)?.assumingMemoryBound(to: UInt8.self) else { return -1 }
        for (i, b) in signature.enumerated() { buffer[i] = b }
        sig?.pointee = buffer
        sigLen?.pointee = signature.count
        return 0
    } catch {
        context.failure = error.message
        return -1
    }
}
