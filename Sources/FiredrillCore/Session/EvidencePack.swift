import Foundation

/// The evidence an auditor files (format `firedrill.evidence/1`, docs/evidence.md): for each
/// drill its journal and seal, its plan, its report in every format, its score and its
/// after-action record; an in-toto Statement whose subjects are those files and whose
/// predicate is the drills' facts; and `manifest.json` (every file with its SHA-256), signed
/// with an SSH key exactly as `ssh-keygen -Y sign -n firedrill-evidence` signs it, so that
/// OpenSSH alone can check it:
///
///     ssh-keygen -Y verify -f allowed_signers -I ID -n firedrill-evidence -s manifest.json.sig < manifest.json
///
/// and `sha256sum` the files it lists. Signing and checking are OpenSSH's own `ssh-keygen`
/// (the private key never passes through Firedrill; an agent's key never leaves the agent).
public enum EvidencePack {
    public static let format = "firedrill.evidence/1"
    public static let namespace = "firedrill-evidence"
    public static let predicateType = "urn:firedrill:evidence:v1"

    public struct Manifest: Sendable, Codable, Equatable {
        public var format = EvidencePack.format
        public var created: String
        public var createdBy: String
        public var generator: String
        /// The period a `--service` pack covers, when it was asked for one.
        public var period: Period?
        public var runs: [Run]
        /// Every file of the pack but the manifest and its signature, sorted by path.
        public var files: [File]

        enum CodingKeys: String, CodingKey { case format, created, createdBy = "created_by", generator, period, runs, files }
    }

    public struct Period: Sendable, Codable, Equatable {
        public var service: String
        public var from: String?
        public var until: String?
        public init(service: String, from: String?, until: String?) { self.service = service; self.from = from; self.until = until }
    }

    public struct Run: Sendable, Codable, Equatable {
        public var run: String
        public var service: String
        public var result: RunStatus
        public var started: String?
        public var ended: String?
        public var score: Double
        public var grade: String
        public var rtoSeconds: Double?
        public var rpoSeconds: Double?
        public var playbookSHA256: String?
        public var inventorySHA256: String?
        public var journalHead: String
        public var journalEvents: Int
        public var chainVerified: Bool
        public var sealed: Bool
        public var operatorVerdict: String?

        enum CodingKeys: String, CodingKey {
            case run, service, result, started, ended, score, grade, rtoSeconds = "rto_seconds", rpoSeconds = "rpo_seconds"
            case playbookSHA256 = "playbook_sha256", inventorySHA256 = "inventory_sha256", journalHead = "journal_head", journalEvents = "journal_events"
            case chainVerified = "chain_verified", sealed, operatorVerdict = "operator_verdict"
        }
    }

    public struct File: Sendable, Codable, Equatable {
        public var path: String
        public var sha256: String
        public var bytes: Int
    }

    public typealias Signer = SSHSignature.Signer

    // MARK: building

