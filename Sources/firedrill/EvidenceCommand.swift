import ArgumentParser
import FiredrillCore
import Foundation

struct EvidenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence",
        abstract: "A signed evidence pack of drills, for an auditor; and its check.",
        discussion: """
        `firedrill evidence pack` gathers, for each drill, its journal and seal, its plan, its \
        report (HTML, JSON, Markdown, text, JUnit), its score and its after-action record \
        (annotations, open action items); an in-toto Statement (the files as subjects, the \
        drills' facts as predicate); and manifest.json, every file with its SHA-256, signed \
        with your SSH key as `ssh-keygen -Y sign -n firedrill-evidence` signs it. Anyone with \
        OpenSSH checks it without Firedrill (docs/evidence.md):

          ssh-keygen -Y verify -f allowed_signers -I ID -n firedrill-evidence \\
              -s manifest.json.sig < manifest.json

        `firedrill evidence verify` checks the signature, every file's hash, that nothing was \
        added, and each journal's hash chain; exit 0 when all hold, 1 when anything does not.

        Examples:
          firedrill evidence pack latest -o ehr-drill-evidence --key ~/.ssh/id_ed25519
          firedrill evidence pack --service ehr-db --from 2026-10-01 --until 2026-12-31 -o ehr-2026-q4.tar.gz --agent
          firedrill evidence verify ehr-2026-q4.tar.gz --allowed-signers allowed_signers
        """,
        subcommands: [EvidencePackCommand.self, EvidenceVerifyCommand.self]
    )
}

struct EvidencePackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Write a signed evidence pack of drills (a folder, or a .tar.gz)."
    )
    @Argument(help: ArgumentHelp("Runs: IDs (or unique prefixes), 'latest', journal paths.", valueName: "RUN")) var runs: [String] = []
    @Option(help: ArgumentHelp("Every drill of this service in the history (with --from/--until): a quarterly pack.", valueName: "SERVICE"))
    var service: String?
    @Option(help: ArgumentHelp("With --service: drills that started on or after this date (YYYY-MM-DD).", valueName: "DATE")) var from: String?
    @Option(help: ArgumentHelp("With --service: drills that started on or before this date (YYYY-MM-DD, inclusive).", valueName: "DATE")) var until: String?
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The pack: a new (or empty) folder, or FILE.tar.gz.", valueName: "DIR|FILE.tar.gz"))
    var output: String
    @Option(help: ArgumentHelp("Sign with this SSH key (private; or public, with its private key in the agent).", valueName: "FILE")) var key: String?
    @Flag(help: "Sign with the SSH agent's key (the first, or --key KEY.pub).") var agent = false
    @Flag(help: "Write the pack unsigned (an auditor will not accept it; for a dry run).") var unsigned = false
    @Option(help: ArgumentHelp("Where runs are kept (default $FIREDRILL_RUNS or ~/.local/share/firedrill/runs).", valueName: "DIR"))
    var runsDir: String?
    @OptionGroup var history: HistoryOptions

    func run() async throws {
        guard runs.isEmpty != (service == nil) else {
            throw CommandError(runs.isEmpty ? "name the drills to pack" : "give runs or --service, not both",
                               hint: "firedrill evidence pack RUN… -o DIR, or --service S --from DATE --until DATE -o FILE.tar.gz")
        }
        if service == nil, from != nil || until != nil { throw CommandError("--from and --until select a service's drills: add --service") }
        for (flag, date) in [("--from", from), ("--until", until)] {
            if let date, !Annotation.Action.isDate(date) { throw CommandError("\(flag) '\(TerminalText.safe(date))' is not a date", hint: "write YYYY-MM-DD") }
        }
        if let from, let until, from > until { throw CommandError("--from \(from) is after --until \(until)") }
        let signer: EvidencePack.Signer?
        switch (key, agent, unsigned) {
        case (_, _, true) where key != nil || agent: throw CommandError("--unsigned with a key: choose one")
        case (nil, false, true): signer = nil
        case (nil, false, false): throw CommandError("say how to sign the pack", hint: "--key ~/.ssh/id_ed25519, or --agent (or --unsigned for a dry run)")
        case let (k?, false, false): signer = .key(k)
        case let (k, true, false): signer = .agent(publicKey: k)
        default: signer = nil
        }
        if let signer { try EvidencePack.check(signer) }
        let tarball = output.hasSuffix(".tar.gz") || output.hasSuffix(".tgz")
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard !output.isEmpty else { throw CommandError("-o needs a folder or FILE.tar.gz") }
        let parent = URL(fileURLWithPath: output).deletingLastPathComponent().path
        guard fm.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
            throw CommandError("\(parent) does not exist (the folder -o writes into)", hint: "create it first")
        }
        if tarball {
            if fm.fileExists(atPath: output) { throw CommandError("\(output) already exists", hint: "give a new file name") }
        } else if fm.fileExists(atPath: output, isDirectory: &isDir) {
            guard isDir.boolValue, (try? fm.contentsOfDirectory(atPath: output))?.isEmpty == true else {
                throw CommandError("\(output) already exists and is not an empty folder", hint: "give a new folder (or FILE.tar.gz)")
            }
        }
        // The drills.
        var journals: [String] = []
        var period: EvidencePack.Period?
        let database = History.defaultPath(history.db)
        if let service {
            guard History.exists(database) else { throw CommandError("no history database at \(database)", hint: "firedrill import the journals, or pass --db") }
            let db = try await History.open(path: database, existing: true)
            let found = try await db.runs(service: service, from: from, until: until)
            if found.isEmpty {
                throw CommandError("no drill of \(TerminalText.safe(service)) in the history\(from.map { " from \($0)" } ?? "")\(until.map { " until \($0)" } ?? "")",
                                   hint: "firedrill history lists the drills it has")
            }
            for run in found where !fm.fileExists(atPath: run.journal) {
                throw CommandError("the journal of \(run.id) is gone (\(run.journal))", hint: "the journal is the evidence: restore it from backup", exit: .failed)
            }
            journals = found.map(\.journal)
            period = EvidencePack.Period(service: service, from: from, until: until)
        } else {
            journals = try runs.map { try RunArchive.locate($0, runsDir: runsDir) }
        }
        // Built in a scratch folder beside -o, published in one step that never replaces
        // another's pack (rename onto an empty folder; link for a file); removed on any failure.
        let dir = output + ".tmp-\(UUID().uuidString.prefix(8))"
        CleanExit.install(removing: [dir, dir + ".tar.gz"])
        defer { try? fm.removeItem(atPath: dir) }
        guard mkdir(dir, 0o755) == 0 else {
            throw CommandError("cannot create \(dir): \(String(cString: strerror(errno)))", hint: "choose another -o")
        }
        let manifest = try await EvidencePack.build(journals: journals, database: History.exists(database) ? database : nil, into: dir,
                                                    version: FiredrillVersion.current, period: period)
        if let signer { try EvidencePack.sign(dir, with: signer) }
        if tarball {
            let part = dir + ".tar.gz"
            defer { try? fm.removeItem(atPath: part) }
            let r = try ChildProcess.capture(["/bin/tar", "-czf", part, "-C", dir, "."])
            guard r.status == 0 else { throw CommandError("tar could not write \(output): \(TerminalText.safe(r.output))", exit: .failed) }
            guard link(part, output) == 0 else { throw CommandError("\(output): \(String(cString: strerror(errno)))", hint: "another pack was written there meanwhile") }
        } else {
            guard rename(dir, output) == 0 else { throw CommandError("\(output): \(String(cString: strerror(errno)))", hint: "another pack was written there meanwhile") }
        }
        let damaged = manifest.runs.filter { !$0.chainVerified }
        Terminal.out("wrote \(output): \(manifest.runs.count == 1 ? "1 drill" : "\(manifest.runs.count) drills"), \(manifest.files.count) files"
                     + (signer == nil ? ", UNSIGNED\n" : ", manifest signed (namespace \(EvidencePack.namespace))\n"))
        for r in manifest.runs { Terminal.out(runLine(r) + (r.chainVerified ? "" : "  JOURNAL DAMAGED") + "\n") }
        if !damaged.isEmpty {
            throw CommandError("\(damaged.map(\.run).joined(separator: ", ")): the journal is damaged; the pack says so", exit: .failed)
        }
    }
}

