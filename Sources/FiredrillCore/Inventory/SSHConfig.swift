import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// OpenSSH's client configuration (`~/.ssh/config`, `-F FILE`), read as `ssh` reads it, for
/// the options a drill needs to reach a host the way the team's own `ssh` does.
///
/// - `Host` lines: patterns with `*` and `?`, several per line, `!` negation (a negated match
///   excludes the block even when another pattern matches); matched against the host name
///   exactly as given, never against `HostName`.
/// - The first value obtained for an option wins; `IdentityFile` accumulates.
/// - `Include` (globs; relative to `~/.ssh`), also inside a `Host` block, to 16 levels.
/// - `Match` blocks are not evaluated: they are skipped and warned about (never half-applied).
/// - Keywords are case-insensitive; `Key=Value` and `Key Value` both work; values may be quoted.
///
/// `ssh -G HOST` is the oracle the tests compare with.
public struct SSHConfig: Sendable {
    /// One `Host`/`Match` block (or the lines before the first: `patterns` nil, applies to all).
    struct Block: Sendable {
        var patterns: [String]?
        var isMatch = false
        var options: [(key: String, value: String, location: SourceLocation)] = []
    }

    var blocks: [Block] = []
    /// Things read but not used: `Match` blocks, unknown keywords that matter, unreadable includes.
    public private(set) var warnings: [Diagnostic] = []
    /// Problems that make the file unusable (unreadable file, an `Include` loop).
    public private(set) var errors: [Diagnostic] = []

    /// The options Firedrill uses; others are read and ignored (named by `ignoredOptions`).
    static let understood: Set<String> = [
        "hostname", "user", "port", "identityfile", "identitiesonly", "proxyjump", "proxycommand",
        "userknownhostsfile", "stricthostkeychecking", "connecttimeout", "serveraliveinterval",
    ]

    public init() {}

    /// Reads `path` (and what it includes). A missing file is an empty configuration.
    public static func load(path: String, home: String = FileManager.default.homeDirectoryForCurrentUser.path) -> SSHConfig {
        var config = SSHConfig()
        var depth = 0
        config.read(path: path, home: home, depth: &depth, into: nil)
        return config
    }

    /// Parses text (for tests and for `-F`), includes resolved against `home`.
    public static func parse(_ text: String, file: String = "ssh_config", home: String = FileManager.default.homeDirectoryForCurrentUser.path) -> SSHConfig {
        var config = SSHConfig()
        var depth = 0
        config.readText(text, file: file, home: home, depth: &depth, into: nil)
        return config
    }

