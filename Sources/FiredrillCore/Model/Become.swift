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
    /// Where `flags` was written (a playbook, step or check), for an error about them once the
    /// method they go with is known.
    public var flagsAt: SourceLocation?

    public init(enabled: Bool? = nil, user: String? = nil, method: BecomeMethod? = nil, flags: String? = nil, flagsAt: SourceLocation? = nil) {
        self.enabled = enabled; self.user = user; self.method = method; self.flags = flags; self.flagsAt = flagsAt
    }

    public var isEmpty: Bool { enabled == nil && user == nil && method == nil && flags == nil }

    /// Each field from `self`, or else from `below`.
    public func over(_ below: BecomeSetting) -> BecomeSetting {
        BecomeSetting(enabled: enabled ?? below.enabled, user: user ?? below.user,
                      method: method ?? below.method, flags: flags ?? below.flags, flagsAt: flags != nil ? flagsAt : below.flagsAt)
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

    /// `command` run as `user`, as Ansible runs it (from / when the current folder is closed to
    /// `user`), with the password (if one is asked for) read
    /// from standard input, never from the command line:
    /// - sudo: `sudo -S -p PROMPT -H -u USER -- sh -c CMD`; the prompt is unique to the command,
    ///   `-H` gives the target user's HOME (become_flags replace `-H`);
    /// - su: `su FLAGS USER -c 'sh -c CMD'`; su cannot be given a prompt, so its own (`Password:`)
    ///   is recognised (`BecomeExchange`). util-linux su (Debian, Ubuntu, RHEL, SUSE) reads the
    ///   password from its input without a terminal; an su that insists on one says so and is
    ///   reported as such.
    public func wrap(_ command: String, prompt: String) -> String {
        // The login's folder (a home closed to others, such as /root) may be one the target
        // user cannot enter; then the command starts in / (else psql and pg_ctl complain).
        let command = "[ -x . ] || cd /; " + command
        switch method {
        case .sudo:
            let flagText = flags.map { " " + $0 } ?? " -H"
            return "sudo -S -p \(ShellQuoting.quote(prompt))\(flagText) -u \(ShellQuoting.quote(user)) -- sh -c \(ShellQuoting.quote(command))"
        case .su:
            let flagText = flags.map { " " + $0 } ?? ""
            return "su\(flagText) \(ShellQuoting.quote(user)) -c \(ShellQuoting.quote("sh -c " + ShellQuoting.quote(command)))"
        }
    }

    /// Characters a user name may have (POSIX portable names; what useradd accepts).
    public static func isValidUser(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.first != "-"
            && s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-$".unicodeScalars.contains($0) }
    }

    /// Whether flags hold anything but words of options: they go on the host's command line as
    /// they are, so a quote, `#`, `;` or `$` would change what runs (`su # x` is an interactive su).
    public static func hasShellCharacters(_ flags: String) -> Bool {
        !flags.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || " \t-=_./,:@+".unicodeScalars.contains($0) }
    }

    /// A word of `flags` that cannot be given to `method`, and why: an option Firedrill sets
    /// itself (how the password is read, who the user is, what runs) or that would make it wait
    /// on a terminal; or a word that is not an option (sudo would run it, su would become it).
    /// Read as getopt reads them: short options bundled (`-Hi` is `-H -i`), long ones by any
    /// prefix (`--pt` is `--pty`), and an option's value (`-s /bin/sh`) skipped.
    public static func refusedFlag(in flags: String, method: BecomeMethod) -> (word: String, reason: String)? {
        let words = flags.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let reservedShort: Set<Character>, withValueShort: Set<Character>
        let reservedLong: [String], withValueLong: [String]
        switch method {
        case .sudo:
            reservedShort = ["S", "p", "u", "A", "b", "e", "l", "s", "i", "v", "k", "K", "V"]
            withValueShort = ["g", "C", "D", "h", "r", "t", "T", "U"]
            reservedLong = ["stdin", "prompt", "user", "askpass", "background", "edit", "list", "shell", "login", "validate",
                            "reset-timestamp", "remove-timestamp", "help", "version"]
            withValueLong = ["group", "close-from", "chdir", "host", "role", "type", "command-timeout", "other-user"]
        case .su:
            reservedShort = ["c", "P", "h", "V"]
            withValueShort = ["s", "g", "G", "w"]
            reservedLong = ["command", "session-command", "pty", "help", "version"]
            withValueLong = ["shell", "group", "supp-group", "whitelist-environment"]
        }
        let own = "which Firedrill sets itself for \(method.rawValue)"
        var valueOf: String?
        for w in words {
            if valueOf != nil { valueOf = nil; continue }
            if w == "-" && method == .su { continue }
            guard w.hasPrefix("-"), w != "--" else {
                return (w, method == .su ? "which is not an option: su would take it as the user to become" : "which is not an option: sudo would run it as the command")
            }
            if w.hasPrefix("--") {
                let name = String(w.dropFirst(2).prefix { $0 != "=" })
                if reservedLong.contains(where: { $0.hasPrefix(name) }) { return (w, own) }
                if !w.contains("="), withValueLong.contains(where: { $0.hasPrefix(name) }) { valueOf = w }
                continue
            }
            let letters = Array(w.dropFirst())
            for (i, ch) in letters.enumerated() {
                if reservedShort.contains(ch) { return (w, own) }
                if withValueShort.contains(ch) {
                    if i == letters.count - 1 { valueOf = w }
                    break
                }
            }
        }
        if let valueOf { return (valueOf, "whose value is missing: the next word on the command line would be taken for it") }
        return nil
    }
}

