import Foundation

/// The drill's timeline as inline SVG: x is time since the run started (the journal's
/// offsets); one lane per step with a bar per host command (hatched when it failed), verify
/// samples as ticks (a bar when met, a cross when not), the outage window from the failure to
/// the end of the RTO shaded, and the restore phase in its own lane. Pass and fail differ by
/// shape and pattern, not only colour. Steps on many hosts draw one bar for the hosts that
/// passed and one per host that did not, so a 1,000-host drill stays small.
struct TimelineSVG {
    let report: DrillReport
    /// As wide as a printed page's text (A4 or Letter, 14 mm margins) at 1:1, so its text
    /// prints at the size it is drawn: each lane's label runs the full width above its bars
    /// (never cut to a column), the bars below use the full width too.
    let width = 680.0
    let left = 6.0
    /// A lane: its label (one text row), then the marks of the step (`band` high).
    let labelRow = 16.0
    let band = 30.0
    var laneHeight: Double { labelRow + band }
    let top = 34.0
    static let hostRowsMax = 12
    /// Characters of a lane label before it is cut (its title keeps the whole name).
    static let labelMax = 110

    var plotWidth: Double { width - 2 * left }

    /// The last moment anything happened, in ms.
    var span: Double {
        var end = 1.0
        for s in report.timeline {
            if let a = s.startedOffsetMS { end = max(end, a + (s.durationMS ?? 0)) }
            for h in s.hosts { if let a = h.startedOffsetMS { end = max(end, a + (h.durationMS ?? 0)) } }
            for c in s.verify?.samples ?? [] { end = max(end, c.offsetMS ?? 0) }
        }
        for c in report.steadyState + report.finalState { end = max(end, c.offsetMS ?? 0) }
        for o in report.objectives.all { end = max(end, o.toOffsetMS ?? 0) }
        return end * 1.02
    }

    func x(_ ms: Double?) -> Double { left + (ms ?? 0) / span * plotWidth }

