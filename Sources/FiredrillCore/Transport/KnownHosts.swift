import Crypto
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The keys a known_hosts file records for one host, matched as OpenSSH matches them: plain
/// names, `[host]:port` for other ports, hashed names (`|1|salt|hash`, HMAC-SHA1), wildcards and
/// `!` negations. Read by us rather than libssh2 so that a host known under *another* key type is
/// seen as known (OpenSSH calls a different key a changed host identification, and so do we), and
/// so that accepting a new key appends one line instead of rewriting the user's file.
struct KnownHosts {
    struct Entry: Equatable {
        /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
        var type: String
        var key: Data
        var line: Int
    }

    let path: String

    /// The name OpenSSH records for `host` on `port`.
    static func name(host: String, port: Int) -> String {
        port == 22 ? host : "[\(host)]:\(port)"
    }

    /// Lines (1-based) of `@cert-authority` entries whose patterns name the host: the team trusts
    /// host certificates signed by that authority, which libssh2 1.10 cannot check.
    func certificateAuthorityLines(host: String, port: Int) -> [Int] {
        let name = Self.name(host: host, port: port)
        return lines().filter { $0.fields.count >= 2 && $0.fields[0] == "@cert-authority" && Self.matches($0.fields[1], name: name) }.map(\.number)
    }

    /// A line of the file, cut into fields (comments and blank lines left out).
    struct Line: Sendable {
        var number: Int
        var fields: [String]
    }

    /// The file's lines, read and cut once per version of the file (path, size, modification
    /// time): every host of a fleet drill looks its keys up in the same file.
    private func lines() -> [Line] {
        var st = stat()
        guard stat(path, &st) == 0 else { return [] }
        let stamp = [Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_ino)]
        if let hit = Self.cache.withLock({ $0[path] }), hit.stamp == stamp { return hit.lines }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var out: [Line] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            out.append(Line(number: i + 1, fields: fields.map(String.init)))
        }
        Self.cache.withLock { $0[path] = (stamp, out) }
        return out
    }

    private static let cache = Mutex<[String: (stamp: [Int], lines: [Line])]>([:])

    /// Entries for the host, in file order (`@cert-authority` lines are not host keys; `@revoked`
    /// lines are only read with `revoked: true`).
    func entries(host: String, port: Int, revoked: Bool = false) -> [Entry] {
        let name = Self.name(host: host, port: port)
        var out: [Entry] = []
        for line in lines() {
            var fields = line.fields[...]
            guard let first = fields.first else { continue }
            if first.hasPrefix("@") {
                guard revoked, first == "@revoked" else { continue }
                fields.removeFirst()
            } else if revoked {
                continue
            }
            guard fields.count >= 3, Self.matches(fields[fields.startIndex], name: name),
                  let key = Data(base64Encoded: fields[fields.startIndex + 2]) else { continue }
            out.append(Entry(type: fields[fields.startIndex + 1], key: key, line: line.number))
        }
        return out
    }

    /// Whether a known_hosts host field names `name` (a negated pattern that matches wins).
    static func matches(_ field: String, name: String) -> Bool {
        if field.hasPrefix("|1|") {
            let parts = field.split(separator: "|")
            guard parts.count == 3, let salt = Data(base64Encoded: String(parts[1])), let hash = Data(base64Encoded: String(parts[2])) else { return false }
            let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: salt))
            return Data(mac) == hash
        }
        var matched = false
        for pattern in field.split(separator: ",") {
            let negated = pattern.hasPrefix("!")
            let p = negated ? String(pattern.dropFirst()) : String(pattern)
            if glob(Array(p), Array(name)) {
                if negated { return false }
                matched = true
            }
        }
        return matched
    }

    /// OpenSSH's `match_pattern`: `*` and `?` only (brackets are literal: `[host]:port`).
    static func glob(_ p: [Character], _ s: [Character]) -> Bool {
        var pi = 0, si = 0, star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == "?" || p[pi] == s[si] { pi += 1; si += 1 }
            else if pi < p.count, p[pi] == "*" { star = pi; mark = si; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; si = mark }
            else { return false }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Host-key algorithms to offer, the types already known for the host first, so the server
    /// presents a key we can check rather than one we have never seen.
    static func algorithmPreference(known: [Entry]) -> String {
        let all = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"]
        let knownTypes = all.filter { t in known.contains { $0.type == t } }
        func algorithms(_ type: String) -> [String] { type == "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type] }
        return (knownTypes + all.filter { !knownTypes.contains($0) }).flatMap(algorithms).joined(separator: ",")
    }

    /// libssh2's host-key type number as known_hosts names it.
    static func typeName(libssh2 type: Int32) -> String {
        switch type {
        case 1: return "ssh-rsa"
        case 2: return "ssh-dss"
        case 3: return "ecdsa-sha2-nistp256"
        case 4: return "ecdsa-sha2-nistp384"
        case 5: return "ecdsa-sha2-nistp521"
        case 6: return "ssh-ed25519"
        default: return "unknown"
        }
    }

    /// Appends one line recording `key` for the host (creating the file and its folder if needed).
    func append(host: String, port: Int, type: String, key: Data) -> String? {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot open \(path): \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        // Start on a line of our own if the file does not end with a newline.
        var prefix = ""
        if let data = FileManager.default.contents(atPath: path), let last = data.last, last != 0x0a { prefix = "\n" }
        let line = Array("\(prefix)\(Self.name(host: host, port: port)) \(type) \(key.base64EncodedString()) added by firedrill\n".utf8)
        guard line.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == line.count else {
            return "cannot write \(path): \(String(cString: strerror(errno)))"
        }
        return nil
    }
}
