/// Every decision of a drill, as a value: which action comes next, what an interrupt or a broken
/// journal means in the current phase, whether a command may be sent, when RTO and RPO start and
/// end, which commands must be stopped before restore, whether restore is needed, and how the
/// run ends.
///
/// Pure: no I/O, no clock, no tasks. Events carry their instant (`at:`, the time since the
/// runner started on its monotonic clock). `DrillRunner` performs the actions it returns and
/// feeds the results back as events. The rules (docs/journal.md, "Interrupts, restore and resume"):
///
/// - **Touched** is state, set by `commandJournaled` once a failover (or on_failure) command's
///   start is on disk and it is about to go out. Restore runs when, and only when, the failover
///   touched a host.
/// - Interrupted before anything was touched: stop, run no restore, end `interrupted`.
/// - Interrupted during the failover: cancel the running step, restore what was touched.
/// - Interrupted during restore: keep restoring; a further interrupt asks to abandon it.
/// - After an interrupt nothing new is sent in the failover: `mayStartCommand` says no.
/// - A command whose outcome is unknown (its connection broke after it was sent) is stopped,
///   if it still runs, before restore starts (or, in restore, before restore ends).
public struct DrillStateMachine: Sendable, Equatable {
    /// What the machine needs to know of the plan.
    public struct Shape: Sendable, Equatable {
        public struct Step: Sendable, Equatable {
            public var id: String
            public var manual: Bool
            /// Hosts per batch (`serial:`); empty when the step selects no host.
            public var batches: [Int]
            public var maxFailPercentage: Int
            public var verify: Bool
            /// Its verify has `up` checks: the service answering again (RTO ends there).
            public var verifiesUp: Bool
            /// RTO starts at the first disruptive failover step that runs.
            public var disruptive: Bool
            public var hooks: [Step]

            public init(id: String, manual: Bool = false, batches: [Int], maxFailPercentage: Int = 0, verify: Bool = false,
                        verifiesUp: Bool? = nil, disruptive: Bool = true, hooks: [Step] = []) {
                self.id = id; self.manual = manual; self.batches = batches; self.maxFailPercentage = maxFailPercentage
                self.verify = verify; self.verifiesUp = verifiesUp ?? verify; self.disruptive = disruptive; self.hooks = hooks
            }

            var hostCount: Int { batches.reduce(0, +) }
        }

        public var failover: [Step]
        public var restore: [Step]
        public var dataCheck: Bool
        public var rtoObjective: Duration?
        public var rpoObjective: Duration?

        public init(failover: [Step], restore: [Step], dataCheck: Bool, rtoObjective: Duration? = nil, rpoObjective: Duration? = nil) {
            self.failover = failover; self.restore = restore; self.dataCheck = dataCheck
            self.rtoObjective = rtoObjective; self.rpoObjective = rpoObjective
        }
    }

    public enum StepRef: Sendable, Hashable, CustomStringConvertible {
        case failover(Int)
        /// The `hook`-th on_failure hook of failover step `step`.
        case hook(step: Int, hook: Int)
        case restore(Int)

        public var description: String {
            switch self {
            case let .failover(i): return "failover[\(i)]"
            case let .hook(s, h): return "failover[\(s)].on_failure[\(h)]"
            case let .restore(i): return "restore[\(i)]"
            }
        }

        public var isFailover: Bool { if case .restore = self { return false } else { return true } }

        /// The journal's phase of the step.
        public var phase: FiredrillCore.Phase {
            switch self {
            case .failover: return .failover
            case .hook: return .onFailure
            case .restore: return .restore
            }
        }
    }

    public typealias StepResult = FiredrillCore.StepResult
    public typealias RestoreReason = FiredrillCore.RestoreReason
    public typealias RestoreStatus = FiredrillCore.RestoreStatus
    public typealias Result = RunResult

    public enum ManualAnswer: Sendable, Equatable { case confirmed, skipped, failed }

    /// A command whose processes may still run: stopped (every live process carrying its tag).
    public struct Leftover: Sendable, Equatable {
        public var host: String
        public var step: String
        public var process: RemoteProcess
        public var cause: LeftoverCause

        public init(host: String, step: String, process: RemoteProcess, cause: LeftoverCause) {
            self.host = host; self.step = step; self.process = process; self.cause = cause
        }
    }

