import Foundation

/// Privilege escalation as Ansible spells it (`become`, `become_user`, `become_method`,
/// `become_flags`), as written on a playbook, a step, a check, or a host's inventory variables.
/// Every field is optional: what a level leaves out is taken from the level below it
/// (step or check → playbook → the host's `ansible_become*` variables → off, root, sudo).
public struct BecomeSetting: Sendable, Equatable {
    public var enabled: Bool?
    public var user: String?
    public var method: BecomeMethod?
    public var flags: String?

    public init(enabled: Bool? = nil, user: String? = nil, method: BecomeMethod? = nil, flags: String? = nil) {
        self.enabled = enabled; self.user = user; self.method = method; self.flags = flags
    }

    public var isEmpty: Bool { enabled == nil && user == nil && method == nil && flags == nil }

    /// Each field from `self`, or else from `below`.
    public func over(_ below: BecomeSetting) -> BecomeSetting {
        BecomeSetting(enabled: enabled ?? below.enabled, user: user ?? below.user,
                      method: method ?? below.method, flags: flags ?? below.flags)
    }

    /// What a command runs as: nil when become is off.
    public var resolved: Become? {
        guard enabled == true else { return nil }
        return Become(user: user ?? "root", method: method ?? .sudo, flags: flags)
    }
}

public enum BecomeMethod: String, Sendable, Equatable, Codable, CaseIterable {
    case sudo, su
}

/// How one command is run with another user's privileges. Carries no password: the transport
/// takes it from the host's connection (`ansible_become_password`) or the operator (`-K`).
public struct Become: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public var user: String
    public var method: BecomeMethod
    public var flags: String?

    public init(user: String = "root", method: BecomeMethod = .sudo, flags: String? = nil) {
        self.user = user; self.method = method; self.flags = flags
    }

    /// `sudo → root`.
    public var description: String { "\(method.rawValue) → \(user)" }

    /// Sudo's prompt for this command: unique per command, so it cannot be confused with
    /// anything the host prints, and answered only when it is seen.
    public static func prompt(nonce: String) -> String { "[firedrill-become-\(nonce)] password: " }

    /// `command` run through sudo: the password (if sudo asks) is read from standard input after
    /// the unique prompt, never from the command line; `-H` gives the target user's HOME.
    public func wrap(_ command: String, prompt: String) -> String {
        let flagText = flags.map { " " + $0 } ?? " -H"
        return "sudo -S -p \(ShellQuoting.quote(prompt))\(flagText) -u \(ShellQuoting.quote(user)) -- sh -c \(ShellQuoting.quote(command))"
    }

    /// Characters a user name may have (POSIX portable names; what useradd accepts).
    public static func isValidUser(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.first != "-"
            && s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-$".unicodeScalars.contains($0) }
    }

    /// Flags that change what sudo does with its input or prompt are ours to set.
    /// Whether flags hold shell characters (they go on sudo's command line as words).
    public static func hasShellCharacters(_ flags: String) -> Bool {
        flags.contains(where: { "\n\r;&|`$<>()".contains($0) })
    }

    public static func refusedFlag(in flags: String) -> String? {
        let words = flags.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let reserved: Set<String> = ["-S", "--stdin", "-p", "--prompt", "-u", "--user", "-A", "--askpass", "-b", "--background", "-e", "--edit", "-l", "--list", "-s", "--shell", "-i", "--login", "-v", "--validate", "-k", "-K"]
        return words.first { reserved.contains($0) || $0.hasPrefix("--prompt=") || $0.hasPrefix("--user=") }
    }
}

/// What sudo said when it did not run the command, read from its output before the command's own.
public enum BecomeFailure: Sendable, Equatable {
    /// It asked for a password and none was given.
    case passwordRequired
    /// It asked again after the password was given.
    case wrongPassword
    /// The user may not run commands as the target (not in sudoers, or not for that user).
    case notAllowed(String)
    /// sudoers says `requiretty`.
    case requiresTTY
    /// sudo is not on the host.
    case notInstalled
    /// Anything else sudo said.
    case other(String)

    /// Classifies sudo's message (its standard error before the command started).
    public static func classify(_ text: String) -> BecomeFailure {
        let lower = text.lowercased()
        if lower.contains("you must have a tty") || lower.contains("no tty present") || lower.contains("a terminal is required") {
            return .requiresTTY
        }
        if lower.contains("a password is required") || lower.contains("no password was provided") { return .passwordRequired }
        if lower.contains("incorrect password") || lower.contains("sorry, try again") { return .wrongPassword }
        if lower.contains("not in the sudoers") || lower.contains("is not allowed to") || lower.contains("may not run sudo") {
            let line = text.split(whereSeparator: \.isNewline).first { $0.lowercased().contains("sudoers") || $0.lowercased().contains("not allowed") || $0.lowercased().contains("may not") }
            return .notAllowed(line.map { String($0).trimmingCharacters(in: .whitespaces) } ?? "not allowed")
        }
        if lower.contains("sudo: not found") || lower.contains("sudo: command not found") || lower.contains("sudo: no such file") {
            return .notInstalled
        }
        return .other(text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "sudo failed")
    }

    /// One line for the operator: what is wrong and what to do, for `login` on `host`.
    public func explain(login: String, host: String, become: Become) -> (message: String, hint: String) {
        switch self {
        case .passwordRequired:
            return ("\(login) cannot sudo on \(host): a password is required",
                    "pass -K (--ask-become-pass) or --become-password-file FILE, or set ansible_become_password (from a vault) for the host")
        case .wrongPassword:
            return ("\(login) cannot sudo on \(host): the become password was refused",
                    "check the password given with -K/--become-password-file or ansible_become_password; nothing was run")
        case let .notAllowed(line):
            return ("\(login) cannot sudo to \(become.user) on \(host): \(line)",
                    "add a sudoers rule for \(login) on the host (visudo), or set ansible_user to an account that has one")
        case .requiresTTY:
            return ("\(login) cannot sudo on \(host): sudoers requires a terminal (requiretty)",
                    "Firedrill runs commands without a terminal; add 'Defaults:\(login) !requiretty' to the host's sudoers")
        case .notInstalled:
            return ("sudo is not installed on \(host)", "install sudo on the host, or log in as \(become.user) (ansible_user) without become")
        case let .other(line):
            return ("\(login) cannot sudo on \(host): \(line)", "run `sudo -u \(become.user) true` as \(login) on the host to see why")
        }
    }
}
