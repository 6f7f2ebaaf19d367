import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The lab in a real fleet's shape (`lab up --fleet`): operators log in as themselves, not root,
/// and the drill's steps need sudo. Creates, once per machine, system users in the group
/// `firedrill-lab` and a sudoers drop-in for them (they stay after `lab down`; other labs share
/// them; `LabFleet.removal` says how to remove them):
///
/// - `fd-deploy`: sudo with its password (the login user of the database and DNS hosts);
/// - `fd-ops`: sudo without a password (the login user of the application hosts);
/// - `fd-guest`: no sudo at all;
/// - `fd-tty`: sudo with its password, but sudoers says `requiretty`.
///
/// Their password (one for all, random, made once) is in /etc/firedrill-lab/password, and a copy
/// in the lab's folder (`become-password`, mode 600). The sshds of a fleet lab also take
/// passwords (password and keyboard-interactive, through PAM).
public enum LabFleet {
    public static let group = "firedrill-lab"
    public static let users = ["fd-deploy", "fd-ops", "fd-guest", "fd-tty"]
    static let passwordFile = "/etc/firedrill-lab/password"
    static let sudoers = "/etc/sudoers.d/firedrill-lab"
    static let homes = "/var/lib/firedrill-lab"

    /// The commands that undo what `--fleet` made on this machine.
    public static let removal = "for u in \(users.joined(separator: " ")); do userdel -r $u; done; groupdel \(group); rm -rf /etc/firedrill-lab \(homes) \(sudoers)"

    /// The sudoers drop-in: the lab's users keep the lab's PATH and variables under sudo (its
    /// commands are stand-ins found through PATH), which a real fleet would not need.
    static let sudoersText = """
    # Written by `firedrill lab up --fleet`: the practice lab's users, not a real fleet's.
    # Remove with: \(removal)
    Defaults:%\(group) !secure_path
    Defaults:%\(group) env_keep += "PATH HOME FIREDRILL_LAB_DIR FIREDRILL_LAB_HOST"
    Defaults:%\(group) !lecture
    Defaults:fd-tty requiretty
    fd-deploy ALL=(ALL:ALL) ALL
    fd-ops ALL=(ALL:ALL) NOPASSWD: ALL
    fd-tty ALL=(ALL:ALL) ALL

    """

    /// Makes sure the users, their password and the sudoers rules exist; returns the password.
    static func prepare(progress: (String) -> Void) throws -> String {
        guard getuid() == 0 else {
            throw Lab.Failure(message: "lab up --fleet creates users and sudoers rules, which needs root; this lab runs as \(CurrentUser.name())",
                              hint: "run `sudo firedrill lab up --fleet`, or leave --fleet out for the loopback lab (every host as you)")
        }
        guard let visudo = ["/usr/sbin/visudo", "/sbin/visudo"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw Lab.Failure(message: "sudo is not installed: a fleet lab's steps run with sudo", hint: "apt-get install sudo")
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: "/etc/firedrill-lab", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Two labs coming up at once make the users once.
        let lock = open("/etc/firedrill-lab/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if lock >= 0 { flock(lock, LOCK_EX) }
        defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
        var password = (try? String(contentsOfFile: passwordFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if password.isEmpty {
            let letters = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
            password = String((0..<20).map { _ in letters.randomElement()! })
            let fd = open(passwordFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw Lab.Failure(message: "cannot write \(passwordFile): \(String(cString: strerror(errno)))") }
            _ = (password + "\n").withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        if !groupExists(group) { try Lab.runTool("/usr/sbin/groupadd", ["--system", group]) }
        try fm.createDirectory(atPath: homes, withIntermediateDirectories: true)
        for user in users {
            if !userExists(user) {
                progress("creating user \(user) (group \(group))")
                try Lab.runTool("/usr/sbin/useradd", ["--system", "--create-home", "--home-dir", "\(homes)/\(user)", "--shell", "/bin/sh",
                                                      "--groups", group, user])
            }
        }
        // The password goes to chpasswd on its standard input, never on a command line.
        try Lab.runTool("/usr/sbin/chpasswd", [], input: users.map { "\($0):\(password)\n" }.joined())
        let current = try? String(contentsOfFile: sudoers, encoding: .utf8)
        if current != sudoersText {
            let staged = sudoers + ".new"
            try sudoersText.write(toFile: staged, atomically: true, encoding: .utf8)
            chmod(staged, 0o440)
            do { try Lab.runTool(visudo, ["-cqf", staged]) } catch {
                try? fm.removeItem(atPath: staged)
                throw Lab.Failure(message: "visudo refused the lab's sudoers rules", hint: "see `visudo -cf` on \(staged)")
            }
            guard rename(staged, sudoers) == 0 else { throw Lab.Failure(message: "cannot install \(sudoers): \(String(cString: strerror(errno)))") }
        }
        return password
    }

    static func userExists(_ name: String) -> Bool { getpwnam(name) != nil }
    static func groupExists(_ name: String) -> Bool { getgrnam(name) != nil }

    /// Folders on the way to the lab that another user cannot pass through (sshd reads
    /// authorized_keys as the user; the users' checks read the lab's state).
    static func closedAncestors(of directory: String) -> [String] {
        var out: [String] = []
        var path = directory
        while path != "/" && !path.isEmpty {
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o001 == 0 { out.append(path) }
            path = (path as NSString).deletingLastPathComponent
        }
        return out
    }
}
