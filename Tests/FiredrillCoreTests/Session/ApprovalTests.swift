import Foundation
import Testing
@testable import FiredrillCore

/// Four eyes as plain logic: which approval lets a drill start, and every reason one does not;
/// the window's syntax; where the rules come from (playbook, configuration policy).
@Suite struct ApprovalTests {
    static let now = Date(timeIntervalSince1970: 1_796_000_000)   // 2026-11-30T00:53:20Z
    static let rule = ApprovalRequirement(allowedSigners: "/a/allowed_signers", approvers: ["alice@hospital.example", "bob@hospital.example"],
                                          source: "the playbook's approval (pb.yml:3:1)")
    static let scope = ApprovalCheck.Scope(service: "ehr-db", playbookSHA256: String(repeating: "a", count: 64), inventorySHA256: String(repeating: "b", count: 64),
                                           limit: nil, operator: "jdoe")
    static let good = SSHSignature.Check(signer: "alice@hospital.example", good: "Good \"firedrill-approval\" signature for alice@hospital.example with ED25519 key SHA256:abc", problem: nil)

    static func approval(_ change: (inout Approval) -> Void = { _ in }) -> Approval {
        var a = Approval(drill: "EHR", service: "ehr-db", playbook: "pb.yml", playbookSHA256: String(repeating: "a", count: 64), inventory: ["inv.yml"],
                         inventorySHA256: String(repeating: "b", count: 64), limit: nil,
                         window: Approval.Window(from: now.addingTimeInterval(-3600), until: now.addingTimeInterval(3600)),
                         ticket: "CHG-1", approver: "alice@hospital.example", approvedAt: now.addingTimeInterval(-7200))
        change(&a)
        return a
    }

    static func candidate(_ a: Approval?, signatures: [SSHSignature.Check] = [good], path: String = "x.approval.json") -> ApprovalCheck.Candidate {
        ApprovalCheck.Candidate(path: path, approval: a, signatures: signatures)
    }

    @Test func aSignedApprovalOfThisDrillInsideItsWindowLetsItStart() {
        let c = Self.candidate(Self.approval())
        #expect(ApprovalCheck.problem(c, rules: [Self.rule], scope: Self.scope, now: Self.now) == nil)
        #expect(ApprovalRecord(c)?.key == "SHA256:abc", "the signing key is recorded")
        // Principals compare without case.
        #expect(ApprovalCheck.problem(Self.candidate(Self.approval { $0.approver = "Alice@Hospital.example" }), rules: [Self.rule], scope: Self.scope, now: Self.now) == nil)
    }

    @Test(arguments: [
        ("approver is the operator", "who is running the drill"),
        ("approver's local part is the operator", "who is running the drill"),
        ("not an approver", "is not an approver under the playbook's approval"),
        ("other service", "approves a drill of billing, not ehr-db"),
        ("other playbook", "another version of the playbook"),
        ("other inventory", "another inventory"),
        ("other limit", "it approves --limit db1 and this run asks for every host"),
        ("not yet", "its window opens at"),
        ("over", "its window closed at"),
        ("ends now", "its window closed at"),
        ("bad signature", "its signature does not count for the playbook's approval (pb.yml:3:1): the signature does not verify"),
        ("unchecked", "its signature was not checked against every rule"),
        ("other format", "it is firedrill.approval/9"),
        ("extra vars given", "it approves no -e variables and this run gives -e http_port"),
        ("extra vars changed", "it approves -e http_port and this run gives -e http_port with other values"),
    ])
    func everyReasonAnApprovalDoesNotCount(_ what: String, _ expected: String) {
        var a = Self.approval()
        var sigs = [Self.good]
        var scope = Self.scope
        switch what {
        case "approver is the operator": scope.operator = "alice@hospital.example"
        case "approver's local part is the operator": scope.operator = "alice"
        case "not an approver": a.approver = "mallory@hospital.example"
        case "other service": a.service = "billing"
        case "other playbook": a.playbookSHA256 = String(repeating: "c", count: 64)
        case "other inventory": a.inventorySHA256 = String(repeating: "c", count: 64)
        case "other limit": a.limit = "db1"
        case "not yet": a.window = Approval.Window(from: Self.now.addingTimeInterval(60), until: Self.now.addingTimeInterval(3600))
        case "over": a.window = Approval.Window(from: Self.now.addingTimeInterval(-7200), until: Self.now.addingTimeInterval(-1))
        case "ends now": a.window = Approval.Window(from: Self.now.addingTimeInterval(-7200), until: Self.now)
        case "bad signature": sigs = [SSHSignature.Check(signer: "alice@hospital.example", good: nil, problem: "the signature does not verify for alice@hospital.example: Signature verification failed")]
        case "unchecked": sigs = []
        case "other format": a.format = "firedrill.approval/9"
        case "extra vars given": scope = ApprovalCheck.Scope(service: "ehr-db", playbookSHA256: a.playbookSHA256, inventorySHA256: a.inventorySHA256,
                                                             limit: nil, operator: "jdoe", extraVars: ["http_port": .string("1")])
        case "extra vars changed":
            a.extraVars = ["http_port"]; a.extraVarsSHA256 = Approval.extraVarsHash(["http_port": .string("8080")])
            scope = ApprovalCheck.Scope(service: "ehr-db", playbookSHA256: a.playbookSHA256, inventorySHA256: a.inventorySHA256,
                                        limit: nil, operator: "jdoe", extraVars: ["http_port": .string("1")])
        default: Issue.record("unknown case \(what)")
        }
        let p = ApprovalCheck.problem(Self.candidate(a, signatures: sigs), rules: [Self.rule], scope: scope, now: Self.now)
        #expect(p?.contains(expected) == true, "\(what): \(p ?? "accepted")")
    }