    /// Why a command's processes are looked for and stopped.
    public enum LeftoverCause: Sendable, Equatable {
        /// Left running by the runner that died (`--resume`).
        case deadRunner
        /// Its connection broke while it ran: its outcome is unknown.
        case connectionBroke
        /// It timed out: what it started outside its process group (a daemon) may have survived.
        case timedOut
        /// An interrupt cancelled it: likewise.
        case interrupted

        public var text: String {
            switch self {
            case .deadRunner: return "after the runner that started it stopped"
            case .connectionBroke: return "after its connection broke"
            case .timedOut: return "after the command timed out"
            case .interrupted: return "after the command was interrupted"
            }
        }
    }

    /// What a command that ended with a status of its own leaves to do.
    public enum Aftermath: Sendable, Equatable {
        case nothing
        /// It ended (succeeded or failed) but something it started holds its output: name what
        /// runs with its tag, touch nothing (that is how services start).
        case nameLeftRunning
    }

    /// A span measured on the runner's monotonic clock, and how it compares with its objective.
    public struct Span: Sendable, Equatable {
        public var from: Duration
        public var to: Duration
        public var objective: Duration?

        public var value: Duration { max(.zero, to - from) }
        public var withinObjective: Bool? { objective.map { value <= $0 } }
    }

    /// What the data check found.
    public enum RPO: Sendable, Equatable {
        /// The marker was found: RPO runs from its write to the start of the failure.
        case measured(Span)
        /// Not found: data written before the failure was lost.
        case lost(objective: Duration?)
    }

    /// Whether a command whose start was just journaled goes out.
    public enum Send: Sendable, Equatable {
        case send
        /// Not sent: journal `command_finished` with `not_sent` and this reason.
        case notSent(String)
    }

    /// How the run ends: the runner journals it (`run_ended`) and prints it.
    public struct Ending: Sendable, Equatable {
        public var result: Result
        public var touched: Bool
        public var restore: RestoreStatus
        /// nil when the final steady state was not checked.
        public var steadyStateHolds: Bool?
        /// False when the run must stay resumable (a resume that could not reach its hosts).
        public var endsRun: Bool
        public var recordIncomplete: Bool
    }

    public enum Action: Sendable, Equatable {
        /// Connect to every host; evaluate the steady state unless `resuming` (then: connect only).
        case preflight(resuming: Bool)
        case writeMarker
        /// Journal `step_started`, then report `stepStarted`.
        case startStep(StepRef)
        /// Run the step's command on the hosts of batch `batch`, asking `mayStartCommand` and
        /// `commandJournaled` for each.
        case runBatch(StepRef, batch: Int)
        case askOperator(StepRef)
        case verify(StepRef)
        /// Journal `rto`, then report `measured`.
        case recordRTO(StepRef, Span)
        /// Journal `step_finished` with the result, then report `stepFinished`.
        case finishStep(StepRef, StepResult)
        case readMarker
        /// Journal `rpo`, then report `measured`.
        case recordRPO(RPO)
        /// Stop these commands' processes if they still run (journal `leftover_stopped` each),
        /// then report `leftoversStopped`.
        case stopLeftovers([Leftover])
        case startRestore(RestoreReason)
        case finishRestore(RestoreStatus)
        case checkFinalState
        /// Journal `run_ended` and seal the journal, then report `runEnded(sealed:)`.
        case endRun(Ending)
        /// The run is over: nothing more is written.
        case finish(Ending)
    }

    /// What an interrupt (or a journal that cannot be written) means now.
    public enum Response: Sendable, Equatable {
        /// Cancel what is running now (kill remote commands); the message says what follows.
        case stop(String)
        /// Restore keeps running; say so.
        case keepRestoring(String)
        /// Ask the operator whether to abandon restore; report with `abandonAnswered`.
        case confirmAbandon
        /// Nothing changes (the run is ending, or already stopping); say why.
        case ignore(String)
    }

    /// Where the run is. Facts that belong to one phase travel with it.
    public enum Phase: Sendable, Equatable {
        case preflight, dataMarker, failover, onFailure, markerRead
        case restore(abandoned: Bool)
        /// After restore: the steady state is checked again; `cut` when an interrupt stopped that check.
        case finalCheck(cut: Bool)
        /// `run_ended` is being written and the journal sealed.
        case ending(Ending)
        case ended
    }

