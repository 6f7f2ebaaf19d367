import Crypto
import Foundation
import GRDB

/// The drill history: an index of ended runs in a SQLite file (GRDB), rebuilt from journals at
/// will — the journals stay the source of truth. Annotations (the operator's verdict, notes and
/// action items) live only here, each one hash-chained per run.
///
/// SQLite is blocking C: every access goes through GRDB's async API, which runs it on the
/// pool's own dispatch queues, never on Swift's cooperative threads. WAL mode and a busy
/// timeout let two runners that finish together both write.
public final class History: Sendable {
    public let path: String
    let pool: any DatabaseWriter
    /// Opened read-only (a file or folder this user cannot write: an archived history).
    public let readOnly: Bool

    /// What went wrong with the database, in words; reading commands end with `failed` (what
    /// was read is damaged), opening one that cannot be used with `invalidInput` and a hint.
    public struct Failure: UserFacingError, CustomStringConvertible {
        public var message: String
        public var hint: String?
        public var exitStatus: ExitStatus
        public var description: String { message }

        /// The file is not a healthy database: it cannot be mended in place, only rebuilt from the journals.
        public var corrupt = false

        public init(message: String, hint: String? = nil, exit: ExitStatus = .failed, corrupt: Bool = false) {
            self.message = message; self.hint = hint; self.exitStatus = exit; self.corrupt = corrupt
        }

        /// `message` with what SQLite said, in words; a corrupt file says how to get a history back.
        static func database(_ message: String, _ error: any Error, path: String) -> Failure {
            let corrupt = (error as? DatabaseError).map { $0.resultCode == .SQLITE_CORRUPT || $0.resultCode == .SQLITE_NOTADB } ?? false
            return Failure(message: "\(message): \(History.describe(error))",
                           hint: corrupt ? "the journals are the record: rebuild the history from them (firedrill history --rebuild --runs-dir DIR --db \(path)); the broken file is kept beside it" : nil,
                           corrupt: corrupt)
        }
    }

    /// `--db PATH`, else `$FIREDRILL_DB`, else `~/.local/share/firedrill/history.sqlite`.
    public static func defaultPath(_ explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit { return (explicit as NSString).expandingTildeInPath }
        if let env = environment["FIREDRILL_DB"], !env.isEmpty { return (env as NSString).expandingTildeInPath }
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.local/share")
        return base + "/firedrill/history.sqlite"
    }

    /// Opens (creating and migrating) the database off the cooperative pool: opening and
    /// migrating are blocking SQLite calls. `existing`: only a database that is there (reading
    /// commands never create one), read-only when this user cannot write it.
    public static func open(path: String, existing: Bool = false) async throws(Failure) -> History {
        try await WorkerThread.detached("history-open") { () throws(Failure) in try History(path: path, existing: existing) }
    }

