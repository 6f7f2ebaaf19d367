import ArgumentParser
import FiredrillCore
import Foundation

/// `--db PATH` for the commands that read or write the history.
struct HistoryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The history database (default $FIREDRILL_DB or ~/.local/share/firedrill/history.sqlite).", valueName: "PATH"))
    var db: String?

    func open() async throws(History.Failure) -> History {
        do throws(History.Failure) { return try await History.open(path: History.defaultPath(db)) } catch {
            // A damaged database says how to rebuild it in place; any other failure is the path.
            if error.corrupt { throw error }
            throw History.Failure(message: error.message, hint: "pass --db PATH (or set FIREDRILL_DB) to a file you can write", exit: .invalidInput)
        }
    }

    /// For commands that only read: the history if there is one (never created here), opened
    /// read-only when this user cannot write it; nil when there is none yet.
    func openExisting() async throws(History.Failure) -> History? {
        let path = History.defaultPath(db)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw History.Failure(message: "--db \(path) is a folder, not a history database", hint: "give the database file, e.g. --db \(path)/history.sqlite",
                                  exit: .invalidInput)
        }
        guard History.exists(path) else { return nil }
        do throws(History.Failure) { return try await History.open(path: path, existing: true) } catch {
            if error.corrupt { throw error }
            throw History.Failure(message: error.message, hint: "pass another --db, or rebuild it from the journals (firedrill history --rebuild --runs-dir DIR --db NEW)",
                                  exit: .invalidInput)
        }
    }

    var noHistory: String {
        "no history database at \(History.defaultPath(db)) yet (a drill records itself there; firedrill import RUNS_DIR builds one)"
    }
}

/// `text` or `json`, for commands with no Markdown form.
enum TextOrJSON: String, ExpressibleByArgument, CaseIterable { case text, json }

/// A run the history does not know.
func notInHistory(_ runRef: String, _ db: History) -> CommandError {
    CommandError("run '\(runRef)' is not in the history \(db.path)", hint: "firedrill history lists the runs; firedrill import adds a journal")
}