    /// Writes the pack of `journals` into the folder `dir` (created; it must not exist or be
    /// empty), unsigned. The history at `database` adds each run's annotations and action items.
    public static func build(journals: [String], database: String?, into dir: String, version: String, period: Period? = nil,
                             now: Date = Date()) async throws -> Manifest {
        var runs: [Run] = []
        var facts: [[String: JSONValue]] = []
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var seen: [String: String] = [:]
        for journal in journals {
            let report = try await DrillReport.load(journal: journal, database: database, reportVersion: version, generatedAt: now)
            let id = report.overview.run.isEmpty ? URL(fileURLWithPath: journal).deletingLastPathComponent().lastPathComponent : report.overview.run
            guard let journalBytes = fm.contents(atPath: journal) else { throw CommandError("cannot read \(journal)", exit: .failed) }
            let digest = Journal.sha256(journalBytes)
            if let other = seen[id] {
                if other == digest { continue }
                throw CommandError("two different journals of run \(id) were given (\(journal) is one)", hint: "a run is packed once: give one of them")
            }
            seen[id] = digest
            let folder = "runs/\(safeName(id))"
            try fm.createDirectory(atPath: "\(dir)/\(folder)", withIntermediateDirectories: true)
            try write(journalBytes, to: "\(dir)/\(folder)/journal.jsonl")
            if fm.fileExists(atPath: journal + ".head") { try copy(journal + ".head", to: "\(dir)/\(folder)/journal.jsonl.head") }
            let plan = URL(fileURLWithPath: journal).deletingLastPathComponent().appendingPathComponent("plan.json").path
            if fm.fileExists(atPath: plan) { try copy(plan, to: "\(dir)/\(folder)/plan.json") }
            for (format, name) in [(DrillReport.Format.html, "report.html"), (.json, "report.json"), (.markdown, "report.md"), (.junit, "report.junit.xml"), (.text, "report.txt")] {
                try write(try report.rendered(format), to: "\(dir)/\(folder)/\(name)")
            }
            try write(try JSONOutput.encode(report.score) + "\n", to: "\(dir)/\(folder)/score.json")
            // The approval as it was signed, so an auditor checks it with ssh-keygen too.
            if let a = report.evidence.approval {
                try write(a.document, to: "\(dir)/\(folder)/approval.json")
                try write(a.signature, to: "\(dir)/\(folder)/approval.json.sig")
            }
            let review = AfterActionRecord(annotations: report.afterAction.annotations, openActions: report.headline.openActions.filter { $0.run == id },
                                           note: report.afterAction.note, problem: report.afterAction.problem)
            try write(try JSONOutput.encode(review) + "\n", to: "\(dir)/\(folder)/after-action.json")
            let o = report.overview, e = report.evidence
            runs.append(Run(run: id, service: o.service, result: o.result, started: o.started, ended: o.ended, score: o.score, grade: o.grade,
                            rtoSeconds: report.objectives.rto.measuredSeconds, rpoSeconds: report.objectives.rpo.measuredSeconds,
                            playbookSHA256: e.playbookSHA256, inventorySHA256: e.inventorySHA256, journalHead: e.headHash, journalEvents: e.events,
                            chainVerified: e.chainVerified, sealed: e.sealed, operatorVerdict: report.headline.operatorVerdict?.rawValue))
            var f: [String: JSONValue] = ["run": .string(id), "service": .string(o.service), "result": .string(o.result.rawValue),
                                          "score": .number(o.score), "grade": .string(o.grade), "operator": .string(o.operator),
                                          "journal_head": .string(e.headHash), "chain_verified": .bool(e.chainVerified)]
            if let v = o.started { f["started"] = .string(v) }
            if let v = o.ended { f["ended"] = .string(v) }
            if let v = report.objectives.rto.measuredSeconds { f["rto_seconds"] = .number(v) }
            if let v = report.objectives.rto.objectiveSeconds { f["rto_objective_seconds"] = .number(v) }
            if let v = report.objectives.rpo.measuredSeconds { f["rpo_seconds"] = .number(v) }
            if let v = report.objectives.rpo.objectiveSeconds { f["rpo_objective_seconds"] = .number(v) }
            if let v = e.playbookSHA256 { f["playbook_sha256"] = .string(v) }
            if let v = e.inventorySHA256 { f["inventory_sha256"] = .string(v) }
            if let v = report.headline.operatorVerdict { f["operator_verdict"] = .string(v.rawValue) }
            if let a = e.approval { f["approved_by"] = .string(a.approver); f["approval_ticket"] = a.ticket.map(JSONValue.string) ?? .null }
            facts.append(f)
        }
        guard !runs.isEmpty else { throw CommandError("no drill to pack", hint: "name runs (IDs, 'latest', journal paths) or --service S with --from/--until") }
        try write(readme, to: "\(dir)/README.txt")
        // The statement's subjects: every drill file (not the statement itself, nor the manifest).
        let drillFiles = try files(in: dir)
        var statement: [String: JSONValue] = [
            "_type": .string("https://in-toto.io/Statement/v1"),
            "subject": .array(drillFiles.map { .object(["name": .string($0.path), "digest": .object(["sha256": .string($0.sha256)])]) }),
            "predicateType": .string(predicateType),
        ]
        var predicate: [String: JSONValue] = ["created": .string(Journal.timestamp(now)), "generator": .string("firedrill \(version)"),
                                              "drills": .array(facts.map(JSONValue.object))]
        if let period {
            var p: [String: JSONValue] = ["service": .string(period.service)]
            if let from = period.from { p["from"] = .string(from) }
            if let until = period.until { p["until"] = .string(until) }
            predicate["period"] = .object(p)
        }
        statement["predicate"] = .object(predicate)
        try write(try JSONOutput.encode(JSONValue.object(statement)) + "\n", to: "\(dir)/statement.intoto.json")
        let manifest = Manifest(created: Journal.timestamp(now), createdBy: "\(CurrentUser.name())@\(ProcessInfo.processInfo.hostName)",
                                generator: "firedrill \(version)", period: period, runs: runs, files: try files(in: dir))
        try write(try JSONOutput.encode(manifest) + "\n", to: "\(dir)/manifest.json")
        return manifest
    }

