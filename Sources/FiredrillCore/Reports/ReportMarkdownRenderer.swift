/// The after-action report in Markdown (GitHub/GitLab flavour), for wikis and tickets.
public struct ReportMarkdownRenderer: Sendable {
    public init() {}

    public func render(_ r: DrillReport) -> String {
        let o = r.overview
        var md = "# After-action report: \(cell(o.name)) (`\(o.service)`)\n\n"
        if !r.evidence.chainVerified {
            md += "> **JOURNAL DAMAGED:** \(cell(r.evidence.problem ?? "")). This report shows only what precedes the damage and is not evidence.\n\n"
        }
        for w in r.evidence.warnings { md += "> **Warning:** \(cell(w)).\n\n" }
        md += "**\(o.resultText)** · \(ScoreRenderer.num(r.score.points))/100 (\(r.score.grade.rawValue))\n\n"
        for (label, text, _) in r.headline.lines(result: o) { md += "- **\(label):** \(cell(text))\n" }
        if !r.headline.lines(result: o).isEmpty { md += "\n" }
        md += "## Overview\n\n| | |\n|---|---|\n"
        for (k, v) in [("Run", "`\(o.run)`"), ("Result", "**\(o.resultText)**"), ("Score", "**\(ScoreRenderer.num(r.score.points))/100 (\(r.score.grade.rawValue))** — \(r.score.rules)"),
                       ("Scenario", cell(o.scenario ?? "not set")), ("Exercise", o.exercise ?? "not set"), ("Criticality", o.criticality?.rawValue ?? ""),
                       ("Owner", cell(o.owner ?? "not set")), ("Operator", "\(cell(o.operator)) on \(cell(o.controller))"),
                       ("Started", o.started ?? "?"), ("Ended", o.ended ?? "no end recorded")] + (o.resumed > 0 ? [("Resumed", "\(o.resumed)×")] : []) {
            md += "| \(k) | \(v) |\n"
        }

        md += "\n## Scope\n\n\(r.scope.hosts.count) hosts, limit: \(r.scope.limit.map { "`\($0)`" } ?? "none (whole inventory)")"
        md += r.scope.unreachable.isEmpty ? ".\n\n" : ". **Unreachable: \(r.scope.unreachable.joined(separator: ", ")).**\n\n"
        md += "| Host | Address | Groups | Status |\n|---|---|---|---|\n"
        for h in r.scope.hosts {
            let status = h.status == .unreachable ? "**UNREACHABLE**: \(cell(h.detail ?? ""))" : h.status.rawValue + (h.trustedNewKey ? " (new host key trusted)" : "")
            md += "| \(cell(h.name)) | \(cell(h.address ?? "")) | \(cell(h.groups.joined(separator: ", "))) | \(status) |\n"
        }

        md += "\n## Objectives\n\n| | Objective | Measured | Status |\n|---|---|---|---|\n"
        for obj in r.objectives.all {
            md += "| \(obj.name) | \(obj.objectiveSeconds.map(ReportText.duration) ?? "not set") | \(obj.measuredSeconds.map(ReportText.duration) ?? "—") | \(obj.status == .met ? "met" : "**\(obj.status)**") |\n"
        }

        md += "\n## Timeline\n\n"
        if !r.steadyState.isEmpty { md += "**Steady state before the drill**\n\n" + checks(r.steadyState) + "\n" }
        for s in r.timeline {
            md += "### \(s.id) \(cell(s.name)) — \(s.result == .passed ? "passed" : "**\(s.result)**")\n\n"
            md += "Started \(ReportText.offset(s.startedOffsetMS))" + (s.durationMS.map { ", took \(ReportText.duration($0 / 1000))" } ?? "")
            md += (s.pattern.map { ", hosts `\($0)`" } ?? "") + (s.detail.map { s.result == .passed ? "" : ": \(cell($0))" } ?? "") + ".\n\n"
            if s.kind == .manual {
                md += "Manual: \(cell(s.instruction ?? "")) — **\(s.manualResult?.rawValue ?? "no answer")**, answered by \(s.answeredBy ?? "nobody").\n\n"
            }
            let ok = s.hosts.filter(\.passed)
            if !s.hosts.isEmpty {
                md += "| Host | Result | Detail |\n|---|---|---|\n"
                if !ok.isEmpty { md += "| \(cell(ok.count == 1 ? ok[0].host : "\(ok.count) hosts: " + TextLayout.hostList(ok.map(\.host), max: 12))) | passed | \(cell(ok.count == 1 ? ok[0].text : "exit 0")) |\n" }
                for h in s.hosts where !h.passed { md += "| \(cell(h.host)) | **\(h.outcome)** | \(cell(h.text)) |\n" }
                md += "\n"
            }
            if let v = s.verify {
                md += "Verify \(v.passed == true ? "held" : v.passed == false ? "**did not hold**" : "**did not finish**") after \(ReportText.count(v.attempts ?? v.samples.count, "attempt"))"
                md += (v.withinSeconds.map { " (within \(ReportText.duration($0)), hold \(ReportText.duration(v.holdSeconds ?? 0)))" } ?? "") + ".\n\n"
                for f in v.flaps { md += "- flapped: \(cell(f))\n" }
                if v.samples.count > DrillReport.Verify.samplesListedMax {
                    md += "| Attempt | At | Met | Not met |\n|---|---|---|---|\n"
                    for a in v.attemptsSummary {
                        md += "| \(a.number) | \(ReportText.offset(a.offsetMS)) | \(a.met)/\(a.samples) | \(cell(a.unmet.prefix(10).map { "\($0.label): \($0.detail)" }.joined(separator: "; ") + (a.unmet.count > 10 ? " (+\(a.unmet.count - 10) more)" : ""))) |\n"
                    }
                    md += "\n"
                } else if !v.samples.isEmpty { md += checks(v.samples) + "\n" }
            }
        }
        if !r.finalState.isEmpty { md += "**Steady state after restore**\n\n" + checks(r.finalState) + "\n" }

        md += "## Score\n\n| Component | Points |\n|---|---|\n"
        for c in r.score.components {
            md += "| \(c.id.title) | \(c.applicable ? "\(ScoreRenderer.num(c.earned)) / \(ScoreRenderer.num(c.possible))" : "n/a") |\n"
        }
        md += "| **Total** | **\(ScoreRenderer.num(r.score.points)) / 100 (\(r.score.grade.rawValue))** |\n\n"
        if r.score.deductions.isEmpty {
            md += "No deductions.\n\n"
        } else {
            md += "### Deductions\n\n| Points | Component | Reason | Step · host · check | Evidence |\n|---|---|---|---|---|\n"
            for d in r.score.deductions {
                md += "| −\(ScoreRenderer.num(d.points)) | \(d.component) | \(cell(d.reason)) | \(cell([d.step, d.host, d.check].compactMap { $0 }.joined(separator: " · "))) | \(cell(d.evidence ?? "")) |\n"
            }
            md += "\n"
        }

        md += "## Restore\n\n- Restore: \(cell(r.restore.summary))\(r.restore.reason.map { " (started \($0))" } ?? "")\n- Hosts left: \(cell(r.restore.hostsLeft))\n"
        for s in r.restore.steps { md += "- \(cell(s))\n" }
        for l in r.restore.leftovers { md += "- Left-over command: \(cell(l))\n" }

        if !r.findings.isEmpty || !r.notes.isEmpty {
            md += "\n## Findings\n\n"
            for f in r.findings { md += "- \(cell(f))\n" }
            for n in r.notes { md += "- Note: \(cell(n))\n" }
        }

        md += "\n## After-action review\n\n"
        if let p = r.afterAction.problem { md += "> **ANNOTATIONS CHANGED:** \(cell(p))\n\n" }
        if let n = r.afterAction.note { md += "\(cell(n))\n\n" }
        for a in r.afterAction.annotations {
            md += "- \(a.created), \(cell(a.by)): verdict **\(a.verdict.rawValue)** — \(cell(a.note))\n"
            for act in a.actions { md += "  - [ ] \(cell(act.owner)): \(cell(act.item)), due \(act.due)\n" }
        }

        md += "\n## Compared with the previous drill\n\n"
        if let p = r.previous {
            md += "| | Previous (`\(p.run)`) | This drill | Change |\n|---|---|---|---|\n"
            md += "| Score | \(ScoreRenderer.num(p.score)) (\(p.grade)) | \(ScoreRenderer.num(r.score.points)) (\(r.score.grade.rawValue)) | \(ReportText.signed(p.scoreDelta)) |\n"
            md += "| RTO | \(p.rtoSeconds.map(ReportText.duration) ?? "—") | \(r.objectives.rto.measuredSeconds.map(ReportText.duration) ?? "—") | \(p.rtoDeltaSeconds.map { ReportText.signed($0, unit: "s") } ?? "—") |\n"
            md += "| RPO | \(p.rpoSeconds.map(ReportText.duration) ?? "—") | \(r.objectives.rpo.measuredSeconds.map(ReportText.duration) ?? "—") | \(p.rpoDeltaSeconds.map { ReportText.signed($0, unit: "s") } ?? "—") |\n"
        } else {
            md += "No earlier drill of `\(r.overview.service)` in the history.\n"
        }

        let e = r.evidence
        md += "\n## Evidence\n\n| | |\n|---|---|\n"
        md += "| Playbook | \(code(e.playbook ?? "?")) |\n| Playbook SHA-256 | `\(e.playbookSHA256 ?? "?")` |\n"
        md += "| Inventory | \(e.inventory.map { "\(code($0))" }.joined(separator: ", ")) |\n| Inventory SHA-256 | `\(e.inventorySHA256 ?? "?")` |\n"
        md += "| Journal | \(code(e.journal)) (\(e.events) events) |\n| Head hash | `\(e.headHash)` |\n"
        md += "| Chain | \(e.chainVerified ? "verified when this report was made" + (e.sealed ? " (sealed)" : "") : "**BROKEN: \(cell(e.problem ?? ""))**") |\n"
        if let a = e.approval { md += "| Approved by | \(cell(a.summary)), signed \(cell(a.approvedAt)) |\n" }
        md += "| Versions | ran with firedrill \(e.runVersion ?? "?"), report by firedrill \(e.reportVersion)\(e.generatedAt.map { ", generated \($0)" } ?? "") |\n"

        md += "\n## Requirements\n\n| Requirement | Status | Evidence |\n|---|---|---|\n"
        for q in r.requirements { md += "| \(q.id): \(cell(q.title)) | \(q.status == .evidenced ? "evidenced" : "**\(q.status)**") | \(cell(q.evidence)) |\n" }
        return md
    }

    func checks(_ cs: [DrillReport.Check]) -> String {
        var md = "| At | # | Check | Expect | Outcome | Met | Detail |\n|---|---|---|---|---|---|---|\n"
        for c in cs {
            md += "| \(ReportText.offset(c.offsetMS)) | \(c.attempt) | \(cell(c.label)) | \(c.expect) | \(c.outcome) | \(c.met ? "yes" : "**no**") | \(cell(c.detail)) |\n"
        }
        return md
    }

    /// A code span safe inside a table cell (backticks dropped, pipes escaped).
    func code(_ s: String) -> String {
        "`" + s.replacingOccurrences(of: "`", with: "'").replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") + "`"
    }

    /// Text safe inside a table cell: pipes escaped, newlines as spaces, Markdown/HTML markup neutralised.
    func cell(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "|": out += "\\|"
            case "\n", "\r": out += " "
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "*", "_", "`", "[", "]", "\\": out += "\\" + String(ch)
            default: out.append(ch)
            }
        }
        return out
    }
}
