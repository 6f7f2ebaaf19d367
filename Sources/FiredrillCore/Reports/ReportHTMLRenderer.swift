import Foundation

/// The after-action report as one self-contained HTML file: no request of any kind (a
/// Content-Security-Policy forbids them), no JavaScript, inline SVG charts with titles and
/// labels, readable without colour (patterns and marks), print CSS with a page per section.
public struct ReportHTMLRenderer: Sendable {
    public init() {}

    public func render(_ r: DrillReport) -> String {
        let o = r.overview
        var h = HTML.head(title: "After-action report: \(o.name) (\(o.service)) — \(ScoreRenderer.num(r.score.points))/100 \(r.score.grade.rawValue)")
        h += "<header class=\"top\"><div><p class=\"kicker\">Firedrill after-action report</p>"
        h += "<h1>\(e(o.name)) <span class=\"svc\">\(e(o.service))</span></h1>"
        h += "<p>\(e([o.exercise.map { "\($0) exercise" }, o.scenario.map { "scenario “\($0)”" }].compactMap { $0 }.joined(separator: " · ")))</p></div>"
        h += "<div class=\"grade grade-\(r.score.grade.rawValue)\" role=\"img\" aria-label=\"Score \(ScoreRenderer.num(r.score.points)) of 100, grade \(r.score.grade.rawValue)\">"
        h += "<span class=\"letter\">\(r.score.grade.rawValue)</span><span class=\"points\">\(ScoreRenderer.num(r.score.points))/100</span></div></header>\n"
        // The result in words beside the grade: a B for a drill that failed its restore must not read as a pass.
        h += "<p class=\"verdict \(HTML.resultClass(o.result.tone))\"><strong>\(HTML.mark(o.result.tone.ok))\(e(o.resultText))</strong>"
        h += " — restore: \(e(r.restore.summary)); hosts: \(e(r.restore.hostsLeft))</p>\n"
        let lead = r.headline.lines(result: o)
        if !lead.isEmpty {
            h += "<dl class=\"headline\">"
            for (label, text, tone) in lead { h += "<dt>\(e(label))</dt><dd class=\"\(HTML.resultClass(tone))\">\(HTML.mark(tone.ok))\(e(text))</dd>" }
            h += "</dl>\n"
        }
        h += "<main>\n"
        for w in r.evidence.warnings { h += "<p class=\"alarm warn-box\" role=\"note\"><strong>Warning:</strong> \(e(w)).</p>\n" }
        if !r.evidence.chainVerified {
            h += "<p class=\"alarm\" role=\"alert\"><strong>JOURNAL DAMAGED:</strong> \(e(r.evidence.problem ?? "")). This report shows only what precedes the damage and is not evidence.</p>\n"
        }

        h += section("overview", "Overview") {
            var s = "<dl class=\"facts\">"
            for (k, v) in [("Result", "<strong class=\"\(HTML.resultClass(o.result.tone))\">\(e(o.resultText))</strong>"),
                           ("Score", "\(ScoreRenderer.num(r.score.points))/100, grade \(r.score.grade.rawValue) (\(e(r.score.rules)))"),
                           ("Run", "<code>\(e(o.run))</code>"), ("Criticality", e(o.criticality?.rawValue ?? "")), ("Owner", e(o.owner ?? "not set")),
                           ("Operator", "\(e(o.operator)) on \(e(o.controller))"), ("Started", e(o.started ?? "?")), ("Ended", e(o.ended ?? "no end recorded"))]
                + (o.resumed > 0 ? [("Resumed", "\(o.resumed)×")] : []) {
                s += "<dt>\(k)</dt><dd>\(v)</dd>"
            }
            s += "</dl>"
            s += "<h3>Objectives</h3><table><thead><tr><th scope=\"col\">Objective</th><th scope=\"col\">Target</th><th scope=\"col\">Measured</th><th scope=\"col\">Status</th></tr></thead><tbody>"
            for obj in r.objectives.all {
                s += "<tr><th scope=\"row\">\(obj.name)</th><td>\(obj.objectiveSeconds.map(ReportText.duration) ?? "not set")</td><td>\(obj.measuredSeconds.map(ReportText.duration) ?? "—")</td>"
                let verdict = obj.status.verdict
                s += "<td class=\"\(verdict == true ? "ok" : verdict == false ? "bad" : "")\">\(HTML.mark(verdict))\(e(obj.status.rawValue))</td></tr>"
            }
            s += "</tbody></table>"
            return s
        }

        h += section("scope", "Scope") {
            var s = "<p>\(r.scope.hosts.count) host\(r.scope.hosts.count == 1 ? "" : "s"), limit \(r.scope.limit.map { "<code>\(e($0))</code>" } ?? "none (whole inventory)")"
            s += r.scope.unreachable.isEmpty ? ".</p>" : ". <strong class=\"bad\">Unreachable: \(e(r.scope.unreachable.joined(separator: ", "))).</strong></p>"
            s += "<table><thead><tr><th scope=\"col\">Host</th><th scope=\"col\">Address</th><th scope=\"col\">Groups</th><th scope=\"col\">Status</th></tr></thead><tbody>"
            for host in r.scope.hosts {
                let bad = host.status == .unreachable
                s += "<tr><th scope=\"row\">\(e(host.name))</th><td>\(e(host.address ?? ""))</td><td>\(e(host.groups.joined(separator: ", ")))</td>"
                s += "<td class=\"\(bad ? "bad" : "")\">\(HTML.mark(host.status.tone.ok))\(e(bad ? "UNREACHABLE: \(host.detail ?? "")" : host.status.rawValue))\(host.trustedNewKey ? " (new host key trusted)" : "")</td></tr>"
            }
            return s + "</tbody></table>"
        }

        h += section("timeline", "Timeline") { TimelineSVG(report: r).render() }

        h += section("deductions", "Score and deductions") {
            var s = "<table><thead><tr><th scope=\"col\">Component</th><th scope=\"col\">Points</th><th scope=\"col\">Note</th></tr></thead><tbody>"
            for c in r.score.components {
                s += "<tr><th scope=\"row\">\(e(c.id.title))</th><td>\(c.applicable ? "\(ScoreRenderer.num(c.earned)) / \(ScoreRenderer.num(c.possible))" : "n/a")</td><td>\(e(c.note ?? ""))</td></tr>"
            }
            s += "<tr><th scope=\"row\">Total</th><td><strong>\(ScoreRenderer.num(r.score.points)) / 100 (\(r.score.grade.rawValue))</strong></td><td></td></tr></tbody></table>"
            if r.score.deductions.isEmpty { return s + "<p>No deductions.</p>" }
            s += "<h3>Deductions</h3><table><thead><tr><th scope=\"col\">Points</th><th scope=\"col\">Component</th><th scope=\"col\">Reason</th><th scope=\"col\">Step · host · check</th><th scope=\"col\">Evidence</th></tr></thead><tbody>"
            for d in r.score.deductions {
                s += "<tr><td class=\"bad\">−\(ScoreRenderer.num(d.points))</td><td>\(e(d.component))</td><td>\(e(d.reason))</td>"
                s += "<td>\(e([d.step, d.host, d.check].compactMap { $0 }.joined(separator: " · ")))</td><td><code>\(e(d.evidence ?? ""))</code></td></tr>"
            }
            return s + "</tbody></table>"
        }

        h += section("steps", "Steps, hosts and checks") {
            var s = ""
            if !r.steadyState.isEmpty { s += "<h3>Steady state before the drill</h3>" + checks(r.steadyState) }
            for step in r.timeline {
                let bad = step.result != .passed && step.result != .notRun
                s += "<details\(bad ? " open" : "")><summary><strong>\(e(step.id))</strong> \(e(step.name)) — <span class=\"\(HTML.resultClass(step.result.tone))\">\(HTML.mark(step.result == .passed ? true : bad ? false : nil))\(e(step.result.rawValue))</span>"
                s += step.durationMS.map { " in \(ReportText.duration($0 / 1000))" } ?? ""
                s += ", \(ReportText.count(step.hosts.isEmpty ? step.plannedHosts.count : step.hosts.count, "host"))</summary>"
                if let d = step.detail, step.result != .passed { s += "<p>\(e(d))</p>" }
                if step.kind == .manual {
                    s += "<p>Manual: \(e(step.instruction ?? "")) — <strong>\(e(step.manualResult?.rawValue ?? "no answer"))</strong>, answered by \(e(step.answeredBy ?? "nobody")).</p>"
                }
                if !step.hosts.isEmpty {
                    s += "<table><thead><tr><th scope=\"col\">Host</th><th scope=\"col\">Result</th><th scope=\"col\">Started</th><th scope=\"col\">Took</th><th scope=\"col\">Output</th></tr></thead><tbody>"
                    // Hosts that passed with nothing to show share one row; every other host has its own.
                    let quiet = step.hosts.filter { $0.passed && ($0.stdout ?? "").isEmpty && ($0.stderr ?? "").isEmpty }
                    if quiet.count > 3 {
                        s += "<tr><th scope=\"row\">\(quiet.count) hosts</th><td class=\"ok\">\(HTML.mark(true))passed</td><td></td><td></td><td>\(e(quiet.map(\.host).joined(separator: ", ")))</td></tr>"
                    }
                    for host in step.hosts where quiet.count <= 3 || !quiet.contains(where: { $0.host == host.host }) {
                        s += "<tr><th scope=\"row\">\(e(host.host))</th><td class=\"\(host.passed ? "ok" : "bad")\">\(HTML.mark(host.passed))\(e(host.passed ? "passed" : "\(host.outcome): \(host.text)"))</td>"
                        s += "<td>\(ReportText.offset(host.startedOffsetMS))</td><td>\(host.durationMS.map { ReportText.duration($0 / 1000) } ?? "")</td><td>"
                        let out = [host.command.map { "$ \($0)" }, host.stdout, host.stderr.map { "stderr: \($0)" }].compactMap { $0 }.filter { !$0.isEmpty }
                        if !out.isEmpty { s += "<details><summary>output</summary><pre>\(e(out.joined(separator: "\n")))</pre></details>" }
                        s += "</td></tr>"
                    }
                    s += "</tbody></table>"
                }
                if let v = step.verify, step.result != .notRun, !(v.samples.isEmpty && v.passed == nil) {
                    s += "<p>Verify \(v.passed == true ? "held" : v.passed == false ? "<strong class=\"bad\">did not hold</strong>" : "<strong class=\"bad\">did not finish</strong>") after \(ReportText.count(v.attempts ?? v.samples.count, "attempt"))"
                    s += (v.withinSeconds.map { " (within \(ReportText.duration($0)), hold \(ReportText.duration(v.holdSeconds ?? 0)))" } ?? "") + ".</p>"
                    for f in v.flaps { s += "<p class=\"warn\">Flapped: \(e(f))</p>" }
                    if v.samples.count > DrillReport.Verify.samplesListedMax {
                        s += "<table class=\"checks\"><thead><tr><th scope=\"col\">Attempt</th><th scope=\"col\">At</th><th scope=\"col\">Met</th><th scope=\"col\">Not met</th></tr></thead><tbody>"
                        for a in v.attemptsSummary {
                            s += "<tr><th scope=\"row\">\(a.number)</th><td>\(ReportText.offset(a.offsetMS))</td><td class=\"\(a.allMet ? "ok" : "bad")\">\(HTML.mark(a.allMet))\(a.met)/\(a.samples)</td><td>"
                            s += e(a.unmet.prefix(20).map { "\($0.label): \($0.detail)" }.joined(separator: "; ") + (a.unmet.count > 20 ? " (+\(a.unmet.count - 20) more in the JSON report)" : ""))
                            s += "</td></tr>"
                        }
                        s += "</tbody></table>"
                    } else if !v.samples.isEmpty { s += checks(v.samples) }
                }
                s += "</details>"
            }
            if !r.finalState.isEmpty { s += "<h3>Steady state after restore</h3>" + checks(r.finalState) }
            return s
        }