    /// Opens the database to rebuild it; one that is not a healthy database any more is moved
    /// aside (kept, with its `-wal`/`-shm`, as `PATH.broken-TIME`) and a new one made in its
    /// place: the journals are the record, so nothing but the annotations of the broken file is lost.
    public static func openForRebuild(path: String, now: Date = Date()) async throws(Failure) -> (history: History, movedAside: String?) {
        do throws(Failure) {
            return (try await open(path: path), nil)
        } catch where error.corrupt {
            let stamp = Journal.timestamp(now).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
            let aside = path + ".broken-" + String(stamp.prefix(15))
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                guard rename(path + suffix, aside + suffix) == 0 else {
                    throw Failure(message: "cannot move the broken history \(path + suffix) aside: \(String(cString: strerror(errno)))",
                                  hint: "move it away by hand, then rebuild", exit: .invalidInput)
                }
            }
            return (try await open(path: path), aside)
        }
    }

    /// Whether there is a history at `path` to read.
    public static func exists(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// Opens (creating and migrating) the database, blocking the calling thread (see `open`).
    public init(path: String, existing: Bool = false) throws(Failure) {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        if existing && !History.exists(path) { throw Failure(message: "no history database at \(path)") }
        // A file or folder this user cannot write (an archive, a read-only mount) is read as it is.
        readOnly = existing && (access(path, W_OK) != 0 || access(folder, W_OK) != 0)
        if !readOnly, let problem = RunStore.folderProblem(folder) { throw Failure(message: problem) }
        var config = Configuration()
        // Another writer (a runner finishing, an import of many runs) may hold the database for
        // a while on a loaded machine: wait for it rather than lose this run's record.
        config.busyMode = .timeout(Self.busySeconds)
        config.foreignKeysEnabled = true
        if readOnly {
            config.readonly = true
            do {
                pool = try DatabaseQueue(path: path, configuration: config)
                if try pool.read({ db in try History.migrator.hasBeenSuperseded(db) }) { throw Failure(message: History.newer(path)) }
            } catch let f as Failure {
                throw f
            } catch {
                throw Failure.database("cannot read the history database \(path)", error, path: path)
            }
            return
        }
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            self.pool = pool
            if try pool.read({ db in try History.migrator.hasBeenSuperseded(db) }) { throw Failure(message: History.newer(path)) }
            // Two runners opening a new file together both see it unmigrated; the second one's
            // migration then fails on what the first created. Checking again finds it done.
            // A migration that meets the other's write lock is refused at once (SQLite does not
            // wait for a reader that wants to write): tried again for as long as the busy timeout.
            // A database already migrated needs no write lock to say so.
            var attempt = 0
            let giveUp = ContinuousClock.now + .seconds(Self.busySeconds)
            // Reading whether it is done can meet the other's migration too (a file being switched
            // to WAL): also tried again.
            while true {
                do {
                    if try pool.read({ db in try History.migrator.hasCompletedMigrations(db) }) { break }
                    try History.migrator.migrate(self.pool)
                    break
                } catch {
                    attempt += 1
                    if ContinuousClock.now >= giveUp { throw error }
                    usleep(UInt32(min(200_000, 20_000 * attempt)))
                }
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot open the history database \(path)", error, path: path)
        }
    }

    /// How long a write waits for another process's (SQLite's busy timeout, and the migration's retries).
    static let busySeconds: Double = 60

    static func newer(_ path: String) -> String {
        "the history database \(path) was written by a newer version of Firedrill (it knows migrations this one does not): use that version, or another --db"
    }

    /// Named, ordered migrations (GRDB `DatabaseMigrator`). A later schema adds a migration; old ones never change.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: runs, steps, checks, deductions, annotations, action items") { db in
            try db.create(table: "run") { t in
                t.primaryKey("id", .text)
                t.column("service", .text).notNull().indexed()
                t.column("name", .text)
                t.column("criticality", .text)
                t.column("playbook", .text)
                t.column("playbook_sha256", .text)
                t.column("inventory_sha256", .text)
                t.column("limit_pattern", .text)
                t.column("result", .text).notNull()
                t.column("started", .text).notNull().indexed()
                t.column("ended", .text)
                t.column("operator", .text)
                t.column("controller", .text)
                t.column("version", .text)
                t.column("journal_path", .text).notNull()
                t.column("head_hash", .text).notNull()
                t.column("events", .integer).notNull()
                t.column("resumed", .boolean).notNull()
                t.column("rto_seconds", .double)
                t.column("rto_objective_seconds", .double)
                t.column("rpo_seconds", .double)
                t.column("rpo_objective_seconds", .double)
                t.column("rpo_found", .boolean)
                t.column("score", .double).notNull()
                t.column("grade", .text).notNull()
                t.column("score_rules", .text).notNull()
                t.column("imported", .text).notNull()
            }
            try db.create(table: "step") { t in
                t.column("run_id", .text).notNull().references("run", onDelete: .cascade)
                t.column("step_id", .text).notNull()
                t.column("name", .text).notNull()
                t.column("phase", .text)
                t.column("result", .text)
                t.column("duration_ms", .double)
                t.column("hosts", .integer).notNull()
                t.column("failed_hosts", .integer).notNull()
                t.primaryKey(["run_id", "step_id"])
            }
            try db.create(table: "check_result") { t in
                t.column("run_id", .text).notNull().references("run", onDelete: .cascade).indexed()
                t.column("phase", .text).notNull()
                t.column("step_id", .text)
                t.column("check_name", .text).notNull()
                t.column("host", .text)
                t.column("expect", .text).notNull()
                t.column("samples", .integer).notNull()
                t.column("met", .integer).notNull()
                t.column("last_outcome", .text).notNull()
                t.column("last_detail", .text)
            }
            try db.create(table: "deduction") { t in
                t.column("run_id", .text).notNull().references("run", onDelete: .cascade).indexed()
                t.column("position", .integer).notNull()
                t.column("points", .double).notNull()
                t.column("component", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("step_id", .text)
                t.column("host", .text)
                t.column("check_name", .text)
                t.column("evidence", .text)
            }
            // Annotations and action items are not derived from the journal: a rebuild keeps them.
            try db.create(table: "annotation") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("run_id", .text).notNull().indexed()
                t.column("journal_head", .text).notNull()
                t.column("verdict", .text).notNull()
                t.column("note", .text).notNull()
                t.column("by", .text).notNull()
                t.column("created", .text).notNull()
                t.column("prev_hash", .text).notNull()
                t.column("hash", .text).notNull()
            }
            try db.create(table: "action_item") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("annotation_id", .integer).notNull().references("annotation")
                t.column("run_id", .text).notNull().indexed()
                t.column("owner", .text).notNull()
                t.column("item", .text).notNull()
                t.column("due", .text).notNull()
                t.column("status", .text).notNull()
                t.column("done_at", .text)
                t.column("done_by", .text)
            }
        }
        m.registerMigration("v2: index runs by service and start, for trends") { db in
            try db.create(index: "run_by_service_started", on: "run", columns: ["service", "started"])
        }
        m.registerMigration("v3: score components per run, for the scorecard") { db in
            // Runs indexed before have none: the scorecard reads their journal; `history --rebuild` fills them.
            try db.create(table: "score_component") { t in
                t.column("run_id", .text).notNull().references("run", onDelete: .cascade).indexed()
                t.column("position", .integer).notNull()
                t.column("component", .text).notNull()
                t.column("applicable", .boolean).notNull()
                t.column("possible", .double).notNull()
                t.column("earned", .double).notNull()
                t.column("note", .text)
            }
        }
        m.registerMigration("v4: each run's annotation count and chain tip, kept apart from the chain") { db in
            // A deleted last annotation leaves a chain that still holds: the tip says it was there.
            try db.create(table: "annotation_tip") { t in
                t.primaryKey("run_id", .text)
                t.column("count", .integer).notNull()
                t.column("tip", .text).notNull()
            }
            try db.execute(sql: """
                INSERT INTO annotation_tip (run_id, count, tip)
                SELECT run_id, COUNT(*), (SELECT hash FROM annotation b WHERE b.run_id = a.run_id ORDER BY id DESC LIMIT 1) FROM annotation a GROUP BY run_id
                """)
        }
        return m
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED: return "the database is locked by another process (timed out waiting)"
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return "the file is not a healthy SQLite database (corrupt?)"
            case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM: return "it cannot be written (read-only disk or permissions)"
            case .SQLITE_FULL: return "the disk is full"
            default: return e.message ?? "SQLite error \(e.resultCode.rawValue)"
            }
        }
        return String(describing: error)
    }
}

