/// The end-of-run summary for a terminal, drawn only from a run's `DrillRecord`: the same text
/// whether it is printed as the drill ends or rebuilt later from the journal alone.
public struct RunSummaryRenderer: Sendable {
    public var style: TerminalStyle
    public init(style: TerminalStyle) { self.style = style }

    /// `result` overrides the record's when the runner knows more (a journal that stopped taking
    /// events); `incomplete` says where the rest of the evidence went.
    public func render(_ record: DrillRecord, journalPath: String, result override: RunResult? = nil,
                       incomplete: String? = nil) -> String {
        let result: String
        switch override.map(RunStatus.init) ?? record.ending?.result.map(RunStatus.init) ?? .unfinished {
        case .passed: result = style.green("PASSED")
        case .failed: result = style.red("FAILED")
        case .interrupted: result = style.yellow("INTERRUPTED")
        case .preconditions:
            result = record.resumes.isEmpty ? style.red("NOT STARTED (preconditions not met)")
                : style.red("NOT RESUMED (hosts unreachable): restore has not run; resume again once they answer")
        case .incomplete: result = style.red("RECORD INCOMPLETE")
        case .unfinished, .unknown: result = style.yellow("UNFINISHED (no end recorded: resume it)")
        }
        var out = "\n" + style.bold("Drill \(result)") + "\n"
        let rtoObjective = record.rto?.objectiveSeconds ?? record.facts?.rtoObjectiveSeconds
        out += "  RTO      \(measure(record.rto?.seconds, rtoObjective, missing: "not measured"))\n"
        let rpoObjective = record.rpo?.objectiveSeconds ?? record.facts?.rpoObjectiveSeconds
        let rpo = record.rpo?.passed == true ? record.rpo?.seconds : nil
        // Whether the playbook has a data check is in the plan the run recorded; a drill that
        // never started wrote no marker, and that is not "no data check".
        let hasDataCheck = record.marker != nil || ((record.plan?["data_check"] ?? .null) != .null)
        let rpoMissing = record.rpo?.passed == false ? style.red("marker not found: data written before the failure was lost")
            : !hasDataCheck ? "no data check" : record.ending?.result == .preconditions ? "not measured (the drill did not start)" : "not measured"
        out += "  RPO      \(measure(rpo, rpoObjective, missing: rpoMissing))\n"
        // A run that ended has a score; the top deductions say why points were lost. A run whose
        // journal broke has none: the score is read from the journal, which lacks the end.
        if incomplete != nil {
            out += "  score    " + style.red("none: the journal is incomplete, so the run cannot be scored from it") + "\n"
        } else if record.isFinished {
            let score = Score(record)
            let scorer = ScoreRenderer(style: style)
            out += "  score    \(scorer.headline(score))" + style.dim("  (\(score.rules); firedrill score \(record.runID ?? "RUN") explains it)") + "\n"
            // Every deduction: the points must add up to what the headline says.
            for d in score.deductions.sorted(by: { $0.points > $1.points }) {
                out += "           " + style.red("−\(ScoreRenderer.num(d.points))") + " \(scorer.line(d))\n"
            }
        }
        if let restore = record.ending?.restore { out += "  restore  \(restore)\n" }
        if let state = record.ending?.finalState { out += "  hosts    \(state)\n" }
        for f in record.failures { out += "  " + style.red("✗") + " \(f)\n" }
        for s in record.skippedSteps { out += "  " + style.yellow("–") + " skipped \(s.label): \(s.detail ?? "")\n" }
        for n in notes(record) { out += "  " + style.yellow("!") + " \(n)\n" }
        out += "  journal  \(journalPath)" + (incomplete == nil ? "" : style.red(" (incomplete)")) + "\n"
        if let incomplete { out += "  " + style.red("journal INCOMPLETE: \(incomplete)") + "\n" }
        return out
    }

    /// Locks taken over, left-over commands stopped (or not), restore abandoned.
    func notes(_ record: DrillRecord) -> [String] {
        var out = record.notes
        // What was still running and was stopped, what could not be checked, and what a command
        // that ended left running on purpose (a daemon holding its output).
        out += record.leftovers.filter { $0.verdict != .alreadyEnded }.map(\.detail)
        if record.restore?.status == .abandoned { out.append("restore was abandoned by the operator") }
        return out
    }

    func measure(_ seconds: Double?, _ objective: Double?, missing: String) -> String {
        guard let seconds else { return missing }
        let text = DurationText.measured(seconds)
        guard let objective else { return text }
        let o = Duration.milliseconds(Int64((objective * 1000).rounded()))
        return text + " (objective \(DurationText.format(o)): " + (seconds <= objective ? style.green("met") : style.red("EXCEEDED")) + ")"
    }
}
