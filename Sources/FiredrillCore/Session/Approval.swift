import Foundation
import Crypto

/// A signed approval of a drill (four eyes): someone other than the operator approves running
/// *this* playbook (its SHA-256, with its includes) against *this* inventory (its SHA-256),
/// with this `--limit`, within a window. `firedrill approve` writes it as `NAME.approval.json`
/// and signs it into `NAME.approval.json.sig` as `ssh-keygen -Y sign -n firedrill-approval`
/// does; `run` (and `due --run`) refuses a drill that requires approval without a valid one,
/// and records the approval — document and signature — in `run_started`. docs/approval.md.
public struct Approval: Sendable, Codable, Equatable {
    public static let format = "firedrill.approval/1"
    public static let namespace = "firedrill-approval"
    public static let suffix = ".approval.json"

    public var format = Approval.format
    public var drill: String
    public var service: String
    /// The playbook as the approver named it (for people; the hash is what binds).
    public var playbook: String
    public var playbookSHA256: String
    public var inventory: [String]
    public var inventorySHA256: String
    /// The `--limit` approved; nil: every host of the playbook.
    public var limit: String?
    /// The `-e` variables approved: their names, and a SHA-256 over names and values (values
    /// are not written: one may be sensitive). nil (and an empty list): none.
    public var extraVars: [String]? = nil
    public var extraVarsSHA256: String? = nil
    public var window: Window
    public var ticket: String?
    /// The principal of the approver's key in the allowed signers file (`alice@example.org`).
    public var approver: String
    public var approvedAt: String

    public struct Window: Sendable, Codable, Equatable {
        /// ISO 8601 UTC.
        public var from: String
        public var until: String
        public init(from: Date, until: Date) { self.from = Journal.timestamp(from); self.until = Journal.timestamp(until) }
        public var fromDate: Date? { Journal.date(from) }
        public var untilDate: Date? { Journal.date(until) }
    }

    enum CodingKeys: String, CodingKey {
        case format, drill, service, playbook, playbookSHA256 = "playbook_sha256", inventory, inventorySHA256 = "inventory_sha256"
        case limit, extraVars = "extra_vars", extraVarsSHA256 = "extra_vars_sha256", window, ticket, approver, approvedAt = "approved_at"
    }

    /// SHA-256 of `-e` variables (sorted `name=value` lines, values as JSON); nil for none.
    public static func extraVarsHash(_ vars: [String: VarValue]) -> String? {
        guard !vars.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let lines = vars.keys.sorted().map { k in k + "=" + ((try? encoder.encode(vars[k]!)).map { String(decoding: $0, as: UTF8.self) } ?? "") }
        return Hex.string(SHA256.hash(data: Data(lines.joined(separator: "\n").utf8)))
    }

    public init(drill: String, service: String, playbook: String, playbookSHA256: String, inventory: [String], inventorySHA256: String,
                limit: String?, window: Window, ticket: String?, approver: String, approvedAt: Date) {
        self.drill = drill; self.service = service; self.playbook = playbook; self.playbookSHA256 = playbookSHA256
        self.inventory = inventory; self.inventorySHA256 = inventorySHA256; self.limit = limit; self.window = window
        self.ticket = ticket; self.approver = approver; self.approvedAt = Journal.timestamp(approvedAt)
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}

// MARK: - What requires approval

/// One rule a drill's approval must meet: whose signatures count (an allowed signers file) and,
/// when listed, which of them may approve. A playbook's `approval:` is one; a policy in the
/// configuration file for the playbook's criticality is another; an approval must meet both.
public struct ApprovalRequirement: Sendable, Equatable {
    /// The allowed signers file (OpenSSH's format), absolute or relative to the working folder.
    public var allowedSigners: String
    /// Principals who may approve; empty: anyone in the allowed signers file.
    public var approvers: [String]
    /// Where the rule comes from, in words (`the playbook's approval (ehr.yml:12:1)`).
    public var source: String

    public init(allowedSigners: String, approvers: [String], source: String) {
        self.allowedSigners = allowedSigners; self.approvers = approvers; self.source = source
    }