        h += section("restore", "Restore and findings") {
            var s = "<dl class=\"facts\"><dt>Restore</dt><dd>\(e(r.restore.summary))\(e(r.restore.reason.map { " (started \($0))" } ?? ""))</dd><dt>Hosts left</dt><dd>\(e(r.restore.hostsLeft))</dd></dl>"
            if !r.restore.steps.isEmpty { s += "<ul>" + r.restore.steps.map { "<li>\(e($0))</li>" }.joined() + "</ul>" }
            for l in r.restore.leftovers { s += "<p class=\"warn\">Left-over command: \(e(l))</p>" }
            if !r.findings.isEmpty || !r.notes.isEmpty {
                s += "<h3>Findings</h3><ul>" + r.findings.map { "<li class=\"bad\">\(HTML.mark(false))\(e($0))</li>" }.joined()
                s += r.notes.map { "<li>\(e($0))</li>" }.joined() + "</ul>"
            }
            return s
        }

        h += section("after-action", "After-action review") {
            var s = ""
            if let p = r.afterAction.problem { s += "<p class=\"alarm\" role=\"alert\"><strong>ANNOTATIONS CHANGED:</strong> \(e(p))</p>" }
            if let n = r.afterAction.note { s += "<p>\(e(n))</p>" }
            for a in r.afterAction.annotations {
                s += "<article class=\"note\"><p><strong>Verdict \(e(a.verdict.rawValue))</strong> — \(e(a.by)), \(e(a.created))</p><p>\(e(a.note))</p>"
                if !a.actions.isEmpty {
                    s += "<table><thead><tr><th scope=\"col\">Owner</th><th scope=\"col\">Action</th><th scope=\"col\">Due</th></tr></thead><tbody>"
                    s += a.actions.map { "<tr><td>\(e($0.owner))</td><td>\(e($0.item))</td><td>\(e($0.due))</td></tr>" }.joined() + "</tbody></table>"
                }
                s += "</article>"
            }
            return s
        }