    func render() -> String {
        let steps = report.timeline
        let restoreSteps = steps.filter { $0.phase == .restore && $0.startedOffsetMS != nil }
        let lanes = Double(steps.count + 1)
        let height = top + lanes * laneHeight + 40
        let rto = report.objectives.rto
        var s = "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" aria-labelledby=\"tl-title tl-desc\">"
        s += "<title id=\"tl-title\">Timeline of drill \(e(report.overview.run))</title>"
        s += "<desc id=\"tl-desc\">\(steps.count) steps over \(e(ReportText.duration(span / 1000 / 1.02))); "
        s += rto.measuredSeconds.map { "outage window \(e(ReportText.duration($0))) shaded; " } ?? "no RTO measured; "
        s += "bars are host commands (hatched when failed), ticks are verify attempts (a cross when a check was not met).</desc>"
        s += """
        <defs><pattern id="hatch-fail" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f7d4da"/><line x1="0" y1="0" x2="0" y2="6" stroke="#a4001d" stroke-width="3"/></pattern>
        <pattern id="hatch-outage" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><line x1="0" y1="0" x2="0" y2="8" stroke="#a4001d" stroke-width="1" stroke-opacity="0.35"/></pattern></defs>
        """
        // Time axis.
        let tick = Self.niceStep(span / 1000 / 8)
        var t = 0.0
        while t * 1000 <= span {
            let xx = x(t * 1000)
            s += "<line x1=\"\(f(xx))\" y1=\"\(f(top - 6))\" x2=\"\(f(xx))\" y2=\"\(f(height - 30))\" stroke=\"#e2e2e2\"/>"
            s += "<text x=\"\(f(xx))\" y=\"\(f(top - 10))\" text-anchor=\"middle\">\(e(Self.label(t)))</text>"
            t += tick
        }
        // The outage window: from the failure to the service answering again (the RTO).
        if let from = rto.fromOffsetMS, let to = rto.toOffsetMS, to > from {
            s += "<g class=\"outage\"><rect x=\"\(f(x(from)))\" y=\"\(f(top))\" width=\"\(f(max(1, x(to) - x(from))))\" height=\"\(f(lanes * laneHeight))\" fill=\"url(#hatch-outage)\" stroke=\"#a4001d\" stroke-dasharray=\"4 3\">"
            s += "<title>Outage window: \(e(ReportText.duration(rto.measuredSeconds ?? (to - from) / 1000))) from the failure to the service answering again (RTO)</title></rect>"
            s += "<text x=\"\(f(x(from) + 3))\" y=\"\(f(height - 16))\">outage (RTO \(e(ReportText.duration(rto.measuredSeconds ?? (to - from) / 1000))))</text></g>"
        }
        for (i, step) in steps.enumerated() {
            let y = top + Double(i) * laneHeight
            s += "<g class=\"lane\" data-step=\"\(e(step.id))\" data-phase=\"\(e(step.phase.rawValue))\">"
            if i % 2 == 0 { s += "<rect x=\"0\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"\(f(laneHeight))\" fill=\"#f6f7f9\"/>" }
            var name = "\(step.id) \(step.name) — \(step.result.rawValue)"
            if step.startedOffsetMS == nil, let d = step.detail { name += ": \(d)" }
            s += "<text class=\"lane-label\" x=\"\(f(left))\" y=\"\(f(y + 12))\"\(step.startedOffsetMS == nil ? " font-style=\"italic\"" : "")><title>\(e(name))</title>\(e(name.count > Self.labelMax ? String(name.prefix(Self.labelMax - 1)) + "…" : name))</text>"
            if step.startedOffsetMS == nil { s += "</g>"; continue }
            let marks = y + labelRow
            s += bars(step, y: marks)
            s += batchMarks(step, y: marks)
            for a in step.verify?.attemptsSummary ?? [] { s += tickMark(a, y: marks) }
            if step.kind == .manual {
                let a = x(step.startedOffsetMS), b = x((step.startedOffsetMS ?? 0) + (step.durationMS ?? 0))
                s += "<rect x=\"\(f(a))\" y=\"\(f(marks + 8))\" width=\"\(f(max(2, b - a)))\" height=\"14\" fill=\"none\" stroke=\"#1a1a1a\" stroke-dasharray=\"3 2\"><title>manual: \(e(step.manualResult?.rawValue ?? "no answer"))</title></rect>"
            }
            s += "</g>"
        }
        // The restore phase, as one lane.
        let y = top + Double(steps.count) * laneHeight
        s += "<g class=\"restore-lane\"><text x=\"\(f(left))\" y=\"\(f(y + 12))\" font-weight=\"bold\">restore: \(e((report.restore.status?.rawValue ?? "not run").replacingOccurrences(of: "_", with: " ")))</text>"
        if let first = restoreSteps.first?.startedOffsetMS {
            let end = restoreSteps.map { ($0.startedOffsetMS ?? 0) + ($0.durationMS ?? 0) }.max() ?? first
            let ok = report.restore.status == .completed
            s += "<rect x=\"\(f(x(first)))\" y=\"\(f(y + labelRow + 8))\" width=\"\(f(max(2, x(end) - x(first))))\" height=\"14\" fill=\"\(ok ? "#1b5e20" : "url(#hatch-fail)")\" stroke=\"#1a1a1a\" stroke-width=\"0.5\">"
            s += "<title>restore \(e(report.restore.status?.rawValue ?? "")): \(e(report.restore.summary))</title></rect>"
        }
        s += "</g>"
        s += "<text x=\"\(f(left))\" y=\"\(f(height - 2))\">time since the run started →</text>"
        s += "</svg><figcaption>Legend: solid bar = command passed on a host; hatched bar = failed; ▮ tick = a verify attempt whose every check met what was expected; ✕ = one that did not; "
        s += "dashed box = manual step; numbered bracket = a batch of a staged step; hatched band = outage window (RTO). Hover a mark for its detail.</figcaption></figure>"
        return s
    }

    func bars(_ step: DrillReport.Step, y: Double) -> String {
        var s = ""
        let hosts = step.hosts.filter { $0.startedOffsetMS != nil }
        guard !hosts.isEmpty else { return "" }
        func bar(_ a: Double, _ b: Double, _ row: Double, _ rowHeight: Double, ok: Bool, title: String) -> String {
            "<rect class=\"\(ok ? "cmd-pass" : "cmd-fail")\" x=\"\(f(x(a)))\" y=\"\(f(row))\" width=\"\(f(max(2, x(b) - x(a))))\" height=\"\(f(rowHeight))\" fill=\"\(ok ? "#1b5e20" : "url(#hatch-fail)")\" stroke=\"#1a1a1a\" stroke-width=\"0.4\"><title>\(e(title))</title></rect>"
        }
        if hosts.count <= Self.hostRowsMax {
            let rowHeight = max(2, 20 / Double(hosts.count))
            for (j, h) in hosts.enumerated() {
                let a = h.startedOffsetMS ?? 0
                s += bar(a, a + (h.durationMS ?? 0), y + 5 + Double(j) * rowHeight, rowHeight - 0.5, ok: h.passed, title: "\(h.host): \(h.passed ? "passed" : h.text)")
            }
            return s
        }
        let ok = hosts.filter(\.passed), bad = hosts.filter { !$0.passed }
        if !ok.isEmpty {
            let a = ok.compactMap(\.startedOffsetMS).min() ?? 0
            let b = ok.map { ($0.startedOffsetMS ?? 0) + ($0.durationMS ?? 0) }.max() ?? a
            s += bar(a, b, y + 5, bad.isEmpty ? 20 : 10, ok: true, title: "\(ok.count) hosts passed")
        }
        for h in bad.prefix(Self.hostRowsMax) {
            let a = h.startedOffsetMS ?? 0
            s += bar(a, a + (h.durationMS ?? 0), y + 16, 9, ok: false, title: "\(h.host): \(h.text)")
        }
        if bad.count > Self.hostRowsMax {
            s += "<text x=\"\(f(width - left))\" y=\"\(f(y - 4))\" text-anchor=\"end\">+\(bad.count - Self.hostRowsMax) more failed</text>"
        }
        return s
    }

    /// A staged step's batches: a bracket under the span of each batch's commands, numbered,
    /// with its hosts and how many failed in its title.
    func batchMarks(_ step: DrillReport.Step, y: Double) -> String {
        guard let batches = step.batches, batches.count > 1 else { return "" }
        var s = ""
        for (k, batch) in batches.enumerated() {
            let ran = step.hosts.filter { batch.contains($0.host) && $0.startedOffsetMS != nil }
            guard let a = ran.compactMap(\.startedOffsetMS).min() else { continue }
            let b = ran.map { ($0.startedOffsetMS ?? 0) + ($0.durationMS ?? 0) }.max() ?? a
            let failed = ran.filter { !$0.passed }.count
            let title = "batch \(k + 1) of \(batches.count): \(batch.count) host\(batch.count == 1 ? "" : "s")"
                + (failed > 0 ? ", \(failed) failed" : "") + " (\(batch.prefix(8).joined(separator: ", "))\(batch.count > 8 ? ", …" : ""))"
            let x0 = x(a), x1 = max(x(a) + 4, x(b))
            s += "<g class=\"batch\" data-batch=\"\(k + 1)\"><path d=\"M\(f(x0)) \(f(y + 26)) V\(f(y + 28.5)) H\(f(x1)) V\(f(y + 26))\" fill=\"none\" stroke=\"\(failed > 0 ? "#a4001d" : "#1a1a1a")\" stroke-width=\"1\"/>"
            s += "<text x=\"\(f(x0 + 1))\" y=\"\(f(y + 4.5))\" font-size=\"8\">\(k + 1)</text><title>\(e(title))</title></g>"
        }
        return s
    }

    /// One tick per verify attempt: a bar when every sample met what was expected, a cross when one did not.
    func tickMark(_ a: DrillReport.Verify.Attempt, y: Double) -> String {
        let xx = x(a.offsetMS)
        var what = "\(a.met)/\(a.samples) met"
        if !a.unmet.isEmpty { what += "; not met: " + a.unmet.prefix(5).map { "\($0.label) \($0.detail)" }.joined(separator: "; ") + (a.unmet.count > 5 ? "; …" : "") }
        let title = "<title>verify attempt #\(a.number) \(ReportText.offset(a.offsetMS)): \(e(what))</title>"
        if a.allMet {
            return "<rect class=\"tick-pass\" x=\"\(f(xx - 1))\" y=\"\(f(y + 2))\" width=\"2\" height=\"8\" fill=\"#1b5e20\">\(title)</rect>"
        }
        return "<path class=\"tick-fail\" d=\"M\(f(xx - 3)) \(f(y + 1)) l6 6 m0 -6 l-6 6\" stroke=\"#a4001d\" stroke-width=\"1.6\">\(title)</path>"
    }

    static func niceStep(_ raw: Double) -> Double {
        for s in [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200] where s >= raw { return s }
        return 14400
    }

    static func label(_ t: Double) -> String {
        if t == 0 { return "0" }
        if t < 1 { return String(format: "%.1fs", t) }
        if t < 60 { return "\(ScoreRenderer.num(t))s" }
        return DurationText.format(.seconds(Int64(t)))
    }

    func f(_ v: Double) -> String { SVGNumber.format(v) }
    func e(_ s: String) -> String { XMLText.escape(s, quotes: true) }
}