    /// Why the failover stopped early, if it did.
    public enum Stop: Sendable, Equatable {
        case running
        case interrupted
        case journalFailed
        /// A guard failed for its hold: production is being hurt.
        case guardTripped
    }

    /// The verdict so far, apart from interrupts and the record.
    public enum Verdict: Sendable, Equatable {
        case clean
        case preconditions
        case failed
    }

    public private(set) var phase: Phase = .preflight
    /// A failover or on_failure command was (about to be) sent: restore is needed.
    public private(set) var touched: Bool
    public private(set) var interrupts = 0
    public private(set) var stop: Stop = .running
    public private(set) var recordIncomplete = false
    public private(set) var verdict: Verdict = .clean
    /// A step ran on no host (outside `--limit`): the drill is incomplete and cannot pass.
    public private(set) var skippedSteps = 0
    public let shape: Shape
    let resuming: Bool
    /// Restore steps that passed before a resume: not repeated.
    let restoredBefore: Set<Int>
    private var failedHosts: [StepRef: Int] = [:]
    /// A staged step whose verify after batch N (the value) is running or next.
    private var verifyingBatch: [StepRef: Int] = [:]
    private var restoreStatus: RestoreStatus?
    /// Commands to stop (if they still run) before restore starts or ends.
    private var leftovers: [Leftover]
    /// What comes after the leftovers are stopped.
    private var afterLeftovers: Action?
    // Measurements, on the runner's monotonic clock.
    private var disruptionAt: Duration?
    private var markerWrittenAt: Duration?
    private var rtoRecorded = false
    /// A failover step ran on no host: the service was not really failed over, so no RTO.
    private var failoverSkipped = false

    /// Whether the failover was told to stop (an interrupt or a broken journal).
    public var stopping: Bool { stop != .running }

    /// A new run.
    public init(shape: Shape) {
        self.shape = shape; self.touched = false; self.resuming = false; self.restoredBefore = []; self.leftovers = []
    }

    /// A run whose runner died: `touched`, the restore steps that had passed and the commands it
    /// left running come from its journal.
    public init(resuming shape: Shape, touched: Bool, restoredBefore: Set<Int>, leftovers: [Leftover] = []) {
        self.shape = shape; self.touched = touched; self.resuming = true; self.restoredBefore = restoredBefore; self.leftovers = leftovers
    }

    // MARK: - Events

    public mutating func start() -> Action {
        phase = .preflight
        // A runner that died before it touched anything left nothing to restore.
        if resuming && !touched { return finish() }
        return .preflight(resuming: resuming)
    }

    public mutating func preflightFinished(ok: Bool) -> Action {
        if resuming {
            guard ok, !stopping else {
                // The run stays resumable: its restore has not run.
                if !ok { verdict = .preconditions }
                return finish(endsRun: !touched)
            }
            return beginRestore(.resumed)
        }
        if stopping { return finish() }
        guard ok else { verdict = .preconditions; return finish() }
        if shape.dataCheck { phase = .dataMarker; return .writeMarker }
        return nextFailover(after: -1)
    }

    /// `at`: when the marker's write began (the newest data known to exist on the primary).
    public mutating func markerWritten(ok: Bool, at: Duration) -> Action {
        if stopping { return finish() }
        // Writing the marker changes no role and stops no service: nothing to restore.
        guard ok else { verdict = .preconditions; return finish() }
        markerWrittenAt = at
        return nextFailover(after: -1)
    }

    /// After `step_started` is journaled; `at` is the instant it carries (RTO counts from the
    /// first disruptive failover step that runs).
    public mutating func stepStarted(_ ref: StepRef, at: Duration) -> Action {
        let step = self.step(ref)
        if case .failover = ref, step.disruptive, !step.batches.isEmpty || step.manual, disruptionAt == nil { disruptionAt = at }
        if stepStopped(ref) { return .finishStep(ref, .interrupted) }
        if step.manual { return .askOperator(ref) }
        if step.batches.isEmpty { return .finishStep(ref, .skipped) }
        failedHosts[ref] = 0
        return .runBatch(ref, batch: 0)
    }

    /// Asked before a command's start is journaled: after an interrupt no failover command starts.
    public func mayStartCommand(_ ref: StepRef) -> Bool {
        !stepStopped(ref)
    }

