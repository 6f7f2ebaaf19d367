import Foundation

/// What `firedrill run` does, from its arguments to its outcome: find the runs folder, read the
/// run to resume and check it still matches its playbook and inventory, load and validate the
/// playbook, resolve secrets, plan, take the locks — everything that can refuse before anyone
/// is asked to confirm (`prepare`); then write the plan, open the journal and run (`start`, `run`),
/// index the ended run in the history and release the locks.
///
/// The executable parses the options, asks for confirmation, forwards signals and prints.
/// Everything that can go wrong here is a `UserFacingError`.
public final class DrillSession: @unchecked Sendable {
    public struct Request: Sendable {
        public var playbook: String?
        /// A run to resume (an ID, a prefix, `latest`).
        public var resume: String?
        public var inventory: [String]
        public var limit: String?
        /// `-e KEY=VALUE` as given.
        public var extraVars: [String]
        public var runsDir: String?
        public var ssh: SSHOptions
        public var forks: Int
        public var manual: ManualMode
        /// Someone can answer a prompt.
        public var interactive: Bool
        /// For `due --run`: a lock held by a live drill is `ExitStatus.busy` (skipped), not preconditions.
        public var busyExit: Bool
        public var historyDB: String?
        public var version: String
        /// `--approval`: approval files or folders of them (default: `approvals/` beside the playbook).
        public var approvals: [String]
        /// The configuration file's content (its approval policy).
        public var config: FiredrillConfig

        public init(playbook: String?, resume: String?, inventory: [String], limit: String?, extraVars: [String], runsDir: String?,
                    ssh: SSHOptions, forks: Int, manual: ManualMode, interactive: Bool, busyExit: Bool, historyDB: String?, version: String,
                    approvals: [String] = [], config: FiredrillConfig = FiredrillConfig()) {
            self.playbook = playbook; self.resume = resume; self.inventory = inventory; self.limit = limit; self.extraVars = extraVars
            self.runsDir = runsDir; self.ssh = ssh; self.forks = forks; self.manual = manual; self.interactive = interactive
            self.busyExit = busyExit; self.historyDB = historyDB; self.version = version; self.approvals = approvals; self.config = config
        }
    }

    public let request: Request
    public let store: RunStore
    public let definition: DrillDefinition
    public let runtime: DrillRuntime
    public let plan: Plan
    public let runID: String
    /// The run being resumed, if any.
    public let resumePoint: ResumePoint?
    /// Warnings of loading and validation, to show (with the files' text).
    public let warnings: DiagnosticsError
    /// The approval the drill runs under (nil: none required, or a resume, which only restores).
    public let approval: ApprovalRecord?
    /// Locks taken over from runners that died, in words.
    public var notes: [String] { locks.flatMap(\.takenOver) }
    private let locks: [RunLock]

    private init(request: Request, store: RunStore, definition: DrillDefinition, runtime: DrillRuntime, plan: Plan, runID: String,
                 resumePoint: ResumePoint?, warnings: DiagnosticsError, approval: ApprovalRecord?, locks: [RunLock]) {
        self.request = request; self.store = store; self.definition = definition; self.runtime = runtime; self.plan = plan
        self.runID = runID; self.resumePoint = resumePoint; self.warnings = warnings; self.approval = approval; self.locks = locks
    }

