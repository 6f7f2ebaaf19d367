import Foundation
import Testing
@testable import FiredrillCore

/// The signed evidence pack through the binary, checked by OpenSSH's own `ssh-keygen -Y
/// verify` and by `firedrill evidence verify`: one changed byte in any file, an added file, a
/// signer not allowed, all caught; a quarterly pack from the history; the agent as signer.
@Suite struct EvidenceCLITests {
    static let fixtures = Firedrill.repoRoot + "/Tests/FiredrillCoreTests/Fixtures/reports"

    /// Two recorded drills in a runs folder, imported into a history; a signing key and an
    /// allowed_signers file naming it.
    struct Setup {
        let dir: String
        var runs: String { dir + "/runs" }
        var db: String { dir + "/history.sqlite" }
        var key: String { dir + "/signer" }
        var allowed: String { dir + "/allowed_signers" }
        var journals: [String] = []

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-evidence-\(UUID().uuidString.prefix(8))").path
            for name in ["passed", "failed"] {
                let id = try #require(DrillRecord.fold(try JournalReader.read(path: "\(EvidenceCLITests.fixtures)/\(name).jsonl").events).runID)
                let folder = "\(dir)/runs/\(id)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: "\(EvidenceCLITests.fixtures)/\(name).jsonl", toPath: folder + "/journal.jsonl")
                try FileManager.default.copyItem(atPath: "\(EvidenceCLITests.fixtures)/\(name).jsonl.head", toPath: folder + "/journal.jsonl.head")
                journals.append(folder + "/journal.jsonl")
            }
            let imported = try Firedrill.run(["import", "--db", db] + journals)
            #expect(imported.status == 0, "\(imported.stderr)")
            try EvidenceCLITests.keygen(key)
            try "lead@hospital.example \(try String(contentsOfFile: key + ".pub", encoding: .utf8))".write(toFile: allowed, atomically: true, encoding: .utf8)
        }