    /// Asked once the command's start was written (`journaled`) or could not be, right before it
    /// would be sent. The rule is journal first: a failover command whose start is not on disk is
    /// not sent, so it touches nothing (restore commands go out regardless: their record is in
    /// the fallback). An interrupt may also have come while journaling. From `.send` on, the
    /// failover has touched a host.
    public mutating func commandJournaled(_ ref: StepRef, journaled: Bool) -> Send {
        if !journaled && ref.isFailover { return .notSent("not sent: the journal cannot be written") }
        if stepStopped(ref) { return .notSent("not sent: the drill was stopping") }
        if ref.isFailover { touched = true }
        return .send
    }

    /// A command that was sent ended without a status of its own. A cancelled one was killed by
    /// the transport; one that may have run (connection lost, host silent) has an unknown
    /// outcome. Either way what it started is looked for by its tag and stopped as soon as its
    /// batch ends: a daemon that left its process group must not outlive it.
    public mutating func commandFailed(_ ref: StepRef, host: String, process: RemoteProcess, kind: TransportFailureKind, mayHaveRun: Bool) -> CommandFailure {
        if kind == .cancelled {
            leftovers.append(Leftover(host: host, step: step(ref).id, process: process, cause: .interrupted))
            return .interrupted
        }
        guard mayHaveRun else { return .transport(kind) }
        leftovers.append(Leftover(host: host, step: step(ref).id, process: process, cause: .connectionBroke))
        return .unknown
    }

    /// A command ended with a status. One that timed out is swept (by its tag) when its batch
    /// ends; one that succeeded or failed is never swept — a service it started is how services
    /// start — but what still holds its output is named.
    public mutating func commandEnded(_ ref: StepRef, host: String, process: RemoteProcess, timedOut: Bool, outputHeldOpen: Bool) -> Aftermath {
        if timedOut {
            leftovers.append(Leftover(host: host, step: step(ref).id, process: process, cause: .timedOut))
            return .nothing
        }
        return outputHeldOpen ? .nameLeftRunning : .nothing
    }

    /// A batch ended; `failed` hosts of it did not succeed (including outcomes unknown). What its
    /// timed-out, interrupted or lost commands left running is stopped first.
    public mutating func batchFinished(_ ref: StepRef, batch: Int, failed: Int) -> Action {
        let next = afterBatch(ref, batch: batch, failed: failed)
        return stoppingLeftoversFirst(next)
    }

    private mutating func afterBatch(_ ref: StepRef, batch: Int, failed: Int) -> Action {
        if stepStopped(ref) { return .finishStep(ref, .interrupted) }
        let step = self.step(ref)
        let total = (failedHosts[ref] ?? 0) + failed
        failedHosts[ref] = total
        // Ansible's rule: the step fails when more than max_fail_percentage of its hosts failed.
        if total > 0, total * 100 > step.maxFailPercentage * step.hostCount { return .finishStep(ref, .failed) }
        if batch + 1 < step.batches.count {
            // A staged step is verified after each batch, on what it touched so far: a batch that
            // breaks the service halts the step before the next batch starts.
            if step.verify {
                verifyingBatch[ref] = batch
                return .verify(ref)
            }
            return .runBatch(ref, batch: batch + 1)
        }
        verifyingBatch[ref] = nil
        return step.verify ? .verify(ref) : .finishStep(ref, .passed)
    }

    /// The batches a verify about to run covers: `0...N` after batch N of a staged step, nil
    /// when it covers all of the step's hosts.
    public func verifyCovers(_ ref: StepRef) -> Int? { verifyingBatch[ref] }

    public mutating func operatorAnswered(_ ref: StepRef, _ answer: ManualAnswer) -> Action {
        if stepStopped(ref) { return .finishStep(ref, .interrupted) }
        switch answer {
        case .failed: return .finishStep(ref, .failed)
        case .confirmed, .skipped: return step(ref).verify ? .verify(ref) : .finishStep(ref, .passed)
        }
    }

