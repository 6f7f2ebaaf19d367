import Crypto
import Foundation
import GRDB

/// What `firedrill history` shows of one run, with the trend against the service's previous run.
public struct HistoryEntry: Sendable, Equatable, Codable {
    public enum Trend: String, Sendable, Codable { case up, down, same, first }

    public var id: String
    public var service: String
    public var result: String
    public var started: String
    public var score: Double
    public var grade: String
    public var rtoSeconds: Double?
    public var rtoObjectiveSeconds: Double?
    public var rpoSeconds: Double?
    public var rpoObjectiveSeconds: Double?
    public var rpoFound: Bool?
    /// Against the same service's previous run.
    public var trend: Trend
    public var previousScore: Double?
    /// The runner died and the run was resumed.
    public var resumed: Bool = false

    enum CodingKeys: String, CodingKey {
        case id, service, result, started, score, grade, trend, resumed
        case rtoSeconds = "rto_seconds", rtoObjectiveSeconds = "rto_objective_seconds"
        case rpoSeconds = "rpo_seconds", rpoObjectiveSeconds = "rpo_objective_seconds", rpoFound = "rpo_found"
        case previousScore = "previous_score"
    }
}

extension History {
    /// Runs, newest first, optionally of one service, since a date (ISO 8601 prefix), at most `limit`.
    public func entries(service: String? = nil, since: String? = nil, limit: Int? = nil) async throws(Failure) -> [HistoryEntry] {
        // The previous run of the same service by a window over every run, filtered after, so a
        // run's trend does not depend on the filter.
        var sql = """
            SELECT * FROM (
              SELECT id, service, result, started, score, grade, rto_seconds, rto_objective_seconds, rpo_seconds,
                     rpo_objective_seconds, rpo_found, resumed, LAG(score) OVER (PARTITION BY service ORDER BY started, id) AS previous
              FROM run) r WHERE 1 = 1
            """
        var args: [(any DatabaseValueConvertible)?] = []
        if let service { sql += " AND r.service = ?"; args.append(service) }
        if let since { sql += " AND r.started >= ?"; args.append(since) }
        sql += " ORDER BY r.started DESC, r.id DESC"
        if let limit { sql += " LIMIT ?"; args.append(limit) }
        let query = sql, arguments = StatementArguments(args)
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: query, arguments: arguments).map { row in
                    let score = try row.checked("score", as: Double.self)
                    let previous = try row.checkedOptional("previous", as: Double.self)
                    let trend: HistoryEntry.Trend = previous.map { $0 < score - 0.05 ? .up : $0 > score + 0.05 ? .down : .same } ?? .first
                    return HistoryEntry(id: try row.checked("id"), service: try row.checked("service"), result: try row.checked("result"),
                                        started: try row.checked("started"), score: score, grade: try row.checked("grade"),
                                        rtoSeconds: try row.checkedOptional("rto_seconds"), rtoObjectiveSeconds: try row.checkedOptional("rto_objective_seconds"),
                                        rpoSeconds: try row.checkedOptional("rpo_seconds"), rpoObjectiveSeconds: try row.checkedOptional("rpo_objective_seconds"),
                                        rpoFound: try row.checkedOptional("rpo_found"), trend: trend, previousScore: previous,
                                        resumed: try row.checkedOptional("resumed") ?? false)
                }
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot read \(path)", error, path: path)
        }
    }

    /// The journal head a run was indexed with (nil: not in the history).
    public func head(of run: String) async throws(Failure) -> String? {
        do { return try await pool.read { db in try String.fetchOne(db, sql: "SELECT head_hash FROM run WHERE id = ?", arguments: [run]) } } catch {
            throw Failure.database("cannot read \(path)", error, path: path)
        }
    }
}

// MARK: - Annotations and action items