        h += section("trend", "Compared with earlier drills") {
            var s = ""
            if let p = r.previous {
                s += "<table><thead><tr><th scope=\"col\"></th><th scope=\"col\">Previous drill (<code>\(e(p.run))</code>)</th><th scope=\"col\">This drill</th><th scope=\"col\">Change</th></tr></thead><tbody>"
                s += "<tr><th scope=\"row\">Score</th><td>\(ScoreRenderer.num(p.score)) (\(e(p.grade)))</td><td>\(ScoreRenderer.num(r.score.points)) (\(r.score.grade.rawValue))</td><td>\(ReportText.signed(p.scoreDelta))</td></tr>"
                s += "<tr><th scope=\"row\">RTO</th><td>\(p.rtoSeconds.map(ReportText.duration) ?? "—")</td><td>\(r.objectives.rto.measuredSeconds.map(ReportText.duration) ?? "—")</td><td>\(p.rtoDeltaSeconds.map { ReportText.signed($0, unit: "s") } ?? "—")</td></tr>"
                s += "<tr><th scope=\"row\">RPO</th><td>\(p.rpoSeconds.map(ReportText.duration) ?? "—")</td><td>\(r.objectives.rpo.measuredSeconds.map(ReportText.duration) ?? "—")</td><td>\(p.rpoDeltaSeconds.map { ReportText.signed($0, unit: "s") } ?? "—")</td></tr></tbody></table>"
            } else {
                s += "<p>No earlier drill of <code>\(e(r.overview.service))</code> in the history.</p>"
            }
            return s + TrendSVG(service: r.overview.service, points: r.trend, rtoObjective: r.objectives.rto.objectiveSeconds).render()
        }

