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
        if statusShown { Terminal.out("\r\u{1B}[K"); statusShown = false }
    }

    private func status(_ s: String) {
        let elapsed = DurationText.format(.seconds(Int((ContinuousClock.now - started).components.seconds)))
        let budget = objective.map { " / RTO objective \(DurationText.format($0))" } ?? ""
        Terminal.out("\r\u{1B}[K" + style.dim("  \(currentStep) · \(s) · \(elapsed)\(budget)"))
        statusShown = true
    }

    private func text(_ e: JournalEvent) -> String? {
        let ok = style.green("✓"), bad = style.red("✗")
        let host = e.host.map { " \($0)" } ?? ""
        switch e.event {
        case .runStarted: return style.bold("▶ \(e.name ?? "drill")")
        case .resumed: return style.yellow("↻ resumed: \(e.detail ?? "")")
        case .hostReady:
            let line = "  \(ok) \(e.host ?? "") reachable" + (e.latencyMS.map { String(format: " (%.0f ms)", $0) } ?? "")
            return e.result == .trustedNewKey ? line + "\n    " + style.yellow(e.detail ?? "") : line
        case .hostUnreachable: return "  \(bad) \(e.host ?? ""): \(e.detail ?? "")"
        case .checkResult:
            let label = (e.check ?? "") + (e.host.map { "@\($0)" } ?? "")
            let good = e.met == true
            if live && e.step != nil {
                status("verify attempt \(e.attempt ?? 1): \(label) \(good ? "✓" : "…")")
                return nil
            }
            let phase = e.step == nil ? (e.phase?.rawValue ?? "") : "verify #\(e.attempt ?? 1)"
            let seen: String
            switch (e.outcome, e.expect) {
            case (.error?, _): seen = "could not check — "
            case (.failed?, .down?): seen = "down as expected — "
            case (.passed?, .down?): seen = "still up — "
            case (.skipped?, _): seen = "skipped — "
            default: seen = ""
            }
            return "    \(good ? ok : bad) \(phase) \(label): \(seen)\(e.detail ?? "")"
        case .preconditionsFailed: return style.red("✗ preconditions not met: \(e.detail ?? "")")
        case .markerWritten: return "  \(e.passed == true ? ok : bad) data marker: \(e.detail ?? "")"
        case .markerRead:
            if e.passed != true && live { status("looking for the data marker (attempt \(e.attempt ?? 1))"); return nil }
            return "  \(e.passed == true ? ok : "…") data marker on the standby: \(e.detail ?? "")"
        case .stepStarted:
            currentStep = "\(e.step ?? "") \(e.name ?? "")"
            return style.bold("\n\(e.phase == .restore ? "↺" : e.phase == .onFailure ? "⚑" : "▸") \(e.step ?? "") \(e.name ?? "")") + style.dim("  \(e.detail ?? "")")
        case .commandStarted:
            if live { status("running on\(host)") }
            return live ? nil : "  → \(e.host ?? ""): \(e.command ?? "")"
        case .commandRunning: return nil
        case .leftoverStopped: return style.yellow("  ■ \(e.detail ?? "")")
        case .commandFinished:
            let what = e.timedOut == true ? "timed out" : e.signal.map { "SIG\($0)" } ?? e.exit.map { "exit \($0)" } ?? (e.detail ?? "failed")
            let ms = e.durationMS.map { String(format: " in %.0f ms", $0) } ?? ""
            let err = e.passed == true ? "" : (e.stderr?.trimmingCharacters(in: .whitespacesAndNewlines)).map { $0.isEmpty ? "" : ": \($0.suffix(200))" } ?? ""
            return "  \(e.passed == true ? ok : bad) \(e.host ?? "") \(what)\(ms)\(err)"
        case .verifyStarted: return style.dim("  verify: \(e.detail ?? "")")
        case .verifyFlapped:
            if live { status("flapped: \(e.detail ?? "")"); return nil }
            return style.yellow("  ~ flapped, the hold window starts again: \(e.detail ?? "")")
        case .verifyFinished:
            let ms = e.durationMS.map { DurationText.format(.milliseconds(Int64($0))) } ?? ""
            return e.passed == true ? "  \(ok) verified (\(e.detail ?? "held")) after \(e.attempt ?? 1) attempt(s), \(ms)" : "  \(bad) verify failed: \(e.detail ?? "")"
        case .manualPrompt: return style.yellow("  ✋ manual: \(e.detail ?? "")")
        case .manualResult: return "  \(e.result == .failed ? bad : ok) \(e.result?.rawValue ?? ""): \(e.detail ?? "")"
        case .stepFinished:
            let d = e.durationMS.map { " in \(DurationText.format(.milliseconds(Int64($0))))" } ?? ""
            switch e.result {
            case .passed?: return "  \(ok) \(e.step ?? "") passed\(d)"
            case .interrupted?: return style.yellow("  ■ \(e.step ?? "") interrupted")
            case .skipped?: return style.yellow("  – \(e.step ?? "") skipped: \(e.detail ?? "")")
            default: return "  \(bad) \(e.step ?? "") failed\(d)"
            }
        case .rto:
            let within = e.withinObjective.map { $0 ? style.green(" (within objective)") : style.red(" (EXCEEDS objective)") } ?? ""
            return style.bold("  ⏱ RTO \(seconds(e.seconds))") + within
        case .rpo:
            if e.passed != true { return style.red("  ✗ RPO: \(e.detail ?? "")") }
            let within = e.withinObjective.map { $0 ? style.green(" (within objective)") : style.red(" (EXCEEDS objective)") } ?? ""
            return style.bold("  ⛁ RPO \(seconds(e.seconds))") + within
        case .interrupted: return style.yellow("\n■ interrupt: \(e.detail ?? "interrupted")")
        case .journalFailed: return style.red("\n✗ \(e.detail ?? "the journal cannot be written")")
        case .restoreStarted: return style.bold("\nRestore") + style.dim("  \(e.detail ?? "")")
        case .restoreFinished: return "  restore \(e.detail ?? "")"
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