/// The operator's after-action record of one run: verdict, notes, action items. Never written
/// into the journal; each annotation names the journal head it refers to and chains to the
/// previous annotation of the run (SHA-256), so a changed or removed annotation is detected.
public struct Annotation: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable, CaseIterable { case pass, fail, partial }

    public struct Action: Sendable, Equatable, Codable {
        public var owner: String
        public var item: String
        /// YYYY-MM-DD.
        public var due: String

        /// `OWNER: ITEM, due YYYY-MM-DD`; nil with the reason when it is not that.
        public static func parse(_ text: String, today: String) -> Result<Action, Diagnostic> {
            let hint = "write it as \"OWNER: ITEM, due YYYY-MM-DD\", e.g. --action \"dba-team: automate the rejoin, due 2027-01-15\""
            guard let colon = text.firstIndex(of: ":"), let dueRange = text.range(of: ", due ", options: .backwards) else {
                return .failure(.error("--action '\(text)' is not 'OWNER: ITEM, due YYYY-MM-DD'", hint: hint))
            }
            let owner = text[..<colon].trimmingCharacters(in: .whitespaces)
            let item = text[text.index(after: colon)..<dueRange.lowerBound].trimmingCharacters(in: .whitespaces)
            let due = text[dueRange.upperBound...].trimmingCharacters(in: .whitespaces)
            guard !owner.isEmpty, !item.isEmpty else { return .failure(.error("--action '\(text)' needs an owner and an item", hint: hint)) }
            guard Action.isDate(due) else { return .failure(.error("--action '\(text)': '\(due)' is not a date (YYYY-MM-DD)", hint: hint)) }
            guard due >= today else { return .failure(.error("--action '\(text)': due \(due) is in the past (today is \(today))", hint: "give a date from today on")) }
            return .success(Action(owner: owner, item: item, due: due))
        }

        public static func isDate(_ s: String) -> Bool {
            let parts = s.split(separator: "-")
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                  let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m), y > 1970 else { return false }
            let days = [31, (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            return (1...days[m - 1]).contains(d)
        }
    }

    public var id: Int64?
    public var run: String
    public var journalHead: String
    public var verdict: Verdict
    public var note: String
    public var by: String
    public var created: String
    public var actions: [Action]
    public var prevHash: String
    public var hash: String

    enum CodingKeys: String, CodingKey {
        case id, run, journalHead = "journal_head", verdict, note, by, created, actions, prevHash = "prev_hash", hash
    }

    /// SHA-256 over the previous annotation's hash and this one's fields.
    static func digest(prev: String, run: String, journalHead: String, verdict: Verdict, note: String, by: String, created: String,
                       actions: [Action]) -> String {
        var h = SHA256()
        for field in [prev, run, journalHead, verdict.rawValue, note, by, created] + actions.flatMap({ [$0.owner, $0.item, $0.due] }) {
            h.update(data: Data(field.utf8))
            h.update(data: Data([0]))
        }
        return Hex.string(h.finalize())
    }
}

/// An action item as `firedrill actions` lists it.
public struct ActionItem: Sendable, Equatable, Codable {
    public var id: Int64
    public var run: String
    public var service: String?
    public var owner: String
    public var item: String
    public var due: String
    public var status: String
    public var doneAt: String?
    public var doneBy: String?

    enum CodingKeys: String, CodingKey { case id, run, service, owner, item, due, status, doneAt = "done_at", doneBy = "done_by" }
}