/// Text from the history made safe for a terminal, on one line.
func terminalSafe(_ s: String) -> String { TerminalText.safe(s, keepLines: false) }

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Index ended runs into the history database, from their journals.",
        discussion: """
        Each PATH is a journal.jsonl, a run's folder or a runs folder. Idempotent: a run already \
        indexed with the same journal head is left alone; a journal that grew since (a resume) \
        replaces it; one that does not extend the indexed journal is refused. A damaged journal \
        is refused and named, and the rest goes on (exit 1 if any was); a run that has not \
        ended is skipped (it is indexed once it ends).

        Examples:
          firedrill import ~/.local/share/firedrill/runs
          firedrill import runs/20261201-163609-ehr-db-8300/journal.jsonl --db /srv/drills/history.sqlite
        """
    )
    @Argument(help: ArgumentHelp("Journals or runs folders.", valueName: "PATH")) var paths: [String]
    @OptionGroup var history: HistoryOptions

    func validate() throws { if paths.isEmpty { throw ValidationError("give a journal or a runs folder") } }

    func run() async throws {
        let db = try await history.open()
        var added = 0, unchanged = 0, replaced = 0, refused: [String] = [], skipped: [String] = [], unsealed: [String] = []
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                refused.append("\(path): no such file or folder")
                continue
            }
            if isDir.boolValue {
                if History.journals(in: path).isEmpty { refused.append("\(path): no run journal in this folder (give a runs folder, a run's folder or a journal.jsonl)"); continue }
                let r = await db.ingest(runsFolder: path)
                added += r.added; unchanged += r.unchanged; replaced += r.replaced; refused += r.refused; skipped += r.skipped; unsealed += r.unsealed
            } else {
                do throws(History.Failure) {
                    let r = try await db.ingest(journal: path)
                    if !r.sealed { unsealed.append(path) }
                    switch r.result {
                    case .added: added += 1
                    case .unchanged: unchanged += 1
                    case .replaced: replaced += 1
                    }
                } catch { refused.append(error.message) }
            }
        }
        for r in refused { Terminal.err("refused: \(r)\n") }
        for r in skipped { Terminal.err("skipped: \(r)\n") }
        for u in unsealed { Terminal.err("warning: \(u) has no seal (journal.jsonl.head beside it): its last line cannot be checked\n") }
        Terminal.out("\(added) added, \(replaced) updated, \(unchanged) already there, \(skipped.count) not ended yet, \(refused.count) refused — \(db.path)\n")
        if !refused.isEmpty { throw ExitCode(.failed) }
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Drill runs across services, newest first: result, grade, RTO/RPO against objectives, trend.",
        discussion: """
        The trend compares a run's score with the same service's previous run (↑ ↓ →). \
        The database is an index of the journals: --rebuild recreates it from runs folders \
        (annotations and action items are kept).

        Examples:
          firedrill history
          firedrill history --service ehr-db --since 2026-10-01 --format json
          firedrill history --rebuild --runs-dir ~/.local/share/firedrill/runs
        """
    )
    @Option(help: "Only this service.") var service: String?
    @Option(help: ArgumentHelp("Only runs started on or after this date (YYYY-MM-DD).", valueName: "DATE")) var since: String?
    @Option(parsing: .unconditional, help: "At most this many runs.") var limit: Int?
    @Option(help: "text or json.") var format: TextOrJSON = .text
    @Flag(help: "Recreate the database from the runs folders (--runs-dir, repeatable).") var rebuild = false
    @Option(help: ArgumentHelp("Runs folder to rebuild from (default $FIREDRILL_RUNS or ~/.local/share/firedrill/runs).", valueName: "DIR"))
    var runsDir: [String] = []
    @OptionGroup var history: HistoryOptions
    @Flag(name: .long, help: "Never colour the output (also: NO_COLOR=1).") var noColor = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1 (got \(limit))") }
        if let since, LocalDate(since) == nil { throw ValidationError("--since '\(since)' is not a date (YYYY-MM-DD)") }
        if rebuild, service != nil || since != nil || limit != nil || format != .text {
            throw ValidationError("--rebuild takes only --runs-dir and --db (it lists nothing); run firedrill history again to list")
        }
        if !rebuild, !runsDir.isEmpty { throw ValidationError("--runs-dir is for --rebuild (firedrill history --rebuild --runs-dir DIR)") }
    }

    func run() async throws {
        if rebuild {
            let (db, aside) = try await History.openForRebuild(path: History.defaultPath(history.db))
            if let aside {
                Terminal.err("note: \(db.path) was not a healthy database: kept as \(aside) (its annotations could not be read); rebuilding a new one from the journals\n")
            }
            var folders: [String] = []
            for f in runsDir.isEmpty ? [RunStore().root] : runsDir.map({ RunStore(root: $0).root }) where !folders.contains(f) { folders.append(f) }
            let r = try await db.rebuild(from: folders)
            for x in r.refused { Terminal.err("refused: \(x)\n") }
            for x in r.skipped { Terminal.err("skipped: \(x)\n") }
            Terminal.out("rebuilt \(db.path): \(r.added) run\(r.added == 1 ? "" : "s") from \(folders.joined(separator: ", "))\n")
            return
        }
        guard let db = try await history.openExisting() else {
            if format == .json { Terminal.out("[]\n") } else { Terminal.out(history.noHistory + "\n") }
            return
        }
        let entries = try await db.entries(service: service, since: since, limit: limit)
        if format == .json { Terminal.out(try JSONOutput.encode(entries) + "\n"); return }
        if entries.isEmpty { Terminal.out("no runs in \(db.path)\(service.map { " for \($0)" } ?? "")\n"); return }
        let style = TerminalStyle.detect(noColorFlag: noColor)
        let w = entries.map(\.id.count).max() ?? 0, sw = max(7, entries.map(\.service.count).max() ?? 0)
        Terminal.out(style.dim("run".padding(toLength: w + 2, withPad: " ", startingAt: 0) + "service".padding(toLength: sw + 2, withPad: " ", startingAt: 0)
                               + "result        score     RTO                  RPO") + "\n")
        for e in entries {
            let arrow: String
            switch e.trend {
            case .up: arrow = style.green("↑")
            case .down: arrow = style.red("↓")
            case .same: arrow = "→"
            case .first: arrow = " "
            }
            let score = "\(String(format: "%5.1f", e.score)) \(e.grade) \(arrow)"
            Terminal.out(e.id.padding(toLength: w + 2, withPad: " ", startingAt: 0) + e.service.padding(toLength: sw + 2, withPad: " ", startingAt: 0)
                         + (e.result + (e.resumed ? " (resumed)" : "")).padding(toLength: 14, withPad: " ", startingAt: 0) + score + "   "
                         + measure(e.rtoSeconds, e.rtoObjectiveSeconds, style).padding(toLength: 21, withPad: " ", startingAt: 0)
                         + (e.rpoFound == false ? style.red("lost") : measure(e.rpoSeconds, e.rpoObjectiveSeconds, style)) + "\n")
        }
    }

    func measure(_ s: Double?, _ objective: Double?, _ style: TerminalStyle) -> String {
        guard let s else { return "-" }
        let text = s < 60 ? String(format: "%.1fs", s) : DurationText.format(.milliseconds(Int64(s * 1000)))
        guard let objective else { return text }
        return text + " / " + DurationText.format(.milliseconds(Int64(objective * 1000))) + (s <= objective ? "" : " !")
    }
}