        h += section("evidence", "Evidence") {
            let ev = r.evidence
            var s = "<dl class=\"facts mono\">"
            s += "<dt>Playbook</dt><dd>\(e(ev.playbook ?? "?"))<br>SHA-256 \(e(ev.playbookSHA256 ?? "?"))</dd>"
            s += "<dt>Inventory</dt><dd>\(e(ev.inventory.joined(separator: ", ")))<br>SHA-256 \(e(ev.inventorySHA256 ?? "?"))</dd>"
            s += "<dt>Journal</dt><dd>\(e(ev.journal)) (\(ev.events) events)<br>head \(e(ev.headHash))</dd>"
            s += "<dt>Chain</dt><dd class=\"\(ev.chainVerified ? "ok" : "bad")\">\(HTML.mark(ev.chainVerified))\(ev.chainVerified ? "verified when this report was made" + (ev.sealed ? " (sealed)" : "") : "BROKEN: " + e(ev.problem ?? ""))</dd>"
            if let a = ev.approval { s += "<dt>Approved by</dt><dd>\(e(a.summary))<br>signed \(e(a.approvedAt)); document and signature in the journal</dd>" }
            s += "<dt>Versions</dt><dd>ran with firedrill \(e(ev.runVersion ?? "?")), report by firedrill \(e(ev.reportVersion))</dd></dl>"
            return s
        }

