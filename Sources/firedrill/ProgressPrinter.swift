import FiredrillCore
import Foundation

/// Shows a run as it happens: one line per event (plain), a redrawn status line while checks are
/// polled (live, on a terminal), or the journal's events as JSON lines (`--format json`).
actor ProgressPrinter: DrillObserver {
    let style: TerminalStyle
    let live: Bool
    let json: Bool
    let objective: Duration?
    let started = ContinuousClock.now
    private var statusShown = false
    /// Unreachable hosts listed one per line, and those past the first ten (counted, grouped at the end of preflight).
    private var unreachableShown = 0
    private var unreachableHidden = 0
    private var currentStep = ""

    init(style: TerminalStyle, live: Bool, json: Bool, objective: Duration?) {
        self.style = style; self.live = live; self.json = json; self.objective = objective
    }

    func record(_ e: JournalEvent) async {
        if json {
            if let data = try? Journal.encoder.encode(e) { Terminal.out(String(decoding: data, as: UTF8.self) + "\n") }
            return
        }
        guard let line = text(e) else { return }
        clearStatus()
        Terminal.out(line + "\n")
    }

    private func clearStatus() {
        if statusShown { Terminal.out(TerminalText.carriageReturn + TerminalText.escape + "[K"); statusShown = false }
    }

    private func status(_ s: String) {
        let elapsed = DurationText.format(.seconds(Int((ContinuousClock.now - started).components.seconds)))
        let budget = objective.map { " / RTO objective \(DurationText.format($0))" } ?? ""
        Terminal.out(TerminalText.carriageReturn + TerminalText.escape + "[K" + style.dim("  \(currentStep) · \(s) · \(elapsed)\(budget)"))
        statusShown = true
    }

    private func text(_ e: JournalEvent) -> String? {
        let ok = style.green("✓"), bad = style.red("✗")
        switch e.payload {
        case let .runStarted(p): return style.bold("▶ \(p.name ?? "drill")")
        case let .resumed(p): return style.yellow("↻ resumed: \(p.detail ?? "")")
        case let .hostReady(p):
            let line = "  \(ok) \(p.host) reachable" + (p.latencyMS.map { String(format: " (%.0f ms)", $0) } ?? "")
            return p.trustedNewKey ? line + "\n    " + style.yellow(p.detail ?? "") : line
        case let .hostUnreachable(p):
            // A fleet with a hundred hosts down is not a hundred lines: the reasons are grouped below.
            guard unreachableShown < 10 else { unreachableHidden += 1; return nil }
            unreachableShown += 1
            return "  \(bad) \(p.host): \(p.detail ?? "")"
        case let .checkResult(p):
            let label = p.check + (p.host.map { "@\($0)" } ?? "")
            if live && p.step != nil {
                status("verify attempt \(p.attempt): \(label) \(p.met ? "✓" : "…")")
                return nil
            }
            let phase = p.step == nil ? (p.phase?.rawValue ?? "") : "verify #\(p.attempt)"
            let seen: String
            switch (p.outcome, p.expect) {
            case (.error, _): seen = "could not check — "
            case (.failed, .down): seen = "down as expected — "
            case (.passed, .down): seen = "still up — "
            case (.skipped, _): seen = "skipped — "
            case (.passed, .up), (.failed, .up): seen = ""
            }
            return "    \(p.met ? ok : bad) \(phase) \(label): \(seen)\(p.detail)"
        case let .preconditionsFailed(p):
            let more = unreachableHidden > 0 ? "  … and \(unreachableHidden) more unreachable host\(unreachableHidden == 1 ? "" : "s")\n" : ""
            unreachableHidden = 0
            return more + style.red("✗ preconditions not met: \(p.detail ?? "")")
        case let .markerWritten(p): return "  \(p.passed ? ok : bad) data marker: \(p.detail ?? "")"
        case let .markerRead(p):
            if !p.passed && live { status("looking for the data marker (attempt \(p.attempt ?? 1))"); return nil }
            return "  \(p.passed ? ok : "…") data marker on the standby: \(p.detail ?? "")"
        case let .stepStarted(p):
            currentStep = "\(p.step) \(p.name ?? "")"
            let mark = p.phase == .restore ? "↺" : p.phase == .onFailure ? "⚑" : "▸"
            return style.bold("\n\(mark) \(p.step) \(p.name ?? "")") + style.dim("  \(p.detail ?? "")")
        case let .commandStarted(p):
            if live { status("running on \(p.host)") }
            return live ? nil : "  → \(p.host): \(p.command ?? "")"
        case .commandRunning: return nil
        case let .leftoverStopped(p): return style.yellow("  ■ \(p.detail ?? "")")
        case let .commandFinished(p):
            let what = p.timedOut == true ? (p.signal == "KILL" ? "timed out, then SIGKILL (it ignored SIGTERM)" : "timed out") : p.signal.map { "SIG\($0)" } ?? p.exit.map { "exit \($0)" } ?? (p.detail ?? "failed")
            let ms = p.durationMS.map { String(format: " in %.0f ms", $0) } ?? ""
            let err = p.passed ? "" : (p.stderr?.trimmingCharacters(in: .whitespacesAndNewlines)).map { $0.isEmpty ? "" : ": \($0.suffix(200))" } ?? ""
            return "  \(p.passed ? ok : bad) \(p.host) \(what)\(ms)\(err)"
        case let .verifyStarted(p): return style.dim("  verify: \(p.detail ?? "")")
        case let .verifyFlapped(p):
            if live { status("flapped: \(p.detail ?? "")"); return nil }
            return style.yellow("  ~ flapped, the hold window starts again: \(p.detail ?? "")")
        case let .verifyGap(p):
            if live { status("gap: \(p.detail ?? "")"); return nil }
            return style.yellow("  ~ gap: \(p.detail ?? "")")
        case let .verifyFinished(p):
            let ms = p.durationMS.map { DurationText.format(.milliseconds(Int64($0))) } ?? ""
            return p.passed ? "  \(ok) verified (\(p.detail ?? "held")) after \(p.attempt ?? 1) attempt\((p.attempt ?? 1) == 1 ? "" : "s"), \(ms)" : "  \(bad) verify failed: \(p.detail ?? "")"
        case let .manualPrompt(p): return style.yellow("  ✋ manual: \(p.instruction ?? "")")
        case let .manualResult(p): return "  \(p.outcome == .failed ? bad : ok) \(p.outcome?.rawValue ?? ""): \(p.detail ?? "")"
        case let .stepFinished(p):
            let d = p.durationMS.map { " in \(DurationText.format(.milliseconds(Int64($0))))" } ?? ""
            switch p.result {
            case .passed?: return "  \(ok) \(p.step) passed\(d)"
            case .interrupted?: return style.yellow("  ■ \(p.step) interrupted")
            case .skipped?: return style.yellow("  – \(p.step) skipped: \(p.detail ?? "")")
            case .failed?, nil: return "  \(bad) \(p.step) failed\(d)"
            }
        case let .rto(m):
            let within = m.withinObjective.map { $0 ? style.green(" (within objective)") : style.red(" (EXCEEDS objective)") } ?? ""
            return style.bold("  ⏱ RTO \(seconds(m.seconds))") + within
        case let .rpo(m):
            if m.passed != true { return style.red("  ✗ RPO: \(m.detail ?? "")") }
            let within = m.withinObjective.map { $0 ? style.green(" (within objective)") : style.red(" (EXCEEDS objective)") } ?? ""
            return style.bold("  ⛁ RPO \(seconds(m.seconds))") + within
        case let .interrupted(p): return style.yellow("\n■ interrupt: \(p.detail ?? "interrupted")")
        case let .journalFailed(p): return style.red("\n✗ \(p.detail ?? "the journal cannot be written")")
        case let .guardTripped(p):
            return style.red("\n⛔ guard \(p.label) \(p.outcome == .failed ? "failed" : "could not be checked") for \(seconds(p.seconds)) (\(p.samples) sample\(p.samples == 1 ? "" : "s")): \(p.detail)")
        case let .notification(p):
            return p.delivered ? style.dim("  ✉ \(p.on) notification to \(p.target): \(p.detail)")
                : style.yellow("  ✉ \(p.on) notification to \(p.target) not delivered (attempt \(p.attempt)): \(p.detail)")
        case let .restoreStarted(p): return style.bold("\nRestore") + style.dim("  \(p.detail ?? "")")
        case let .restoreFinished(p): return "  restore \(p.detail ?? "")"
        case .runEnded: return nil
        }
    }

    private func seconds(_ s: Double?) -> String {
        guard let s else { return "-" }
        return s < 60 ? String(format: "%.2fs", s) : DurationText.format(.milliseconds(Int64(s * 1000)))
    }

    func manual(_ step: PlannedStep) async -> ManualDecision {
        clearStatus()
        while true {
            Terminal.err(style.yellow("\n✋ \(step.name)\n   \(step.instruction ?? "")\n") + "   Done? [c]onfirmed / [f]ailed / [s]kip: ")
            switch await StdinReader.shared.next() {
            case .cancelled: return .noAnswer("interrupted before the operator answered")
            case .endOfInput: return .noAnswer("no answer: the terminal closed (end of input)")
            case let .line(answer):
                switch answer.lowercased().first {
                case "c", "y": return .confirmed
                case "s": return .skipped
                case "f":
                    Terminal.err("   What went wrong (one line)? ")
                    switch await StdinReader.shared.next() {
                    case .cancelled: return .noAnswer("interrupted before the operator answered")
                    case .endOfInput: return .failed("reported failed by the operator (no reason given: the terminal closed)")
                    case let .line(why): return .failed(why.isEmpty ? "reported failed by the operator" : why)
                    }
                default:
                    Terminal.err("   Answer c, f or s.\n")
                }
            }
        }
    }

    nonisolated var canConfirm: Bool { isatty(STDIN_FILENO) == 1 }

    func confirmAbandonRestore() async -> Bool {
        clearStatus()
        Terminal.err(style.red("\nAbandon restore? Hosts may stay failed over. [y/N] "))
        if case let .line(answer) = await StdinReader.shared.next() { return ["y", "yes"].contains(answer.lowercased()) }
        return false
    }

    /// Drawn from the run's record alone (`firedrill runs RUN` prints the same from the journal).
    func summary(_ o: DrillOutcome) -> String {
        clearStatus()
        return RunSummaryRenderer(style: style).render(o.record, journalPath: o.journalPath, result: o.result, incomplete: o.recordIncomplete)
    }
}

