import ArgumentParser
import FiredrillCore
import Foundation

/// `--config FILE`: the configuration file (the approval policy).
struct ConfigOption: ParsableArguments {
    @Option(help: ArgumentHelp("The configuration file (default $FIREDRILL_CONFIG, else ~/.config/firedrill/config.yml or /etc/firedrill/config.yml when one exists).",
                               valueName: "FILE"))
    var config: String?

    func load() throws -> FiredrillConfig { try FiredrillConfig.load(explicit: config) }
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a drill (four eyes): a signed approval bound to the playbook, inventory, --limit and a window.",
        discussion: """
        A playbook with `approval:` (or of a criticality the configuration's approval \
        policy names) runs only under an approval signed by someone other than the \
        operator. The approver runs this command: it shows what is approved, writes \
        NAME.approval.json — the playbook's and the inventory's SHA-256, the --limit, the \
        -e variables (names, and a SHA-256 of their values), the window, the ticket, the \
        approver — and signs it with their SSH key as \
        `ssh-keygen -Y sign -n firedrill-approval` does (NAME.approval.json.sig). \
        `run` and `due --run` look in approvals/ beside the playbook (or --approval FILE) \
        and refuse (exit 3) when no approval there is valid now: signed by an approver of \
        the allowed signers file, not the operator, for this playbook and inventory as they \
        are, this --limit and these -e variables, within its window. The journal records the approval and its \
        signature. A changed playbook or inventory needs a new approval.

        --window FROM..UNTIL: dates (whole days), times (in the local zone unless they end \
        in Z or +HH:MM), or now..+DURATION. A standing approval for a quarter's drills is \
        a window of the quarter (at most 400 days).

        The approver is the principal of the signing key in the allowed signers file the \
        playbook (or policy) names, or --as when none is named.

        Examples:
          firedrill approve Playbooks/ehr-db-failover.yml -i inventory.yml --window 2026-12-12T02:00..2026-12-12T06:00 --ticket CHG-1234 --key ~/.ssh/id_ed25519
          firedrill approve Playbooks/ehr-db-failover.yml -i inventory.yml --window 2027-01-01..2027-03-31 --agent
        """
    )

    @Argument(help: ArgumentHelp("The playbook approved.", valueName: "PLAYBOOK")) var playbook: String
    @OptionGroup var options: DrillOptions
    @Option(help: ArgumentHelp("When the drill may start: FROM..UNTIL (see above).", valueName: "FROM..UNTIL")) var window: String
    @Option(help: ArgumentHelp("The change ticket it belongs to (recorded).", valueName: "ID")) var ticket: String?
    @Option(help: ArgumentHelp("Sign with this SSH key (private; or public, with its private key in the agent).", valueName: "FILE")) var key: String?
    @Flag(help: "Sign with the SSH agent's key (the first, or --key KEY.pub).") var agent = false
    @Option(name: .customLong("as"), help: ArgumentHelp("Your principal in the allowed signers file (found from your key when the playbook names the file).", valueName: "ID"))
    var approver: String?
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The approval file (default approvals/SERVICE-FROM.approval.json beside the playbook).", valueName: "FILE"))
    var output: String?
    @OptionGroup var config: ConfigOption

    func run() async throws {
        let signer: SSHSignature.Signer
        switch (key, agent) {
        case (nil, false): throw CommandError("say how to sign the approval", hint: "--key ~/.ssh/id_ed25519, or --agent")
        case let (k?, false): signer = .key(k)
        case let (k, true): signer = .agent(publicKey: k)
        }
        try SSHSignature.check(signer)
        if let ticket, ticket.trimmingCharacters(in: .whitespaces).isEmpty || ticket.count > 200 || ticket.contains(where: { $0.isNewline }) || TerminalText.safe(ticket) != ticket {
            throw CommandError("--ticket must be one line of at most 200 printable characters")
        }
        let now = Date()
        let window = try Approval.Window.parse(self.window, now: now, zone: .current).get()
        let (definition, _) = try options.load(playbook)
        let pb = definition.playbook
        let rules = try ApprovalRequirement.rules(for: pb, policy: try config.load().approval)

        let fm = FileManager.default
        let out = output ?? Approval.defaultFolder(playbook: pb.file) + "/\(EvidencePack.safeName(pb.service))-\(window.from.prefix(10))\(ticket.map { "-" + EvidencePack.safeName($0) } ?? "")\(Approval.suffix)"
        guard out.hasSuffix(Approval.suffix) else { throw CommandError("-o must end in \(Approval.suffix) (run finds approvals by that name)") }
        let folder = (out as NSString).deletingLastPathComponent.isEmpty ? "." : (out as NSString).deletingLastPathComponent
        do { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw CommandError("cannot create the folder \(folder) for the approval", hint: "give a file in a folder you can write with -o")
        }
        // lstat: a dangling link there is taken too.
        func taken(_ path: String) -> Bool { var st = stat(); return lstat(path, &st) == 0 }
        for path in [out, out + ".sig"] where taken(path) { throw CommandError("\(TerminalText.safe(path)) already exists", hint: "give another name with -o") }

        // Signed in a scratch file beside it, checked against every rule, then published.
        let scratch = folder + "/.approve-\(UUID().uuidString.prefix(8))\(Approval.suffix)"
        CleanExit.install(removing: [scratch, scratch + ".sig", scratch + ".signer.pub"])
        defer { try? fm.removeItem(atPath: scratch); try? fm.removeItem(atPath: scratch + ".sig") }
        func write(_ who: String) throws {
            var approval = Approval(drill: pb.name.value, service: pb.service, playbook: pb.file, playbookSHA256: RunFacts.playbookHash(definition),
                                    inventory: definition.inventoryPaths, inventorySHA256: RunStore.sha256(files: definition.inventoryPaths),
                                    limit: definition.limit, window: window, ticket: ticket, approver: who, approvedAt: now)
            approval.extraVars = definition.extraVars.isEmpty ? nil : definition.extraVars.keys.sorted()
            approval.extraVarsSHA256 = Approval.extraVarsHash(definition.extraVars)
            guard fm.createFile(atPath: scratch, contents: try approval.encoded()) else {
                throw CommandError("cannot write in \(folder)", hint: "give a folder you can write with -o")
            }
            try SSHSignature.sign(scratch, namespace: Approval.namespace, with: signer)
        }
        // Who signs: --as, else the principal the rules' allowed signers file names for the key.
        var who = approver
        if who == nil {
            guard let first = rules.first else {
                throw CommandError("say who approves: --as YOUR_ID", hint: "no playbook approval or policy names an allowed signers file to find you in")
            }
            try write("?")
            guard let principal = try SSHSignature.principal(signing: scratch, allowedSigners: first.allowedSigners) else {
                throw CommandError("your key is not in \(first.allowedSigners) (named by \(first.source)): an approval signed with it would not count",
                                   hint: "ask for your public key to be added there, or sign with the key that is")
            }
            who = principal
        }
        guard let who, !who.isEmpty, TerminalText.safe(who, keepLines: false) == who else {
            throw CommandError(approver == nil ? "the principal the allowed signers file gives your key holds characters that cannot be shown"
                                               : "--as must be a principal such as alice@example.org")
        }
        try write(who)
        // An approval that no rule would accept is refused before anyone relies on it.
        let candidate = try Approval.candidates(in: [scratch], rules: rules)
        for (rule, sig) in zip(rules, candidate.first?.signatures ?? []) {
            if let p = sig.problem { throw CommandError("this approval would not count for \(rule.source): \(p)", hint: "sign with a key listed in \(rule.allowedSigners) as \(who)") }
            if !rule.approvers.isEmpty && !rule.approvers.contains(where: { $0.lowercased() == who.lowercased() }) {
                throw CommandError("\(who) is not an approver under \(rule.source) (approvers: \(rule.approvers.joined(separator: ", ")))")
            }
        }
        // Published with link(2), which never replaces: the document first (another approve that
        // got there first wins, and nothing of its is touched), then its signature.
        if link(scratch, out) != 0 {
            let e = errno
            if e == EEXIST { throw CommandError("\(TerminalText.safe(out)) already exists (written meanwhile by someone else)", hint: "give another name with -o") }
            throw CommandError("cannot write \(TerminalText.safe(out)): \(String(cString: strerror(e)))", exit: .failed)
        }
        if link(scratch + ".sig", out + ".sig") != 0 {
            let e = errno
            try? fm.removeItem(atPath: out)   // ours: just linked
            if e == EEXIST { throw CommandError("\(TerminalText.safe(out)).sig already exists (written meanwhile by someone else)", hint: "give another name with -o") }
            throw CommandError("cannot write \(TerminalText.safe(out)).sig: \(String(cString: strerror(e)))", exit: .failed)
        }

        let p = definition.preview
        Terminal.out("""
        approved drill “\(TerminalText.safe(pb.name.value))” (\(TerminalText.safe(pb.service)), \(pb.criticality.rawValue)) by \(TerminalText.safe(who))\(ticket.map { " for \(TerminalText.safe($0))" } ?? "")
          playbook \(TerminalText.safe(pb.file)) sha256 \(RunFacts.playbookHash(definition))
          inventory \(definition.inventoryPaths.map { TerminalText.safe($0) }.joined(separator: ", ")) sha256 \(RunStore.sha256(files: definition.inventoryPaths))
          \(definition.limit.map { "--limit \(TerminalText.safe($0))" } ?? "every host"): \(p.hosts.count) hosts (\(p.hosts.prefix(8).map { TerminalText.safe($0.name) }.joined(separator: ", "))\(p.hosts.count > 8 ? ", …" : ""))
          window \(window.from) .. \(window.until) (UTC)
        \(rules.isEmpty ? "note: nothing requires approval of this playbook now (no approval: in it, no policy for \(pb.criticality.rawValue) services); run records no approval\n" : "")wrote \(TerminalText.safe(out)) and its signature (.sig, namespace \(Approval.namespace))

        """)
    }
}