extension History {
    /// Records an annotation of an indexed run, chained to the run's previous one.
    public func annotate(run: String, verdict: Annotation.Verdict, note: String, actions: [Annotation.Action], by: String,
                         at date: Date = Date()) async throws(Failure) -> Annotation {
        do {
            return try await pool.write { db -> Annotation in
                guard let head = try String.fetchOne(db, sql: "SELECT head_hash FROM run WHERE id = ?", arguments: [run]) else {
                    throw Failure(message: "run \(run) is not in the history")
                }
                let prev = try String.fetchOne(db, sql: "SELECT hash FROM annotation WHERE run_id = ? ORDER BY id DESC LIMIT 1", arguments: [run])
                    ?? Journal.genesis
                let created = Journal.timestamp(date)
                let hash = Annotation.digest(prev: prev, run: run, journalHead: head, verdict: verdict, note: note, by: by, created: created, actions: actions)
                try db.execute(sql: "INSERT INTO annotation (run_id, journal_head, verdict, note, by, created, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               arguments: [run, head, verdict.rawValue, note, by, created, prev, hash])
                let id = db.lastInsertedRowID
                try db.execute(sql: """
                    INSERT INTO annotation_tip (run_id, count, tip) VALUES (?, 1, ?)
                    ON CONFLICT(run_id) DO UPDATE SET count = count + 1, tip = excluded.tip
                    """, arguments: [run, hash])
                for a in actions {
                    try db.execute(sql: "INSERT INTO action_item (annotation_id, run_id, owner, item, due, status) VALUES (?, ?, ?, ?, ?, 'open')",
                                   arguments: [id, run, a.owner, a.item, a.due])
                }
                return Annotation(id: id, run: run, journalHead: head, verdict: verdict, note: note, by: by, created: created, actions: actions,
                                  prevHash: prev, hash: hash)
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot annotate run \(run) in \(path)", error, path: path)
        }
    }

    /// A run's annotations, oldest first, and the first one whose chain does not hold (nil: intact).
    public func annotations(of run: String) async throws(Failure) -> (annotations: [Annotation], broken: String?) {
        do {
            return try await pool.read { db in
                var out: [Annotation] = []
                var expectedPrev = Journal.genesis
                var broken: String?
                for row in try Row.fetchAll(db, sql: "SELECT * FROM annotation WHERE run_id = ? ORDER BY id", arguments: [run]) {
                    let id = try row.checked("id", as: Int64.self)
                    let actions = try Row.fetchAll(db, sql: "SELECT owner, item, due FROM action_item WHERE annotation_id = ? ORDER BY id", arguments: [id])
                        .map { Annotation.Action(owner: try $0.checked("owner"), item: try $0.checked("item"), due: try $0.checked("due")) }
                    let verdict = try row.checked("verdict", as: String.self)
                    let a = Annotation(id: id, run: try row.checked("run_id"), journalHead: try row.checked("journal_head"), verdict: Annotation.Verdict(rawValue: verdict) ?? .fail,
                                       note: try row.checked("note"), by: try row.checked("by"), created: try row.checked("created"), actions: actions,
                                       prevHash: try row.checked("prev_hash"), hash: try row.checked("hash"))
                    if broken == nil, Annotation.Verdict(rawValue: verdict) == nil {
                        broken = "annotation \(id) of run \(run) was changed: its verdict '\(verdict)' is not one Firedrill writes"
                    }
                    let recomputed = Annotation.digest(prev: a.prevHash, run: a.run, journalHead: a.journalHead, verdict: a.verdict, note: a.note, by: a.by,
                                                       created: a.created, actions: a.actions)
                    if broken == nil, a.prevHash != expectedPrev || recomputed != a.hash {
                        broken = "annotation \(id) of run \(run) was changed, or one before it removed: its hash does not match"
                    }
                    expectedPrev = a.hash
                    out.append(a)
                }
                // The chain holds with its last links cut off: the tip, kept apart, says how many there were.
                if broken == nil, let tip = try Row.fetchOne(db, sql: "SELECT count, tip FROM annotation_tip WHERE run_id = ?", arguments: [run]) {
                    let count = try tip.checked("count", as: Int.self), hash = try tip.checked("tip", as: String.self)
                    if count != out.count || hash != (out.last?.hash ?? "") {
                        broken = "run \(run) had \(count) annotations, \(out.count) remain: annotations were removed (or the tip was changed)"
                    }
                }
                if broken == nil, let head = try String.fetchOne(db, sql: "SELECT head_hash FROM run WHERE id = ?", arguments: [run]),
                   let stale = out.first(where: { $0.journalHead != head && !$0.journalHead.isEmpty }) {
                    broken = "annotation \(stale.id ?? 0) refers to journal head \(stale.journalHead.prefix(12))…, but the run is now indexed with head \(head.prefix(12))…: the journal behind it changed"
                }
                return (out, broken)
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot read \(path)", error, path: path)
        }
    }

    /// The runs of `service` that started in [`from`, `until`] (ISO 8601 prefixes compare as
    /// text: `2026-10-01` ≤ started < `2026-12-31T24`), oldest first, with their journal paths.
    public func runs(service: String, from: String?, until: String?) async throws(Failure) -> [(id: String, journal: String)] {
        var sql = "SELECT id, journal_path FROM run WHERE service = ?"
        var args: [(any DatabaseValueConvertible)?] = [service]
        if let from { sql += " AND started >= ?"; args.append(from) }
        // `until` is inclusive of its whole day (or whatever prefix it gives).
        if let until { sql += " AND substr(started, 1, ?) <= ?"; args.append(until.count); args.append(until) }
        sql += " ORDER BY started, id"
        let query = sql, arguments = StatementArguments(args)
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: query, arguments: arguments).map { (id: try $0.checked("id"), journal: try $0.checked("journal_path")) }
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot read \(path)", error, path: path)
        }
    }

    public func actions(openOnly: Bool, service: String?) async throws(Failure) -> [ActionItem] {
        var sql = "SELECT a.*, r.service FROM action_item a LEFT JOIN run r ON r.id = a.run_id WHERE 1 = 1"
        var args: [(any DatabaseValueConvertible)?] = []
        if openOnly { sql += " AND a.status = 'open'" }
        if let service { sql += " AND r.service = ?"; args.append(service) }
        sql += " ORDER BY a.due, a.id"
        let query = sql, arguments = StatementArguments(args)
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: query, arguments: arguments).map {
                    ActionItem(id: try $0.checked("id"), run: try $0.checked("run_id"), service: try $0.checkedOptional("service"), owner: try $0.checked("owner"),
                               item: try $0.checked("item"), due: try $0.checked("due"), status: try $0.checked("status"), doneAt: try $0.checkedOptional("done_at"),
                               doneBy: try $0.checkedOptional("done_by"))
                }
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot read \(path)", error, path: path)
        }
    }

    /// Marks an action item done (recorded with who and when; never deleted).
    public func completeAction(_ id: Int64, by: String, at date: Date = Date()) async throws(Failure) -> ActionItem {
        do {
            return try await pool.write { db -> ActionItem in
                guard let row = try Row.fetchOne(db, sql: "SELECT a.*, r.service FROM action_item a LEFT JOIN run r ON r.id = a.run_id WHERE a.id = ?", arguments: [id]) else {
                    throw Failure(message: "no action item \(id)")
                }
                if try row.checked("status", as: String.self) == "done" { throw Failure(message: "action item \(id) is already done (\(try row.checkedOptional("done_at", as: String.self) ?? ""))") }
                let at = Journal.timestamp(date)
                try db.execute(sql: "UPDATE action_item SET status = 'done', done_at = ?, done_by = ? WHERE id = ?", arguments: [at, by, id])
                return ActionItem(id: id, run: try row.checked("run_id"), service: try row.checkedOptional("service"), owner: try row.checked("owner"),
                                  item: try row.checked("item"), due: try row.checked("due"), status: "done", doneAt: at, doneBy: by)
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot update \(path)", error, path: path)
        }
    }
}