struct AnnotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Record the after-action verdict, notes and action items of a run (in the history, never in its journal).",
        discussion: """
        Each annotation is a record of its own, naming the SHA-256 of the journal head it refers \
        to and chained (SHA-256) to the run's previous annotation: `firedrill annotations RUN` \
        shows them and says whether any was changed. Action items are listed by `firedrill \
        actions` and closed with `firedrill actions done ID`.

        Example:
          firedrill annotate latest --verdict partial --note "Rejoin needed a manual pg_rewind" \
            --action "dba-team: script pg_rewind into rejoin-as-standby, due 2027-01-15"
        """
    )
    @Argument(help: ArgumentHelp("The run (ID, unique prefix or 'latest' in --runs-dir).", valueName: "RUN")) var runRef: String
    @Option(help: "pass, fail or partial.") var verdict: String
    @Option(help: "What happened, in words.") var note: String
    @Option(name: .customLong("action"), help: ArgumentHelp("An action item: \"OWNER: ITEM, due YYYY-MM-DD\" (repeatable).", valueName: "ACTION"))
    var actions: [String] = []
    @Option(help: ArgumentHelp("Who records it (default $USER).", valueName: "NAME")) var by: String?
    @Option(help: ArgumentHelp("Where runs are kept (to resolve RUN).", valueName: "DIR")) var runsDir: String?
    @OptionGroup var history: HistoryOptions

    func run() async throws {
        guard let v = Annotation.Verdict(rawValue: verdict) else { throw CommandError("--verdict '\(verdict)' is not pass, fail or partial") }
        if note.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw CommandError("--note is empty: say what happened") }
        if let by, by.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw CommandError("--by is empty: say who records it (or leave it out for $USER)")
        }
        // Today where the operator is: a due date is a local date.
        let today = Zoned.localDate(of: Date(), in: .current).description
        var parsed: [Annotation.Action] = []
        for a in actions {
            switch Annotation.Action.parse(a, today: today) {
            case let .success(action): parsed.append(action)
            case let .failure(d): throw CommandError(d.message, hint: d.hint)
            }
        }
        let id = RunStore(root: runsDir).resolve(runRef) ?? runRef
        let db = try await history.open()
        guard try await db.head(of: id) != nil else { throw notInHistory(runRef, db) }
        let a = try await db.annotate(run: id, verdict: v, note: note, actions: parsed, by: by ?? CurrentUser.name())
        Terminal.out("annotated \(id): \(v.rawValue) (annotation \(a.id ?? 0), \(a.actions.count) action item\(a.actions.count == 1 ? "" : "s"), chain \(a.hash.prefix(12))…)\n")
    }
}