    private mutating func read(path: String, home: String, depth: inout Int, into current: Int?) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        guard let data = FileManager.default.contents(atPath: path) else {
            errors.append(.error("cannot read the SSH configuration \(path)", at: SourceLocation(file: path, line: 1, column: 1),
                                 hint: "make it readable, or pass --no-ssh-config"))
            return
        }
        readText(String(decoding: data, as: UTF8.self), file: path, home: home, depth: &depth, into: current)
    }

    /// `into`: the index of the block an `Include` inside it belongs to (its lines apply under
    /// that block's patterns until the included file's own first `Host`).
    private mutating func readText(_ text: String, file: String, home: String, depth: inout Int, into current: Int?) {
        var block = current
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let location = SourceLocation(file: file, line: n + 1, column: 1)
            guard let (key, args) = Self.split(String(raw)) else { continue }
            switch key {
            case "host":
                blocks.append(Block(patterns: args))
                block = blocks.count - 1
            case "match":
                blocks.append(Block(patterns: [], isMatch: true))
                block = blocks.count - 1
                warnings.append(.warning("'Match' blocks in the SSH configuration are not supported: the options under this one are ignored", at: location,
                                         hint: "write the hosts it is for as a 'Host' block, or give the options in the inventory (ansible_ssh_common_args)"))
            case "include":
                depth += 1
                defer { depth -= 1 }
                if depth > 16 {
                    errors.append(.error("'Include' nests more than 16 deep (an include loop?)", at: location))
                    continue
                }
                for pattern in args {
                    var path = Self.expandTilde(pattern, home: home)
                    if !path.hasPrefix("/") { path = home + "/.ssh/" + path }
                    for match in Self.glob(path) { read(path: match, home: home, depth: &depth, into: block) }
                }
            default:
                let value = args.joined(separator: " ")
                if let b = block { blocks[b].options.append((key, value, location)) } else {
                    if blocks.first?.patterns != nil || blocks.isEmpty { blocks.insert(Block(patterns: nil), at: 0); block = 0 }
                    blocks[0].options.append((key, value, location))
                }
            }
        }
    }

    /// `Key Value…` or `Key=Value…` (spaces around `=` allowed), keyword lower-cased, quoted
    /// arguments unquoted (a `ProxyCommand` is kept as written); nil for a blank or comment line.
    static func split(_ line: String) -> (String, [String])? {
        var rest = Substring(line).drop { $0 == " " || $0 == "\t" }
        if rest.isEmpty || rest.first == "#" { return nil }
        let key = rest.prefix { $0 != " " && $0 != "\t" && $0 != "=" && $0 != "\r" }
        rest = rest.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }
        if rest.first == "=" { rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" } }
        // A command is the rest of the line as written (its quotes are the shell's), as ssh reads it.
        if ["proxycommand", "localcommand", "remotecommand", "knownhostscommand"].contains(key.lowercased()) {
            var raw = String(rest)
            while let last = raw.last, last == " " || last == "\t" || last == "\r" { raw.removeLast() }
            return (key.lowercased(), raw.isEmpty ? [] : [raw])
        }
        var words: [String] = []
        var current = ""
        var quoted = false, inWord = false
        for c in rest {
            if quoted {
                if c == "\"" { quoted = false } else { current.append(c) }
                continue
            }
            if c == "\"" { quoted = true; inWord = true; continue }
            // A `#` that starts a word starts a comment (`Host db1 # the primary`).
            if c == "#" && !inWord { break }
            if c == " " || c == "\t" || c == "\r" {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            current.append(c); inWord = true
        }
        if inWord { words.append(current) }
        return (key.lowercased(), words)
    }

    static func expandTilde(_ s: String, home: String) -> String {
        if s == "~" { return home }
        if s.hasPrefix("~/") { return home + s.dropFirst() }
        return s
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
    }

    /// `Host` patterns against a host: some positive pattern matches and no negated one does.
    static func matches(_ patterns: [String], host: String) -> Bool {
        var matched = false
        for p in patterns {
            if p.hasPrefix("!") {
                if wildcard(String(p.dropFirst()), host) { return false }
            } else if wildcard(p, host) {
                matched = true
            }
        }
        return matched
    }

    /// `*` any run, `?` one character (OpenSSH's match_pattern).
    static func wildcard(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) { pi += 1; ti += 1 }
            else if pi < p.count && p[pi] == "*" { star = pi; mark = ti; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; ti = mark }
            else { return false }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// What the configuration says for `host` (as given to `ssh`): each option's first value,
    /// identity files in order.
    /// Patterns are matched against the host exactly as given (as `ssh` does: `DB1` does not
    /// match `Host db1`); the host name it then uses is lower-cased.
    public func resolve(_ host: String) -> Resolved {
        var r = Resolved(host: host.lowercased())
        for b in blocks where !b.isMatch {
            if let p = b.patterns, !Self.matches(p, host: host) { continue }
            for o in b.options {
                if o.key == "identityfile" { r.identityFiles.append(o.value); continue }
                // ProxyJump and ProxyCommand are one setting: whichever comes first wins.
                if (o.key == "proxyjump" && r.values["proxycommand"] != nil) || (o.key == "proxycommand" && r.values["proxyjump"] != nil) { continue }
                if r.values[o.key] == nil { r.values[o.key] = o.value; r.locations[o.key] = o.location }
            }
        }
        return r
    }

    /// Options the configuration sets for `host` that Firedrill does not act on (named in a
    /// warning: never silently dropped).
    public func ignoredOptions(_ host: String) -> [String] {
        resolve(host).values.keys.filter { !Self.understood.contains($0) && !Self.harmless.contains($0) }.sorted()
    }

    /// Options that change nothing about where or as whom a command runs.
    static let harmless: Set<String> = [
        "addkeystoagent", "canonicalizehostname", "checkhostip", "compression", "controlmaster", "controlpath", "controlpersist",
        "forwardagent", "forwardx11", "forwardx11trusted", "hashknownhosts", "loglevel", "preferredauthentications",
        "requesttty", "sendenv", "serveralivecountmax", "tcpkeepalive", "updatehostkeys", "visualhostkey", "usekeychain",
        "pubkeyauthentication", "passwordauthentication", "kbdinteractiveauthentication", "gssapiauthentication",
        "hostkeyalgorithms", "pubkeyacceptedkeytypes", "pubkeyacceptedalgorithms", "ciphers", "macs", "kexalgorithms",
        "batchmode", "setenv", "localforward", "remoteforward", "dynamicforward", "exitonforwardfailure",
    ]

    /// The options for one host, as `ssh -G` would print them (before token expansion, which
    /// `expanded` does).
    public struct Resolved: Sendable, Equatable {
        public var host: String
        var values: [String: String] = [:]
        var locations: [String: SourceLocation] = [:]
        /// `IdentityFile` lines in order, as written.
        public var identityFiles: [String] = []

        public func value(_ key: String) -> String? { values[key.lowercased()] }
        public func location(_ key: String) -> SourceLocation? { locations[key.lowercased()] }

        /// `HostName` with `%h` (the host as given) and `%%` expanded; the host itself when unset.
        public var hostName: String {
            guard let h = values["hostname"] else { return host }
            return h.replacingOccurrences(of: "%%", with: "\u{0}").replacingOccurrences(of: "%h", with: host)
                .replacingOccurrences(of: "\u{0}", with: "%")
        }
        public var user: String? { values["user"] }
        public var port: Int? { values["port"].flatMap(Int.init) }
        public var proxyJump: String? { values["proxyjump"].flatMap { $0.lowercased() == "none" ? nil : $0 } }
        public var proxyCommand: String? { values["proxycommand"].flatMap { $0.lowercased() == "none" ? nil : $0 } }
        public var identitiesOnly: Bool { values["identitiesonly"]?.lowercased() == "yes" }
        public var connectTimeout: Int? { values["connecttimeout"].flatMap(Int.init) }
        public var serverAliveInterval: Int? { values["serveraliveinterval"].flatMap(Int.init) }
        public var strictHostKeyChecking: String? { values["stricthostkeychecking"]?.lowercased() }
        /// Known-hosts files, as written (space-separated list).
        public var userKnownHostsFiles: [String]? { values["userknownhostsfile"].map { $0.split(separator: " ").map(String.init) } }

        /// `%d` home, `%u` local user, `%h` the host name (after `HostName`), `%r` the remote
        /// user, `%p` the port, `%n` the host as given, `%%`, and a leading `~`.
        public func expanded(_ s: String, home: String, localUser: String, remoteUser: String, port: Int) -> String {
            var out = ""
            var i = s.startIndex
            while i < s.endIndex {
                let c = s[i]
                let next = s.index(after: i)
                if c == "%", next < s.endIndex {
                    switch s[next] {
                    case "%": out += "%"
                    case "d": out += home
                    case "u": out += localUser
                    case "h": out += hostName
                    case "r": out += remoteUser
                    case "p": out += String(port)
                    case "n": out += host
                    default: out += "%" + String(s[next])
                    }
                    i = s.index(after: next)
                    continue
                }
                out.append(c)
                i = next
            }
            return SSHConfig.expandTilde(out, home: home)
        }
    }
}

