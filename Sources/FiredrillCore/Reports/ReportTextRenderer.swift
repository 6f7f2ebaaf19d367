/// The after-action report for a terminal: 80 columns, colour only when `style` says so.
/// Hosts that passed a step are listed on one line; every host that did not, on its own.
public struct ReportTextRenderer: Sendable {
    public var style: TerminalStyle
    public var width = 80
    public init(style: TerminalStyle) { self.style = style }

    public func render(_ r: DrillReport) -> String {
        var out: [String] = []
        func line(_ s: String = "") { out.append(s) }
        func wrapped(_ s: String, _ indent: String = "  ", _ next: String? = nil) {
            out += TextLayout.wrap(s, width: width, firstIndent: indent, indent: next ?? indent + "  ")
        }
        func section(_ title: String) { line(); line(style.bold(title)) }
        let o = r.overview

        line(style.bold("After-action report: \(o.name) (\(o.service))"))
        if !r.evidence.chainVerified {
            wrapped(style.red("JOURNAL DAMAGED: \(r.evidence.problem ?? "")") + " — this report shows only what precedes the damage and is not evidence", "")
        }
        for w in r.evidence.warnings { wrapped(style.yellow("WARNING: ") + w, "") }
        wrapped("run \(o.run) · " + [o.exercise.map { "\($0) exercise" }, o.scenario.map { "scenario \"\($0)\"" }].compactMap { $0 }.joined(separator: " · "), "")
        wrapped("criticality \(o.criticality?.rawValue ?? "") · owner \(o.owner ?? "not set") · operator \(o.operator) on \(o.controller)", "")
        wrapped("started \(o.started ?? "?") · ended \(o.ended ?? "no end recorded")", "")
        line("result \(colour(o.result.tone, o.resultText)) · score \(ScoreRenderer(style: style).headline(r.score))"
             + (o.resumed > 0 ? " · resumed \(o.resumed)×" : ""))
        for (label, text, tone) in r.headline.lines(result: o) {
            wrapped(style.bold(TextLayout.pad(label.lowercased(), 18)) + " " + colour(tone, text), "", String(repeating: " ", count: 19))
        }

        section("Scope")
        let unreachable = r.scope.unreachable.count
        wrapped("\(r.scope.hosts.count) host\(r.scope.hosts.count == 1 ? "" : "s")" + (unreachable > 0 ? style.red(", \(unreachable) UNREACHABLE") : "")
                + " · limit \(r.scope.limit ?? "none (whole inventory)")"
                + (r.scope.extraVarNames.isEmpty ? "" : " · -e \(r.scope.extraVarNames.joined(separator: ", "))"))
        let nameWidth = min(20, r.scope.hosts.map(\.name.count).max() ?? 4)
        for h in r.scope.hosts {
            let mark = h.status == .reachable ? style.green("✓") : h.status == .unreachable ? style.red("✗") : style.yellow("?")
            var text = "\(TextLayout.pad(h.name, nameWidth))  \(TextLayout.pad(h.address ?? "", 21)) \(h.groups.joined(separator: ","))"
            if h.status == .unreachable { text += " — UNREACHABLE: \(h.detail ?? "")" }
            if h.status == .notChecked { text += " — not checked (the run stopped before)" }
            if h.trustedNewKey { text += " — new host key trusted" }
            wrapped("\(mark) \(text)", "  ", "      ")
        }

        section("Objectives")
        for obj in r.objectives.all {
            let goal = obj.objectiveSeconds.map(ReportText.duration) ?? "not set"
            let measured = obj.measuredSeconds.map(ReportText.duration) ?? "—"
            let status = obj.status.verdict == true ? style.green(obj.status.rawValue) : obj.status.verdict == false ? style.red(obj.status.rawValue) : obj.status.rawValue
            line("  \(obj.name)  objective \(TextLayout.pad(goal, 8)) measured \(TextLayout.pad(measured, 9)) \(status)")
        }

        section("Timeline")
        if !r.steadyState.isEmpty {
            line("  steady state before the drill")
            for c in r.steadyState { wrapped(checkLine(c), "    ", "        ") }
        }
        for s in r.timeline {
            let when = ReportText.offset(s.startedOffsetMS)
            let took = s.durationMS.map { " in " + ReportText.duration($0 / 1000) } ?? ""
            wrapped("\(TextLayout.pad(when, 8)) \(style.bold(s.id)) \(s.name) — \(colour(s.result.tone, s.result.rawValue))\(took)", "  ", "           ")
            if let d = s.detail, s.result != .passed { wrapped(d, "           ") }
            if s.kind == .manual {
                wrapped("manual: \(s.instruction ?? "") — \(s.manualResult?.rawValue ?? "no answer") (answered by \(s.answeredBy ?? "nobody"))", "           ", "             ")
            }
            if let batches = s.batches {
                // A staged step: each batch, and how far it got.
                let parts = batches.enumerated().map { k, batch -> String in
                    let ran = s.hosts.filter { batch.contains($0.host) }
                    let failed = ran.filter { !$0.passed }.count
                    let state = ran.isEmpty ? "not run" : failed > 0 ? "\(failed) failed" : "passed"
                    return "\(k + 1): \(batch.count) host\(batch.count == 1 ? "" : "s") \(state)"
                }
                wrapped("batches " + parts.joined(separator: " · "), "           ", "             ")
            }
            let ok = s.hosts.filter(\.passed)
            if !ok.isEmpty { wrapped(style.green("✓") + " \(ok.count == 1 ? ok[0].host : "\(ok.count) hosts"): \(ok.count == 1 ? ok[0].text : TextLayout.hostList(ok.map(\.host)))", "           ", "             ") }
            for h in s.hosts where !h.passed { wrapped(style.red("✗") + " \(h.host): \(h.outcome) — \(h.text)", "           ", "             ") }
            if let v = s.verify, s.result != .notRun {
                if v.samples.isEmpty && v.passed == nil { wrapped("verify not run", "           "); continue }
                let held = v.passed == true ? style.green("held") : v.passed == false ? style.red("did NOT hold") : style.yellow("did not finish")
                wrapped("verify \(held) after \(ReportText.count(v.attempts ?? v.samples.count, "attempt"))" + (v.withinSeconds.map { " (within \(ReportText.duration($0))" } ?? "")
                        + (v.holdSeconds.map { ", hold \(ReportText.duration($0)))" } ?? (v.withinSeconds == nil ? "" : ")")), "           ")
                for f in v.flaps { wrapped(style.yellow("flapped: ") + f, "             ") }
                if v.samples.count <= DrillReport.Verify.samplesListedMax {
                    for c in v.samples { wrapped(checkLine(c), "             ", "                 ") }
                } else {
                    for a in v.attemptsSummary {
                        let mark = a.allMet ? style.green("✓") : style.red("✗")
                        wrapped("\(mark) \(TextLayout.pad(ReportText.offset(a.offsetMS), 7)) #\(a.number) \(a.met)/\(a.samples) met", "             ")
                        for c in a.unmet.prefix(20) { wrapped(checkLine(c), "               ", "                   ") }
                        if a.unmet.count > 20 { wrapped("+\(a.unmet.count - 20) more not met (firedrill report --format json lists every sample)", "               ") }
                    }
                }
            }
        }
        if !r.finalState.isEmpty {
            line("  steady state after restore")
            for c in r.finalState { wrapped(checkLine(c), "    ", "        ") }
        }

        section("Score")
        for c in r.score.components {
            let value = c.applicable ? "\(ScoreRenderer.num(c.earned))/\(ScoreRenderer.num(c.possible))" : "n/a"
            line("  \(TextLayout.pad(c.id.title, 40)) \(value)")
        }
        if r.score.deductions.isEmpty { line("  no deductions") }
        for d in r.score.deductions {
            let at = [d.step, d.host, d.check].compactMap { $0 }.joined(separator: " · ")
            wrapped(style.red("−\(ScoreRenderer.num(d.points))") + " \(d.component): \(d.reason)" + (at.isEmpty ? "" : " [\(at)]")
                    + (d.evidence.map { " — evidence: \($0)" } ?? ""), "  ", "        ")
        }

        section("Restore")
        wrapped("restore: \(r.restore.summary)" + (r.restore.reason.map { " (started \($0))" } ?? ""))
        wrapped("hosts left: \(r.restore.hostsLeft)")
        for s in r.restore.steps { wrapped("· \(s)", "    ") }
        for l in r.restore.leftovers { wrapped("left-over command: \(l)", "    ") }

        if !r.findings.isEmpty || !r.notes.isEmpty {
            section("Findings")
            for f in r.findings { wrapped(style.red("✗") + " \(f)", "  ", "    ") }
            for n in r.notes { wrapped(style.yellow("!") + " \(n)", "  ", "    ") }
        }

        section("After-action review")
        if let p = r.afterAction.problem { wrapped(style.red("ANNOTATIONS CHANGED: \(p)")) }
        if let n = r.afterAction.note { wrapped(n) }
        for a in r.afterAction.annotations {
            wrapped("\(a.created) \(a.by): verdict \(a.verdict.rawValue) — \(a.note)")
            for act in a.actions { wrapped("action: \(act.owner): \(act.item), due \(act.due)", "    ", "      ") }
        }

        section("Compared with the previous drill")
        if let p = r.previous {
            wrapped("\(p.run) (\(p.started), \(p.result)): score \(ScoreRenderer.num(p.score)) → \(ScoreRenderer.num(r.score.points)) (\(ReportText.signed(p.scoreDelta)))")
            if let d = p.rtoDeltaSeconds { wrapped("RTO \(ReportText.duration(p.rtoSeconds ?? 0)) → \(r.objectives.rto.measuredSeconds.map(ReportText.duration) ?? "—") (\(ReportText.signed(d, unit: "s")))") }
            if let d = p.rpoDeltaSeconds { wrapped("RPO \(ReportText.duration(p.rpoSeconds ?? 0)) → \(r.objectives.rpo.measuredSeconds.map(ReportText.duration) ?? "—") (\(ReportText.signed(d, unit: "s")))") }
        } else {
            line("  no earlier drill of \(r.overview.service) in the history")
        }

        section("Evidence")
        let e = r.evidence
        // Paths are printed whole, never broken, so they can be copied.
        line("  playbook \(e.playbook ?? "?")")
        wrapped("  sha256 \(e.playbookSHA256 ?? "?")")
        for inv in e.inventory { line("  inventory \(inv)") }
        wrapped("  sha256 \(e.inventorySHA256 ?? "?")")
        line("  journal \(e.journal)")
        wrapped("  \(e.events) events")
        wrapped("  head \(e.headHash)")
        wrapped(e.chainVerified ? style.green("chain verified") + " when this report was made" + (e.sealed ? " (sealed)" : "")
                : style.red("CHAIN BROKEN: \(e.problem ?? "")"))
        if let a = e.approval { wrapped("approved by \(a.summary), signed \(a.approvedAt) (document and signature in run_started)", "  ") }
        wrapped("ran with firedrill \(e.runVersion ?? "?"); report by firedrill \(e.reportVersion)" + (e.generatedAt.map { ", generated \($0)" } ?? ""))

        section("Requirements")
        for q in r.requirements {
            let mark = q.status == .evidenced ? style.green("✓") : q.status == .partial ? style.yellow("~") : style.red("✗")
            wrapped("\(mark) \(q.id) — \(q.title): \(q.status)", "  ", "    ")
            wrapped(q.evidence, "    ", "    ")
        }
        return out.joined(separator: "\n") + "\n"
    }

    func checkLine(_ c: DrillReport.Check) -> String {
        let mark = c.met ? style.green("✓") : style.red("✗")
        return "\(mark) \(TextLayout.pad(ReportText.offset(c.offsetMS), 7)) #\(c.attempt) \(c.label): \(c.verdict) — \(c.detail)"
    }

    func colour(_ tone: Tone, _ text: String) -> String {
        switch tone {
        case .good: return style.green(text)
        case .bad: return style.red(text)
        case .warning: return style.yellow(text)
        }
    }
}