    /// The rules for `playbook` under `policy`; empty when nothing requires approval. A rule
    /// without an allowed signers file is an error (exit 2): nobody's signature could count.
    public static func rules(for playbook: Playbook, policy: ApprovalPolicy?) throws(CommandError) -> [ApprovalRequirement] {
        var rules: [ApprovalRequirement] = []
        if let a = playbook.approval, a.required {
            let at = "\(playbook.file):\(a.location.line):\(a.location.column)"
            guard let signers = a.allowedSigners ?? policy?.allowedSigners else {
                throw CommandError("\(at): the playbook requires approval but names no allowed signers file",
                                   hint: "add 'allowed_signers: FILE' under approval: (OpenSSH's format: 'alice@example.org ssh-ed25519 AAAA…'), or set it in the configuration file")
            }
            rules.append(ApprovalRequirement(allowedSigners: signers, approvers: a.approvers, source: "the playbook's approval (\(at))"))
        }
        if let policy, policy.requireFor.contains(playbook.criticality) {
            rules.append(ApprovalRequirement(allowedSigners: policy.allowedSigners, approvers: policy.approvers,
                                             source: "the approval policy in \(policy.file) for \(playbook.criticality.rawValue) services"))
        }
        for rule in rules where !FileManager.default.isReadableFile(atPath: rule.allowedSigners) {
            throw CommandError("the allowed signers file \(rule.allowedSigners), named by \(rule.source), does not exist or cannot be read",
                               hint: "one line per approver: 'alice@example.org ssh-ed25519 AAAA…' (ssh-keygen(1), ALLOWED SIGNERS)")
        }
        for rule in rules {
            if let problem = allowedSignersProblem(rule.allowedSigners) {
                throw CommandError("\(problem) (the allowed signers file named by \(rule.source))",
                                   hint: "one line per approver: 'alice@example.org ssh-ed25519 AAAA…' (ssh-keygen(1), ALLOWED SIGNERS); lines starting with # are comments")
            }
        }
        return rules
    }

    /// Why `path` is not an allowed signers file ssh-keygen can use — `FILE:LINE: what` — or
    /// nil. A FIFO or a device would hang ssh-keygen; a line it cannot read would blame every
    /// signature instead of the file.
    static func allowedSignersProblem(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return "\(path) is not a file" }
        guard st.st_size <= 1 << 20, let data = FileManager.default.contents(atPath: path) else { return "\(path) is larger than 1 MB" }
        guard let text = String(data: data, encoding: .utf8) else { return "\(path) is not text" }
        var keys = 0
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let at = "\(path):\(i + 1)"
            if TerminalText.safe(line) != line { return "\(at): the line holds control or invisible characters" }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            // PRINCIPALS [OPTIONS] KEYTYPE BASE64 [COMMENT]: the key type is the first field after
            // the principals that names one.
            guard let k = fields.indices.dropFirst().first(where: { ["ssh-", "ecdsa-", "sk-"].contains(where: fields[$0].hasPrefix) }),
                  k + 1 < fields.count, fields[k + 1].count >= 16,
                  fields[k + 1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+/=".contains($0)) }) else {
                return "\(at): not PRINCIPALS [OPTIONS] KEYTYPE BASE64 (no key type such as ssh-ed25519 followed by the key)"
            }
            keys += 1
        }
        return keys == 0 ? "\(path) names nobody (no key in it)" : nil
    }
}

// MARK: - Deciding

/// Whether an approval lets this drill run now: pure, so every refusal is a unit test.
public enum ApprovalCheck {
    /// What is being run.
    public struct Scope: Sendable, Equatable {
        public var service: String
        public var playbookSHA256: String
        public var inventorySHA256: String
        public var limit: String?
        public var `operator`: String
        /// `Approval.extraVarsHash` of the run's `-e` variables, and their names.
        public var extraVarsSHA256: String?
        public var extraVars: [String]
        public init(service: String, playbookSHA256: String, inventorySHA256: String, limit: String?, operator: String,
                    extraVars: [String: VarValue] = [:]) {
            self.service = service; self.playbookSHA256 = playbookSHA256; self.inventorySHA256 = inventorySHA256; self.limit = limit
            self.operator = `operator`
            self.extraVarsSHA256 = Approval.extraVarsHash(extraVars)
            self.extraVars = extraVars.keys.sorted()
        }
    }