        func remove() { try? FileManager.default.removeItem(atPath: dir) }
    }

    static func keygen(_ path: String) throws {
        let r = try Chromium.exec("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "signer", "-f", path])
        #expect(r.status == 0)
    }

    /// OpenSSH's own check, as an auditor runs it without Firedrill.
    static func sshVerify(_ pack: String, allowed: String, identity: String = "lead@hospital.example") throws -> Int32 {
        try Chromium.exec("/bin/sh", ["-c", "exec /usr/bin/ssh-keygen -Y verify -f \"$1\" -I \"$2\" -n firedrill-evidence -s \"$3/manifest.json.sig\" < \"$3/manifest.json\"",
                                      "sh", allowed, identity, pack]).status
    }

    @Test func aPackVerifiesWithOpenSSHAndOneChangedByteAnywhereIsCaught() throws {
        let s = try Setup()
        defer { s.remove() }
        let pack = s.dir + "/pack"
        let r = try Firedrill.run(["evidence", "pack"] + s.journals + ["-o", pack, "--key", s.key, "--db", s.db])
        #expect(r.status == 0 && r.stdout.contains("2 drills"), "\(r.stdout)\(r.stderr)")
        #expect(try Self.sshVerify(pack, allowed: s.allowed) == 0, "OpenSSH does not accept the signature")
        let ok = try Firedrill.run(["evidence", "verify", pack, "--allowed-signers", s.allowed])
        #expect(ok.status == 0 && ok.stdout.contains("the pack verifies: signed by lead@hospital.example"), "\(ok.stdout)\(ok.stderr)")

        // What the pack holds.
        let manifest = try JSONDecoder().decode(EvidencePack.Manifest.self, from: try Data(contentsOf: URL(fileURLWithPath: pack + "/manifest.json")))
        #expect(manifest.runs.count == 2 && manifest.runs.allSatisfy(\.chainVerified))
        for run in manifest.runs {
            for file in ["journal.jsonl", "journal.jsonl.head", "report.html", "report.json", "report.md", "report.junit.xml", "score.json", "after-action.json"] {
                #expect(manifest.files.contains { $0.path == "runs/\(run.run)/\(file)" }, "\(file) of \(run.run) is not in the pack")
            }
        }
        let statement = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: pack + "/statement.intoto.json"))) as? [String: Any])
        #expect(statement["_type"] as? String == "https://in-toto.io/Statement/v1")
        let subjects = (statement["subject"] as? [[String: Any]]) ?? []
        #expect(subjects.count == manifest.files.count - 1, "every file but the statement is a subject")

        // One byte changed in any file — or in the manifest, or in its signature — is caught.
        for file in manifest.files.map(\.path) + ["manifest.json", "manifest.json.sig"] {
            let copy = s.dir + "/tampered"
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: pack, toPath: copy)
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(copy)/\(file)")))
            let i = bytes.count / 2
            bytes[i] = bytes[i] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            try Data(bytes).write(to: URL(fileURLWithPath: "\(copy)/\(file)"))
            let v = try Firedrill.run(["evidence", "verify", copy, "--allowed-signers", s.allowed])
            #expect(v.status == 1 && v.stdout.contains("✗"), "a changed byte in \(file) passed: \(v.stdout)")
            if file.hasPrefix("manifest.json") { #expect(try Self.sshVerify(copy, allowed: s.allowed) != 0, "OpenSSH accepted a changed \(file)") }
            else { #expect(v.stdout.contains("\(file) was changed"), "\(file): \(v.stdout)") }
        }
        // A file added, a signer not allowed.
        try "late addition\n".write(toFile: pack + "/runs/extra.txt", atomically: true, encoding: .utf8)
        let added = try Firedrill.run(["evidence", "verify", pack, "--allowed-signers", s.allowed])
        #expect(added.status == 1 && added.stdout.contains("runs/extra.txt is not in the manifest"), "\(added.stdout)")
        try FileManager.default.removeItem(atPath: pack + "/runs/extra.txt")
        try Self.keygen(s.dir + "/other")
        try "lead@hospital.example \(try String(contentsOfFile: s.dir + "/other.pub", encoding: .utf8))".write(toFile: s.dir + "/other_allowed", atomically: true, encoding: .utf8)
        let stranger = try Firedrill.run(["evidence", "verify", pack, "--allowed-signers", s.dir + "/other_allowed"])
        #expect(stranger.status == 1 && !stranger.stdout.contains("the pack verifies"), "\(stranger.stdout)")
    }

    /// A quarterly pack from the history as one .tar.gz, signed by the agent's key.
    @Test func aQuarterlyPackFromTheHistorySignedByTheAgent() throws {
        let s = try Setup()
        defer { s.remove() }
        let sock = s.dir + "/agent.sock"
        let agent = try Firedrill.startProcess("/usr/bin/ssh-agent", ["-D", "-a", sock])
        // SIGKILL: the agent may inherit a mask that blocks SIGTERM from the test process.
        defer { kill(agent.process.processIdentifier, SIGKILL); _ = agent.wait() }
        let env = ["SSH_AUTH_SOCK": sock]
        var added: Int32 = -1
        for _ in 0..<100 where added != 0 {   // the agent's socket appears once it listens (bounded)
            added = try Chromium.exec("/usr/bin/env", ["SSH_AUTH_SOCK=\(sock)", "/usr/bin/ssh-add", "-q", s.key]).status
            if added != 0 { usleep(50_000) }
        }
        #expect(added == 0, "ssh-add failed")
        let tarball = s.dir + "/ehr-2026-q4.tar.gz"
        let r = try Firedrill.run(["evidence", "pack", "--service", "ehr-db", "--from", "2026-10-01", "--until", "2026-12-31", "-o", tarball, "--agent", "--db", s.db],
                                  environment: env)
        #expect(r.status == 0 && r.stdout.contains("2 drills"), "\(r.stdout)\(r.stderr)")
        let v = try Firedrill.run(["evidence", "verify", tarball, "--allowed-signers", s.allowed])
        #expect(v.status == 0 && v.stdout.contains("Good \"firedrill-evidence\" signature for lead@hospital.example"), "\(v.stdout)\(v.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tarball + ".part"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.dir).allSatisfy { !$0.contains(".tmp-") }, "the pack's scratch folder was left")
        // A period with no drill.
        let none = try Firedrill.run(["evidence", "pack", "--service", "ehr-db", "--until", "2026-01-31", "-o", s.dir + "/none.tar.gz", "--agent", "--db", s.db], environment: env)
        #expect(none.status == 2 && none.stderr.contains("no drill of ehr-db in the history until 2026-01-31"), "\(none.stderr)")
    }

    /// Packs written at once to one place: one wins, the others say so (exit 2), nothing half
    /// written is left, and the winner verifies.
    @Test func packsWrittenAtOnceToOnePlaceLeaveOneWholePack() throws {
        let s = try Setup()
        defer { s.remove() }
        for output in [s.dir + "/same", s.dir + "/same.tar.gz"] {
            let writers = try (0..<3).map { _ in try Firedrill.start(["evidence", "pack"] + s.journals + ["-o", output, "--key", s.key, "--db", s.db]) }
            let results = writers.map { $0.wait() }
            #expect(results.filter { $0.status == 0 }.count == 1, "\(results.map(\.status))")
            #expect(results.allSatisfy { $0.status == 0 || $0.status == 2 } && !results.contains { $0.stderr.contains("Error Domain") }, "\(results.map(\.stderr))")
            let v = try Firedrill.run(["evidence", "verify", output, "--allowed-signers", s.allowed])
            #expect(v.status == 0, "\(v.stdout)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: s.dir).filter { $0.contains(".tmp-") || $0.hasSuffix(".part") }
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func badInputIsRefusedWithWhatToDo() throws {
        let s = try Setup()
        defer { s.remove() }
        for (args, says) in [
            (["evidence", "pack", s.journals[0], "-o", s.dir + "/p"], "say how to sign the pack"),
            (["evidence", "pack", "-o", s.dir + "/p", "--key", s.key], "name the drills to pack"),
            (["evidence", "pack", s.journals[0], "--service", "ehr-db", "-o", s.dir + "/p", "--key", s.key], "not both"),
            (["evidence", "pack", "--service", "ehr-db", "--from", "2026-13-01", "-o", s.dir + "/p", "--key", s.key, "--db", s.db], "is not a date"),
            (["evidence", "pack", s.journals[0], "-o", s.dir + "/p", "--key", s.dir + "/missing"], "does not exist"),
            (["evidence", "pack", s.journals[0], "-o", s.runs, "--key", s.key], "not an empty folder"),
            (["evidence", "verify", s.dir, "--allowed-signers", s.allowed], "has no manifest.json"),
            (["evidence", "verify", s.dir + "/nope", "--allowed-signers", s.allowed], "no such pack"),
        ] {
            let r = try Firedrill.run(args + (args.contains("--db") ? [] : ["--db", s.db].filter { _ in args[1] == "pack" }))
            #expect(r.status == 2 && r.stderr.contains(says), "\(args): \(r.status) \(r.stderr)")
            #expect(!r.stderr.contains("Error(") && !r.stderr.contains("Swift"), "\(r.stderr)")
        }
    }
}
