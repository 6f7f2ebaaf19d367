import Foundation
import Testing
@testable import FiredrillCore

/// Four eyes through the binary, signed and checked by OpenSSH's own ssh-keygen: a drill that
/// requires approval does not start without a valid one (none, the operator's own, another
/// playbook version, another --limit, a window not open, a changed byte), starts under one and
/// journals it; the evidence pack carries it so an auditor re-checks it with ssh-keygen; `due
/// --run` uses a standing approval.
@Suite struct ApprovalCLITests {
    typealias Scenario = DrillScenarioTests

    /// Keys for alice (an approver), mallory (in the allowed signers file, not an approver) and
    /// eve (in no file); an allowed signers file; a lab; the simulated EHR drill requiring approval.
    struct Setup {
        let lab: TestLab
        let playbook: String
        let runs: String
        var dir: String { lab.dir }
        var allowed: String { dir + "/allowed_signers" }
        var approvals: String { dir + "/approvals" }

        init(service: String = "ehr-db") throws {
            let lab = try TestLab.start(hosts: 2)
            let dir = lab.dir
            self.lab = lab
            runs = Scenario.runsDir(in: lab)
            var signers = ""
            for who in ["alice", "mallory", "eve"] {
                try EvidenceCLITests.keygen(dir + "/" + who)
                if who != "eve" { signers += "\(who)@hospital.example \(try String(contentsOfFile: "\(dir)/\(who).pub", encoding: .utf8))" }
            }
            try signers.write(toFile: dir + "/allowed_signers", atomically: true, encoding: .utf8)
            let playbook = try lab.ehrPlaybook([("service: ehr-db", "service: \(service)")], at: "\(dir)/\(service).yml")
            let text = try String(contentsOfFile: playbook, encoding: .utf8)
            try (text + "\napproval:\n  approvers: [alice@hospital.example]\n  allowed_signers: allowed_signers\n").write(toFile: playbook, atomically: true, encoding: .utf8)
            self.playbook = playbook
        }

        func approve(_ key: String, window: String = "now..+1h", _ extra: [String] = []) throws -> Firedrill.Result {
            try Firedrill.run(["approve", playbook, "-i", lab.inventory, "--window", window, "--key", dir + "/" + key] + extra)
        }

        func run(_ extra: [String] = [], user: String = "operator") throws -> Firedrill.Result {
            try Firedrill.run(["run", playbook, "-i", lab.inventory, "--yes", "--manual=pass", "--runs-dir", runs, "--db", runs + "/history.sqlite"] + extra,
                              environment: ["USER": user])
        }

        /// Runs started in the runs folder (a refused drill starts none).
        var started: [String] { RunStore(root: runs).list().map(\.id) }
    }

    @Test func aDrillThatRequiresApprovalStartsOnlyUnderAValidOneFromSomeoneElse() throws {
        let s = try Setup()
        defer { s.lab.stop() }
        // None: refused, nothing started, the operator told how to get one.
        let none = try s.run()
        #expect(none.status == 3 && none.stderr.contains("requires a signed approval (the playbook's approval (") && none.stderr.contains("there is none in \(s.approvals)"),
                "\(none.stderr)")
        #expect(none.stderr.contains("hint: ask an approver to run: firedrill approve"), "\(none.stderr)")
        #expect(s.started.isEmpty)

        // Approvals that would not count are not written.
        let mallory = try s.approve("mallory")
        #expect(mallory.status == 2 && mallory.stderr.contains("mallory@hospital.example is not an approver under the playbook's approval"), "\(mallory.stderr)")
        let eve = try s.approve("eve")
        #expect(eve.status == 2 && eve.stderr.contains("your key is not in \(s.allowed)"), "\(eve.stderr)")
        let past = try s.approve("alice", window: "2020-01-01..2020-01-02")
        #expect(past.status == 2 && past.stderr.contains("the window ended at 2020-01-03"), "\(past.stderr)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: s.approvals))?.isEmpty ?? true, "a refused approval left a file")