/// Scores and RTOs of a service's drills over time, as inline SVG (with a table for readers
/// that cannot see it).
struct TrendSVG {
    let service: String
    let points: [DrillReport.TrendPoint]
    let rtoObjective: Double?

    func render() -> String {
        guard !points.isEmpty else { return "<p>No history of this service yet.</p>" }
        let w = 680.0, h = 220.0, left = 40.0, right = 64.0, top = 20.0, bottom = 40.0
        let plotW = w - left - right, plotH = h - top - bottom
        let n = Double(max(1, points.count - 1))
        // The first and last bars stand clear of the axes' labels.
        let inset = 20.0
        func x(_ i: Int) -> Double { points.count == 1 ? left + plotW / 2 : left + inset + Double(i) / n * (plotW - 2 * inset) }
        func y(_ score: Double) -> Double { top + (1 - score / 100) * plotH }
        // The axis fits what was measured; the objective line is drawn when it falls on it.
        let measured = points.compactMap(\.rtoSeconds).max() ?? 0
        let rtoMax = max(measured > 0 ? measured : (rtoObjective ?? 1), 0.001) * 1.15
        func yr(_ s: Double) -> Double { top + (1 - s / rtoMax) * plotH }
        var s = "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(w)) \(f(h))\" width=\"\(f(w))\" height=\"\(f(h))\" role=\"img\" aria-labelledby=\"tr-title tr-desc\">"
        s += "<title id=\"tr-title\">Score and RTO of \(e(service)) over its last \(ReportText.count(points.count, "drill"))</title>"
        s += "<desc id=\"tr-desc\">Line: score 0–100 (left axis). Bars: measured RTO (right axis)\(rtoObjective.map { ", dashed line: the RTO objective \(ReportText.duration($0))" } ?? "").</desc>"
        for g in [0.0, 25, 50, 75, 100] {
            s += "<line x1=\"\(f(left))\" y1=\"\(f(y(g)))\" x2=\"\(f(w - right))\" y2=\"\(f(y(g)))\" stroke=\"#e2e2e2\"/><text x=\"\(f(left - 6))\" y=\"\(f(y(g) + 4))\" text-anchor=\"end\">\(Int(g))</text>"
        }
        s += "<text x=\"\(f(w - right + 6))\" y=\"\(f(top + 4))\">\(e(ReportText.duration(rtoMax)))</text><text x=\"\(f(w - right + 6))\" y=\"\(f(top + plotH + 4))\">0s</text>"
        let barW = max(3, min(2 * inset - 4, plotW / Double(points.count) * 0.5))
        for (i, p) in points.enumerated() {
            if let r = p.rtoSeconds {
                s += "<rect class=\"rto-bar\" x=\"\(f(x(i) - barW / 2))\" y=\"\(f(yr(r)))\" width=\"\(f(barW))\" height=\"\(f(top + plotH - yr(r)))\" fill=\"#b9c4d6\" stroke=\"#44546a\" stroke-width=\"0.5\"><title>\(e(p.run)): RTO \(e(ReportText.duration(r)))</title></rect>"
            }
        }
        if let o = rtoObjective, o <= rtoMax {
            s += "<line x1=\"\(f(left))\" y1=\"\(f(yr(o)))\" x2=\"\(f(w - right))\" y2=\"\(f(yr(o)))\" stroke=\"#44546a\" stroke-dasharray=\"6 4\"/><text x=\"\(f(w - right + 6))\" y=\"\(f(yr(o) + 4))\">RTO goal</text>"
        }
        s += "<polyline fill=\"none\" stroke=\"#1a1a1a\" stroke-width=\"2\" points=\"" + points.enumerated().map { "\(f(x($0.offset))),\(f(y($0.element.score)))" }.joined(separator: " ") + "\"/>"
        for (i, p) in points.enumerated() {
            let ok = p.result == .passed
            s += ok ? "<circle cx=\"\(f(x(i)))\" cy=\"\(f(y(p.score)))\" r=\"5\" fill=\"#1b5e20\">"
                : "<rect x=\"\(f(x(i) - 5))\" y=\"\(f(y(p.score) - 5))\" width=\"10\" height=\"10\" fill=\"#a4001d\">"
            s += "<title>\(e(p.run)) \(e(String(p.started.prefix(10)))): score \(ScoreRenderer.num(p.score)), \(e(p.result.rawValue))</title>" + (ok ? "</circle>" : "</rect>")
            if points.count <= 12 || i == points.count - 1 || i == 0 {
                // Dates, or date and time when drills share a day.
                let sameDay = points.filter { $0.started.prefix(10) == p.started.prefix(10) }.count > 1
                let label = sameDay ? String(p.started.dropFirst(5).prefix(11)).replacingOccurrences(of: "T", with: " ") : String(p.started.prefix(10))
                s += "<text x=\"\(f(x(i)))\" y=\"\(f(h - bottom + 16))\" text-anchor=\"middle\">\(e(label))</text>"
            }
        }
        s += "</svg><figcaption>● passed drill, ■ failed or incomplete drill; line = score, bars = RTO.</figcaption></figure>"
        s += "<details><summary>The same as a table</summary><table><thead><tr><th scope=\"col\">Run</th><th scope=\"col\">Started</th><th scope=\"col\">Result</th><th scope=\"col\">Score</th><th scope=\"col\">RTO</th></tr></thead><tbody>"
        for p in points.reversed() {
            s += "<tr><td><code>\(e(p.run))</code></td><td>\(e(p.started))</td><td>\(e(p.result.rawValue))</td><td>\(ScoreRenderer.num(p.score))</td><td>\(p.rtoSeconds.map(ReportText.duration) ?? "—")</td></tr>"
        }
        return s + "</tbody></table></details>"
    }

    func f(_ v: Double) -> String { SVGNumber.format(v) }
    func e(_ s: String) -> String { XMLText.escape(s, quotes: true) }
}

enum SVGNumber {
    /// One decimal at most: short files, no locale.
    static func format(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(format: "%.1f", r)
    }
}