    /// Everything before the confirmation: refuses (with why and what to do) or returns a
    /// session holding its locks.
    public static func prepare(_ r: Request) throws -> DrillSession {
        let store = RunStore(root: r.runsDir)
        // A new run creates the runs folder; a resume only reads one that exists.
        if let issue = RunStore.folderIssue(store.root, create: r.resume == nil) {
            if let resume = r.resume { throw CommandError("no run '\(resume)': \(issue.words)", hint: "pass the --runs-dir the run was started with") }
            // Nothing has run; a folder the disk will not write is the journal's failure (4), a
            // path that is not a folder is bad input (2).
            throw CommandError("cannot keep runs: \(issue.words); nothing was run", hint: "pass --runs-dir DIR (or set FIREDRILL_RUNS) to a folder you can write",
                               exit: issue.kind == .cannotWrite ? .recordIncomplete : .invalidInput)
        }
        let extraVars: [String: VarValue]
        switch parseExtraVars(r.extraVars) {
        case let .success(v): extraVars = v
        case let .failure(d): throw d
        }
        var locks: [RunLock] = []
        var point: ResumePoint?
        var runID = ""
        var inventory = r.inventory, limit = r.limit
        if let resume = r.resume {
            guard let id = store.resolve(resume) else { throw CommandError("no run '\(resume)' in \(store.root)", hint: "firedrill runs --runs-dir \(store.root)") }
            // The run is locked before its journal is read, so two resumes cannot both find it unfinished.
            locks.append(try lock([.run(id)], store: store, run: id, busyExit: r.busyExit))
            switch ResumePoint.load(store: store, id: id) {
            case let .success(p): point = p
            case let .failure(d): throw d
            }
            runID = id
            inventory = point?.facts.inventory ?? []
            limit = point?.facts.limit
            // -e values are not journaled (they could be anything): the same names must be given again.
            let recorded = Set(point?.facts.extraVarNames ?? [])
            let given = Set(extraVars.keys)
            if recorded != given {
                throw CommandError("run \(id) was started with -e \(recorded.isEmpty ? "none" : recorded.sorted().joined(separator: ", ")); this resume gives \(given.isEmpty ? "none" : given.sorted().joined(separator: ", "))",
                                   hint: "give the same -e variables as when the run started (their values are not recorded)")
            }
        }
        let playbookPath = point?.facts.playbook ?? r.playbook ?? ""
        let loaded = DrillDefinition.load(playbookPath: playbookPath, inventoryOverride: inventory, extraVars: extraVars, limit: limit)
        guard let definition = loaded.definition else { throw DiagnosticsError(loaded.diagnostics, sources: loaded.sources) }
        if let point, point.facts.playbookSHA256 != RunFacts.playbookHash(definition) {
            throw CommandError("\(playbookPath) changed since run \(runID) started",
                               hint: "restore by hand, or put the playbook back as it was (sha256 \(point.facts.playbookSHA256))")
        }
        // A host pointed elsewhere since the run started would have restore (and the sweep of what
        // the dead runner left) run on the wrong machine.
        if let point, point.facts.inventorySHA256 != RunStore.sha256(files: definition.inventoryPaths) {
            throw CommandError("the inventory \(definition.inventoryPaths.joined(separator: ", ")) changed since run \(runID) started",
                               hint: "restore by hand, or put the inventory back as it was (sha256 \(point.facts.inventorySHA256))")
        }
        // Four eyes, before anything else is resolved or locked; a resume only restores, which
        // nothing may stand in the way of.
        let approval = point == nil ? try Self.approval(for: definition, request: r) : nil
        // A resumed run only restores: only restore's manual steps need an answer then.
        let toRun = point == nil ? definition.preview.steps + definition.preview.restore : definition.preview.restore
        if toRun.contains(where: { $0.kind == .manual }) && r.manual == .ask && !r.interactive {
            throw CommandError("the playbook has manual steps and there is no terminal to ask",
                               hint: "pass --manual=pass, --manual=skip or --manual=fail (recorded in the journal)")
        }
        // Secrets are resolved before asking, so a missing one is reported before anyone confirms.
        var runtime: DrillRuntime
        switch DrillRuntime.make(definition, ssh: r.ssh) {
        case let .success(rt): runtime = rt
        case let .failure(e): throw e
        }
        // The playbook's notify: and the configuration's (not read on a resume).
        let targets = definition.playbook.notify + (point == nil ? r.config.notify : [])
        if !targets.isEmpty { runtime.notifier = Notifier(targets: targets, runsDir: store.root) }
        if runID.isEmpty { runID = RunStore.newRunID(service: definition.playbook.service) }
        guard let plan = definition.plan(runID: runID) else { throw CommandError("cannot plan the drill") }
        if let point { try Self.refuseMoved(plan, since: point) }
        // One drill per service and per host at a time, held until the session ends.
        locks.append(try lock(RunLock.Key.drill(plan, run: runID).filter { point == nil || $0 != .run(runID) }, store: store, run: runID, busyExit: r.busyExit))
        return DrillSession(request: r, store: store, definition: definition, runtime: runtime, plan: plan, runID: runID, resumePoint: point,
                            warnings: DiagnosticsError(loaded.diagnostics, sources: loaded.sources), approval: approval, locks: locks)
    }