extension SSHConfig {
    /// The configuration a command uses: `FIREDRILL_SSH_CONFIG` (a file, or `none`), else
    /// `~/.ssh/config` when there is one. (`--ssh-config FILE` and `--no-ssh-config` set it.)
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment,
                                home: String = FileManager.default.homeDirectoryForCurrentUser.path) -> SSHConfig? {
        if let chosen = environment["FIREDRILL_SSH_CONFIG"], !chosen.isEmpty {
            if chosen == "none" { return nil }
            var config = SSHConfig.load(path: expandTilde(chosen, home: home), home: home)
            if !FileManager.default.fileExists(atPath: expandTilde(chosen, home: home)) {
                config.errors.append(.error("the SSH configuration \(chosen) does not exist", hint: "give the file with --ssh-config FILE, or --no-ssh-config"))
            }
            return config
        }
        let path = home + "/.ssh/config"
        return FileManager.default.fileExists(atPath: path) ? SSHConfig.load(path: path, home: home) : nil
    }

    /// The `ssh` options in Ansible's `ansible_ssh_common_args`/`ansible_ssh_extra_args`: `-o
    /// Key=Value` (also `-oKey=Value`, `-o "Key Value"`), `-J jump`, `-p port`, `-l user`, `-i
    /// key`; keys lower-cased. What is not understood is returned as it is, to be named.
    public static func commandLineOptions(_ args: String) -> (options: [(key: String, value: String)], unknown: [String]) {
        let words = shellWords(args)
        var options: [(key: String, value: String)] = []
        var unknown: [String] = []
        var i = 0
        func option(_ text: String) {
            guard let (key, values) = split(text), !values.isEmpty else { unknown.append("-o " + text); return }
            options.append((key, values.joined(separator: " ")))
        }
        while i < words.count {
            let w = words[i]
            let next = i + 1 < words.count ? words[i + 1] : nil
            switch w {
            case "-o": if let next { option(next); i += 1 } else { unknown.append(w) }
            case "-J": if let next { options.append(("proxyjump", next)); i += 1 } else { unknown.append(w) }
            case "-p": if let next { options.append(("port", next)); i += 1 } else { unknown.append(w) }
            case "-l": if let next { options.append(("user", next)); i += 1 } else { unknown.append(w) }
            case "-i": if let next { options.append(("identityfile", next)); i += 1 } else { unknown.append(w) }
            default:
                if w.hasPrefix("-o") && w.count > 2 { option(String(w.dropFirst(2))) } else { unknown.append(w) }
            }
            i += 1
        }
        return (options, unknown)
    }

    /// Words as a POSIX shell splits them (quotes and backslashes), which is how Ansible passes
    /// these arguments to `ssh`.
    static func shellWords(_ s: String) -> [String] { shellSplit(s).words }

    /// Whether a quote is left open (Ansible's shlex refuses such arguments).
    public static func hasOpenQuote(_ s: String) -> Bool { shellSplit(s).open }

    static func shellSplit(_ s: String) -> (words: [String], open: Bool) {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in s {
            if escaped { current.append(c); escaped = false; continue }
            if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { current.append(c) }
                continue
            }
            switch c {
            case "'", "\"": quote = c; inWord = true
            case "\\": escaped = true; inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            default: current.append(c); inWord = true
            }
        }
        if inWord { words.append(current) }
        return (words, quote != nil || escaped)
    }
}
