import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The lab's real PostgreSQL (`lab up --postgres`): Debian's server binaries, run as the
/// `postgres` user (PostgreSQL refuses root), a primary for db1 and a streaming standby for db2.
///
/// Layout, per server, under `root` (`/tmp/firedrill-pg-<hash of the lab folder>`, mode 700,
/// owned by postgres — a lab folder under /root would be closed to postgres):
/// - `NAME/data`: the data folder (`pg_data`, and the folder `pg_ctl -D` takes: `pg_conf`);
///   its `postgresql.conf` is the same on both servers (as clones' are: `pg_basebackup` and
///   `pg_rewind` copy it) and includes `../server.conf`, which is each server's own (`port`,
///   `cluster_name`) and never copied;
/// - `NAME/postgresql.log` (`pg_log`).
///
/// Lab only: the servers listen on 127.0.0.1 and accept the `postgres` user there without a
/// password (`trust`), also for replication; they have no Unix socket, and dynamic shared
/// memory lives in the data folder, so nothing is left in /dev/shm or /var/run/postgresql.
public struct LabPostgres: Sendable, Codable, Equatable {
    public struct Server: Sendable, Codable, Equatable {
        public var name: String
        public var port: Int
        public var data: String
        public var log: String
    }

    public var root: String
    public var bin: String
    public var version: String
    public var servers: [Server]
    /// Where backups go (`lab backup`), and the scratch instance a restore drill may start.
    public var backups: String { "\(root)/backups" }
    public var scratchData: String { "\(root)/scratch" }
    /// The port the scratch instance of a restore drill listens on (chosen at `lab up`).
    public var scratchPort: Int = 0

    /// The database the examples drill: `drill_marker` (RPO markers) and `medication_orders`.
    public static let database = "ehr"
    static let user = "postgres"

    /// The newest installed server's binaries (`/usr/lib/postgresql/N/bin`).
    static func findBinaries() -> (bin: String, version: String)? {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted(by: >)
        for v in versions where FileManager.default.isExecutableFile(atPath: "\(base)/\(v)/bin/initdb") {
            return ("\(base)/\(v)/bin", String(v))
        }
        return nil
    }

    /// Where a lab's servers live: one folder per lab, named by its path.
    static func root(for directory: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in directory.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "/tmp/firedrill-pg-" + String(hash, radix: 16).prefix(12)
    }

    static let commonConfig = """

    # --- Firedrill lab (the same on every server: base backups and pg_rewind copy this file) ---
    listen_addresses = '127.0.0.1'
    unix_socket_directories = ''
    dynamic_shared_memory_type = mmap
    shared_buffers = 16MB
    max_connections = 30
    wal_level = replica
    max_wal_senders = 5
    wal_keep_size = 128MB
    hot_standby = on
    # This server's own port and name, kept beside the data folder (never copied).
    include_if_exists = '../server.conf'

    """

    static let hba = """
    # Firedrill lab only: the postgres user over TCP on 127.0.0.1, without a password.
    host  all          postgres  127.0.0.1/32  trust
    host  replication  postgres  127.0.0.1/32  trust

    """

    /// The EHR database's schema and a known table (its rows and checksum are what a restore
    /// is checked against).
    static let schema = """
    CREATE TABLE drill_marker (run_id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE medication_orders (id int PRIMARY KEY, patient text NOT NULL, drug text NOT NULL, dose text NOT NULL);
    INSERT INTO medication_orders SELECT i, 'patient-' || (i % 97), (ARRAY['heparin','insulin','vancomycin','morphine'])[1 + i % 4], (i % 5 + 1) || ' mg' FROM generate_series(1, 1000) AS i;
    """

    // MARK: - start