    /// The approval this drill needs and has, or a refusal (exit 3) saying what each approval
    /// found is missing; nil when nothing requires one.
    static func approval(for d: DrillDefinition, request r: Request, now: Date = Date()) throws -> ApprovalRecord? {
        let rules = try ApprovalRequirement.rules(for: d.playbook, policy: r.config.approval)
        guard !rules.isEmpty else { return nil }
        let paths = r.approvals.isEmpty ? [Approval.defaultFolder(playbook: d.playbook.file)] : r.approvals
        for p in r.approvals where p.isEmpty || !FileManager.default.fileExists(atPath: p) {
            throw CommandError("--approval '\(TerminalText.safe(p))': no such file or folder", hint: "give an approval file (NAME.approval.json) or a folder of them")
        }
        let candidates = try Approval.candidates(in: paths, rules: rules)
        let scope = ApprovalCheck.Scope(service: d.playbook.service, playbookSHA256: RunFacts.playbookHash(d),
                                        inventorySHA256: RunStore.sha256(files: d.inventoryPaths), limit: d.limit, operator: CurrentUser.name(),
                                        extraVars: d.extraVars)
        let needs = "the drill requires a signed approval (\(rules.map(\.source).joined(separator: "; ")))"
        let ask = "ask an approver to run: firedrill approve \(d.playbook.file)\(d.inventoryPaths.map { " -i \($0)" }.joined())\(d.limit.map { " --limit \($0)" } ?? "") --window FROM..UNTIL --key THEIR_KEY; then pass the file with --approval FILE (or put it in \(Approval.defaultFolder(playbook: d.playbook.file))/)"
        switch ApprovalCheck.decide(candidates, rules: rules, scope: scope, now: now) {
        case let .success(c):
            guard let record = ApprovalRecord(c) else { throw CommandError("cannot record the approval \(c.path)", exit: .failed) }
            return record
        case let .failure(refusal):
            if candidates.isEmpty {
                throw CommandError("\(needs), and there is none in \(paths.joined(separator: ", ")); nothing was run", hint: ask, exit: .preconditions)
            }
            let why = refusal.problems.map { "\n  \($0.path): \($0.why)" }.joined()
            throw CommandError("\(needs), and no approval found lets this run start now; nothing was run:\(why)", hint: ask, exit: .preconditions)
        }
    }

