import Foundation
import Testing
@testable import FiredrillCore

/// The EHR failover on a real PostgreSQL (`lab up --postgres`): a primary for db1 and a
/// streaming standby for db2, run as the postgres user. Each test asks the servers themselves
/// (psql), not the tool's own account of them.
@Suite(.serialized) struct PostgresLabTests {
    /// psql on a lab server, as postgres: its unaligned answer.
    static func ask(_ lab: TestLab, _ host: String, _ sql: String, database: String = "postgres") throws -> String {
        let pg = try #require(lab.lab.state()?.postgres)
        let server = try #require(pg.servers.first { $0.name == host })
        return try pg.query(server, sql, database: database)
    }

    /// Both ends, as the databases say: db1 takes writes, db2 is in recovery and streams from it.
    static func expectOriginalRoles(_ lab: TestLab, _ context: String) throws {
        #expect(try ask(lab, "db1", "SELECT pg_is_in_recovery()") == "f", "db1 is not the primary \(context)")
        #expect(try ask(lab, "db2", "SELECT pg_is_in_recovery()") == "t", "db2 is not a standby \(context)")
        #expect(try ask(lab, "db1", "SELECT application_name || ':' || state FROM pg_stat_replication") == "db2:streaming", "db2 does not stream from db1 \(context)")
        #expect(try ask(lab, "db2", "SELECT status FROM pg_stat_wal_receiver") == "streaming")
    }

    /// What is left of a lab's servers on this machine: processes whose command line names the
    /// lab's PostgreSQL folder, and System V segments they had.
    static func leftovers(root: String, keys: [key_t]) -> [String] {
        var out = BecomeCLITests.processes(matching: root)
        for key in keys where shmget(key, 0, 0) >= 0 { out.append("shared memory segment key \(key)") }
        if FileManager.default.fileExists(atPath: root) { out.append(root) }
        return out
    }

    @Test func theEHRDrillFailsOverARealDatabaseMeasuresTheRPOFromARowAndRejoinsBothEnds() throws {
        let lab = try TestLab.start(postgres: true)
        var stopped = false
        defer { if !stopped { lab.stop() } }
        try Self.expectOriginalRoles(lab, "after lab up")
        let status = try Firedrill.run(["lab", "status", "--dir", lab.dir])
        #expect(status.status == 0 && status.stdout.contains("db1  PostgreSQL") && status.stdout.contains("primary")
                && status.stdout.contains("db2 streaming, lag") && status.stdout.contains("streaming from db1"), "\(status.stdout)")