    /// After `verify_finished` is journaled. `heldSince`: the first sample of the run of samples
    /// that held (RTO ends there), when it held.
    public mutating func verifyFinished(_ ref: StepRef, heldSince: Duration?) -> Action {
        if stepStopped(ref) { return .finishStep(ref, .interrupted) }
        guard let heldSince else { verifyingBatch[ref] = nil; return .finishStep(ref, .failed) }
        // A batch of a staged step held: the next batch.
        if let batch = verifyingBatch.removeValue(forKey: ref) { return .runBatch(ref, batch: batch + 1) }
        // RTO: from the start of the first disruptive step to the first sample of the run that
        // held, in the first failover step whose verify shows the service answering (`up`).
        if case .failover = ref, step(ref).verifiesUp, !rtoRecorded, !failoverSkipped, let d = disruptionAt {
            rtoRecorded = true
            return .recordRTO(ref, Span(from: d, to: heldSince, objective: shape.rtoObjective))
        }
        return .finishStep(ref, .passed)
    }

    /// After `rto` or `rpo` is journaled.
    public mutating func measured() -> Action {
        switch phase {
        case .failover:
            guard case let .failover(i)? = currentFailover else { return afterFailoverStopped() }
            return .finishStep(.failover(i), stepStopped(.failover(i)) ? .interrupted : .passed)
        case .markerRead:
            if stopping { return afterFailoverStopped() }
            return beginRestore(.completed)
        case .preflight, .dataMarker, .onFailure, .restore, .finalCheck, .ending, .ended:
            return afterFailoverStopped()
        }
    }

    /// After `step_finished` is journaled: the next step, the hooks, restore or the end.
    public mutating func stepFinished(_ ref: StepRef, _ result: StepResult) -> Action {
        if result == .skipped {
            skippedSteps += 1
            if ref.isFailover { failoverSkipped = true }
        }
        switch ref {
        case let .failover(i):
            switch result {
            case .passed, .skipped:
                if stopping { return afterFailoverStopped() }
                return nextFailover(after: i)
            case .failed:
                verdict = .failed
                if stopping { return afterFailoverStopped() }
                if !shape.failover[i].hooks.isEmpty { phase = .onFailure; return .startStep(.hook(step: i, hook: 0)) }
                return beginRestore(.stepFailed)
            case .interrupted:
                return afterFailoverStopped()
            }
        case let .hook(s, h):
            if stopping { return afterFailoverStopped() }
            if h + 1 < shape.failover[s].hooks.count { return .startStep(.hook(step: s, hook: h + 1)) }
            return beginRestore(.stepFailed)
        case let .restore(i):
            switch result {
            case .passed, .skipped: return nextRestore(after: i)
            // Restore stops at its first failed step: later steps could make things worse.
            case .failed: verdict = .failed; return endRestore(.failed)
            case .interrupted: return endRestore(restoreAbandoned ? .abandoned : .failed)
            }
        }
    }

    /// The marker was looked for on the standby (until found or its timeout). `cut`: an interrupt
    /// stopped the search, so "not found" says nothing about the data.
    public mutating func markerRead(found: Bool, cut: Bool = false) -> Action {
        if !found && (cut || stopping) { return afterFailoverStopped() }
        guard found else { return .recordRPO(.lost(objective: shape.rpoObjective)) }
        guard let w = markerWrittenAt else { return measured() }
        // RPO: how old the newest data that survived was when the failure began.
        return .recordRPO(.measured(Span(from: w, to: disruptionAt ?? w, objective: shape.rpoObjective)))
    }

    /// The commands of `stopLeftovers` were dealt with.
    public mutating func leftoversStopped() -> Action {
        let next = afterLeftovers ?? finish()
        afterLeftovers = nil
        return next
    }

    /// After `restore_started` is journaled.
    public mutating func restoreStarted() -> Action { nextRestore(after: -1) }

    /// After `restore_finished` is journaled. The steady state is checked again (as evidence)
    /// after any restore but an abandoned one, also after an interrupt.
    public mutating func restoreFinished() -> Action {
        if restoreStatus == .abandoned { return finish() }
        phase = .finalCheck(cut: false)
        return .checkFinalState
    }

    /// `holds`: nil when the playbook has no steady-state checks (nothing to say either way).
    public mutating func finalStateChecked(holds: Bool?) -> Action {
        // A check cut short by an interrupt says nothing about the hosts.
        if case .finalCheck(cut: true) = phase { return finish() }
        if holds == false { verdict = .failed }
        return finish(steadyStateHolds: holds)
    }

