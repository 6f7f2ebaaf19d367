import Foundation

/// How SSH connections are made. Every wait has a finite default.
public struct SSHOptions: Sendable {
    /// known_hosts file host keys are checked against.
    public var knownHostsFile: String
    /// `--known-hosts FILE`: wins over the inventory's UserKnownHostsFile.
    public var knownHostsOverride: String?
    /// Trust and record the key of a host not in known_hosts (trust on first use). A changed key is always refused.
    public var acceptNew: Bool
    /// Deadline for TCP connect + key exchange + authentication.
    public var connectTimeout: Duration
    /// Seconds between SSH keepalives (0 disables).
    public var keepaliveSeconds: Int
    /// Private keys tried, in order, when the host has no `ansible_ssh_private_key_file`.
    public var identityFiles: [String]
    public var useAgent: Bool
    /// The agent's socket (default: $SSH_AUTH_SOCK).
    public var agentSocket: String?
    /// Passphrase for encrypted private keys (from FIREDRILL_KEY_PASSPHRASE).
    public var passphrase: Secret?
    /// User when the inventory names none.
    public var defaultUser: String
    /// After a timeout, how long the host gets to end the command before SIGKILL.
    public var killGrace: Duration

    public init(knownHostsFile: String? = nil, acceptNew: Bool = false, connectTimeout: Duration = .seconds(10),
                keepaliveSeconds: Int = 15, identityFiles: [String]? = nil, useAgent: Bool = true,
                passphrase: Secret? = ProcessInfo.processInfo.environment["FIREDRILL_KEY_PASSPHRASE"].map(Secret.init),
                defaultUser: String? = nil, killGrace: Duration = .seconds(5)) {
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        self.knownHostsFile = knownHostsFile ?? "\(home)/.ssh/known_hosts"
        self.acceptNew = acceptNew
        self.connectTimeout = connectTimeout
        self.keepaliveSeconds = keepaliveSeconds
        self.identityFiles = identityFiles ?? ["\(home)/.ssh/id_ed25519", "\(home)/.ssh/id_ecdsa"]
        self.useAgent = useAgent
        self.agentSocket = ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"].flatMap { $0.isEmpty ? nil : $0 }
        self.passphrase = passphrase
        self.defaultUser = defaultUser ?? CurrentUser.name()
        self.killGrace = killGrace
    }
}

/// Wraps a command so that the host reports its process group and enforces the timeout itself.
///
/// GNU `timeout` (coreutils) puts itself in its own process group and, when the time is up,
/// signals the whole group; the `echo $$` before `exec` tells us that group's id so a
/// cancelled command can be killed (`kill -KILL -PGID`) from a second channel. `FIREDRILL_CMD`
/// in the group leader's environment proves, later, that a group with that id is still ours.
enum RemoteCommand {
    static let pgidMarker = "FIREDRILL-PGID="

    static func wrap(_ command: String, timeout: Duration, grace: Duration, tag: String) -> String {
        let secs = max(1, Int((DurationText.seconds(timeout)).rounded(.up)))
        let kill = max(1, Int(DurationText.seconds(grace).rounded(.up)))
        return "echo \(pgidMarker)$$ >&2; FIREDRILL_CMD=\(tag); export FIREDRILL_CMD; exec timeout -k \(kill) \(secs) sh -c \(ShellQuoting.quote(command))"
    }


    static func kill(pgid: Int32) -> String {
        "kill -TERM -\(pgid) 2>/dev/null; sleep 0.2; kill -KILL -\(pgid) 2>/dev/null; true"
    }

    /// Stops what a runner that died (or lost its connection) left running: every live process
    /// that carries the command's tag in its environment, with its whole process group. Prints
    /// `killed`, or `gone` when nothing carries the tag any more (a process group id that now
    /// belongs to something else is never touched: only tagged processes are looked for). Reads
    /// /proc only (no ps on minimal hosts); zombies do not count as running.
    public static func stopLeftover(_ p: RemoteProcess) -> String {
        """
        t=\(p.tag); groups=; \
        for d in /proc/[0-9]*; do \
        read -r line 2>/dev/null < "$d/stat" || continue; \
        set -- ${line##*) }; \
        [ "$1" != Z ] || continue; \
        if tr '\\0' '\\n' 2>/dev/null < "$d/environ" | grep -qx "FIREDRILL_CMD=$t"; then groups="$groups $3"; fi; \
        done; \
        if [ -n "$groups" ]; then for g in $groups; do kill -TERM -$g 2>/dev/null; done; sleep 0.5; \
        for g in $groups; do kill -KILL -$g 2>/dev/null; done; echo killed; else echo gone; fi
        """
    }
}