// MARK: - What reports and the scorecard read

extension History {
    /// What a report of `run` adds from the history: its annotations, the service's drills.
    public func reportHistory(run: String, service: String) async -> ReportHistory {
        do {
            let row: (String, Int)? = try await pool.read { db in
                try Row.fetchOne(db, sql: "SELECT head_hash, events FROM run WHERE id = ?", arguments: [run]).map { (try $0.checked("head_hash"), try $0.checked("events")) }
            }
            let (annotations, problem) = try await annotations(of: run)
            let runs = try await entries(service: service, limit: 200).reversed()
            var history = ReportHistory(inHistory: row != nil, annotations: annotations, annotationProblem: problem, runs: Array(runs),
                                        note: row != nil ? nil : "run \(run) is not in the history \(path): firedrill import its journal",
                                        indexedHead: row?.0, indexedEvents: row?.1)
            history.openActions = try await actions(openOnly: true, service: service)
            return history
        } catch let f as Failure {
            return ReportHistory(note: "the history could not be read: \(f.message)", problem: f.message)
        } catch {
            return ReportHistory(note: "the history could not be read: \(History.describe(error))", problem: History.describe(error))
        }
    }

    /// The latest run of each service, with its score components and open action items.
    public func latestRuns() async throws(Failure) -> [LatestRun] {
        do {
            return try await pool.read { db in
                // A run that never started (preconditions) touched nothing and is no drill: the
                // service's latest *drill* scores it; a later attempt is shown beside it.
                let rows = try Row.fetchAll(db, sql: """
                    SELECT * FROM (
                      SELECT r.*, ROW_NUMBER() OVER (PARTITION BY service ORDER BY started DESC, id DESC) AS n FROM run r WHERE result <> 'preconditions') WHERE n = 1
                    """)
                var attempts: [String: (id: String, started: String)] = [:]
                for a in try Row.fetchAll(db, sql: """
                    SELECT * FROM (
                      SELECT service, id, started, ROW_NUMBER() OVER (PARTITION BY service ORDER BY started DESC, id DESC) AS n FROM run WHERE result = 'preconditions') WHERE n = 1
                    """) { attempts[try a.checked("service")] = (try a.checked("id"), try a.checked("started")) }
                let lastPassed = try Row.fetchAll(db, sql: """
                    SELECT * FROM (
                      SELECT service, id, playbook_sha256, inventory_sha256,
                             ROW_NUMBER() OVER (PARTITION BY service ORDER BY started DESC, id DESC) AS n FROM run WHERE result = 'passed') WHERE n = 1
                    """)
                var passed: [String: (String, String?, String?)] = [:]
                for p in lastPassed { passed[try p.checked("service")] = (try p.checked("id"), try p.checkedOptional("playbook_sha256"), try p.checkedOptional("inventory_sha256")) }
                var open: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: """
                    SELECT r.service AS service, COUNT(*) AS n FROM action_item a JOIN run r ON r.id = a.run_id WHERE a.status = 'open' GROUP BY r.service
                    """) { open[try row.checked("service")] = try row.checked("n", as: Int.self) }
                var components: [String: [Score.Component]] = [:]
                let ids = try rows.map { try $0.checked("id", as: String.self) }
                if !ids.isEmpty {
                    let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
                    for c in try Row.fetchAll(db, sql: "SELECT * FROM score_component WHERE run_id IN (\(marks)) ORDER BY run_id, position",
                                              arguments: StatementArguments(ids)) {
                        guard let id = Score.ComponentID(rawValue: try c.checked("component")) else { continue }
                        components[try c.checked("run_id"), default: []].append(Score.Component(id: id, weight: id.weight, applicable: try c.checked("applicable"),
                                                                                                  possible: try c.checked("possible"), earned: try c.checked("earned"),
                                                                                                  note: try c.checkedOptional("note")))
                    }
                }
                return try rows.map { row in
                    let service = try row.checked("service", as: String.self), id = try row.checked("id", as: String.self)
                    let p = passed[service]
                    return LatestRun(service: service, id: id, result: try row.checked("result"), started: try row.checked("started"), score: try row.checked("score"),
                                     grade: try row.checked("grade"), rules: try row.checked("score_rules"), playbookSHA256: try row.checkedOptional("playbook_sha256"),
                                     inventorySHA256: try row.checkedOptional("inventory_sha256"), journal: try row.checked("journal_path"),
                                     rtoSeconds: try row.checkedOptional("rto_seconds"), rtoObjectiveSeconds: try row.checkedOptional("rto_objective_seconds"),
                                     rpoSeconds: try row.checkedOptional("rpo_seconds"), rpoObjectiveSeconds: try row.checkedOptional("rpo_objective_seconds"),
                                     rpoFound: try row.checkedOptional("rpo_found"),
                                     components: components[id], openActions: open[service] ?? 0, lastPassedRun: p?.0,
                                     lastPassedPlaybookSHA256: p?.1, lastPassedInventorySHA256: p?.2,
                                     failedAttempt: attempts[service].flatMap { a in a.started > (try? row.checked("started", as: String.self)) ?? "" ? FailedAttempt(id: a.id, started: a.started) : nil })
                } + attempts.filter { service, _ in !rows.contains { (try? $0.checked("service", as: String.self)) == service } }.map { service, a in
                    // Only attempts: never drilled, but the attempt is said.
                    LatestRun(neverDrilled: service, attempt: FailedAttempt(id: a.id, started: a.started))
                }
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot read \(path)", error, path: path)
        }
    }
}