/// Lines from stdin, read by one thread of its own (reading blocks; never on the cooperative
/// pool). A prompt waits for the next line typed after it asked; an interrupt cancels the wait
/// (the task's cancellation), and the end of input is said as such, never taken for an answer.
final class StdinReader: @unchecked Sendable {
    enum Read: Sendable, Equatable { case line(String), endOfInput, cancelled }

    static let shared = StdinReader()
    private let lock = NSLock()
    private var waiter: CheckedContinuation<Read, Never>?
    private var ended = false
    private var started = false

    /// The next line typed from now on (anything typed before the prompt is not its answer).
    func next() async -> Read {
        Terminal.flush()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Read, Never>) in
                lock.lock()
                if ended { lock.unlock(); c.resume(returning: .endOfInput); return }
                if Task.isCancelled { lock.unlock(); c.resume(returning: .cancelled); return }
                waiter = c
                if !started {
                    started = true
                    Thread.detachNewThread { self.loop() }
                }
                lock.unlock()
            }
        } onCancel: {
            self.finish(.cancelled)
        }
    }

    private func finish(_ r: Read) {
        lock.lock()
        let w = waiter
        waiter = nil
        if r == .endOfInput { ended = true }
        lock.unlock()
        w?.resume(returning: r)
    }

    private func loop() {
        while let line = readLine() {
            lock.lock()
            let w = waiter
            waiter = nil
            lock.unlock()
            w?.resume(returning: .line(line))
        }
        finish(.endOfInput)
    }
}

/// Reads one line for a prompt (see `StdinReader`); nil at the end of input or when cancelled.
func readLineOffThePool() async -> String? {
    if case let .line(l) = await StdinReader.shared.next() { return l }
    return nil
}