        h += section("requirements", "Requirements this evidence answers") {
            var s = "<table><thead><tr><th scope=\"col\">Requirement</th><th scope=\"col\">Status</th><th scope=\"col\">Evidence in this report</th></tr></thead><tbody>"
            for q in r.requirements {
                s += "<tr><th scope=\"row\">\(e(q.id))<br><span class=\"sub\">\(e(q.title))</span></th>"
                s += "<td class=\"\(HTML.resultClass(q.status.tone))\">\(HTML.mark(q.status.tone.ok))\(e(q.status.rawValue))</td><td>\(e(q.evidence))</td></tr>"
            }
            return s + "</tbody></table>"
        }
        h += "</main>\n<footer><p>Generated\(r.evidence.generatedAt.map { " \(e($0))" } ?? "") by firedrill \(e(r.evidence.reportVersion)) from journal <code>\(e(r.evidence.journal))</code> — format \(e(r.format)).</p></footer>\n</body>\n</html>\n"
        return h
    }

    /// A section; one short enough to fit on a page is printed whole (`keep`), so its heading
    /// never ends a page apart from what it heads (Chromium does not always honour
    /// `break-after: avoid`).
    func section(_ id: String, _ title: String, _ body: () -> String) -> String {
        let content = body()
        let lines = ["<tr", "<dt", "<li", "<p", "<h3"].reduce(0) { $0 + content.components(separatedBy: $1).count - 1 }
            + 12 * (content.components(separatedBy: "<figure").count - 1)
        let keep = lines <= Self.keepLinesMax
        return "<section id=\"\(id)\" aria-labelledby=\"h-\(id)\"\(keep ? " class=\"keep\"" : "")><h2 id=\"h-\(id)\">\(e(title))</h2>\n\(content)\n</section>\n"
    }

    /// Rows (table rows, facts, list items, paragraphs; a figure as 12) a section printed
    /// whole may have.
    static let keepLinesMax = 30

    func checks(_ cs: [DrillReport.Check]) -> String {
        var s = "<table class=\"checks\"><thead><tr><th scope=\"col\">At</th><th scope=\"col\">#</th><th scope=\"col\">Check</th><th scope=\"col\">Expect</th><th scope=\"col\">Found</th><th scope=\"col\">Detail</th></tr></thead><tbody>"
        for c in cs {
            s += "<tr><td>\(ReportText.offset(c.offsetMS))</td><td>\(c.attempt)</td><th scope=\"row\">\(e(c.label))</th><td>\(c.expect)</td>"
            s += "<td class=\"\(c.met ? "ok" : "bad")\">\(HTML.mark(c.met))\(e(c.verdict))</td><td>\(e(c.detail))</td></tr>"
        }
        return s + "</tbody></table>"
    }

    func e(_ s: String) -> String { XMLText.escape(s, quotes: true) }
}