struct EvidenceVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an evidence pack: signature, every file's SHA-256, nothing added, each journal's chain."
    )
    @Argument(help: ArgumentHelp("The pack: its folder or its .tar.gz.", valueName: "PACK")) var pack: String
    @Option(help: ArgumentHelp("Who may sign: OpenSSH allowed_signers lines ('ID ssh-ed25519 AAAA…').", valueName: "FILE")) var allowedSigners: String
    @Option(name: [.customShort("I"), .long], help: ArgumentHelp("The signer to check for (default: whichever the file names for the key).", valueName: "ID"))
    var identity: String?

    func run() async throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: pack, isDirectory: &isDir) else { throw CommandError("\(pack): no such pack", hint: "give the folder or .tar.gz firedrill evidence pack wrote") }
        var dir = pack
        var scratch: String?
        if !isDir.boolValue {
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("firedrill-evidence-\(UUID().uuidString.prefix(8))").path
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            scratch = tmp
            let r = try ChildProcess.capture(["/bin/tar", "-xzf", pack, "-C", tmp, "--no-same-owner", "--no-same-permissions"])
            guard r.status == 0 else {
                try? fm.removeItem(atPath: tmp)
                throw CommandError("\(pack) is not a readable .tar.gz: \(TerminalText.safe(r.output.split(separator: "\n").first.map(String.init) ?? ""))")
            }
            dir = tmp
        }
        defer { if let scratch { try? fm.removeItem(atPath: scratch) } }
        let v = try EvidencePack.verify(dir, allowedSigners: allowedSigners, identity: identity)
        if let s = v.signature { Terminal.out("✓ signature: \(s)\n") }
        Terminal.out("\(v.problems.isEmpty ? "✓" : "✗") \(v.files) files, \(v.runs.count == 1 ? "1 drill" : "\(v.runs.count) drills")\n")
        for r in v.runs { Terminal.out(runLine(r) + "\n") }
        for p in v.problems { Terminal.out("✗ \(TerminalText.safe(p))\n") }
        guard v.ok else { throw CommandError("the pack does not verify: \(v.problems.count == 1 ? "1 problem" : "\(v.problems.count) problems")", exit: .failed) }
        Terminal.out("the pack verifies: signed by \(TerminalText.safe(v.signer ?? "?")), nothing changed, added or missing\n")
    }
}

/// A packed drill on one line, as `pack` and `verify` list them (names made terminal-safe).
func runLine(_ r: EvidencePack.Run) -> String {
    TerminalText.safe("  \(r.run)  \(r.service)  \(r.result.rawValue)  \(ScoreRenderer.num(r.score))/100")
}