// MARK: - Ingest

extension History {
    public enum Ingested: String, Sendable, Equatable { case added, unchanged, replaced }

    /// A journal read and folded, ready to be indexed.
    struct Prepared: Sendable {
        var id: String
        var record: DrillRecord
        var row: RunRow
        var score: Score
        /// The journal as read (its events are not kept: a count and each line's hash).
        var archive: RunArchive
        var sealed: Bool
    }

    /// Why a journal was not indexed: damaged (refused) or a run still going (skipped).
    public struct NotIndexed: Error, Sendable {
        public var message: String
        /// A run that has not ended: not an error, it will be indexed once it ends.
        public var unfinished: Bool
    }

    static func prepare(journal path: String) -> Result<Prepared, NotIndexed> {
        let archive: RunArchive
        do { archive = try RunArchive.open(path) } catch { return .failure(.init(message: "cannot read \(path): \(error)", unfinished: false)) }
        if let problem = archive.problem { return .failure(.init(message: "\(path) is damaged (\(problem)): not imported", unfinished: false)) }
        let record = archive.record
        guard let id = record.runID, archive.eventCount > 0 else { return .failure(.init(message: "\(path) holds no run", unfinished: false)) }
        guard record.isFinished else {
            return .failure(.init(message: "run \(id) has not ended (no run_ended): it is indexed once it ends (resume it if its runner died)", unfinished: true))
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return .success(Prepared(id: id, record: record, row: RunRow(record, journal: (absolute as NSString).standardizingPath, head: archive.lastHash,
                                                                      events: archive.eventCount),
                                 score: Score(record), archive: archive, sealed: archive.sealed))
    }

    /// Indexes one ended run from its journal (verified first). Idempotent: the same run with
    /// the same journal head is left as it is; a journal that grew since (a later resume)
    /// replaces its rows; a journal of the same run that does not extend the indexed one (an
    /// edited copy, say) is refused. Annotations are kept.
    public func ingest(journal path: String) async throws(Failure) -> (run: String, result: Ingested, sealed: Bool) {
        let p: Prepared
        switch Self.prepare(journal: path) {
        case let .success(x): p = x
        case let .failure(f): throw Failure(message: f.message)
        }
        do {
            let result = try await pool.write { db -> Ingested in
                let existing = try Row.fetchOne(db, sql: "SELECT head_hash, events, journal_path FROM run WHERE id = ?", arguments: [p.id])
                if let existing {
                    let head = try existing.checked("head_hash", as: String.self), count = try existing.checked("events", as: Int.self)
                    if head == p.row.headHash { return .unchanged }
                    guard p.archive.eventCount > count, p.archive.prev(ofLine: count) == head else {
                        throw Failure(message: "\(path) does not extend the journal of run \(p.id) already indexed (\(count) events, head \(head.prefix(12))…, from \(try existing.checked("journal_path", as: String.self))): not replaced; if this copy is the true one, rebuild the history from its folder (firedrill history --rebuild --runs-dir DIR)")
                    }
                    try db.execute(sql: "DELETE FROM run WHERE id = ?", arguments: [p.id])
                }
                try p.row.insert(db, score: p.score)
                try Self.insertDetails(db, id: p.id, record: p.record, score: p.score)
                return existing == nil ? .added : .replaced
            }
            return (p.id, result, p.sealed)
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot record run \(p.id) in \(self.path)", error, path: path)
        }
    }

    static func insertDetails(_ db: Database, id: String, record: DrillRecord, score: Score) throws {
        for s in record.steps {
            try db.execute(sql: """
                INSERT INTO step (run_id, step_id, name, phase, result, duration_ms, hosts, failed_hosts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, s.id, s.name, s.phase?.rawValue, s.result?.rawValue, s.durationMS, s.commands.count,
                                 s.commands.filter { $0.finished && $0.passed != true }.count])
        }
        // One row per check (per step and host): how many samples, how many met, the last one.
        var groups: [String: [DrillRecord.CheckSample]] = [:], order: [String] = []
        func add(_ phase: String, _ step: String?, _ samples: [DrillRecord.CheckSample]) {
            for c in samples {
                let key = [phase, step ?? "", c.check, c.host ?? "", c.expect.rawValue].joined(separator: "\u{0}")
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(c)
            }
        }
        add("steady_state", nil, record.steadyState)
        for s in record.steps { add(s.phase?.rawValue ?? "", s.id, s.verify?.samples ?? []) }
        add("final", nil, record.finalState)
        for key in order {
            guard let samples = groups[key], let last = samples.last else { continue }
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            try db.execute(sql: """
                INSERT INTO check_result (run_id, phase, step_id, check_name, host, expect, samples, met, last_outcome, last_detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, parts[0], parts[1].isEmpty ? nil : parts[1], last.check, last.host, last.expect.rawValue,
                                 samples.count, samples.filter(\.met).count, last.outcome.rawValue, last.detail])
        }
        for (i, c) in score.components.enumerated() {
            try db.execute(sql: "INSERT INTO score_component (run_id, position, component, applicable, possible, earned, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [id, i, c.id.rawValue, c.applicable, c.possible, c.earned, c.note])
        }
        for (i, d) in score.deductions.enumerated() {
            try db.execute(sql: """
                INSERT INTO deduction (run_id, position, points, component, reason, step_id, host, check_name, evidence)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, i, d.points, d.component, d.reason, d.step, d.host, d.check, d.evidence])
        }
    }

    /// Indexes every ended run under a runs folder (or the run folder given). Damaged journals
    /// are refused and named; runs that have not ended are skipped, not refused.
    public func ingest(runsFolder: String) async -> (added: Int, unchanged: Int, replaced: Int, refused: [String], skipped: [String], unsealed: [String]) {
        var added = 0, unchanged = 0, replaced = 0, refused: [String] = [], skipped: [String] = [], unsealed: [String] = []
        for path in Self.journals(in: runsFolder) {
            switch Self.prepare(journal: path) {
            case let .failure(f) where f.unfinished: skipped.append(f.message); continue
            case let .failure(f): refused.append(f.message); continue
            case .success: break
            }
            do throws(Failure) {
                let r = try await ingest(journal: path)
                if !r.sealed { unsealed.append(path) }
                switch r.result {
                case .added: added += 1
                case .unchanged: unchanged += 1
                case .replaced: replaced += 1
                }
            } catch {
                refused.append(error.message)
            }
        }
        return (added, unchanged, replaced, refused, skipped, unsealed)
    }

    /// The journals of a runs folder, oldest first; or the journal of a run's own folder.
    public static func journals(in folder: String) -> [String] {
        if FileManager.default.fileExists(atPath: folder + "/journal.jsonl") { return [folder + "/journal.jsonl"] }
        let store = RunStore(root: folder)
        return store.ids().reversed().map(store.journalPath)
    }

    /// Forgets every run and indexes the runs folders again, in one transaction: all or nothing
    /// (annotations stay). Refused before anything changes when the folders hold no run.
    public func rebuild(from folders: [String]) async throws(Failure) -> (added: Int, refused: [String], skipped: [String]) {
        var seen = Set<String>(), prepared: [Prepared] = [], refused: [String] = [], skipped: [String] = []
        for folder in folders {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
                throw Failure(message: "\(folder) is not a folder: nothing rebuilt (the history is unchanged)")
            }
            for path in Self.journals(in: folder) where seen.insert((path as NSString).standardizingPath).inserted {
                switch Self.prepare(journal: path) {
                case let .success(p):
                    if prepared.contains(where: { $0.id == p.id }) { refused.append("\(path): run \(p.id) appears twice; the first is kept"); continue }
                    prepared.append(p)
                case let .failure(f): if f.unfinished { skipped.append(f.message) } else { refused.append(f.message) }
                }
            }
        }
        guard !prepared.isEmpty else {
            throw Failure(message: "no ended run in \(folders.joined(separator: ", ")): nothing rebuilt (the history is unchanged)")
        }
        let all = prepared
        do {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM run")
                for p in all {
                    try p.row.insert(db, score: p.score)
                    try Self.insertDetails(db, id: p.id, record: p.record, score: p.score)
                }
            }
        } catch {
            throw Failure(message: "cannot rebuild \(path): \(History.describe(error)) (the history is unchanged)")
        }
        return (prepared.count, refused, skipped)
    }
}

/// One `run` row.
struct RunRow: Sendable {
    var id: String, service: String, name: String?, criticality: String?, playbook: String?, playbookSHA256: String?, inventorySHA256: String?
    var limit: String?, result: String, started: String, ended: String?, operatorName: String?, controller: String?, version: String?
    var journal: String, headHash: String, events: Int, resumed: Bool
    var rto: Double?, rtoObjective: Double?, rpo: Double?, rpoObjective: Double?, rpoFound: Bool?

    init(_ r: DrillRecord, journal: String, head: String, events: Int) {
        id = r.runID ?? ""
        service = r.facts?.service ?? r.name ?? "unknown"
        name = r.name
        criticality = r.facts?.criticality
        playbook = r.facts?.playbook
        playbookSHA256 = r.facts?.playbookSHA256
        inventorySHA256 = r.facts?.inventorySHA256
        limit = r.facts?.limit
        result = r.ending?.result?.rawValue ?? "unfinished"
        started = r.startedAt ?? ""
        ended = r.endedAt
        operatorName = r.facts?.operator
        controller = r.facts?.controller
        version = r.facts?.version
        self.journal = journal
        headHash = head
        self.events = events
        resumed = !r.resumes.isEmpty
        rto = r.rto?.seconds
        rtoObjective = r.facts?.rtoObjectiveSeconds
        rpo = r.rpo?.passed == true ? r.rpo?.seconds : nil
        rpoObjective = r.facts?.rpoObjectiveSeconds
        rpoFound = r.rpo?.passed
    }

    func insert(_ db: Database, score: Score) throws {
        try db.execute(sql: """
            INSERT INTO run (id, service, name, criticality, playbook, playbook_sha256, inventory_sha256, limit_pattern, result, started, ended,
                             operator, controller, version, journal_path, head_hash, events, resumed, rto_seconds, rto_objective_seconds,
                             rpo_seconds, rpo_objective_seconds, rpo_found, score, grade, score_rules, imported)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, service, name, criticality, playbook, playbookSHA256, inventorySHA256, limit, result, started, ended,
                             operatorName, controller, version, journal, headHash, events, resumed, rto, rtoObjective,
                             rpo, rpoObjective, rpoFound, score.points, score.grade.rawValue, score.rules, Journal.timestamp(Date())])
    }
}

extension Row {
    /// A column's value as `T`, or a failure naming it: a value Firedrill did not write (the
    /// file was edited by hand) is reported, never a crash.
    func checked<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) throws -> T {
        let value: DatabaseValue = self[column] ?? .null
        guard let v = T.fromDatabaseValue(value) else {
            throw History.Failure(message: "the history holds a value Firedrill did not write (column \(column): \(value.isNull ? "empty" : "\(value)")): the database was edited by hand; rebuild it from the journals (firedrill history --rebuild)")
        }
        return v
    }

    /// As `checked`, nil for SQL NULL.
    func checkedOptional<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) throws -> T? {
        let value: DatabaseValue = self[column] ?? .null
        return value.isNull ? nil : try checked(column, as: T.self)
    }
}