/// A service's latest run as the scorecard reads it.
public struct LatestRun: Sendable, Equatable {
    public var service: String
    public var id: String
    public var result: String
    public var started: String
    public var score: Double
    public var grade: String
    public var rules: String
    public var playbookSHA256: String?
    public var inventorySHA256: String?
    public var journal: String
    public var rtoSeconds: Double?
    public var rtoObjectiveSeconds: Double?
    public var rpoSeconds: Double?
    public var rpoObjectiveSeconds: Double?
    public var rpoFound: Bool?
    /// nil for runs indexed before the history kept components (`history --rebuild` fills them).
    public var components: [Score.Component]?
    public var openActions: Int
    public var lastPassedRun: String?
    public var lastPassedPlaybookSHA256: String?
    public var lastPassedInventorySHA256: String?
    /// The inventory files the run used (from its journal; filled by the scorecard).
    public var inventory: [String]? = nil
    /// A newer attempt that never started (preconditions not met): not a drill, said beside it.
    public var failedAttempt: FailedAttempt? = nil

}

extension LatestRun {
    /// A service with attempts only (`result` = preconditions): the scorecard counts it as never drilled.
    public init(neverDrilled service: String, attempt: FailedAttempt) {
        self.init(service: service, id: attempt.id, result: "preconditions", started: attempt.started, score: 0, grade: "", rules: "",
                  playbookSHA256: nil, inventorySHA256: nil, journal: "", rtoSeconds: nil, rtoObjectiveSeconds: nil, rpoSeconds: nil,
                  rpoObjectiveSeconds: nil, rpoFound: nil, components: [], openActions: 0, lastPassedRun: nil, lastPassedPlaybookSHA256: nil,
                  lastPassedInventorySHA256: nil, failedAttempt: attempt)
    }
}

/// A run that did not start: its id and when it was tried.
public struct FailedAttempt: Sendable, Equatable {
    public var id: String
    public var started: String
}

extension History {
    /// When each service last ran a drill to its end: `passed` or `failed` (a failure is a
    /// finding, and practice). Interrupted, incomplete and never-started runs do not count: a
    /// drill stopped by a reboot must not satisfy the quarter.
    public func lastDrills() async throws(Failure) -> [String: Date] {
        do {
            return try await pool.read { db in
                var out: [String: Date] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT service, MAX(started) AS last FROM run WHERE result IN ('passed', 'failed') GROUP BY service") {
                    if let d = Journal.date(try row.checked("last", as: String.self)) { out[try row.checked("service")] = d }
                }
                return out
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure.database("cannot read \(path)", error, path: path)
        }
    }
}