    /// A resume restores where the run failed over: every host at the address, port and user it
    /// had, and the same restore commands. Variables from `host_vars/`, `group_vars/` or an
    /// inventory folder can move a host without the inventory file changing, so the plan recorded
    /// in `run_started` is compared with the plan now. (Runs recorded without a plan are not.)
    static func refuseMoved(_ plan: Plan, since point: ResumePoint) throws(CommandError) {
        guard let recorded = point.record.plan, let now = try? JSONValue.from(plan) else { return }
        func byName(_ v: JSONValue?, key: String) -> [String: JSONValue] {
            guard case let .array(items)? = v else { return [:] }
            var out: [String: JSONValue] = [:]
            for item in items { if case let .string(name)? = item[key] { out[name] = item } }
            return out
        }
        let (was, isNow) = (byName(recorded["hosts"], key: "name"), byName(now["hosts"], key: "name"))
        let moved = was.keys.filter { isNow[$0] != was[$0] }.sorted()
        if !moved.isEmpty {
            func at(_ h: JSONValue?) -> String {
                guard let h else { return "no longer in the inventory" }
                var s = ""
                if case let .string(u)? = h["user"] { s += u + "@" }
                if case let .string(a)? = h["address"] { s += a }
                if case let .number(p)? = h["port"] { s += ":\(Int(p))" }
                return s
            }
            // Address, port and user as one endpoint; anything else that changed (the key file,
            // the kind of connection) by its name.
            func changes(_ name: String) -> String {
                guard case let .object(a)? = was[name], case let .object(b)? = isNow[name] else { return "\(name) was \(at(was[name])), now \(at(isNow[name]))" }
                var parts: [String] = []
                if at(was[name]) != at(isNow[name]) { parts.append("\(name) was \(at(was[name])), now \(at(isNow[name]))") }
                for key in Set(a.keys).union(b.keys).subtracting(["name", "address", "port", "user"]).sorted() where a[key] != b[key] {
                    func text(_ v: JSONValue?) -> String {
                        switch v { case let .string(s)?: return s; case let .number(n)?: return "\(n)"; case nil: return "unset"; default: return "set" }
                    }
                    parts.append("\(name)'s \(key) was \(text(a[key])), now \(text(b[key]))")
                }
                return parts.joined(separator: ", ")
            }
            let what = moved.prefix(5).map(changes).joined(separator: "; ")
            throw CommandError("the inventory changed how \(moved.count == 1 ? "a host is" : "\(moved.count) hosts are") reached since run \(point.runID) started: \(what)"
                               + (moved.count > 5 ? "; and \(moved.count - 5) more" : ""),
                               hint: "restore by hand, or put the inventory (with its host_vars/ and group_vars/) back as it was")
        }
        let (restoreWas, restoreNow) = (byName(recorded["restore"], key: "id"), byName(now["restore"], key: "id"))
        let changed = Set(restoreWas.keys).union(restoreNow.keys).filter { restoreWas[$0] != restoreNow[$0] }.sorted()
        if !changed.isEmpty {
            throw CommandError("the restore steps \(changed.joined(separator: ", ")) would not run as run \(point.runID) planned them (their hosts or commands changed)",
                               hint: "restore by hand, or put the playbook, inventory and variables back as they were")
        }
    }

    /// Takes `keys`, or refuses naming the drill that holds one.
    static func lock(_ keys: [RunLock.Key], store: RunStore, run: String, busyExit: Bool) throws(RunLock.Refusal) -> RunLock {
        let holder = RunLock.Holder(run: run, runs: store.root, user: CurrentUser.name(), controller: ProcessInfo.processInfo.hostName)
        switch RunLock.acquire(keys, holder: holder) {
        case let .success(l): return l
        case var .failure(refusal):
            refusal.busyExit = busyExit
            throw refusal
        }
    }

    /// What the operator confirms: the drill, its scope and what it will do.
    public var confirmation: String {
        let p = definition.preview
        let s = p.summary
        let resuming = resumePoint != nil
        return """
        \(resuming ? "Resume" : "Run") drill “\(p.playbook.name)” (\(p.playbook.service), \(p.playbook.criticality.rawValue))
          \(s.hosts) hosts, \(s.steps) steps, \(s.restoreSteps) restore steps, \(s.commands) commands, \(s.manualSteps) manual
          inventory: \(definition.inventoryPaths.isEmpty ? "(none)" : definition.inventoryPaths.map { TerminalText.safe($0) }.joined(separator: ", "))
          hosts: \(p.hosts.prefix(12).map { "\($0.name) (\(TerminalText.safe($0.endpoint)))" }.joined(separator: ", "))\(p.hosts.count > 12 ? ", +\(p.hosts.count - 12) more" : "")
          worst case \(DurationText.format(s.estimatedWorstCase.duration))
        \(approval.map { "  approved by \(TerminalText.safe($0.summary))\n" } ?? "")\(resuming ? "This re-checks the hosts and runs restore." : "This changes the hosts above. Restore runs afterwards in any case.")
        Start? [y/N] 
        """
    }

    /// A session the operator confirmed, its journal open and its runner ready.
    public struct Started: Sendable {
        public let session: DrillSession
        public let journal: Journal
        public let runner: DrillRunner<ContinuousClock>

