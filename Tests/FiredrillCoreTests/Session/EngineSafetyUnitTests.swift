import Foundation
import Testing
@testable import FiredrillCore

/// The pure parts of the drill path's safety: wait budgets, masking at a cut edge, known_hosts
/// matching, failure grouping, what a resume reads from a journal, and the locks.
@Suite struct EngineSafetyUnitTests {
    @Test func everyWaitOnACommandIsBounded() {
        let b = CommandBudget(timeout: .seconds(10), grace: .seconds(5))
        #expect(b.waitForEnd == .seconds(16))
        #expect(b.worstCase == .seconds(20), "timeout + grace + 1 s slack + 3 s to kill + 1 s to close")
        #expect(CommandBudget(timeout: .seconds(2), grace: .seconds(1)).worstCase == .seconds(8))
    }

    @Test(arguments: [
        // (output, cut before, cut after, expected)
        ("abc123-secret-value and more", false, false, "abc123-\(Secret.mask) and more"),
        ("value tail", true, false, "\(Secret.mask) tail"),          // "value" ends the secret: a cut left it
        ("t-value tail", true, false, "\(Secret.mask) tail"),
        ("head sec", false, true, "head \(Secret.mask)"),             // "sec" starts the secret
        ("plain output", true, true, "plain output"),
    ])
    func secretsAreMaskedAtACutEdge(_ text: String, _ before: Bool, _ after: Bool, _ expected: String) {
        let mask = SecretMasker(["s": Secret("secret-value")])
        #expect(mask(text, cutBefore: before, cutAfter: after) == expected)
    }

    @Test func capturedTailThatStartsInsideASecretIsMasked() {
        var out = CapturedOutput(limit: 8)
        out.append(Array("hunter22-secret!!rest".utf8))
        out.finish()
        #expect(out.droppedBytes > 0)
        let masked = SecretMasker(["p": Secret("hunter22-secret!!")]).output(out)
        #expect(!masked.contains("!!") && !masked.contains("et!"), "\(masked)")
        #expect(masked.hasSuffix("rest"))
    }

    @Test func secretsAreFoundByTheirBytesAndTheirShellForms() {
        let mask = SecretMasker(["u": Secret("pässwörd-ünïcødé"), "q": Secret("S3cr3t-Val'ue-15")])
        // A combining accent after the value makes a different last character, not different bytes.
        #expect(mask("S3cr3t-Val'ue-15\u{301} ok") == "\(Secret.mask)\u{301} ok")
        // `set -x` shows a value as the shell quoted it.
        #expect(mask("+ : 'S3cr3t-Val'\\''ue-15'") == "+ : \(Secret.mask)")
        // Bash's $'…' form of a value with special bytes (printf %q, ${v@Q}, set -x).
        let bash = SecretMasker(["b": Secret("héllo€wörld"), "t": Secret("pass\tw0rd-xyz")])
        #expect(bash(#"+ : $'h\303\251llo\342\202\254w\303\266rld'"#) == "+ : \(Secret.mask)")
        #expect(bash(#"declare -- v=$'pass\tw0rd-xyz'"#) == "declare -- v=\(Secret.mask)")
        // Each line of a multi-line secret (a key file) is secret on its own.
        let key = SecretMasker(["k": Secret("line1-Mu1tiLine\nline2-S3condPart")])
        #expect(key("first: line1-Mu1tiLine; last: line2-S3condPart") == "first: \(Secret.mask); last: \(Secret.mask)")
        // A tail cut inside a two-byte character of the value.
        let value = Array("pässwörd-ünïcødé".utf8)
        for cut in 1..<value.count {
            var out = CapturedOutput(limit: value.count - cut + 4)
            out.append(value + Array("tail".utf8))
            out.finish()
            let shown = mask.output(out)
            #expect(shown == Secret.mask + "tail", "cut at byte \(cut): \(shown)")
        }
    }

    @Test(arguments: [
        ("[10.0.0.5]:2222", "[10.0.0.5]:2222", true),      // brackets are literal, not a glob class
        ("10.0.0.5", "[10.0.0.5]:2222", false),
        ("db*.example.org", "db7.example.org", true),
        ("db?.example.org,!db9.example.org", "db9.example.org", false),
        ("web,db1", "db1", true),
    ])
    func knownHostsNamesMatchAsOpenSSHDoes(_ field: String, _ name: String, _ matches: Bool) {
        #expect(KnownHosts.matches(field, name: name) == matches)
    }

    @Test func keyTypesKnownForAHostAreOfferedFirst() {
        let known = [KnownHosts.Entry(type: "ecdsa-sha2-nistp256", key: Data(), line: 1)]
        #expect(KnownHosts.algorithmPreference(known: known).hasPrefix("ecdsa-sha2-nistp256,ssh-ed25519,"))
        #expect(KnownHosts.algorithmPreference(known: []).hasPrefix("ssh-ed25519,"))
    }

