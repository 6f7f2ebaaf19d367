/// Every decision of a drill, as a value: which action comes next, what an interrupt or a broken
/// journal means in the current phase, whether restore is needed, and how the run ends.
///
/// Pure: no I/O, no clock, no tasks. `DrillRunner` performs the actions it returns and feeds the
/// results back as events. The rules (docs/journal.md, "Interrupts, restore and resume"):
///
/// - **Touched** is state, set by `sending` once a failover (or on_failure) command's start is
///   journaled and it is about to go out. Restore runs when, and only when, the failover touched
///   a host.
/// - Interrupted before anything was touched: stop, run no restore, end `interrupted`.
/// - Interrupted during the failover: cancel the running step, restore what was touched.
/// - Interrupted during restore: keep restoring; a further interrupt asks to abandon it.
/// - After an interrupt nothing new is sent in the failover: `mayStartCommand` says no.
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
            public var hooks: [Step]

            public init(id: String, manual: Bool = false, batches: [Int], maxFailPercentage: Int = 0, verify: Bool = false, hooks: [Step] = []) {
                self.id = id; self.manual = manual; self.batches = batches; self.maxFailPercentage = maxFailPercentage
                self.verify = verify; self.hooks = hooks
            }

            var hostCount: Int { batches.reduce(0, +) }
        }

        public var failover: [Step]
        public var restore: [Step]
        public var dataCheck: Bool

        public init(failover: [Step], restore: [Step], dataCheck: Bool) {
            self.failover = failover; self.restore = restore; self.dataCheck = dataCheck
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

        var isFailover: Bool { if case .restore = self { return false } else { return true } }
    }

    public enum Phase: String, Sendable, Equatable {
        case preflight, dataMarker, failover, onFailure, markerRead, restore, finalCheck, ended
    }

    public enum StepResult: String, Sendable, Equatable {
        case passed, failed, interrupted
        /// The step selects no host (within `--limit`): nothing ran, it did not pass either.
        case skipped
    }

    public enum ManualAnswer: Sendable, Equatable { case confirmed, skipped, failed }

    /// Why restore starts.
    public enum RestoreReason: String, Sendable, Equatable {
        /// Every failover step passed: restore puts the service back.
        case completed
        case stepFailed = "step_failed"
        case interrupted
        case journalFailed = "journal_failed"
        /// A runner died mid-drill and `--resume` finishes its restore.
        case resumed
    }

    public enum RestoreStatus: String, Sendable, Equatable {
        /// Nothing was touched, so nothing needed restoring.
        case notNeeded = "not_needed"
        case completed, failed
        /// The operator confirmed abandoning it.
        case abandoned
        /// Needed, but could not start (a resumed run whose hosts do not answer).
        case notRun = "not_run"
    }

    public enum Result: String, Sendable, Equatable, Codable {
        case passed, failed, interrupted, preconditions
        /// The journal could not be written: restore was attempted, the record is incomplete.
        case incomplete
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
        /// Connect to every host; evaluate the steady state unless `resuming` (then: connect only
        /// and stop what a dead runner left running).
        case preflight(resuming: Bool)
        case writeMarker
        /// Journal `step_started`, then report `stepStarted`.
        case startStep(StepRef)
        /// Run the step's command on the hosts of batch `batch`, asking `mayStartCommand` for each.
        case runBatch(StepRef, batch: Int)
        case askOperator(StepRef)
        case verify(StepRef)
        /// Journal `step_finished` with the result, then report `stepFinished`.
        case finishStep(StepRef, StepResult)
        case readMarker
        case startRestore(RestoreReason)
        case finishRestore(RestoreStatus)
        case checkFinalState
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

    public private(set) var phase: Phase = .preflight
    /// A failover or on_failure command was (about to be) sent: restore is needed.
    public private(set) var touched: Bool
    public private(set) var interrupts = 0
    /// An interrupt or a broken journal stopped the failover (or abandoned restore).
    public private(set) var stopping = false
    public private(set) var recordIncomplete = false
    public private(set) var restoreAbandoned = false
    /// An interrupt cut the final steady-state check short.
    private var finalCheckCut = false
    /// A step ran on no host (outside `--limit`): the drill is incomplete and cannot pass.
    public private(set) var skippedSteps = 0
    public let shape: Shape
    let resuming: Bool
    /// Restore steps that passed before a resume: not repeated.
    let restoredBefore: Set<Int>
    private var failedHosts: [StepRef: Int] = [:]
    private var failed = false
    private var restoreStatus: RestoreStatus?
    private var preconditionsFailed = false

    /// A new run.
    public init(shape: Shape) {
        self.shape = shape; self.touched = false; self.resuming = false; self.restoredBefore = []
    }

    /// A run whose runner died: `touched` and the restore steps that had passed come from its journal.
    public init(resuming shape: Shape, touched: Bool, restoredBefore: Set<Int>) {
        self.shape = shape; self.touched = touched; self.resuming = true; self.restoredBefore = restoredBefore
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
                if !ok { preconditionsFailed = true }
                return finish(endsRun: !touched)
            }
            return beginRestore(.resumed)
        }
        if stopping { return finish() }
        guard ok else { preconditionsFailed = true; return finish() }
        if shape.dataCheck { phase = .dataMarker; return .writeMarker }
        return nextFailover(after: -1)
    }

    public mutating func markerWritten(ok: Bool) -> Action {
        if stopping { return finish() }
        // Writing the marker changes no role and stops no service: nothing to restore.
        guard ok else { preconditionsFailed = true; return finish() }
        return nextFailover(after: -1)
    }

    public mutating func stepStarted(_ ref: StepRef) -> Action {
        let step = self.step(ref)
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

    /// Asked once the command's start is journaled, right before it is sent: still allowed (an
    /// interrupt may have come while journaling), and from then on the failover has touched a host.
    /// A command whose start could not be journaled is never sent, so it touches nothing.
    public mutating func sending(_ ref: StepRef) -> Bool {
        if stepStopped(ref) { return false }
        if ref.isFailover { touched = true }
        return true
    }

    /// A batch ended; `failed` hosts of it did not succeed (including outcomes unknown).
    public mutating func batchFinished(_ ref: StepRef, batch: Int, failed: Int) -> Action {
        if stepStopped(ref) { return .finishStep(ref, .interrupted) }
        let step = self.step(ref)
        let total = (failedHosts[ref] ?? 0) + failed
        failedHosts[ref] = total
        // Ansible's rule: the step fails when more than max_fail_percentage of its hosts failed.
        if total > 0, total * 100 > step.maxFailPercentage * step.hostCount { return .finishStep(ref, .failed) }
        if batch + 1 < step.batches.count { return .runBatch(ref, batch: batch + 1) }
        return step.verify ? .verify(ref) : .finishStep(ref, .passed)
    }

    public mutating func operatorAnswered(_ ref: StepRef, _ answer: ManualAnswer) -> Action {
        if stepStopped(ref) { return .finishStep(ref, .interrupted) }
        switch answer {
        case .failed: return .finishStep(ref, .failed)
        case .confirmed, .skipped: return step(ref).verify ? .verify(ref) : .finishStep(ref, .passed)
        }
    }

    public mutating func verifyFinished(_ ref: StepRef, held: Bool) -> Action {
        if stepStopped(ref) { return .finishStep(ref, .interrupted) }
        return .finishStep(ref, held ? .passed : .failed)
    }

    /// After `step_finished` is journaled: the next step, the hooks, restore or the end.
    public mutating func stepFinished(_ ref: StepRef, _ result: StepResult) -> Action {
        if result == .skipped { skippedSteps += 1 }
        switch ref {
        case let .failover(i):
            switch result {
            case .passed, .skipped:
                if stopping { return afterFailoverStopped() }
                return nextFailover(after: i)
            case .failed:
                failed = true
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
            case .failed: failed = true; return endRestore(.failed)
            case .interrupted: return endRestore(restoreAbandoned ? .abandoned : .failed)
            }
        }
    }

    public mutating func markerRead() -> Action {
        if stopping { return afterFailoverStopped() }
        return beginRestore(.completed)
    }

    /// After `restore_started` is journaled.
    public mutating func restoreStarted() -> Action { nextRestore(after: -1) }

    /// After `restore_finished` is journaled. The steady state is checked again (as evidence)
    /// after any restore but an abandoned one, also after an interrupt.
    public mutating func restoreFinished() -> Action {
        if restoreStatus == .abandoned { return finish() }
        phase = .finalCheck
        return .checkFinalState
    }

    public mutating func finalStateChecked(holds: Bool) -> Action {
        // A check cut short by an interrupt says nothing about the hosts.
        if finalCheckCut { return finish() }
        if !holds { failed = true }
        return finish(steadyStateHolds: holds)
    }

    /// SIGINT or SIGTERM.
    public mutating func interrupted() -> Response {
        interrupts += 1
        switch phase {
        case .ended:
            return .ignore("the run is ending")
        case .restore:
            if restoreAbandoned { return .ignore("restore is being abandoned") }
            if interrupts == 1 {
                return .keepRestoring("restore is running and will finish (interrupt again to abandon it)")
            }
            return .confirmAbandon
        case .finalCheck:
            if finalCheckCut { return .ignore("already stopping") }
            finalCheckCut = true
            return .stop("stopping the final steady-state check; restore has finished")
        case .preflight, .dataMarker, .failover, .onFailure, .markerRead:
            if stopping { return .ignore(touched ? "already stopping; restore will run" : "already stopping") }
            stopping = true
            if resuming {
                return .stop(touched ? "stopping before restore: the run stays unfinished, resume it again" : "stopping")
            }
            return .stop(touched ? "stopping the failover; restore will run"
                                 : "stopping before any failover command was sent: nothing was changed on any host, no restore needed")
        }
    }

    /// The operator's answer to "abandon restore?".
    public mutating func abandonAnswered(_ yes: Bool) -> Response {
        guard phase == .restore, !restoreAbandoned else { return .ignore("restore already ended") }
        guard yes else { return .keepRestoring("restore continues") }
        restoreAbandoned = true
        stopping = true
        return .stop("restore abandoned by the operator: hosts may stay failed over")
    }

    /// A journal write failed: events go to stderr and a fallback file from now on.
    public mutating func journalFailed() -> Response {
        let first = !recordIncomplete
        recordIncomplete = true
        switch phase {
        case .ended, .finalCheck:
            return .ignore("the run is ending")
        case .restore:
            return first ? .keepRestoring("the journal cannot be written; restore continues, evidence goes to stderr and the fallback file") : .ignore("")
        case .preflight, .dataMarker, .failover, .onFailure, .markerRead:
            if stopping { return .ignore("") }
            stopping = true
            return .stop(touched ? "the journal cannot be written: stopping the failover; restore will run"
                                 : "the journal cannot be written: stopping; nothing was changed on any host")
        }
    }

    /// Whether `action`, about to start, is already stopped: the runner starts it cancelled, so it
    /// ends at once (a verify does not poll on after an interrupt that came between two actions).
    public func cutsShort(_ action: Action) -> Bool {
        switch action {
        case .preflight, .writeMarker, .readMarker: return stopping
        case .checkFinalState: return finalCheckCut
        case let .runBatch(ref, _), let .askOperator(ref), let .verify(ref): return stepStopped(ref)
        case .startStep, .finishStep, .startRestore, .finishRestore, .finish: return false
        }
    }

    // MARK: - Rules

    func step(_ ref: StepRef) -> Shape.Step {
        switch ref {
        case let .failover(i): return shape.failover[i]
        case let .hook(s, h): return shape.failover[s].hooks[h]
        case let .restore(i): return shape.restore[i]
        }
    }

    /// Failover steps stop on an interrupt; restore steps only when restore is abandoned.
    private func stepStopped(_ ref: StepRef) -> Bool {
        ref.isFailover ? stopping : restoreAbandoned
    }

    private mutating func nextFailover(after i: Int) -> Action {
        if i + 1 < shape.failover.count {
            phase = .failover
            return .startStep(.failover(i + 1))
        }
        if shape.dataCheck { phase = .markerRead; return .readMarker }
        return beginRestore(.completed)
    }

    private mutating func afterFailoverStopped() -> Action {
        guard touched else { return finish() }
        return beginRestore(recordIncomplete ? .journalFailed : interrupts > 0 ? .interrupted : .stepFailed)
    }

    private mutating func beginRestore(_ reason: RestoreReason) -> Action {
        phase = .restore
        return .startRestore(reason)
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
        return .finishRestore(status)
    }

    private mutating func finish(steadyStateHolds: Bool? = nil, endsRun: Bool = true) -> Action {
        phase = .ended
        let restore: RestoreStatus = restoreStatus ?? (touched ? .notRun : .notNeeded)
        let result: Result
        if recordIncomplete { result = .incomplete }
        else if interrupts > 0 { result = .interrupted }
        else if preconditionsFailed { result = .preconditions }
        // A runner that died before touching anything was, in effect, interrupted.
        else if resuming && !touched { result = .interrupted }
        else if failed || resuming || restore == .failed || restore == .notRun || skippedSteps > 0 { result = .failed }
        else { result = .passed }
        return .finish(Ending(result: result, touched: touched, restore: restore, steadyStateHolds: steadyStateHolds,
                              endsRun: endsRun, recordIncomplete: recordIncomplete))
    }
}

extension DrillStateMachine.Shape {
    /// The shape of a plan.
    public init(_ plan: Plan) {
        func step(_ s: PlannedStep) -> Step {
            Step(id: s.id, manual: s.kind == .manual, batches: s.batches.map(\.count).filter { $0 > 0 },
                 maxFailPercentage: s.maxFailPercentage, verify: s.verify != nil, hooks: s.onFailure.map(step))
        }
        self.init(failover: plan.steps.map(step), restore: plan.restore.map(step), dataCheck: plan.dataCheck != nil)
    }
}