        let runs = "\(lab.dir)/runs"
        let r = try Firedrill.run(["run", "Playbooks/ehr-db-failover.yml", "-i", lab.inventory, "--yes", "--manual=pass",
                                   "--output", "plain", "--runs-dir", runs])
        #expect(r.status == 0 && r.stdout.contains("Drill PASSED"), "\(r.stdout)\(r.stderr)")
        // The RPO marker is a row: written on db1 before the failover, found on db2 after it,
        // and (replicated back) on both now.
        let (runID, events) = DrillScenarioTests.journal(runs)
        let id = try #require(runID)
        #expect(try Self.ask(lab, "db1", "SELECT count(*) FROM drill_marker WHERE run_id = '\(id)'", database: "ehr") == "1")
        #expect(try Self.ask(lab, "db2", "SELECT count(*) FROM drill_marker WHERE run_id = '\(id)'", database: "ehr") == "1")
        let rpo = try #require(events.first { $0.event == .rpo })
        #expect(rpo.passed == true && (rpo.seconds ?? 99) < 30, "\(rpo)")
        #expect(events.contains { $0.event == .rto && $0.seconds != nil }, "\(events.filter { $0.event == .rto })")
        // The standby really took writes while it was the primary (the verify asked it), and
        // after restore the original roles hold.
        #expect(events.contains { $0.event == .checkResult && $0.check?.hasPrefix("standby_accepts_writes") == true && $0.met == true },
                "\(events.filter { $0.event == .checkResult }.compactMap(\.check))")
        try Self.expectOriginalRoles(lab, "after the drill")
        // A second drill from the end state passes too: the timelines moved on, the roles did not.
        let again = try Firedrill.run(["run", "Playbooks/ehr-db-failover.yml", "-i", lab.inventory, "--yes", "--manual=pass",
                                       "--output", "plain", "--runs-dir", runs])
        #expect(again.status == 0, "\(again.stdout)")
        try Self.expectOriginalRoles(lab, "after a second drill")

        // lab down: no postgres process of this lab, no shared memory, no folder.
        let pg = try #require(lab.lab.state()?.postgres)
        let keys = pg.servers.compactMap(LabPostgres.shmKey(of:))
        #expect(keys.count == 2)
        lab.stop()
        stopped = true
        #expect(Self.leftovers(root: pg.root, keys: keys).isEmpty, "\(Self.leftovers(root: pg.root, keys: keys))")
    }

    /// The standby is lost too before it can be promoted: the drill fails at the promotion and
    /// says why, restore brings db1 back as the primary and db2 back as its standby.
    @Test func aPromotionThatFailsFailsTheDrillAndRestoreRebuildsTheStandby() throws {
        let lab = try TestLab.start(hosts: 4, postgres: true)
        defer { lab.stop() }
        let pb = "\(lab.dir)/ehr-lost-standby.yml"
        var text = try String(contentsOfFile: "\(Firedrill.repoRoot)/Playbooks/ehr-db-failover.yml", encoding: .utf8)
            .replacingOccurrences(of: "include: [checks/common.yml]", with: "include: [\(Firedrill.repoRoot)/Playbooks/checks/common.yml]")
            .replacingOccurrences(of: "inventory: ../Inventory/hospital.yml\n", with: "")
        let promote = "  - name: Promote standby\n"
        #expect(text.contains(promote))
        text = text.replacingOccurrences(of: promote, with: """
              - name: Lose the standby too
                on: db_standby
                run: "{{ pg_bin }}/pg_ctl -D {{ pg_conf }} stop -m immediate -w"
            \(promote)
            """)
        try text.write(toFile: pb, atomically: true, encoding: .utf8)
        let runs = "\(lab.dir)/runs"
        let r = try Firedrill.run(["run", pb, "-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(r.status == 1 && r.stdout.contains("Drill FAILED"), "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("Promote standby") && r.stdout.contains("restore  completed"), "\(r.stdout)")
        let report = try Firedrill.run(["report", "latest", "--runs-dir", runs, "--format", "text"])
        #expect(report.stdout.contains("failover.3 Promote standby") && report.stdout.contains("exit 1"), "\(report.stdout)")
        try Self.expectOriginalRoles(lab, "after restore")
    }

    /// The runner is killed (SIGKILL) once the primary was stopped (the promotion may or may
    /// not have begun): `--resume` runs restore, and the servers end as they began.
    @Test func aRunnerKilledMidFailoverIsResumedToTheSameEndState() throws {
        let lab = try TestLab.start(hosts: 4, postgres: true)
        defer { lab.stop() }
        let runs = "\(lab.dir)/runs"
        let runner = try Firedrill.start(["run", "Playbooks/ehr-db-failover.yml", "-i", lab.inventory, "--yes", "--manual=pass",
                                          "--output", "plain", "--runs-dir", runs])
        #expect(DrillScenarioTests.waitForEvent(in: runs, while: runner) { $0.event == .stepFinished && $0.step == "failover.1" })
        kill(runner.process.processIdentifier, SIGKILL)
        _ = runner.wait()
        #expect(LabPostgres.role(of: try #require(lab.lab.state()?.postgres?.servers.first)) == .stopped, "db1 was stopped")
        let (id, _) = DrillScenarioTests.journal(runs)
        let resumed = try Firedrill.run(["run", "--resume", id ?? "", "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs])
        #expect(resumed.status == 1 && resumed.stdout.contains("restore  completed"), "\(resumed.stdout)\(resumed.stderr)")
        try Self.expectOriginalRoles(lab, "after the resumed restore")
    }

    /// The ransomware case: the latest backup is restored into a scratch instance on the
    /// isolated host and proven whole (rows and checksum as recorded at backup time), the
    /// restore time is the RTO, and the scratch instance is dropped. A damaged backup and one
    /// older than the RPO each fail the drill with the reason.
    @Test func theBackupDrillRestoresTheLatestBackupAndFailsOnADamagedOrOldOne() throws {
        let lab = try TestLab.start(hosts: 4, postgres: true)
        defer { lab.stop() }
        let pg = try #require(lab.lab.state()?.postgres)
        let runs = "\(lab.dir)/runs"
        func drill() throws -> Firedrill.Result {
            try Firedrill.run(["run", "Playbooks/ehr-restore-from-backup.yml", "-i", lab.inventory, "--yes", "--output", "plain", "--runs-dir", runs])
        }
        // A backup taken now (as a site's schedule would), then the drill.
        let backup = try Firedrill.run(["lab", "backup", "--dir", lab.dir])
        #expect(backup.status == 0 && backup.stdout.contains("backup: \(pg.backups)/ehr-"), "\(backup.stdout)\(backup.stderr)")
        let ok = try drill()
        #expect(ok.status == 0 && ok.stdout.contains("Drill PASSED") && ok.stdout.contains("RTO "), "\(ok.stdout)\(ok.stderr)")
        let (_, events) = DrillScenarioTests.journal(runs)
        #expect(events.contains { $0.event == .checkResult && $0.check?.hasPrefix("scratch_integrity") == true && $0.met == true })
        #expect(events.contains { $0.event == .rto && $0.seconds != nil })
        #expect(!FileManager.default.fileExists(atPath: pg.scratchData), "the scratch instance was dropped")
        #expect(BecomeCLITests.processes(matching: pg.scratchData).isEmpty)

        let latest = "\(pg.backups)/" + (try FileManager.default.destinationOfSymbolicLink(atPath: "\(pg.backups)/ehr-latest.dump"))
        let good = try Data(contentsOf: URL(fileURLWithPath: latest))
        // Damaged: 64 bytes flipped in the middle of the dump.
        var bad = good
        for i in (bad.count / 2)..<(bad.count / 2 + 64) { bad[i] ^= 0xff }
        try bad.write(to: URL(fileURLWithPath: latest))
        let damaged = try drill()
        #expect(damaged.status == 1 && damaged.stdout.contains("Restore the backup into a scratch instance") && damaged.stdout.contains("pg_restore: error"),
                "\(damaged.stdout)")
        #expect(!FileManager.default.fileExists(atPath: pg.scratchData), "dropped after a failed restore too")
        // Whole again, but three days old (the link is new: its target's age counts).
        try good.write(to: URL(fileURLWithPath: latest))
        let old = Date().addingTimeInterval(-3 * 86_400)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: latest)
        let stale = try drill()
        #expect(stale.status == 1 && stale.stdout.contains("backup_fresh") && stale.stdout.contains("older than 1d"), "\(stale.stdout)")
    }

    /// A postmaster that crashed leaves its System V segment; a lab folder deleted by hand
    /// leaves its servers: lab down (and the next lab up) clean both.
    @Test func crashedAndOrphanedServersAreCleanedUp() throws {
        let lab = try TestLab.start(hosts: 4, postgres: true)
        defer { lab.stop() }
        let pg = try #require(lab.lab.state()?.postgres)
        let keys = pg.servers.compactMap(LabPostgres.shmKey(of:))
        let db1 = try #require(LabPostgres.postmaster(of: pg.servers[0]))
        kill(db1, SIGKILL)
        var st: Int32 = 0
        _ = waitpid(db1, &st, WNOHANG)
        // Deleted by hand, with one server crashed and one running.
        let copy = "\(lab.dir)-copy"
        try FileManager.default.copyItem(atPath: lab.dir, toPath: copy)
        try FileManager.default.removeItem(atPath: lab.dir)
        let up = try Firedrill.run(["lab", "up", "--hosts", "2", "--postgres", "--dir", lab.dir])
        #expect(up.status == 0 && up.stderr.contains("stopping the database servers an earlier lab"), "\(up.stderr)")
        try? FileManager.default.removeItem(atPath: copy)
        lab.stop()
        #expect(Self.leftovers(root: pg.root, keys: keys).isEmpty, "\(Self.leftovers(root: pg.root, keys: keys))")
        #expect(LabPostgres.orphans(under: pg.root).isEmpty)
    }

    @Test func postgresNeedsTheDatabaseHostsAndNoBastion() throws {
        for (args, says) in [(["--hosts", "1"], "--postgres needs the hosts db1 and db2"),
                             (["--bastion"], "--postgres and --bastion together are not supported yet")] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-pg-\(UUID().uuidString.prefix(6))").path
            let r = try Firedrill.run(["lab", "up", "--dir", dir, "--postgres"] + args)
            #expect(r.status == 3 && r.stderr.contains(says), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: LabPostgres.root(for: dir)))
            _ = try Firedrill.run(["lab", "down", "--dir", dir])
        }
    }
}