    /// The after-action part of a drill's evidence: the operator's annotations (their hash
    /// chain included) and the drill's open action items.
    struct AfterActionRecord: Codable {
        var annotations: [Annotation]
        var openActions: [DrillReport.OpenAction]
        var note: String?
        var problem: String?
        enum CodingKeys: String, CodingKey { case annotations, openActions = "open_actions", note, problem }
    }

    static let readme = """
    Firedrill evidence pack (firedrill.evidence/1)

    manifest.json        every file of this pack with its SHA-256 and size
    manifest.json.sig    an SSH signature (SSHSIG, namespace firedrill-evidence) over manifest.json
    statement.intoto.json an in-toto Statement v1: the files as subjects, the drills' facts as predicate
    runs/RUN/            each drill: journal.jsonl (+ .head seal), plan.json, report.{html,json,md,txt,junit.xml},
                         score.json, after-action.json; approval.json (+ .sig) when the drill ran under a
                         signed approval (namespace firedrill-approval, signed by its approver)

    Check it without Firedrill (OpenSSH 8.1 or later, coreutils, jq):

      ssh-keygen -Y verify -f allowed_signers -I SIGNER -n firedrill-evidence \\
          -s manifest.json.sig < manifest.json
      jq -r '.files[] | "\\(.sha256)  \\(.path)"' manifest.json | sha256sum -c -

    allowed_signers holds the signer's public key as `SIGNER ssh-ed25519 AAAA…` (see
    ssh-keygen(1), ALLOWED SIGNERS). Or: firedrill evidence verify PACK --allowed-signers FILE

    """

    // MARK: signing and checking

    /// Refuses a signer that cannot sign, before anything is written.
    public static func check(_ signer: Signer, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try SSHSignature.check(signer, environment: environment)
    }

    /// Signs `dir/manifest.json` into `dir/manifest.json.sig`.
    public static func sign(_ dir: String, with signer: Signer, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try SSHSignature.sign("\(dir)/manifest.json", namespace: namespace, with: signer, environment: environment)
    }

    /// What `verify` found.
    public struct Verdict: Sendable, Equatable {
        /// `Good "firedrill-evidence" signature for ID with ED25519 key SHA256:…` when good.
        public var signature: String?
        public var signer: String?
        public var problems: [String]
        public var runs: [Run]
        public var files: Int
        public var ok: Bool { problems.isEmpty && signature != nil }
    }