    /// After `run_ended` is journaled and the journal sealed (`sealed` false: it could not be;
    /// nil: nothing was sealed because the journal had already failed).
    public mutating func runEnded(sealed: Bool?) -> Action {
        guard case var .ending(ending) = phase else { return .finish(makeEnding(steadyStateHolds: nil, endsRun: true)) }
        if sealed == false || recordIncomplete {
            recordIncomplete = true
            ending.result = .incomplete
            ending.recordIncomplete = true
        }
        phase = .ended
        return .finish(ending)
    }

    /// SIGINT or SIGTERM.
    public mutating func interrupted() -> Response {
        interrupts += 1
        switch phase {
        case .ended, .ending:
            return .ignore("the run is ending")
        case let .restore(abandoned):
            if abandoned { return .ignore("restore is being abandoned") }
            if interrupts == 1 {
                return .keepRestoring("restore is running and will finish (interrupt again to abandon it)")
            }
            return .confirmAbandon
        case let .finalCheck(cut):
            if cut { return .ignore("already stopping") }
            phase = .finalCheck(cut: true)
            return .stop("stopping the final steady-state check; restore has finished")
        case .preflight, .dataMarker, .failover, .onFailure, .markerRead:
            if stopping { return .ignore(touched ? "already stopping; restore will run" : "already stopping") }
            stop = .interrupted
            if resuming {
                return .stop(touched ? "stopping before restore: the run stays unfinished, resume it again" : "stopping")
            }
            return .stop(touched ? "stopping the failover; restore will run"
                                 : "stopping before any failover command was sent: nothing was changed on any host, no restore needed")
        }
    }

    /// A guard failed for its hold (`what` names it). The failover stops as after an interrupt —
    /// the running step is cancelled, nothing more is sent, restore runs if anything was touched —
    /// and the drill fails. During restore, restore goes on (it is what heals production).
    public mutating func guardTripped(_ what: String) -> Response {
        switch phase {
        case .ended, .ending, .finalCheck:
            return .ignore("")
        case .restore:
            verdict = .failed
            return .keepRestoring("\(what) during restore: restore continues")
        case .preflight, .dataMarker, .failover, .onFailure, .markerRead:
            verdict = .failed
            if stopping { return .ignore("") }
            stop = .guardTripped
            return .stop(touched ? "\(what): stopping the failover; restore will run"
                                 : "\(what): stopping before any failover command was sent; nothing was changed on any host")
        }
    }

    /// Whether guards are watched now: from the first failover action until restore ends.
    public var watchesGuards: Bool {
        switch phase {
        case .dataMarker, .failover, .onFailure, .markerRead, .restore: return true
        case .preflight, .finalCheck, .ending, .ended: return false
        }
    }

    /// The operator's answer to "abandon restore?".
    public mutating func abandonAnswered(_ yes: Bool) -> Response {
        guard case .restore(abandoned: false) = phase else { return .ignore("restore already ended") }
        guard yes else { return .keepRestoring("restore continues") }
        phase = .restore(abandoned: true)
        return .stop("restore abandoned by the operator: hosts may stay failed over")
    }

    /// A journal write failed: events go to stderr and a fallback file from now on.
    public mutating func journalFailed() -> Response {
        let first = !recordIncomplete
        recordIncomplete = true
        switch phase {
        case .ended, .ending, .finalCheck:
            return .ignore("the run is ending")
        case .restore:
            return first ? .keepRestoring("the journal cannot be written; restore continues, evidence goes to stderr and the fallback file") : .ignore("")
        case .preflight, .dataMarker, .failover, .onFailure, .markerRead:
            if stopping { return .ignore("") }
            stop = .journalFailed
            return .stop(touched ? "the journal cannot be written: stopping the failover; restore will run"
                                 : "the journal cannot be written: stopping; nothing was changed on any host")
        }
    }

    /// Whether `action`, about to start, is already stopped: the runner starts it cancelled, so it
    /// ends at once (a verify does not poll on after an interrupt that came between two actions).
    public func cutsShort(_ action: Action) -> Bool {
        switch action {
        case .preflight, .writeMarker, .readMarker: return stopping
        case .checkFinalState: return phase == .finalCheck(cut: true)
        case let .runBatch(ref, _), let .askOperator(ref), let .verify(ref): return stepStopped(ref)
        case .startStep, .recordRTO, .finishStep, .recordRPO, .stopLeftovers, .startRestore, .finishRestore, .endRun, .finish: return false
        }
    }

    // MARK: - Rules