    /// Creates and starts a primary for `primary` and a streaming standby for `standby`.
    static func start(directory: String, primary: String, standby: String, progress: (String) -> Void,
                      save: (LabPostgres) throws -> Void) throws -> LabPostgres {
        guard geteuid() == 0 else {
            throw Lab.Failure(message: "lab up --postgres runs PostgreSQL as the postgres user, which needs root",
                              hint: "run `lab up --postgres` as root, or leave --postgres out for the simulated database")
        }
        guard let (bin, version) = findBinaries() else {
            throw Lab.Failure(message: "PostgreSQL is not installed", hint: "apt-get install postgresql (scripts/setup.sh does)")
        }
        guard let pw = getpwnam(user) else {
            throw Lab.Failure(message: "there is no postgres user on this machine", hint: "apt-get install postgresql creates it")
        }
        let uid = pw.pointee.pw_uid, gid = pw.pointee.pw_gid
        let root = Self.root(for: directory)
        if FileManager.default.fileExists(atPath: root) {
            // An earlier lab in this folder that did not stop cleanly: its servers are ours to stop.
            progress("stopping the database servers an earlier lab in \(directory) left in \(root)")
            stopStale(directory: directory)
            if FileManager.default.fileExists(atPath: root) {
                throw Lab.Failure(message: "\(root) is left from an earlier lab in \(directory) and could not be removed",
                                  hint: "stop its servers (postgres -D \(root)/…) and remove the folder")
            }
        }
        guard mkdir(root, 0o700) == 0, chown(root, uid, gid) == 0 else {
            throw Lab.Failure(message: "cannot create \(root): \(String(cString: strerror(errno)))")
        }
        var pg = LabPostgres(root: root, bin: bin, version: version, servers: [])
        try save(pg)
        for name in [primary, standby] {
            guard mkdir("\(root)/\(name)", 0o700) == 0, chown("\(root)/\(name)", uid, gid) == 0 else {
                throw Lab.Failure(message: "cannot create \(root)/\(name): \(String(cString: strerror(errno)))")
            }
        }
        // The primary: a new cluster with data checksums (pg_rewind needs them or wal_log_hints).
        var first = Server(name: primary, port: try Lab.freePort(), data: "\(root)/\(primary)/data", log: "\(root)/\(primary)/postgresql.log")
        try pg.asPostgres(["\(bin)/initdb", "-D", first.data, "-k", "-A", "trust", "-U", user, "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
                          what: "initdb for \(primary)")
        try pg.writeAsPostgres("\(first.data)/postgresql.conf", append: commonConfig)
        try pg.writeAsPostgres("\(first.data)/pg_hba.conf", hba)
        try pg.startServer(&first)
        pg.servers.append(first)
        try save(pg)
        try pg.query(first, "CREATE DATABASE \(database)")
        try pg.query(first, schema, database: database)
        progress("PostgreSQL \(version) primary for \(primary) on 127.0.0.1:\(first.port) (data \(first.data))")
        // The standby: a base backup of the primary that streams from it.
        var second = Server(name: standby, port: try Lab.freePort(), data: "\(root)/\(standby)/data", log: "\(root)/\(standby)/postgresql.log")
        try pg.asPostgres(["\(bin)/pg_basebackup", "-h", "127.0.0.1", "-p", String(first.port), "-U", user, "-D", second.data, "-R", "-X", "stream", "-c", "fast"],
                          what: "pg_basebackup for \(standby)")
        try pg.startServer(&second)
        pg.servers.append(second)
        try save(pg)
        let deadline = ContinuousClock.now + .seconds(20)
        while pg.replication(of: first).first(where: { $0.name == standby && $0.state == "streaming" }) == nil {
            guard ContinuousClock.now < deadline else {
                throw Lab.Failure(message: "the standby for \(standby) does not stream from \(primary)", hint: "see \(second.log)")
            }
            usleep(50_000)
        }
        progress("PostgreSQL \(version) standby for \(standby) on 127.0.0.1:\(second.port), streaming from \(primary)")
        guard mkdir(pg.backups, 0o700) == 0, chown(pg.backups, uid, gid) == 0 else {
            throw Lab.Failure(message: "cannot create \(pg.backups): \(String(cString: strerror(errno)))")
        }
        pg.scratchPort = try Lab.freePort()
        try save(pg)
        let backup = try pg.backup()
        progress("backup \(backup) in \(pg.backups)")
        return pg
    }

    /// Writes the server's own settings and starts it (a few ports are tried: one may be taken
    /// between choosing and binding it).
    func startServer(_ server: inout Server) throws {
        for attempt in 0..<4 {
            if attempt > 0 { server.port = try Lab.freePort() }
            try writeAsPostgres((server.data as NSString).deletingLastPathComponent + "/server.conf",
                                "# This server's own settings (Firedrill lab).\nport = \(server.port)\ncluster_name = '\(server.name)'\n")
            do {
                try asPostgres(["\(bin)/pg_ctl", "-D", server.data, "-l", server.log, "-w", "-t", "30", "start"], what: "starting \(server.name)'s server")
                return
            } catch {
                let log = (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? ""
                if !log.contains("Address already in use") || attempt == 3 { throw error }
            }
        }
    }

    // MARK: - backups

    /// The known table's fingerprint, `ROWS:MD5`: what a restore is checked against.
    public static let fingerprintSQL = "SELECT count(*) || ':' || md5(string_agg(id || '|' || patient || '|' || drug || '|' || dose, ',' ORDER BY id)) FROM medication_orders"

    /// Takes a backup of the EHR database from the current primary (`pg_dump -Fc`) into
    /// `backups/ehr-TIME.dump`, with the known table's fingerprint beside it
    /// (`ehr-TIME.manifest`); `ehr-latest.dump` and `ehr-latest.manifest` then point at them.
    /// Returns the dump's file name.
    @discardableResult
    public func backup() throws -> String {
        guard let primary = servers.first(where: { Self.role(of: $0) == .primary }) else {
            throw Lab.Failure(message: "no PostgreSQL server of the lab accepts writes: nothing to back up", hint: "see `firedrill lab status`")
        }
        var now = time(nil)
        var tmv = tm()
        gmtime_r(&now, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        strftime(&buf, buf.count, "%Y%m%dT%H%M%SZ", &tmv)
        let written = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var stamp = written
        // Two backups in one second are two backups.
        var n = 1
        while FileManager.default.fileExists(atPath: "\(backups)/ehr-\(stamp).dump") {
            n += 1
            stamp = written + "-\(n)"
        }
        let name = "ehr-\(stamp).dump"
        // The fingerprint before the dump: nothing writes the known table while the lab runs.
        let fingerprint = try query(primary, Self.fingerprintSQL, database: Self.database)
        try asPostgres(["\(bin)/pg_dump", "-Fc", "-h", "127.0.0.1", "-p", String(primary.port), "-U", Self.user, "-d", Self.database,
                        "-f", "\(backups)/\(name)"], what: "pg_dump of \(primary.name)")
        try writeAsPostgres("\(backups)/ehr-\(stamp).manifest", fingerprint + "\n")
        for (link, target) in [("ehr-latest.dump", name), ("ehr-latest.manifest", "ehr-\(stamp).manifest")] {
            let staged = "\(backups)/.\(link).new"
            unlink(staged)
            guard symlink(target, staged) == 0, rename(staged, "\(backups)/\(link)") == 0 else {
                throw Lab.Failure(message: "cannot point \(backups)/\(link) at \(target): \(String(cString: strerror(errno)))")
            }
        }
        return name
    }

    // MARK: - what the servers are doing

    public enum Role: String, Sendable { case primary, standby, stopped }

    /// The postmaster's PID, if it runs for this data folder (its command line names it).
    static func postmaster(of server: Server) -> Int32? {
        guard let text = try? String(contentsOfFile: "\(server.data)/postmaster.pid", encoding: .utf8),
              let pid = text.split(separator: "\n").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespaces)) }), pid > 0,
              let line = Lab.commandLine(of: pid) else { return nil }
        return line.contains("postgres") && line.contains(server.data) ? pid : nil
    }

    /// Running, and a standby (`standby.signal`) or not.
    public static func role(of server: Server) -> Role {
        guard postmaster(of: server) != nil else { return .stopped }
        return FileManager.default.fileExists(atPath: "\(server.data)/standby.signal") ? .standby : .primary
    }

    public struct Replica: Sendable, Equatable {
        public var name: String
        public var state: String
        /// Bytes of WAL the standby has not replayed yet.
        public var lagBytes: Int64
    }

    /// The standbys streaming from `server` (`pg_stat_replication`), by their cluster names.
    public func replication(of server: Server) -> [Replica] {
        guard let out = try? query(server, "SELECT application_name, state, COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint FROM pg_stat_replication") else { return [] }
        return out.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 3, let lag = Int64(f[2]) else { return nil }
            return Replica(name: f[0], state: f[1], lagBytes: lag)
        }
    }

    /// One line per server for `lab status`.
    public func statusLines() -> [(line: String, healthy: Bool)] {
        // Each server's role, and each primary's standbys, asked once.
        let roles = servers.map(Self.role(of:))
        let streams = Dictionary(uniqueKeysWithValues: zip(servers, roles).filter { $0.1 == .primary }.map { ($0.0.name, replication(of: $0.0)) })
        return zip(servers, roles).map { s, role in
            var line = "\(s.name)  PostgreSQL \(version) \(role.rawValue)  127.0.0.1:\(s.port)"
            if let pid = Self.postmaster(of: s) { line += "  pid \(pid)" }
            switch role {
            case .primary:
                let replicas = streams[s.name] ?? []
                line += replicas.isEmpty ? "  no standby streams from it"
                    : "  " + replicas.map { "\($0.name) \($0.state), lag \($0.lagBytes) bytes" }.joined(separator: "; ")
            case .standby:
                let upstream = streams.first { $0.value.contains { $0.name == s.name } }?.key
                line += upstream.map { "  streaming from \($0)" } ?? "  not streaming"
            case .stopped:
                line += "  STOPPED"
            }
            return (line, role != .stopped)
        } + scratchLine()
    }

    /// A restore drill's scratch instance, while one runs (a drill that died may have left it).
    func scratchLine() -> [(line: String, healthy: Bool)] {
        let scratch = Server(name: "scratch", port: scratchPort, data: scratchData, log: "")
        guard let pid = Self.postmaster(of: scratch) else { return [] }
        return [("scratch  PostgreSQL \(version) restore drill's instance  127.0.0.1:\(scratchPort)  pid \(pid)  running (its drill drops it in restore; lab down stops it)", true)]
    }

    // MARK: - stop

    /// Stops each server (its postmaster, found by its data folder: a drill may have restarted
    /// it under another PID) — politely, then by SIGKILL — removes a System V segment it left,
    /// and the servers' folder.
    func stop() {
        // A restore drill's scratch instance, if one was left running.
        let scratch = Server(name: "scratch", port: scratchPort, data: scratchData, log: "")
        for s in servers + [scratch] {
            // The key first: a postmaster that crashed (or was killed) left its segment behind.
            let key = Self.shmKey(of: s)
            if let pid = Self.postmaster(of: s) {
                _ = try? asPostgres(["\(bin)/pg_ctl", "-D", s.data, "stop", "-m", "fast", "-w", "-t", "15"], what: "stopping \(s.name)")
                if Self.postmaster(of: s) == pid { Self.kill(pid) }
            }
            if let key { Self.removeSegment(key) }
        }
        // A postmaster whose postmaster.pid is gone or names another (an orphan of a folder
        // removed by hand): known by its command line, which names a data folder under root.
        for pid in Self.orphans(under: root) { Self.kill(pid) }
        if root.hasPrefix("/tmp/firedrill-pg-") { try? FileManager.default.removeItem(atPath: root) }
    }

    /// What is left of the servers of a lab in `directory` whose lab.json is gone: their
    /// folder names them (db1, db2, the scratch instance).
    static func stopStale(directory: String) {
        let root = Self.root(for: directory)
        guard FileManager.default.fileExists(atPath: root) else { return }
        let bin = findBinaries()?.bin ?? "/usr/lib/postgresql/15/bin"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0 != "backups" && $0 != "scratch" && !$0.hasSuffix(".log") }
        let pg = LabPostgres(root: root, bin: bin, version: "", servers: names.map { Server(name: $0, port: 0, data: "\(root)/\($0)/data", log: "") })
        pg.stop()
    }

    /// Postmasters (`postgres -D DATA`) whose data folder is under `root`.
    static func orphans(under root: String) -> [Int32] {
        Lab.processes().filter { pid in
            guard let line = Lab.commandLine(of: pid) else { return false }
            return line.contains("/postgres ") && line.contains(" -D \(root)/")
        }
    }

    /// Stops a postmaster: a fast shutdown (SIGINT), then SIGKILL after 5 s.
    static func kill(_ pid: Int32) {
        Glibc.kill(pid, SIGINT)
        var deadline = ContinuousClock.now + .seconds(5)
        while Glibc.kill(pid, 0) == 0 && ContinuousClock.now < deadline { usleep(10_000) }
        guard Glibc.kill(pid, 0) == 0 else { return }
        Glibc.kill(pid, SIGKILL)
        deadline = ContinuousClock.now + .seconds(5)
        while Glibc.kill(pid, 0) == 0 && ContinuousClock.now < deadline { usleep(10_000) }
    }

    /// Removes a System V segment nothing is attached to any more.
    static func removeSegment(_ key: key_t) {
        let id = shmget(key, 0, 0)
        guard id >= 0 else { return }
        var ds = shmid_ds()
        if shmctl(id, IPC_STAT, &ds) == 0, ds.shm_nattch == 0 { shmctl(id, IPC_RMID, nil) }
    }

    /// The System V key from postmaster.pid (line 7: key and id).
    static func shmKey(of server: Server) -> key_t? {
        guard let text = try? String(contentsOfFile: "\(server.data)/postmaster.pid", encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 6, let key = lines[6].split(separator: " ").first.flatMap({ key_t($0) }) else { return nil }
        return key
    }

    // MARK: - running things as postgres

    /// Runs `argv` as the postgres user (`runuser`), within a minute.
    func asPostgres(_ argv: [String], what: String) throws {
        let r: (status: Int32, output: String)
        do throws(ChildProcess.Failure) {
            r = try ChildProcess.capture(["/usr/bin/timeout", "60", "/usr/sbin/runuser", "-u", Self.user, "--"] + argv)
        } catch {
            throw Lab.Failure(message: "\(what) failed: \(error.description)")
        }
        guard r.status == 0 else {
            throw Lab.Failure(message: "\(what) failed: " + (r.output.split(separator: "\n").last.map(String.init) ?? "exit \(r.status)"))
        }
    }

    /// Runs SQL on a server (psql as postgres, over TCP), within 10 s; its unaligned output.
    @discardableResult
    func query(_ server: Server, _ sql: String, database: String = "postgres") throws -> String {
        let conninfo = "host=127.0.0.1 port=\(server.port) user=\(Self.user) dbname=\(database) connect_timeout=5"
        let argv = ["/usr/bin/timeout", "10", "/usr/sbin/runuser", "-u", Self.user, "--", "\(bin)/psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql]
        let r: (status: Int32, output: String)
        do throws(ChildProcess.Failure) { r = try ChildProcess.capture(argv) } catch {
            throw Lab.Failure(message: "psql on \(server.name) failed: \(error.description)")
        }
        guard r.status == 0 else { throw Lab.Failure(message: "psql on \(server.name) failed: \(r.output.prefix(300))") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes (or appends to) a file owned by postgres, mode 600.
    func writeAsPostgres(_ path: String, _ text: String = "", append: String? = nil) throws {
        guard let pw = getpwnam(Self.user) else { throw Lab.Failure(message: "there is no postgres user") }
        var body = text
        if let append { body = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "") + append }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Lab.Failure(message: "cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let ok = body.withCString { write(fd, $0, strlen($0)) } == body.utf8.count
        guard ok, fchown(fd, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
            throw Lab.Failure(message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