        // Two approvers writing the same file at once: one wins whole, the other touches nothing.
        let race = s.dir + "/race/same.approval.json"
        let args = ["approve", s.playbook, "-i", s.lab.inventory, "--window", "now..+1h", "--key", s.dir + "/alice", "-o", race]
        let (first, second) = (try Firedrill.start(args), try Firedrill.start(args))
        let results = [first.wait(), second.wait()]
        #expect(results.map(\.status).sorted() == [0, 2], "\(results.map { $0.stderr })")
        #expect(results.contains { $0.stderr.contains("already exists") })
        #expect(try Self.sshVerify(race, allowed: s.allowed, identity: "alice@hospital.example") == 0, "the winner's approval lost its signature")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.dir + "/race").sorted() == ["same.approval.json", "same.approval.json.sig"])

        // One whose window has not opened yet does not count.
        let tomorrow = LocalDate(Journal.timestamp(Date().addingTimeInterval(86400 * 2)).prefix(10).description)!
        let later = try s.approve("alice", window: tomorrow.description, ["-o", s.dir + "/later.approval.json"])
        #expect(later.status == 0, "\(later.stderr)")
        let notYet = try s.run(["--approval", s.dir + "/later.approval.json"])
        #expect(notYet.status == 3 && notYet.stderr.contains("later.approval.json: its window opens at"), "\(notYet.stderr)")

        // Alice approves, with a ticket: written beside the playbook, signed, verifiable by OpenSSH.
        let ok = try s.approve("alice", ["--ticket", "CHG-7"])
        #expect(ok.status == 0 && ok.stdout.contains("by alice@hospital.example for CHG-7") && ok.stdout.contains("every host: 2 hosts"), "\(ok.stdout)\(ok.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: s.approvals).sorted()
        #expect(files.count == 2 && files[0].hasSuffix("-CHG-7.approval.json") && files[1].hasSuffix(".approval.json.sig"), "\(files)")
        let file = s.approvals + "/" + files[0]
        #expect(try Self.sshVerify(file, allowed: s.allowed, identity: "alice@hospital.example") == 0, "OpenSSH does not accept the approval's signature")

        // Alice cannot run what she approved; nor may anyone run it on other hosts.
        let own = try s.run(user: "alice")
        #expect(own.status == 3 && own.stderr.contains("approved by alice@hospital.example, who is running the drill (alice)"), "\(own.stderr)")
        let limited = try s.run(["--limit", "db1"])
        #expect(limited.status == 3 && limited.stderr.contains("it approves every host and this run asks for --limit db1"), "\(limited.stderr)")
        // -e changes what runs: an approval binds the variables given (none here).
        let withVars = try s.run(["-e", "pg_port=1"])
        #expect(withVars.status == 3 && withVars.stderr.contains("it approves no -e variables and this run gives -e pg_port"), "\(withVars.stderr)")
        // A byte changed in the approval breaks its signature.
        let tampered = s.dir + "/tampered.approval.json"
        let doc = try String(contentsOfFile: file, encoding: .utf8)
        try doc.replacingOccurrences(of: "CHG-7", with: "CHG-8").write(toFile: tampered, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: file + ".sig", toPath: tampered + ".sig")
        let forged = try s.run(["--approval", tampered])
        #expect(forged.status == 3 && forged.stderr.contains("its signature does not count for the playbook's approval"), "\(forged.stderr)")
        #expect(s.started.isEmpty, "a refused drill started a run")

        // The operator runs it: it starts (the valid approval is found among the others), and
        // run_started records who approved, the key, the ticket, the document and its signature.
        let run = try s.run()
        #expect(run.status == 0 && run.stdout.contains("Drill PASSED"), "\(run.stdout)\(run.stderr)")
        let (_, lines) = Scenario.journal(s.runs)
        let facts = try #require(DrillRecord.fold(lines.map(JournalEvent.init(line:))).facts)
        let a = try #require(facts.approval, "the journal does not record the approval")
        #expect(a.approver == "alice@hospital.example" && a.ticket == "CHG-7" && a.key?.hasPrefix("SHA256:") == true)
        let sig = try String(contentsOfFile: file + ".sig", encoding: .utf8)
        #expect(a.document == doc && a.signature == sig)
        #expect(facts.operator == "operator")
        let report = try Firedrill.run(["report", "latest", "--runs-dir", s.runs, "--db", s.runs + "/history.sqlite"])
        #expect(report.stdout.contains("approved by alice@hospital.example (CHG-7), window"), "\(report.stdout)")