    /// An approval file as found: its document (nil with `unreadable` when it is not one) and
    /// its signature checked against each rule's allowed signers, in the rules' order.
    public struct Candidate: Sendable, Equatable {
        public var path: String
        public var approval: Approval?
        public var unreadable: String?
        public var signatures: [SSHSignature.Check]
        /// The bytes that were parsed and checked: the document and its signature.
        public var document: Data
        public var signature: Data
        public init(path: String, approval: Approval?, unreadable: String? = nil, signatures: [SSHSignature.Check],
                    document: Data = Data(), signature: Data = Data()) {
            self.path = path; self.approval = approval; self.unreadable = unreadable; self.signatures = signatures
            self.document = document; self.signature = signature
        }
    }

    /// Why `c` does not let the drill run, or nil when it does.
    public static func problem(_ c: Candidate, rules: [ApprovalRequirement], scope: Scope, now: Date) -> String? {
        guard let a = c.approval else { return c.unreadable ?? "not an approval" }
        if a.format != Approval.format { return "it is \(a.format), not \(Approval.format)" }
        for (rule, sig) in zip(rules, c.signatures) where sig.problem != nil || sig.good == nil {
            return "its signature does not count for \(rule.source): \(sig.problem ?? "not verified")"
        }
        if c.signatures.count < rules.count { return "its signature was not checked against every rule" }
        for rule in rules where !rule.approvers.isEmpty && !rule.approvers.contains(where: { same($0, a.approver) }) {
            return "\(a.approver) is not an approver under \(rule.source) (approvers: \(rule.approvers.joined(separator: ", ")))"
        }
        if isOperator(a.approver, scope.operator) {
            return "it was approved by \(a.approver), who is running the drill (\(scope.operator)): four eyes need someone else"
        }
        if a.service != scope.service { return "it approves a drill of \(a.service), not \(scope.service)" }
        if a.playbookSHA256 != scope.playbookSHA256 {
            return "it approves another version of the playbook (SHA-256 \(a.playbookSHA256.prefix(12))…; this one is \(scope.playbookSHA256.prefix(12))…)"
        }
        if a.inventorySHA256 != scope.inventorySHA256 {
            return "it approves another inventory (SHA-256 \(a.inventorySHA256.prefix(12))…; this one is \(scope.inventorySHA256.prefix(12))…)"
        }
        if a.limit != scope.limit {
            return "it approves \(a.limit.map { "--limit \($0)" } ?? "every host") and this run asks for \(scope.limit.map { "--limit \($0)" } ?? "every host")"
        }
        if a.extraVarsSHA256 != scope.extraVarsSHA256 {
            let approved = (a.extraVars ?? []).isEmpty ? "no -e variables" : "-e " + (a.extraVars ?? []).joined(separator: ", ")
            let given = scope.extraVars.isEmpty ? "none" : "-e " + scope.extraVars.joined(separator: ", ")
            return "it approves \(approved) and this run gives \(given)\(approved == "-e " + scope.extraVars.joined(separator: ", ") ? " with other values" : "")"
        }
        guard let from = a.window.fromDate, let until = a.window.untilDate else { return "its window \(a.window.from)..\(a.window.until) is not two times" }
        if now < from { return "its window opens at \(a.window.from)" }
        if now >= until { return "its window closed at \(a.window.until)" }
        return nil
    }

    /// The first candidate that lets the drill run, or every candidate's problem.
    public static func decide(_ candidates: [Candidate], rules: [ApprovalRequirement], scope: Scope, now: Date)
        -> Result<Candidate, Refusal> {
        var problems: [(String, String)] = []
        for c in candidates {
            if let p = problem(c, rules: rules, scope: scope, now: now) { problems.append((c.path, p)) } else { return .success(c) }
        }
        return .failure(Refusal(problems: problems))
    }

    public struct Refusal: Error, Sendable, Equatable {
        public var problems: [(path: String, why: String)]
        public static func == (a: Refusal, b: Refusal) -> Bool { a.problems.map { "\($0.path)\0\($0.why)" } == b.problems.map { "\($0.path)\0\($0.why)" } }
    }

    /// Principals compare without case (`Alice@Example.org` is `alice@example.org`).
    static func same(_ a: String, _ b: String) -> Bool { a.lowercased() == b.lowercased() }

    /// The approver is the operator when the principal is the operator's login name, or its
    /// part before `@` is (`jdoe@hospital.org` runs as `jdoe`).
    static func isOperator(_ approver: String, _ op: String) -> Bool {
        let local = approver.split(separator: "@", maxSplits: 1).first.map(String.init) ?? approver
        return same(approver, op) || same(local, op)
    }
}