    @Test func approvedExtraVariablesMustBeGivenAgainAsApproved() {
        var a = Self.approval()
        let vars: [String: VarValue] = ["http_port": .string("8080"), "site": .string("b")]
        a.extraVars = vars.keys.sorted(); a.extraVarsSHA256 = Approval.extraVarsHash(vars)
        let scope = ApprovalCheck.Scope(service: "ehr-db", playbookSHA256: a.playbookSHA256, inventorySHA256: a.inventorySHA256,
                                        limit: nil, operator: "jdoe", extraVars: vars)
        #expect(ApprovalCheck.problem(Self.candidate(a), rules: [Self.rule], scope: scope, now: Self.now) == nil)
        #expect(ApprovalCheck.problem(Self.candidate(a), rules: [Self.rule], scope: Self.scope, now: Self.now)?.contains("and this run gives none") == true)
    }

    /// What ssh-keygen would hang on or misread is refused with its place, before it runs.
    @Test func anAllowedSignersFileThatIsNotOneIsRefusedWithItsLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-signers-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = "# approvers\nalice@hospital.example namespaces=\"firedrill-approval\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1abc\n"
        try good.write(toFile: dir + "/good", atomically: true, encoding: .utf8)
        #expect(ApprovalRequirement.allowedSignersProblem(dir + "/good") == nil)
        try (good + "bob@hospital.example\n").write(toFile: dir + "/bad", atomically: true, encoding: .utf8)
        #expect(ApprovalRequirement.allowedSignersProblem(dir + "/bad") == "\(dir)/bad:3: not PRINCIPALS [OPTIONS] KEYTYPE BASE64 (no key type such as ssh-ed25519 followed by the key)")
        try "# nobody yet\n".write(toFile: dir + "/empty", atomically: true, encoding: .utf8)
        #expect(ApprovalRequirement.allowedSignersProblem(dir + "/empty")?.contains("names nobody") == true)
        #expect(mkfifo(dir + "/fifo", 0o600) == 0)
        #expect(ApprovalRequirement.allowedSignersProblem(dir + "/fifo") == "\(dir)/fifo is not a file")
        #expect(ApprovalRequirement.allowedSignersProblem(dir) == "\(dir) is not a file")
    }

    @Test func aSigningKeyThatCannotSignWithoutATerminalIsRefusedBeforeSshKeygenRuns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-keys-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, pass) in [("plain", ""), ("locked", "secret passphrase")] {
            let r = try ChildProcess.capture(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", pass, "-f", "\(dir)/\(name)"])
            #expect(r.status == 0, "\(r.output)")
        }
        #expect(SSHSignature.privateKeyProblem("\(dir)/plain") == nil)
        #expect(SSHSignature.privateKeyProblem("\(dir)/locked")?.what.contains("is encrypted") == true)
        #expect(SSHSignature.privateKeyProblem("\(dir)/plain.pub")?.what == "is a public key")
        #expect(SSHSignature.privateKeyProblem("/dev/zero")?.what == "is not a file")
        #expect(SSHSignature.privateKeyProblem(dir)?.what == "is not a file")
        try "name: not a key\n".write(toFile: "\(dir)/yaml", atomically: true, encoding: .utf8)
        #expect(SSHSignature.privateKeyProblem("\(dir)/yaml")?.what.contains("is not an SSH private key") == true)
    }

    @Test func aLimitedApprovalCoversOnlyThatLimit() {
        var scope = Self.scope
        scope.limit = "db2"
        let limited = Self.candidate(Self.approval { $0.limit = "db2" })
        #expect(ApprovalCheck.problem(limited, rules: [Self.rule], scope: scope, now: Self.now) == nil)
        #expect(ApprovalCheck.problem(Self.candidate(Self.approval()), rules: [Self.rule], scope: scope, now: Self.now)?
            .contains("it approves every host and this run asks for --limit db2") == true)
    }

    @Test func everyRuleMustBeMet() {
        let policy = ApprovalRequirement(allowedSigners: "/etc/firedrill/allowed_signers", approvers: ["bob@hospital.example"], source: "the approval policy in /etc/firedrill/config.yml for critical services")
        let c = Self.candidate(Self.approval(), signatures: [Self.good, Self.good])
        #expect(ApprovalCheck.problem(c, rules: [Self.rule, policy], scope: Self.scope, now: Self.now)?.contains("is not an approver under the approval policy") == true)
        let unsigned = Self.candidate(Self.approval(), signatures: [Self.good, SSHSignature.Check(signer: nil, good: nil, problem: "no signer in /etc/firedrill/allowed_signers made x.sig")])
        #expect(ApprovalCheck.problem(unsigned, rules: [Self.rule, Self.rule], scope: Self.scope, now: Self.now)?.contains("no signer in /etc/firedrill/allowed_signers") == true)
    }

    @Test func theFirstValidApprovalIsTakenAndARefusalSaysWhatIsWrongWithEach() throws {
        let expired = Self.candidate(Self.approval { $0.window = Approval.Window(from: Self.now.addingTimeInterval(-7200), until: Self.now.addingTimeInterval(-60)) }, path: "old.approval.json")
        let unreadable = ApprovalCheck.Candidate(path: "junk.approval.json", approval: nil, unreadable: "is not a firedrill.approval/1 document", signatures: [])
        let valid = Self.candidate(Self.approval(), path: "new.approval.json")
        #expect(try ApprovalCheck.decide([expired, unreadable, valid], rules: [Self.rule], scope: Self.scope, now: Self.now).get().path == "new.approval.json")
        guard case let .failure(refusal) = ApprovalCheck.decide([expired, unreadable], rules: [Self.rule], scope: Self.scope, now: Self.now) else {
            Issue.record("an expired and an unreadable approval let the drill start"); return
        }
        #expect(refusal.problems.map(\.path) == ["old.approval.json", "junk.approval.json"])
        #expect(refusal.problems[1].why == "is not a firedrill.approval/1 document")
        #expect(throws: ApprovalCheck.Refusal.self) { try ApprovalCheck.decide([], rules: [Self.rule], scope: Self.scope, now: Self.now).get() }
    }

    // MARK: windows

    @Test(arguments: [
        ("2026-12-12", "2026-12-12T00:00:00.000Z", "2026-12-13T00:00:00.000Z"),
        ("2026-12-12..2026-12-13", "2026-12-12T00:00:00.000Z", "2026-12-14T00:00:00.000Z"),
        ("2026-12-12T02:00..2026-12-12T06:30", "2026-12-12T02:00:00.000Z", "2026-12-12T06:30:00.000Z"),
        ("2026-12-12 02:00:15..2026-12-12T03:00Z", "2026-12-12T02:00:15.000Z", "2026-12-12T03:00:00.000Z"),
        ("2026-12-12T02:00:00+01:00..+4h", "2026-12-12T01:00:00.000Z", "2026-12-12T05:00:00.000Z"),
        ("2026-12-12T02:00-05:30..2026-12-12T09:00+00:00", "2026-12-12T07:30:00.000Z", "2026-12-12T09:00:00.000Z"),
        ("now..+8h", "2026-11-30T00:53:20.000Z", "2026-11-30T08:53:20.000Z"),
        ("2027-01-01..2027-03-31", "2027-01-01T00:00:00.000Z", "2027-04-01T00:00:00.000Z"),
    ])
    func windowsAreDatesTimesOrADuration(_ text: String, _ from: String, _ until: String) throws {
        let w = try Approval.Window.parse(text, now: Self.now, zone: TimeZone(identifier: "UTC")!).get()
        #expect(w.from == from && w.until == until, "\(text): \(w.from)..\(w.until)")
    }

    @Test func aWallTimeIsReadInTheZoneGiven() throws {
        let w = try Approval.Window.parse("2026-12-12T02:00..2026-12-12T04:00", now: Self.now, zone: TimeZone(identifier: "America/Los_Angeles")!).get()
        #expect(w.from == "2026-12-12T10:00:00.000Z" && w.until == "2026-12-12T12:00:00.000Z")
    }

    @Test(arguments: [
        ("", "is not FROM..UNTIL"),
        ("2026-12-12..", "is not FROM..UNTIL"),
        ("tomorrow..+2h", "the window's start 'tomorrow' is not a date or a time"),
        ("2026-12-12T25:00..+1h", "is not a date or a time"),
        ("2026-12-12..friday", "the window's end 'friday' is not a date or a time"),
        ("now..+soon", "the window's length '+soon' is not a duration"),
        ("2026-12-13..2026-12-12T00:00Z", "ends (2026-12-12T00:00:00.000Z) before it starts"),
        ("2026-12-01..2029-01-01", "longer than 400 days"),
        ("2026-01-01..2026-02-01", "ended at 2026-02-02T00:00:00.000Z"),
        ("now", "a window of one value must be a date"),
        ("a..b..c", "is not FROM..UNTIL"),
        ("2026-12-12T02:00+25:00..+1h", "is not a date or a time"),
        ("now..+0s", "is empty: it must be longer than 0s"),
        ("2026-12-13T03:00Z..2026-12-13T03:00Z", "the window is empty"),
        ("2026-12-13..2026-12-12", "the window's last day (2026-12-12) is before its first (2026-12-13)"),
    ])
    func aWindowThatIsNotOneSaysHowToWriteIt(_ text: String, _ expected: String) {
        guard case let .failure(e) = Approval.Window.parse(text, now: Self.now, zone: TimeZone(identifier: "UTC")!) else {
            Issue.record("'\(text)' was taken as a window"); return
        }
        #expect(e.message.contains(expected), "\(text): \(e.message)")
        #expect(e.hint?.isEmpty == false)
    }

    // MARK: where the rules come from

    static func playbook(_ approval: String, criticality: String = "high") throws -> (Playbook?, [Diagnostic], String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-approval-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "alice@hospital.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1\n".write(toFile: dir + "/allowed_signers", atomically: true, encoding: .utf8)
        let text = "name: Drill\nservice: svc\ncriticality: \(criticality)\n\(approval)steps:\n  - name: s\n    on: all\n    run: \"true\"\n"
        let r = PlaybookLoader().load(text: text, file: dir + "/pb.yml")
        return (r.playbook, r.diagnostics, dir)
    }

    @Test func aPlaybookRequiresApprovalWithItsAllowedSigners() throws {
        let (pb, diagnostics, dir) = try Self.playbook("approval:\n  approvers: [alice@hospital.example]\n  allowed_signers: allowed_signers\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.message))")
        let rules = try ApprovalRequirement.rules(for: try #require(pb), policy: nil)
        #expect(rules.map(\.allowedSigners) == [dir + "/allowed_signers"] && rules.first?.approvers == ["alice@hospital.example"])
        #expect(rules.first?.source == "the playbook's approval (\(dir)/pb.yml:5:3)")
        // required: false turns it off; a policy for its criticality still applies.
        let (off, _, dir2) = try Self.playbook("approval: { required: false, allowed_signers: allowed_signers }\n")
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        #expect(try ApprovalRequirement.rules(for: try #require(off), policy: nil).isEmpty)
        let policy = ApprovalPolicy(requireFor: [.high], allowedSigners: dir2 + "/allowed_signers", approvers: [], file: "/etc/firedrill/config.yml")
        #expect(try ApprovalRequirement.rules(for: try #require(off), policy: policy).map(\.source) == ["the approval policy in /etc/firedrill/config.yml for high services"])
        var low = try #require(off)
        low.criticality = .low
        #expect(try ApprovalRequirement.rules(for: low, policy: policy).isEmpty, "the policy names high services only")
    }

    @Test func aRequirementNobodyCouldMeetIsAnError() throws {
        let (loaded, _, dir) = try Self.playbook("approval: { approvers: [alice] }\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pb = try #require(loaded)
        do throws(CommandError) {
            _ = try ApprovalRequirement.rules(for: pb, policy: nil)
            Issue.record("a requirement without allowed signers was taken")
        } catch {
            #expect(error.message.contains("pb.yml:4:11: the playbook requires approval but names no allowed signers file"), "\(error.message)")
        }
    }

    @Test(arguments: [
        ("approval: { approvers: [alice], allowed_signers: nowhere }\n", "allowed_signers 'nowhere' does not exist", 4),
        ("approval: { required: maybe, allowed_signers: allowed_signers }\n", "approval required must be true or false, found 'maybe'", 4),
        ("approval: { approver: alice }\n", "unknown key 'approver' in approval", 4),
        ("approval: yes\n", "approval must be a mapping", 4),
    ])
    func aMistakeInApprovalIsPlaced(_ yaml: String, _ expected: String, _ line: Int) throws {
        let (_, diagnostics, dir) = try Self.playbook(yaml)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = diagnostics.first { $0.message.contains(expected) }
        #expect(d != nil && d?.location?.line == line, "\(diagnostics.map { "\($0.location.map(String.init(describing:)) ?? ""): \($0.message)" })")
        #expect(d?.hint?.isEmpty == false || expected.contains("unknown key") || expected.contains("must be"))
    }

    @Test func theConfigurationFileHoldsThePolicy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-config-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x ssh-ed25519 AAAA\n".write(toFile: dir + "/signers", atomically: true, encoding: .utf8)
        let c = try FiredrillConfig.parse("approval:\n  require_for: [critical, high]\n  allowed_signers: signers\n  approvers: [cab@hospital.example]\n", file: dir + "/config.yml")
        #expect(c.approval == ApprovalPolicy(requireFor: [.critical, .high], allowedSigners: dir + "/signers", approvers: ["cab@hospital.example"], file: dir + "/config.yml"))
        #expect(try FiredrillConfig.parse("", file: dir + "/empty.yml").approval == nil)
        for (text, expected, line) in [("approval:\n  require_for: [urgent]\n  allowed_signers: signers\n", "'urgent' is not a criticality", 2),
                                       ("approval:\n  require_for: [critical]\n", "names no allowed signers file", 2),
                                       ("aproval: {}\n", "unknown key 'aproval'", 1),
                                       ("approval:\n  require_for: [critical]\n  allowed_signers: missing\n", "allowed_signers 'missing' does not exist", 3)] {
            do {
                _ = try FiredrillConfig.parse(text, file: dir + "/config.yml")
                Issue.record("accepted: \(text)")
            } catch {
                let d = error.diagnostics.first { $0.message.contains(expected) }
                #expect(d?.location?.line == line, "\(error.diagnostics.map(\.message))")
            }
        }
        // Which file is read: the flag, the variable, then the user's and the machine's when they exist.
        #expect(FiredrillConfig.path(explicit: "/x.yml", environment: ["FIREDRILL_CONFIG": "/y.yml"])?.path == "/x.yml")
        #expect(FiredrillConfig.path(explicit: nil, environment: ["FIREDRILL_CONFIG": "/y.yml"])?.path == "/y.yml")
        try FileManager.default.createDirectory(atPath: dir + "/xdg/firedrill", withIntermediateDirectories: true)
        try "".write(toFile: dir + "/xdg/firedrill/config.yml", atomically: true, encoding: .utf8)
        #expect(FiredrillConfig.path(explicit: nil, environment: ["XDG_CONFIG_HOME": dir + "/xdg", "HOME": dir])?.path == dir + "/xdg/firedrill/config.yml")
        #expect(throws: DiagnosticsError.self) { try FiredrillConfig.load(explicit: dir + "/none.yml") }
    }
}