    @Test func repeatedFailuresAreGroupedByStepAndReason() {
        let hosts = ["db1", "db2", "db3", "db4", "db5", "db6"]
        let failures = hosts.map { Failure(step: "restore.1 Rejoin", host: $0, reason: "exit 3: cannot rejoin") }
            + [Failure(step: "restore.1 Rejoin", host: "db7", reason: "timed out (killed on the host)")]
        #expect(Failure.grouped(failures) == [
            "restore.1 Rejoin failed on 6 hosts (db1, db2, db3, …): exit 3: cannot rejoin",
            "restore.1 Rejoin on db7: timed out (killed on the host)",
        ])
    }

    func point(_ payloads: [JournalEvent.Payload]) -> ResumePoint {
        let record = DrillRecord.fold(payloads.map { JournalEvent($0) })
        return ResumePoint(runID: "r", record: record, facts: record.facts!, lastEvent: "\(payloads.count) x", tornBytes: nil)
    }

    @Test func aResumeReadsWhatWasTouchedRestoredAndLeftRunning() throws {
        let facts = RunFacts(service: "s", criticality: "high", owner: nil, scenario: nil, exercise: nil, rtoObjectiveSeconds: nil,
                             rpoObjectiveSeconds: nil, playbook: "/p.yml", playbookSHA256: "x", inventory: [], inventorySHA256: "y",
                             limit: nil, extraVarNames: ["vip"], operator: "o", controller: "c", version: "v")
        let started = JournalEvent.Payload.runStarted(.init(name: "s", facts: facts, plan: nil))
        let step1 = JournalEvent.Payload.stepStarted(.init(phase: .failover, step: "failover.1", name: "Stop"))
        let events: [JournalEvent.Payload] = [
            started, step1,
            .commandStarted(.init(phase: .failover, step: "failover.1", host: "db1", command: "x", processTag: "t1")),
            .commandStarted(.init(phase: .failover, step: "failover.1", host: "db2", command: "x", processTag: "t2")),
            .commandRunning(.init(phase: .failover, step: "failover.1", host: "db1", pgid: 42, processTag: "t1")),
            .commandRunning(.init(phase: .failover, step: "failover.1", host: "db2", pgid: 43, processTag: "t2")),
            .commandFinished(.init(phase: .failover, step: "failover.1", host: "db2", passed: true, exit: 0)),
            .stepStarted(.init(phase: .restore, step: "restore.1", name: "a")),
            .stepStarted(.init(phase: .restore, step: "restore.2", name: "b")),
            .stepFinished(.init(phase: .restore, step: "restore.2", result: .passed)),
            .stepFinished(.init(phase: .restore, step: "restore.1", result: .failed)),
        ]
        let p = point(events)
        #expect(p.touched)
        #expect(p.restoredBefore == [1])
        #expect(p.leftovers == [.init(host: "db1", step: "failover.1", process: RemoteProcess(pgid: 42, tag: "t1"), cause: .deadRunner)])
        // A command whose process group was never reported is still found, by its tag.
        let unreported = point([started, step1, .commandStarted(.init(phase: .failover, step: "failover.1", host: "db1", command: "x", processTag: "t9"))])
        #expect(unreported.leftovers == [.init(host: "db1", step: "failover.1", process: RemoteProcess(pgid: 0, tag: "t9"), cause: .deadRunner)])
        #expect(try JSONDecoder().decode(RunFacts.self, from: JSONEncoder().encode(facts)) == facts)
        let untouched = point([started, .stepStarted(.init(phase: .restore, step: "restore.1", name: "a")),
                               .commandStarted(.init(phase: .restore, step: "restore.1", host: "db1", command: "x", processTag: "t3"))])
        #expect(!untouched.touched, "restore commands alone do not make restore necessary")
        // A failover command recorded as not sent touched nothing; one stopped as a leftover is no longer left over.
        let notSent = point([started, step1, .commandStarted(.init(phase: .failover, step: "failover.1", host: "db1", command: "x", processTag: "t4")),
                             .commandFinished(.init(phase: .failover, step: "failover.1", host: "db1", passed: false, failure: .notSent, detail: "stopping"))])
        #expect(!notSent.touched && notSent.leftovers.isEmpty)
        let stopped = point(events + [.leftoverStopped(.init(phase: .resume, step: "failover.1", host: "db1", pgid: 42, processTag: "t1", verdict: .killed, detail: "killed"))])
        #expect(stopped.leftovers.isEmpty && stopped.touched)
    }

    @Test func locksRefuseASecondHolderAndNameTheFirst() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fd-locks-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = RunLock.Holder(run: "run-a", runs: root, user: "alice", controller: "ctl")
        let a = try RunLock.acquire([.service("ehr-db"), .host("10.0.0.11:22")], in: root, holder: first).get()
        #expect(a.takenOver.isEmpty)
        let second = RunLock.Holder(run: "run-b", runs: root, user: "bob", controller: "ctl")
        switch RunLock.acquire([.service("pharmacy"), .host("10.0.0.11:22")], in: root, holder: second) {
        case .success: Issue.record("two drills hold host 10.0.0.11:22")
        case let .failure(refusal):
            #expect(refusal.key == .host("10.0.0.11:22") && refusal.holder == first)
            #expect(refusal.description.contains("being drilled by run run-a (PID \(getpid())"))
        }
        // Nothing of a refused attempt stays held.
        #expect((try? RunLock.acquire([.service("pharmacy")], in: root, holder: second).get()) != nil)
        a.release()
        let b = try RunLock.acquire([.service("ehr-db")], in: root, holder: second).get()
        #expect(b.takenOver.isEmpty, "a released lock is not stale")
    }

    @Test func aLockFileNamingAHolderThatIsGoneIsTakenOverOnlyIfItsRunEnded() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fd-locks-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dead = RunLock.Holder(run: "run-dead", runs: root, pid: 999_999, user: "alice", controller: "ctl")
        let path = RunLock.path(of: .service("ehr-db"), in: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try JSONEncoder().encode(dead).write(to: URL(fileURLWithPath: path))
        let next = RunLock.Holder(run: "run-new", runs: root, user: "bob", controller: "ctl")
        // Its run never ended: no new drill of the service until it is resumed.
        try FileManager.default.createDirectory(atPath: RunStore(root: root).directory("run-dead"), withIntermediateDirectories: true)
        let journal = try Journal(path: RunStore(root: root).journalPath("run-dead"))
        _ = try await journal.append(JournalEvent(.runStarted(.init(name: "x", facts: nil, plan: nil))), run: "run-dead")
        switch RunLock.acquire([.service("ehr-db")], in: root, holder: next) {
        case .success: Issue.record("a new drill started over an unfinished one")
        case let .failure(refusal):
            #expect(refusal.description.contains("stopped before the run ended") && refusal.hint?.contains("firedrill run --resume run-dead") == true)
        }
        _ = try await journal.append(JournalEvent(.runEnded(.init(result: .passed))), run: "run-dead")
        let lock = try RunLock.acquire([.service("ehr-db")], in: root, holder: next).get()
        #expect(lock.takenOver == ["took over the lock on service ehr-db left by run run-dead (PID 999999 on ctl, started \(dead.started) by alice), which is no longer running"])
    }

    /// A lock folder others can write in must not be a way to make us write elsewhere, or to make
    /// us trust a holder they wrote.
    @Test func lockFilesAreNeverFollowedChmodedOrBelievedFromStrangers() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fd-lockattack-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/locks"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o1777)
        let victim = root + "/victim.txt"
        try "ROOT SECRET".write(toFile: victim, atomically: true, encoding: .utf8)
        chmod(victim, 0o600)
        try FileManager.default.createSymbolicLink(atPath: RunLock.path(of: .service("evil"), in: dir), withDestinationPath: victim)
        let me = RunLock.Holder(run: "r1", runs: root, user: "u", controller: "c")
        switch RunLock.acquire([.service("evil")], in: dir, holder: me) {
        case .success: Issue.record("a symbolic link was taken as a lock file")
        case let .failure(r): #expect(r.description.contains("symbolic link"))
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "ROOT SECRET")
        #expect(((try FileManager.default.attributesOfItem(atPath: victim))[.posixPermissions] as? Int) == 0o600)
        // A holder written by another user is not believed (it could point anywhere).
        let forged = RunLock.path(of: .service("ehr-db"), in: dir)
        try JSONEncoder().encode(RunLock.Holder(run: "dead", runs: "/tmp/evil", pid: 999_999, user: "x", controller: "c")).write(to: URL(fileURLWithPath: forged))
        chown(forged, 65534, 65534)
        let lock = try RunLock.acquire([.service("ehr-db")], in: dir, holder: me).get()
        #expect(lock.takenOver.isEmpty, "a stranger's holder record is not read")
        lock.release()
        // A folder of another user, or writable by all without the sticky bit, is refused.
        chmod(dir, 0o777)
        #expect((try? RunLock.acquire([.service("x")], in: dir, holder: me).get()) == nil)
        chmod(dir, 0o1777)
        chown(dir, 65534, 65534)
        #expect((try? RunLock.acquire([.service("x")], in: dir, holder: me).get()) == nil)
    }

    @Test func oneMachineUnderTwoNamesTakesTheSameHostLock() {
        #expect(RunLock.Key.resolve("localhost").contains("127.0.0.1"))
        #expect(RunLock.Key.resolve("127.0.0.1") == ["127.0.0.1"])
        func keys(_ address: String) -> Set<RunLock.Key> { Set(RunLock.Key.hosts([HostConnection(name: "x", address: address, port: 2222)])) }
        #expect(!keys("localhost").isDisjoint(with: keys("127.0.0.1")))
    }

    @Test func aRunsFolderThatIsAFileIsSaidInWords() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fd-f-\(UUID().uuidString.prefix(8))").path
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(RunStore.folderProblem(file) == "cannot use \(file): \(file) is a file, not a folder")
        #expect(RunStore.folderProblem(file + "/runs") == "cannot use \(file)/runs: \(file) is a file, not a folder")
    }
}