        /// SIGINT, SIGTERM, SIGHUP or SIGQUIT.
        public func interrupt() async { await runner.interrupt() }
    }

    /// How the session ended: the drill's outcome, and what did not go as it should beside it.
    public struct Finished: Sendable {
        public var outcome: DrillOutcome
        /// The history could not be updated (the journal is safe).
        public var warnings: [String]
    }

    /// Writes the plan next to the journal-to-be and opens the journal; if the disk cannot take
    /// even that, nothing starts (and a new run leaves no folder behind).
    /// `echo` shows what goes to the fallback file once the journal cannot be written.
    public func start(observer: any DrillObserver, echo: @escaping @Sendable (String) -> Void, now: Date = Date()) throws(CommandError) -> Started {
        let isNew = resumePoint == nil
        // The confirmation can wait a long time: an approval whose window closed meanwhile does not count.
        if let a = approval, let until = Journal.date(a.windowUntil), now >= until {
            throw CommandError("the approval's window closed at \(a.windowUntil) while the drill waited to start; nothing was run",
                               hint: "ask \(a.approver) for a new approval (firedrill approve)", exit: .preconditions)
        }
        if isNew {
            let problem = (try? JSONOutput.encode(plan)).flatMap { RunStore.write($0, to: store.directory(runID) + "/plan.json") }
            if let problem {
                try? FileManager.default.removeItem(atPath: store.directory(runID))
                throw CommandError("cannot start the run: \(problem)", hint: "free space in \(store.root) or pass --runs-dir DIR; nothing has run")
            }
        }
        let journal: Journal
        do {
            journal = try Journal(path: store.journalPath(runID), dropTornTail: !isNew)
        } catch {
            if isNew { try? FileManager.default.removeItem(atPath: store.directory(runID)) }
            throw CommandError("cannot write the journal: \((error as? Journal.Failure)?.message ?? "\(error)")",
                               hint: "free space in \(store.root) or pass --runs-dir DIR; nothing has run")
        }
        let runner = DrillRunner(plan: plan, environment: runtime.environment, journal: journal, observer: observer,
                                 options: RunOptions(forks: request.forks, manual: request.manual), resuming: resumePoint, clock: ContinuousClock(),
                                 fallback: JournalFallback(journalPath: journal.path, runID: runID, echo: echo))
        return Started(session: self, journal: journal, runner: runner)
    }

    /// Runs the drill to its end, indexes it in the history, releases the locks.
    public func run(_ started: Started) async -> Finished {
        let facts = resumePoint == nil ? RunFacts.collect(definition: definition, plan: plan, version: request.version, approval: approval) : nil
        let outcome = await started.runner.run(facts: facts, notes: notes)
        await runtime.pool.closeAll()
        var warnings: [String] = []
        if outcome.record.isFinished && outcome.recordIncomplete == nil {
            do throws(History.Failure) {
                let db = try await History.open(path: History.defaultPath(request.historyDB))
                _ = try await db.ingest(journal: started.journal.path)
            } catch {
                // A broken database cannot take an import either: rebuilding it from the journals can.
                let how = error.corrupt ? "rebuild the history from the journals: firedrill history --rebuild --runs-dir \(store.root) --db \(History.defaultPath(request.historyDB))"
                    : "add it later with firedrill import \(started.journal.path)"
                warnings.append("history was not updated: \(error.message) (the journal is safe; \(how))")
            }
        }
        // A new run that could not record even its first event leaves no empty run behind (its
        // events are in the fallback file the summary names).
        if resumePoint == nil, (try? FileManager.default.attributesOfItem(atPath: started.journal.path)[.size] as? Int) == 0 {
            try? FileManager.default.removeItem(atPath: store.directory(runID))
        }
        release()
        return Finished(outcome: outcome, warnings: warnings)
    }

    /// Releases the locks (also done by the kernel when the process ends).
    public func release() {
        withExtendedLifetime(locks) {}
        RunLock.releaseAll()
    }
}