/// The page furniture shared by the report and the scorecard.
enum HTML {
    /// `landscape`: printed across the page (the scorecard's wide table).
    static func head(title: String, landscape: Bool = false) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
        <title>\(XMLText.escape(title, quotes: false))</title>
        <style>\(css)\(landscape ? "@page{size:landscape}" : "")</style>
        </head>
        <body>

        """
    }

    /// ✓ / ✗ / – before a status, so it reads without colour.
    static func mark(_ ok: Bool?) -> String {
        switch ok {
        case true?: return "<span class=\"mark\" aria-hidden=\"true\">✓ </span>"
        case false?: return "<span class=\"mark\" aria-hidden=\"true\">✗ </span>"
        case nil: return "<span class=\"mark\" aria-hidden=\"true\">– </span>"
        }
    }

    static func resultClass(_ tone: Tone) -> String {
        switch tone {
        case .good: return "ok"
        case .warning: return "warn"
        case .bad: return "bad"
        }
    }

    /// Colours chosen for AA contrast on white (≥ 4.5:1 for text).
    static let css = """
    :root{--fg:#1a1a1a;--muted:#4a4a4a;--ok:#1b5e20;--bad:#a4001d;--warn:#7a4b00;--line:#c8c8c8;--bg:#fff;--band:#f3f4f6}
    *{box-sizing:border-box}
    body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1100px;padding:16px 24px}
    header.top{display:flex;justify-content:space-between;align-items:center;border-bottom:3px solid var(--fg);padding-bottom:8px;gap:16px}
    h1{font-size:26px;margin:0}.svc{font-weight:400;color:var(--muted);font-size:18px}.kicker{margin:0;color:var(--muted);text-transform:uppercase;letter-spacing:.08em;font-size:12px}
    h2{font-size:20px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px}h3{font-size:16px;margin-bottom:4px}
    .grade{display:flex;flex-direction:column;align-items:center;justify-content:center;min-width:104px;padding:8px 12px;border-radius:8px;color:#fff;background:#333}
    .grade .letter{font-size:40px;font-weight:700;line-height:1}.grade .points{font-size:15px}
    .grade-A,.grade-B{background:var(--ok)}.grade-C{background:var(--warn)}.grade-D,.grade-F{background:var(--bad)}
    table{border-collapse:collapse;width:100%;margin:8px 0 12px;font-size:14px}th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
    thead th{background:var(--band)}tbody th{font-weight:600}.sub{font-weight:400;color:var(--muted)}
    .ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
    .alarm{border:2px solid var(--bad);color:var(--bad);padding:8px 12px;background:#fff5f5}
    dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
    .mono dd,code,pre{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
    pre{white-space:pre-wrap;background:var(--band);padding:6px;margin:4px 0}
    details{border:1px solid var(--line);border-radius:4px;padding:4px 8px;margin:6px 0}summary{cursor:pointer}
    figure{margin:8px 0}figcaption{font-size:13px;color:var(--muted)}svg{max-width:100%;height:auto}
    svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#1a1a1a}
    .note{border-left:4px solid var(--line);padding-left:10px}
    footer{margin-top:32px;color:var(--muted);font-size:12px;border-top:1px solid var(--line)}
    .bar{display:flex;align-items:center;gap:8px}.bar .fill{height:14px;background:var(--ok)}
    .verdict{font-size:17px;margin:10px 0 0}.warn-box{border-color:var(--warn);color:var(--warn);background:#fffaf0}
    dl.headline{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0 0;padding:8px 12px;border:1px solid var(--line);background:var(--band)}
    dl.headline dt{font-weight:600}dl.headline dd{margin:0}
    @page{margin:14mm}
    @media print{details::details-content{content-visibility:visible;display:block}details>summary{list-style:none}
      body{max-width:none;padding:0;font-size:10pt}table{font-size:9pt}h2{font-size:15pt;margin-top:14pt}h3{font-size:11pt}
      h2,h3,summary{break-after:avoid-page}figure{break-before:avoid-page}tr,figure,dl.headline,.keep{break-inside:avoid-page}details{border:none;padding:0;margin:2pt 0}a{color:inherit}
      .grade,dl.headline{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
    """
}