// MARK: - Windows

extension Approval.Window {
    /// `FROM..UNTIL`, each a date (`2026-12-05`: the whole day) or a time (`2026-12-05T02:00`,
    /// `…T02:00:00Z`, `…T02:00+01:00`), read in `zone` when it has no offset; `now` for FROM
    /// and `+DURATION` (`+8h`, `+90d`) for UNTIL. A single date is that day.
    public static func parse(_ text: String, now: Date, zone: TimeZone) -> Result<Approval.Window, CommandError> {
        let hint = "write FROM..UNTIL: dates (2026-12-05..2026-12-06, whole days), times (2026-12-05T02:00..2026-12-05T06:00, in \(zone.identifier) unless they end in Z or +HH:MM), or now..+8h"
        let parts = text.components(separatedBy: "..").map { $0.trimmingCharacters(in: .whitespaces) }
        guard (1...2).contains(parts.count), !parts.contains("") else {
            return .failure(CommandError("the window '\(TerminalText.safe(text))' is not FROM..UNTIL", hint: hint))
        }
        func instant(_ s: String, end: Bool) -> Date? {
            if s == "now", !end { return now }
            if let day = LocalDate(s) { return Zoned.instant(end ? day.adding(days: 1) : day, minutes: 0, in: zone).0 }
            if let d = try? Date.ISO8601FormatStyle().parse(s) { return d }
            if let d = Journal.date(s) { return d }
            // A wall time, in `zone` unless it ends in Z or ±HH:MM.
            let t = s.replacingOccurrences(of: " ", with: "T").split(separator: "T", maxSplits: 1).map(String.init)
            guard t.count == 2, let day = LocalDate(t[0]) else { return nil }
            var clock = t[1]
            var tz = zone
            if clock.hasSuffix("Z") {
                clock.removeLast(); tz = TimeZone(identifier: "UTC")!
            } else if let sign = clock.lastIndex(where: { $0 == "+" || $0 == "-" }) {
                let off = clock[clock.index(after: sign)...].split(separator: ":").map { Int($0) }
                guard (1...2).contains(off.count), let oh = off[0], let om = off.count == 2 ? off[1] : 0, (0...14).contains(oh), (0...59).contains(om),
                      let fixed = TimeZone(secondsFromGMT: (clock[sign] == "-" ? -1 : 1) * (oh * 3600 + om * 60)) else { return nil }
                tz = fixed
                clock = String(clock[..<sign])
            }
            let hms = clock.split(separator: ":").map { Int($0) }
            guard (2...3).contains(hms.count), let h = hms[0], let m = hms[1], (0...23).contains(h), (0...59).contains(m) else { return nil }
            let sec = hms.count == 3 ? hms[2] : 0
            guard let sec, (0...59).contains(sec) else { return nil }
            return Zoned.instant(day, minutes: h * 60 + m, in: tz).0.addingTimeInterval(Double(sec))
        }
        guard let from = instant(parts[0], end: false) else {
            return .failure(CommandError("the window's start '\(TerminalText.safe(parts[0]))' is not a date or a time", hint: hint))
        }
        let until: Date
        if parts.count == 1 {
            guard let day = LocalDate(parts[0]) else { return .failure(CommandError("a window of one value must be a date (that whole day)", hint: hint)) }
            until = Zoned.instant(day.adding(days: 1), minutes: 0, in: zone).0
        } else if parts[1].hasPrefix("+") {
            guard let d = DurationText.parse(String(parts[1].dropFirst())) else {
                return .failure(CommandError("the window's length '\(TerminalText.safe(parts[1]))' is not a duration", hint: "e.g. now..+8h or 2026-12-05T02:00..+4h"))
            }
            guard DurationText.seconds(d) > 0 else {
                return .failure(CommandError("the window's length \(TerminalText.safe(parts[1])) is empty: it must be longer than 0s", hint: "e.g. now..+8h"))
            }
            until = from.addingTimeInterval(DurationText.seconds(d))
        } else {
            guard let u = instant(parts[1], end: true) else {
                return .failure(CommandError("the window's end '\(TerminalText.safe(parts[1]))' is not a date or a time", hint: hint))
            }
            until = u
        }
        if parts.count == 2, let first = LocalDate(parts[0]), let last = LocalDate(parts[1]), last < first {
            return .failure(CommandError("the window's last day (\(last)) is before its first (\(first))", hint: hint))
        }
        guard until != from else {
            return .failure(CommandError("the window is empty: it ends when it starts (\(Journal.timestamp(from)))",
                                         hint: "a window of dates covers whole days: 2026-12-07..2026-12-07 is all of the 7th"))
        }
        guard until > from else {
            return .failure(CommandError("the window ends (\(Journal.timestamp(until))) before it starts (\(Journal.timestamp(from)))", hint: hint))
        }
        guard until.timeIntervalSince(from) <= 400 * 86400 else {
            return .failure(CommandError("the window is longer than 400 days", hint: "a standing approval covers at most a year of drills: approve again when it ends"))
        }
        guard until > now else {
            return .failure(CommandError("the window ended at \(Journal.timestamp(until)): an approval for it could never be used", hint: hint))
        }
        return .success(Approval.Window(from: from, until: until))
    }
}