/// What sudo or su said when it did not run the command, read from its output before the command's own.
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
    /// su: the target account's shell runs no command (`nologin`).
    case noShell
    /// Anything else sudo said.
    case other(String)

    /// Classifies what sudo or su said (its standard error before the command started).
    public static func classify(_ text: String, method: BecomeMethod = .sudo) -> BecomeFailure {
        let lower = text.lowercased()
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if lower.contains("you must have a tty") || lower.contains("no tty present") || lower.contains("a terminal is required")
            || lower.contains("must be run from a terminal") {
            return .requiresTTY
        }
        if lower.contains("\(method.rawValue): not found") || lower.contains("\(method.rawValue): command not found") || lower.contains("\(method.rawValue): no such file") {
            return .notInstalled
        }
        switch method {
        case .sudo:
            if lower.contains("a password is required") || lower.contains("no password was provided") { return .passwordRequired }
            if lower.contains("incorrect password") || lower.contains("sorry, try again") { return .wrongPassword }
            if lower.contains("not in the sudoers") || lower.contains("is not allowed to") || lower.contains("may not run sudo") {
                let line = lines.first { $0.lowercased().contains("sudoers") || $0.lowercased().contains("not allowed") || $0.lowercased().contains("may not") }
                return .notAllowed(line ?? "not allowed")
            }
        case .su:
            // util-linux su: a refused password, and pam_wheel or a missing account.
            if lower.contains("authentication failure") || lower.contains("incorrect password") { return .wrongPassword }
            if let line = lines.first(where: { $0.lowercased().contains("permission denied") || $0.lowercased().contains("does not exist") }) {
                return .notAllowed(line)
            }
        }
        return .other(lines.first ?? "\(method.rawValue) failed")
    }

    /// One line for the operator: what is wrong and what to do, for `login` on `host`.
    public func explain(login: String, host: String, become: Become) -> (message: String, hint: String) {
        let verb = become.method.rawValue
        let passwordSource = "-K/--become-password-file or ansible_become_password"
        switch (self, become.method) {
        case (.passwordRequired, _):
            return ("\(login) cannot \(verb) on \(host): a password is required",
                    "pass -K (--ask-become-pass) or --become-password-file FILE, or set ansible_become_password for the host"
                        + (become.method == .su ? "; su asks for \(become.user)'s password" : ""))
        case (.wrongPassword, .sudo):
            return ("\(login) cannot sudo on \(host): the become password was refused",
                    "check the password given with \(passwordSource); nothing was run")
        case (.wrongPassword, .su):
            return ("\(login) cannot su to \(become.user) on \(host): the become password was refused",
                    "su asks for \(become.user)'s password (not \(login)'s): check the one given with \(passwordSource); nothing was run")
        case let (.notAllowed(line), .sudo):
            return ("\(login) cannot sudo to \(become.user) on \(host): \(line)",
                    "add a sudoers rule for \(login) on the host (visudo), or set ansible_user to an account that has one")
        case let (.notAllowed(line), .su):
            return ("\(login) cannot su to \(become.user) on \(host): \(line)",
                    "check that \(become.user) exists on the host and that \(login) may use su (pam_wheel: the wheel or sudo group)")
        case (.requiresTTY, .sudo):
            return ("\(login) cannot sudo on \(host): sudoers requires a terminal (requiretty)",
                    "Firedrill runs commands without a terminal; add 'Defaults:\(login) !requiretty' to the host's sudoers")
        case (.requiresTTY, .su):
            return ("\(login) cannot su to \(become.user) on \(host): this su reads the password only from a terminal",
                    "Firedrill runs commands without one, and util-linux su does not need it; use become_method: sudo on this host")
        case (.noShell, _):
            return ("\(login) cannot su to \(become.user) on \(host): \(become.user)'s shell runs no command (nologin)",
                    login == "root" ? "give su a shell: become_flags: \"-s /bin/sh\"" : "su gives another shell only to root; use become_method: sudo for \(become.user), or log in as root")
        case (.notInstalled, _):
            return ("\(verb) is not installed on \(host)", "install \(verb) on the host, or log in as \(become.user) (ansible_user) without become")
        case let (.other(line), _):
            return ("\(login) cannot \(verb)\(become.method == .su ? " to \(become.user)" : "") on \(host): \(line)",
                    become.method == .sudo ? "run `sudo -u \(become.user) true` as \(login) on the host to see why"
                        : "run `su \(become.user) -c true` as \(login) on the host to see why")
        }
    }
}