        // The evidence pack carries the approval as signed: OpenSSH checks it there too.
        let pack = s.dir + "/pack"
        let packed = try Firedrill.run(["evidence", "pack", "latest", "--runs-dir", s.runs, "--db", s.runs + "/history.sqlite", "-o", pack, "--unsigned"])
        #expect(packed.status == 0, "\(packed.stderr)")
        let inPack = "\(pack)/runs/\(try #require(s.started.first))/approval.json"
        #expect(try Self.sshVerify(inPack, allowed: s.allowed, identity: "alice@hospital.example") == 0, "the packed approval does not verify")

        // The playbook changed after approval: refused until approved again.
        try (try String(contentsOfFile: s.playbook, encoding: .utf8) + "# edited\n").write(toFile: s.playbook, atomically: true, encoding: .utf8)
        let edited = try s.run()
        #expect(edited.status == 3 && edited.stderr.contains("it approves another version of the playbook"), "\(edited.stderr)")
    }

    @Test func dueRunUsesAStandingApproval() throws {
        let s = try Setup(service: "ehr-db-approved")
        defer { s.lab.stop() }
        // A second playbook that requires approval and has none.
        try FileManager.default.createDirectory(atPath: s.dir + "/books", withIntermediateDirectories: true)
        let other = try s.lab.ehrPlaybook([("service: ehr-db", "service: ehr-db-unapproved")], at: "\(s.dir)/books/unapproved.yml")
        try (try String(contentsOfFile: other, encoding: .utf8) + "\napproval: { allowed_signers: ../allowed_signers }\n").write(toFile: other, atomically: true, encoding: .utf8)
        try FileManager.default.moveItem(atPath: s.playbook, toPath: s.dir + "/books/approved.yml")
        let playbook = s.dir + "/books/approved.yml"
        try (try String(contentsOfFile: playbook, encoding: .utf8)).replacingOccurrences(of: "allowed_signers: allowed_signers", with: "allowed_signers: ../allowed_signers")
            .write(toFile: playbook, atomically: true, encoding: .utf8)
        // A standing approval for the quarter, kept with the change records.
        let standing = try Firedrill.run(["approve", playbook, "-i", s.lab.inventory, "--window", "now..+90d", "--key", s.dir + "/alice", "-o", s.dir + "/change-records/q1.approval.json"])
        #expect(standing.status == 0, "\(standing.stderr)")
        // Saturday 2027-01-02 02:30 in Los Angeles: both are in their window.
        let r = try Firedrill.run(["due", "--dir", s.dir + "/books", "-i", s.lab.inventory, "--db", s.runs + "/history.sqlite", "--now", "2027-01-02T10:30:00Z",
                                   "--run", "--yes", "--manual=pass", "--runs-dir", s.runs, "--approval", s.dir + "/change-records"], environment: ["USER": "operator"])
        #expect(r.stdout.contains("running ehr-db-approved") && r.stdout.contains("ehr-db-approved: exit 0"), "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ehr-db-unapproved: exit 3") && r.stderr.contains("requires a signed approval"), "\(r.stdout)\(r.stderr)")
        #expect(r.status == 3, "the worst drill's status: preconditions")
        #expect(s.started.count == 1)
    }

    static func sshVerify(_ file: String, allowed: String, identity: String) throws -> Int32 {
        try Chromium.exec("/bin/sh", ["-c", "exec /usr/bin/ssh-keygen -Y verify -f \"$1\" -I \"$2\" -n firedrill-approval -s \"$3.sig\" < \"$3\"",
                                      "sh", allowed, identity, file]).status
    }
}
