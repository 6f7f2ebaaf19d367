import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The lab's second site (`lab up --bastion`, as root): a network namespace of its own whose
/// hosts listen on the namespace's own loopback, so they can be reached only through the
/// bastion, which listens on the namespace's side of a veth pair.
///
/// Addresses: a /30 in 10.253.0.0/16 per lab (the controller's side `.1`, the bastion's `.2`),
/// with an `unreachable` route for the same /30 on this side (a higher metric than the link's):
/// if the veth pair is gone, nothing for the namespace's address leaves the machine.
public struct LabNamespace: Sendable, Codable, Equatable {
    /// `ip netns` name.
    public var name: String
    /// Our side of the veth pair (the other side is in the namespace).
    public var link: String
    /// Our side's address.
    public var hostAddress: String
    /// The namespace side's address: where the bastion listens.
    public var siteAddress: String
    /// The /30 both are in.
    public var subnet: String

    enum CodingKeys: String, CodingKey { case name, link, hostAddress = "host_address", siteAddress = "site_address", subnet }

    static let ip = "/usr/sbin/ip"

    /// Why a namespace cannot be made here (not root, no `ip`), or nil.
    static func unavailable() -> String? {
        if geteuid() != 0 { return "network namespaces need root (this lab runs as \(CurrentUser.name()))" }
        if !FileManager.default.isExecutableFile(atPath: ip) { return "ip (iproute2) is not installed" }
        return nil
    }

    /// Makes the namespace and its veth pair for the lab in `directory`.
    static func create(directory: String) throws -> LabNamespace {
        var hash: UInt32 = 2166136261
        for b in directory.utf8 { hash = (hash ^ UInt32(b)) &* 16777619 }
        let tag = String(format: "%08x", hash)
        let name = "fdlab-\(tag)"
        let link = "fdl\(tag)h", peer = "fdl\(tag)s"
        let used = (try? output([ip, "-o", "addr", "show"])) ?? ""
        // 16,384 /30s in 10.253/16: start where the folder's hash points, skip any in use.
        var index = Int(hash % 16384)
        func address(_ i: Int, _ n: Int) -> String { "10.253.\((i * 4) / 256).\((i * 4) % 256 + n)" }
        for _ in 0..<64 where used.contains(" \(address(index, 1))/") || used.contains(" \(address(index, 2))/") {
            index = (index + 1) % 16384
        }
        let ns = LabNamespace(name: name, link: link, hostAddress: address(index, 1), siteAddress: address(index, 2),
                              subnet: address(index, 0) + "/30")
        // A namespace left by a lab that crashed in this folder goes first.
        ns.remove()
        do {
            try run([ip, "netns", "add", name])
            try run([ip, "link", "add", link, "type", "veth", "peer", "name", peer])
            try run([ip, "link", "set", peer, "netns", name])
            try run([ip, "addr", "add", "\(ns.hostAddress)/30", "dev", link])
            try run([ip, "link", "set", link, "up"])
            try run([ip, "route", "add", "unreachable", ns.subnet, "metric", "4000"])
            try run([ip, "netns", "exec", name, ip, "link", "set", "lo", "up"])
            try run([ip, "netns", "exec", name, ip, "addr", "add", "\(ns.siteAddress)/30", "dev", peer])
            try run([ip, "netns", "exec", name, ip, "link", "set", peer, "up"])
        } catch {
            ns.remove()
            throw error
        }
        return ns
    }

    /// `argv` run inside the namespace.
    func inside(_ argv: [String]) -> [String] { [Self.ip, "netns", "exec", name] + argv }

    /// Deletes the namespace (and with it the veth pair) and the unreachable route; what is
    /// already gone is fine.
    func remove() {
        _ = try? Self.run([Self.ip, "route", "del", "unreachable", subnet, "metric", "4000"])
        _ = try? Self.run([Self.ip, "link", "del", link])
        _ = try? Self.run([Self.ip, "netns", "del", name])
    }

    /// Whether something in this namespace listens on TCP `port`, as seen by `pid` once it is in
    /// the namespace (before `ip netns exec` enters it, /proc/PID/net shows this machine's own).
    func listening(pid: Int32, port: Int) -> Bool {
        var mine = stat(), theirs = stat()
        guard stat("/run/netns/\(name)", &mine) == 0, stat("/proc/\(pid)/ns/net", &theirs) == 0,
              mine.st_ino == theirs.st_ino, mine.st_dev == theirs.st_dev else { return false }
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/tcp", encoding: .utf8) else { return false }
        let hex = String(format: "%04X", port)
        return text.split(separator: "\n").dropFirst().contains { line in
            let f = line.split(separator: " ")
            return f.count > 3 && f[1].hasSuffix(":" + hex) && f[3] == "0A"
        }
    }

    static func run(_ argv: [String]) throws {
        let result: (status: Int32, output: String)
        do throws(ChildProcess.Failure) { result = try ChildProcess.capture(argv) } catch { throw Lab.Failure(message: error.description) }
        guard result.status == 0 else {
            throw Lab.Failure(message: "\(argv.joined(separator: " ")) failed: \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    static func output(_ argv: [String]) throws -> String {
        do throws(ChildProcess.Failure) { return try ChildProcess.capture(argv).output } catch { throw Lab.Failure(message: error.description) }
    }
}