    public func step(_ ref: StepRef) -> Shape.Step {
        switch ref {
        case let .failover(i): return shape.failover[i]
        case let .hook(s, h): return shape.failover[s].hooks[h]
        case let .restore(i): return shape.restore[i]
        }
    }

    var restoreAbandoned: Bool { phase == .restore(abandoned: true) }

    /// The failover step running now (RTO is recorded inside it).
    private var currentFailover: StepRef?

    /// Failover steps stop on an interrupt; restore steps only when restore is abandoned.
    private func stepStopped(_ ref: StepRef) -> Bool {
        ref.isFailover ? stopping : restoreAbandoned
    }

    private mutating func nextFailover(after i: Int) -> Action {
        if i + 1 < shape.failover.count {
            phase = .failover
            currentFailover = .failover(i + 1)
            return .startStep(.failover(i + 1))
        }
        currentFailover = nil
        if shape.dataCheck { phase = .markerRead; return .readMarker }
        return beginRestore(.completed)
    }

    private mutating func afterFailoverStopped() -> Action {
        guard touched else { return finish() }
        return beginRestore(recordIncomplete ? .journalFailed : interrupts > 0 ? .interrupted : stop == .guardTripped ? .guardTripped : .stepFailed)
    }

    private mutating func beginRestore(_ reason: RestoreReason) -> Action {
        phase = .restore(abandoned: false)
        return stoppingLeftoversFirst(.startRestore(reason))
    }

    /// `next`, after the commands left running are stopped, if any.
    private mutating func stoppingLeftoversFirst(_ next: Action) -> Action {
        guard !leftovers.isEmpty else { return next }
        let pending = leftovers
        leftovers = []
        afterLeftovers = next
        return .stopLeftovers(pending)
    }

    private mutating func nextRestore(after i: Int) -> Action {
        var next = i + 1
        while restoredBefore.contains(next) { next += 1 }
        if restoreAbandoned { return endRestore(.abandoned) }
        if next < shape.restore.count { return .startStep(.restore(next)) }
        return endRestore(.completed)
    }

    private mutating func endRestore(_ status: RestoreStatus) -> Action {
        restoreStatus = status
        // Restore commands whose processes may still run: stopped before the final check.
        return stoppingLeftoversFirst(.finishRestore(status))
    }

    private func makeEnding(steadyStateHolds: Bool?, endsRun: Bool) -> Ending {
        let restore: RestoreStatus = restoreStatus ?? (touched ? .notRun : .notNeeded)
        let result: Result
        if recordIncomplete { result = .incomplete }
        // A guard that tripped first decided the drill: an interrupt during its restore does not hide it.
        else if interrupts > 0 && stop != .guardTripped { result = .interrupted }
        else if verdict == .preconditions { result = .preconditions }
        // A runner that died before touching anything was, in effect, interrupted.
        else if resuming && !touched { result = .interrupted }
        else if verdict == .failed || resuming || restore == .failed || restore == .notRun || skippedSteps > 0 { result = .failed }
        else { result = .passed }
        return Ending(result: result, touched: touched, restore: restore, steadyStateHolds: steadyStateHolds,
                      endsRun: endsRun, recordIncomplete: recordIncomplete)
    }

    private mutating func finish(steadyStateHolds: Bool? = nil, endsRun: Bool = true) -> Action {
        let e = makeEnding(steadyStateHolds: steadyStateHolds, endsRun: endsRun)
        guard endsRun else { phase = .ended; return .finish(e) }
        phase = .ending(e)
        return .endRun(e)
    }
}

extension DrillStateMachine.Shape {
    /// The shape of a plan.
    public init(_ plan: Plan) {
        func step(_ s: PlannedStep) -> Step {
            Step(id: s.id, manual: s.kind == .manual, batches: s.batches.map(\.count).filter { $0 > 0 },
                 maxFailPercentage: s.maxFailPercentage, verify: s.verify != nil, verifiesUp: !(s.verify?.up.isEmpty ?? true),
                 disruptive: s.disruptive, hooks: s.onFailure.map(step))
        }
        self.init(failover: plan.steps.map(step), restore: plan.restore.map(step), dataCheck: plan.dataCheck != nil,
                  rtoObjective: plan.objectives.rto?.duration, rpoObjective: plan.objectives.rpo?.duration)
    }
}