struct AnnotationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotations",
        abstract: "A run's annotations, oldest first, with their chain checked (exit 1 if one was changed or removed)."
    )
    @Argument(help: ArgumentHelp("The run (ID, unique prefix or 'latest' in --runs-dir).", valueName: "RUN")) var runRef: String
    @Option(help: ArgumentHelp("Where runs are kept (to resolve RUN).", valueName: "DIR")) var runsDir: String?
    @Option(help: "text or json.") var format: TextOrJSON = .text
    @OptionGroup var history: HistoryOptions

    func run() async throws {
        let id = RunStore(root: runsDir).resolve(runRef) ?? runRef
        guard let db = try await history.openExisting() else { throw CommandError(history.noHistory) }
        guard try await db.head(of: id) != nil else { throw notInHistory(runRef, db) }
        let (list, broken) = try await db.annotations(of: id)
        if format == .json {
            struct Out: Encodable { var run: String; var annotations: [Annotation]; var intact: Bool; var problem: String? }
            Terminal.out(try JSONOutput.encode(Out(run: id, annotations: list, intact: broken == nil, problem: broken)) + "\n")
        } else {
            if list.isEmpty { Terminal.out("no annotations of \(id)\n") }
            for a in list {
                Terminal.out("\(terminalSafe(a.created))  \(a.verdict.rawValue)  by \(terminalSafe(a.by)): \(terminalSafe(a.note))\n")
                for x in a.actions { Terminal.out("    action: \(terminalSafe(x.owner)): \(terminalSafe(x.item)), due \(terminalSafe(x.due))\n") }
            }
            Terminal.out(broken.map { "NOT INTACT — \($0)\n" } ?? (list.isEmpty ? "" : "chain intact (\(list.count) annotation\(list.count == 1 ? "" : "s"))\n"))
        }
        if broken != nil { throw ExitCode(.failed) }
    }
}

struct ActionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "actions",
        abstract: "Action items from drills' after-action records; `actions done ID` closes one (recorded, not deleted).",
        subcommands: [ActionsList.self, ActionsDone.self],
        defaultSubcommand: ActionsList.self
    )
}

struct ActionsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List action items, by due date.")
    @Flag(help: "Only the open ones.") var open = false
    @Option(help: "Only this service's.") var service: String?
    @Option(help: "text or json.") var format: TextOrJSON = .text
    @OptionGroup var history: HistoryOptions

    func run() async throws {
        guard let db = try await history.openExisting() else {
            if format == .json { Terminal.out("[]\n") } else { Terminal.out(history.noHistory + "\n") }
            return
        }
        let items = try await db.actions(openOnly: open, service: service)
        if format == .json { Terminal.out(try JSONOutput.encode(items) + "\n"); return }
        if items.isEmpty { Terminal.out("no action items\n"); return }
        for i in items {
            let state = i.status == "done" ? "done \(i.doneAt?.prefix(10) ?? "") by \(i.doneBy ?? "")" : "open"
            Terminal.out(terminalSafe("#\(i.id)  due \(i.due)  \(i.owner): \(i.item)  [\(state)]  \(i.service ?? "") \(i.run)") + "\n")
        }
    }
}

struct ActionsDone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "done", abstract: "Close an action item.")
    @Argument(help: ArgumentHelp("The action item's number (#ID in `firedrill actions`).", valueName: "ID")) var id: Int64
    @Option(help: ArgumentHelp("Who closes it (default $USER).", valueName: "NAME")) var by: String?
    @OptionGroup var history: HistoryOptions

    func run() async throws {
        let db = try await history.open()
        do throws(History.Failure) {
            let item = try await db.completeAction(id, by: by ?? CurrentUser.name())
            Terminal.out("#\(item.id) done: \(terminalSafe(item.owner)): \(terminalSafe(item.item))\n")
        } catch {
            throw CommandError(error.message, hint: error.hint)
        }
    }
}
