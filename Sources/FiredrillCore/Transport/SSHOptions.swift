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
    /// The operator's passwords (`--ask-pass`, `-K`, `--become-password-file`): used for a host
    /// whose inventory gives none.
    public var passwords = HostCredentials()
    /// How commands reach hosts (`--executor`): the resident executor where it can run, or one
    /// channel per command.
    public var executor: ExecutorMode = .auto

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

/// Wraps a command so that the host reports its process group, enforces the timeout itself,
/// gives the command no input, and says when the command itself ended.
///
/// GNU `timeout` (coreutils) puts itself in its own process group and, when the time is up,
/// signals the whole group (SIGTERM, then SIGKILL `grace` later); the `echo $$` before `exec`
/// tells us that group's id so a cancelled command can be killed (`kill -KILL -PGID`) from a
/// second channel. `FIREDRILL_CMD` in the environment proves, later, that a process is ours:
/// every process the command starts inherits it, also a daemon that left its process group.
///
/// The command runs with standard input closed (end of input at once: a `read` or `cat` does
/// not wait for its timeout). When it ends, the shell says so on stderr (`FIREDRILL-END-TAG=N`)
/// before its output closes: a command that leaves a daemon holding its output open (`nohup
/// … &`) has still ended, and the controller takes its status after a short grace for output
/// (`outputGrace`) instead of waiting for the output to close.
enum RemoteCommand {
    static let pgidMarker = "FIREDRILL-PGID="

    /// How long output may still come after the command said it ended.
    public static let outputGrace: Duration = .seconds(1)

    /// The line the command's shell writes on stderr as it exits.
    static func endMarker(tag: String) -> String { "FIREDRILL-END-\(tag)=" }

    /// The shell that runs the command: no input, the end said on stderr (`$?` at exit).
    static func inner(tag: String) -> String {
        "exec </dev/null; trap 'printf \"\\n\(endMarker(tag: tag))%d\\n\" \"$?\" >&2' EXIT; eval \"$1\""
    }

    static func wrap(_ command: String, timeout: Duration, grace: Duration, tag: String) -> String {
        let secs = max(1, Int((DurationText.seconds(timeout)).rounded(.up)))
        let kill = max(1, Int(DurationText.seconds(grace).rounded(.up)))
        return "echo \(pgidMarker)$$ >&2; FIREDRILL_CMD=\(tag); export FIREDRILL_CMD; exec timeout -k \(kill) \(secs) sh -c \(ShellQuoting.quote(inner(tag: tag))) firedrill \(ShellQuoting.quote(command))"
    }

    static func kill(pgid: Int32) -> String {
        "kill -TERM -\(pgid) 2>/dev/null; sleep 0.2; kill -KILL -\(pgid) 2>/dev/null; true"
    }

    /// A shell function, `scan`, that finds every live process carrying the tag in its
    /// environment (zombies do not count), from /proc only (no ps on minimal hosts): `pids` and
    /// their `groups`, `fresh` (how many are not stopped), and across calls `n` (how many were
    /// ever found) and `shown` (the first 20 as `PID(name)`).
    static func scanTagged(_ tag: String) -> String {
        """
        t=\(tag); all=; shown=; n=0; \
        scan() { pids=; groups=; fresh=0; names=; \
        for d in /proc/[0-9]*; do \
        read -r line 2>/dev/null < "$d/stat" || continue; \
        c=${line#*(}; c=${c%%)*}; \
        set -- ${line##*) }; \
        [ "$1" != Z ] || continue; \
        if tr '\\0' '\\n' 2>/dev/null < "$d/environ" | grep -qx "FIREDRILL_CMD=$t"; then \
        p=${d#/proc/}; pids="$pids $p"; groups="$groups $3"; names="$names $p($c)"; [ "$1" = T ] || fresh=$((fresh+1)); \
        case " $all " in *" $p "*) ;; *) all="$all $p"; n=$((n+1)); [ $n -le 20 ] && shown="$shown $p($c)";; esac; \
        fi; done; };
        """
    }

    /// Stops what a command left running (a runner that died, a lost connection, a timeout, an
    /// interrupt): every live process that carries the command's tag in its environment, with its
    /// whole process group. Tagged processes are first stopped (SIGSTOP, again until none is left
    /// running: a loop that keeps starting daemons cannot outrun the sweep), then sent SIGTERM
    /// (and SIGCONT, so they can act on it), and half a second later what is left SIGKILL.
    /// Prints `killed N PID(name) …`, plus `survived PID(name) …` for what still runs after that
    /// (a process stuck in the kernel), or `gone` when nothing carries the tag any more. A
    /// process group id that now belongs to something else is never touched: only tagged
    /// processes, and their groups, are signalled.
    public static func stopLeftover(_ p: RemoteProcess) -> String {
        scanTagged(p.tag) + """
         freeze() { i=0; scan; while [ "$fresh" -gt 0 ] && [ $i -lt 20 ]; do for p in $pids; do kill -STOP $p 2>/dev/null; done; i=$((i+1)); scan; done; }; \
        freeze; \
        if [ -z "$pids" ]; then echo gone; else \
        for g in $groups; do kill -TERM -$g 2>/dev/null; kill -CONT -$g 2>/dev/null; done; \
        for p in $pids; do kill -TERM $p 2>/dev/null; kill -CONT $p 2>/dev/null; done; sleep 0.5; \
        freeze; for g in $groups; do kill -KILL -$g 2>/dev/null; done; for p in $pids; do kill -KILL $p 2>/dev/null; done; \
        sleep 0.1; scan; \
        more=; [ $n -gt 20 ] && more=" and $((n-20)) more"; \
        echo "killed $n$shown$more"; [ -z "$pids" ] || echo "survived$names"; fi
        """
    }

    /// Names what a command that ended left running, without touching it: `running PID(name) …`,
    /// or `gone`.
    public static func listLeftover(_ tag: String) -> String {
        scanTagged(tag) + """
         scan; more=; [ $n -gt 20 ] && more=" and $((n-20)) more"; \
        if [ -n "$pids" ]; then echo "running$shown$more"; else echo gone; fi
        """
    }
}