// MARK: - Files

extension Approval {
    /// Approval files under `paths` (files as given; folders: their `*.approval.json`), each read
    /// and its signature checked against every rule. A folder that does not exist has none.
    public static func candidates(in paths: [String], rules: [ApprovalRequirement]) throws -> [ApprovalCheck.Candidate] {
        let fm = FileManager.default
        var files: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: p, isDirectory: &isDir) else { continue }
            let p = isDir.boolValue && p.count > 1 && p.hasSuffix("/") ? String(p.dropLast()) : p
            if isDir.boolValue {
                files += ((try? fm.contentsOfDirectory(atPath: p)) ?? []).filter { $0.hasSuffix(suffix) && !$0.hasPrefix(".") }.sorted().map { "\(p)/\($0)" }
            } else {
                files.append(p)
            }
        }
        // Each file and its signature are read once and checked as read (copied to a private
        // folder), so what is verified is what is parsed and recorded.
        let scratch = NSTemporaryDirectory() + "firedrill-approval-\(UUID().uuidString.prefix(8))"
        guard mkdir(scratch, 0o700) == 0 else { throw CommandError("cannot create \(scratch): \(String(cString: strerror(errno)))", exit: .failed) }
        defer { try? fm.removeItem(atPath: scratch) }
        return try files.enumerated().map { i, path in
            func unreadable(_ why: String) -> ApprovalCheck.Candidate { ApprovalCheck.Candidate(path: path, approval: nil, unreadable: why, signatures: []) }
            guard let data = read(path) else { return unreadable("cannot be read as a file (at most 1 MB)") }
            guard let a = try? JSONDecoder().decode(Approval.self, from: data) else { return unreadable("is not a \(format) document") }
            guard let sig = read(path + ".sig") else { return unreadable("has no signature beside it (\((path as NSString).lastPathComponent).sig)") }
            let copy = "\(scratch)/\(i).approval.json"
            guard fm.createFile(atPath: copy, contents: data), fm.createFile(atPath: copy + ".sig", contents: sig) else {
                throw CommandError("cannot write in \(scratch)", exit: .failed)
            }
            let sigs = try rules.map { try SSHSignature.verify(copy, namespace: namespace, allowedSigners: $0.allowedSigners, identity: a.approver) }
            return ApprovalCheck.Candidate(path: path, approval: a, signatures: sigs, document: data, signature: sig)
        }
    }

    /// A regular file (or a link to one) of at most 1 MB.
    static func read(_ path: String) -> Data? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size < 1 << 20 else { return nil }
        return FileManager.default.contents(atPath: path)
    }

    /// Where `run` looks when no `--approval` is given: `approvals/` beside the playbook.
    public static func defaultFolder(playbook: String) -> String { resolvePath("approvals", relativeTo: playbook) }
}

extension ApprovalRecord {
    /// The record of an approval that was checked: what it says, the key that signed it, the
    /// bytes that were checked.
    public init?(_ c: ApprovalCheck.Candidate) {
        guard let a = c.approval else { return nil }
        self.init(approver: a.approver, key: c.signatures.first?.keyFingerprint, ticket: a.ticket, windowFrom: a.window.from,
                  windowUntil: a.window.until, approvedAt: a.approvedAt, file: RunFacts.absolute(c.path),
                  document: String(decoding: c.document, as: UTF8.self), signature: String(decoding: c.signature, as: UTF8.self))
    }
}