    /// Checks a pack folder: the signature over the manifest against `allowedSigners` (as
    /// `identity`, or whichever principal the file names for the key), every file's size and
    /// SHA-256, no file the manifest does not list, the statement's subjects against the files,
    /// and each journal's hash chain and head against the manifest.
    public static func verify(_ dir: String, allowedSigners: String, identity: String?) throws -> Verdict {
        let fm = FileManager.default
        let manifestPath = "\(dir)/manifest.json"
        guard fm.isReadableFile(atPath: allowedSigners) else {
            throw CommandError("the allowed signers file \(allowedSigners) does not exist", hint: "one line per signer: 'ID ssh-ed25519 AAAA…' (ssh-keygen(1), ALLOWED SIGNERS)")
        }
        guard let data = fm.contents(atPath: manifestPath) else {
            throw CommandError("\(dir) is not an evidence pack: it has no manifest.json", hint: "give the folder or .tar.gz that firedrill evidence wrote")
        }
        var problems: [String] = []
        // The signature first: it is what makes the rest worth checking.
        let checked = try SSHSignature.verify(manifestPath, namespace: namespace, allowedSigners: allowedSigners, identity: identity)
        let signature = checked.good, signer = checked.signer
        if let p = checked.problem { problems.append(p) }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            problems.append("manifest.json is not a firedrill.evidence/1 manifest")
            return Verdict(signature: signature, signer: signer, problems: problems, runs: [], files: 0)
        }
        if manifest.format != format { problems.append("manifest.json is \(manifest.format), not \(format)") }
        let listed = Dictionary(manifest.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for f in manifest.files {
            guard f.path.split(separator: "/").allSatisfy({ $0 != ".." && $0 != "." }), !f.path.hasPrefix("/") else {
                problems.append("manifest.json lists a path outside the pack: \(f.path)"); continue
            }
            var st = stat()
            guard lstat("\(dir)/\(f.path)", &st) == 0 else { problems.append("\(f.path) is missing"); continue }
            guard st.st_mode & S_IFMT == S_IFREG else { problems.append("\(f.path) is not a regular file (a link?): not read"); continue }
            guard let bytes = fm.contents(atPath: "\(dir)/\(f.path)") else { problems.append("\(f.path) cannot be read"); continue }
            let digest = Journal.sha256(bytes)
            if digest != f.sha256 {
                problems.append("\(f.path) was changed: its SHA-256 is \(digest.prefix(16))…, the manifest says \(f.sha256.prefix(16))…")
            } else if bytes.count != f.bytes {
                problems.append("\(f.path) is \(bytes.count) bytes, the manifest says \(f.bytes)")
            }
        }
        var strays: [String] = []
        for f in (try? files(in: dir, strays: &strays)) ?? [] where listed[f.path] == nil { problems.append("\(f.path) is not in the manifest: it was added") }
        for stray in strays { problems.append("\(stray) is not a regular file (a link, a fifo…): it was added") }
        for m in ["manifest.json", "manifest.json.sig"] {
            var st = stat()
            if lstat("\(dir)/\(m)", &st) == 0, st.st_mode & S_IFMT != S_IFREG { problems.append("\(m) is not a regular file") }
        }
        // The statement names the same files with the same digests.
        if let s = fm.contents(atPath: "\(dir)/statement.intoto.json"), let st = try? JSONDecoder().decode(Statement.self, from: s) {
            if st.predicateType != predicateType { problems.append("statement.intoto.json has predicate type \(st.predicateType)") }
            for subject in st.subject where listed[subject.name]?.sha256 != subject.digest["sha256"] {
                problems.append("statement.intoto.json names \(subject.name) with another digest than the manifest")
            }
        } else if listed["statement.intoto.json"] != nil {
            problems.append("statement.intoto.json is not an in-toto Statement")
        }
        // Each journal: its chain holds, and it is the one the manifest describes.
        for run in manifest.runs {
            let path = "\(dir)/runs/\(safeName(run.run))/journal.jsonl"
            guard fm.fileExists(atPath: path) else { continue }
            guard let archive = try? RunArchive.open(path) else { problems.append("runs/\(run.run)/journal.jsonl cannot be read"); continue }
            if let p = archive.problem { problems.append("runs/\(run.run)/journal.jsonl is damaged: \(p)") }
            else if archive.lastHash != run.journalHead { problems.append("runs/\(run.run)/journal.jsonl ends at \(archive.lastHash.prefix(12))…, the manifest says \(run.journalHead.prefix(12))…") }
        }
        return Verdict(signature: signature, signer: signer, problems: problems, runs: manifest.runs, files: manifest.files.count)
    }

    struct Statement: Decodable {
        struct Subject: Decodable { var name: String; var digest: [String: String] }
        var subject: [Subject]
        var predicateType: String
    }

    // MARK: files

    static func files(in dir: String) throws -> [File] {
        var strays: [String] = []
        return try files(in: dir, strays: &strays)
    }

    /// Every regular file under `dir` but the manifest and its signature, by path; anything
    /// else (a link, a fifo, a device) in `strays`.
    static func files(in dir: String, strays: inout [String]) throws -> [File] {
        let fm = FileManager.default
        var out: [File] = []
        guard let walk = fm.enumerator(atPath: dir) else { return [] }
        while let rel = walk.nextObject() as? String {
            if rel == "manifest.json" || rel == "manifest.json.sig" { continue }
            // Only regular files and folders belong in a pack: a link is never followed out of it.
            var st = stat()
            guard lstat("\(dir)/\(rel)", &st) == 0 else { strays.append(rel); continue }
            if st.st_mode & S_IFMT == S_IFDIR { continue }
            guard st.st_mode & S_IFMT == S_IFREG else { strays.append(rel); walk.skipDescendants(); continue }
            guard let bytes = fm.contents(atPath: "\(dir)/\(rel)") else { throw CommandError("cannot read \(dir)/\(rel)", exit: .failed) }
            out.append(File(path: rel, sha256: Journal.sha256(bytes), bytes: bytes.count))
        }
        return out.sorted { $0.path < $1.path }
    }

    /// A run ID as a folder name: letters, digits, `-`, `_`, `.` (a run ID already is).
    public static func safeName(_ id: String) -> String {
        let name = String(id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        return name.isEmpty || name == "." || name == ".." ? "run" : name
    }

    static func copy(_ from: String, to: String) throws {
        guard let data = FileManager.default.contents(atPath: from) else { throw CommandError("cannot read \(from)", exit: .failed) }
        try write(data, to: to)
    }

    static func write(_ text: String, to path: String) throws { try write(Data(text.utf8), to: path) }

    static func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw CommandError("cannot write \(path): \(error.localizedDescription)", exit: .failed)
        }
    }
}
