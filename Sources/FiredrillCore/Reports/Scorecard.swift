import Foundation

/// Readiness across services (format `firedrill.scorecard/1`, docs/report-format.md): for each
/// service of the given playbooks, its last drill from the history, the score per component,
/// RTO/RPO against objectives, open action items and a status; and one readiness figure
/// weighted by criticality, where a service never drilled counts 0.
///
/// Built from the playbooks as they are now (service, criticality, objectives, content hashes)
/// and the history database; never runs anything.
public struct Scorecard: Sendable, Codable, Equatable {
    public static let format = "firedrill.scorecard/1"

    public var format = Scorecard.format
    /// Weighted by criticality, 0–100.
    public var readiness: Double
    public var services: [Row]
    /// When it was made (ISO 8601 UTC): a scorecard is true of that moment only.
    public var generatedAt: String?

    enum CodingKeys: String, CodingKey { case format, readiness, services, generatedAt = "generated_at" }

    public enum Status: String, Sendable, Codable, Equatable {
        case ok, failed
        case neverDrilled = "never drilled"
        /// The playbook or inventory changed since the last passing drill: its evidence no longer proves the current plan.
        case needsVerification = "needs verification"
        /// The playbook does not load: nothing can be said of the service.
        case invalid = "invalid playbook"
        /// Its drill is overdue by its schedule: it counts 0 until drilled again.
        case overdue
    }

    public struct Measure: Sendable, Codable, Equatable {
        public var measuredSeconds: Double?
        public var objectiveSeconds: Double?
        /// `met`, `exceeded`, `not measured`, `data lost`, `no objective`.
        public var status: DrillReport.ObjectiveStatus

        enum CodingKeys: String, CodingKey { case measuredSeconds = "measured_seconds", objectiveSeconds = "objective_seconds", status }
    }

    public struct Row: Sendable, Codable, Equatable {
        public var service: String
        public var name: String
        public var playbook: String
        public var criticality: Criticality
        public var weight: Double
        public var status: Status
        /// Why the status, in words.
        public var reason: String
        public var lastRun: String?
        public var lastDrill: String?
        public var lastResult: RunStatus?
        public var score: Double?
        public var grade: String?
        /// The score the overall figure counts (0 when never drilled).
        public var counted: Double
        public var components: [Score.Component]
        public var rto: Measure
        public var rpo: Measure
        public var openActions: Int
        /// Filled by scheduling: when the next drill is due, and whether it is overdue.
        public var nextDue: String?
        public var overdue: Bool?

        enum CodingKeys: String, CodingKey {
            case service, name, playbook, criticality, weight, status, reason, lastRun = "last_run", lastDrill = "last_drill", lastResult = "last_result"
            case score, grade, counted, components, rto, rpo, openActions = "open_actions", nextDue = "next_due", overdue
        }
    }

    /// A service as its playbook says it now.
    public struct Service: Sendable, Equatable {
        public var service: String
        public var name: String
        public var playbook: String
        public var criticality: Criticality
        public var rtoObjectiveSeconds: Double?
        public var rpoObjectiveSeconds: Double?
        public var playbookSHA256: String
        public var inventorySHA256: String
        /// Inventory paths that do not exist (the hash cannot say anything then).
        public var missingInventory: [String] = []
        /// Why the playbook does not load (then the row is `invalid playbook`).
        public var problem: String?
        /// The inventory files this scorecard read for the service.
        public var inventory: [String] = []

        public init(service: String, name: String, playbook: String, criticality: Criticality, rtoObjectiveSeconds: Double?, rpoObjectiveSeconds: Double?,
                    playbookSHA256: String, inventorySHA256: String, missingInventory: [String] = [], problem: String? = nil, inventory: [String] = []) {
            self.service = service; self.name = name; self.playbook = playbook; self.criticality = criticality
            self.rtoObjectiveSeconds = rtoObjectiveSeconds; self.rpoObjectiveSeconds = rpoObjectiveSeconds
            self.playbookSHA256 = playbookSHA256; self.inventorySHA256 = inventorySHA256; self.missingInventory = missingInventory; self.problem = problem
            self.inventory = inventory
        }
    }

    /// The scorecard of `services` given each one's latest run (pure). Rows are worst first.
    public init(services: [Service], latest: [LatestRun]) {
        var byService: [String: LatestRun] = [:]
        for l in latest { byService[l.service] = l }
        var rows: [Row] = []
        var seen = Set<String>()
        for s in services where seen.insert(s.service).inserted {
            let weight = s.criticality.weight
            if let problem = s.problem {
                rows.append(Row(service: s.service, name: s.name, playbook: s.playbook, criticality: s.criticality, weight: weight, status: .invalid,
                                reason: problem, counted: 0, components: [], rto: Measure(status: .notMeasured), rpo: Measure(status: .notMeasured), openActions: 0))
                continue
            }
            // A run that never started is an attempt, not a drill: said beside the last drill.
            let attempt = byService[s.service]?.failedAttempt.map { "; last attempt \($0.started.prefix(16).replacingOccurrences(of: "T", with: " ")) did not start: preconditions not met (\($0.id))" } ?? ""
            guard let last = byService[s.service], last.result != "preconditions" else {
                rows.append(Row(service: s.service, name: s.name, playbook: s.playbook, criticality: s.criticality, weight: weight, status: .neverDrilled,
                                reason: "no drill of \(s.service) in the history: it counts 0" + attempt, counted: 0, components: [],
                                rto: Measure(objectiveSeconds: s.rtoObjectiveSeconds, status: s.rtoObjectiveSeconds == nil ? .noObjective : .notMeasured),
                                rpo: Measure(objectiveSeconds: s.rpoObjectiveSeconds, status: s.rpoObjectiveSeconds == nil ? .noObjective : .notMeasured),
                                openActions: 0))
                continue
            }
            let status: Status
            let reason: String
            if RunStatus(text: last.result) != .passed {
                status = .failed
                reason = "last drill \(last.result)" + (last.lastPassedRun.map { "; last passing drill \($0)" } ?? "; never passed")
            } else if !s.missingInventory.isEmpty {
                status = .needsVerification
                reason = "inventory \(s.missingInventory.joined(separator: ", ")) not found: pass the inventory the drills ran with (-i)"
            } else if last.lastPassedPlaybookSHA256 != s.playbookSHA256 || last.lastPassedInventorySHA256 != s.inventorySHA256 {
                status = .needsVerification
                let what = [last.lastPassedPlaybookSHA256 != s.playbookSHA256 ? "the playbook" : nil, last.lastPassedInventorySHA256 != s.inventorySHA256 ? "the inventory" : nil]
                    .compactMap { $0 }.joined(separator: " and ")
                if last.lastPassedPlaybookSHA256 == s.playbookSHA256, let used = last.inventory, !used.isEmpty,
                   Set(used.map { ($0 as NSString).standardizingPath }) != Set(s.inventory.map { ($0 as NSString).standardizingPath }) {
                    // Not a change: another inventory file than the one the drill ran with.
                    reason = "the last passing drill \(last.id) ran with the inventory \(used.joined(separator: ", ")), not \(s.inventory.isEmpty ? "none" : s.inventory.joined(separator: ", ")): "
                        + "pass -i \(used.joined(separator: " -i ")) to score against it, or drill again with this one"
                } else {
                    reason = "\(what) changed since the last passing drill \(last.id): drill it again"
                }
            } else {
                status = .ok
                reason = "last drill passed on the current playbook and inventory"
            }
            let rto = Self.measure(last.rtoSeconds, objective: s.rtoObjectiveSeconds ?? last.rtoObjectiveSeconds, found: true)
            let rpo = Self.measure(last.rpoSeconds, objective: s.rpoObjectiveSeconds ?? last.rpoObjectiveSeconds, found: last.rpoFound != false)
            rows.append(Row(service: s.service, name: s.name, playbook: s.playbook, criticality: s.criticality, weight: weight, status: status, reason: reason + attempt,
                            lastRun: last.id, lastDrill: last.started, lastResult: RunStatus(text: last.result), score: last.score, grade: last.grade, counted: last.score,
                            components: last.components ?? [], rto: rto, rpo: rpo, openActions: last.openActions))
        }
        self.services = rows
        readiness = 0
        rank()
    }

    /// Rows worst first, and the weighted figure over them.
    mutating func rank() {
        services.sort { ($0.counted, -$0.weight, $0.service) < ($1.counted, -$1.weight, $1.service) }
        let total = services.reduce(0) { $0 + $1.weight }
        readiness = total > 0 ? ScoreCalculator.round(services.reduce(0) { $0 + $1.weight * $1.counted } / total) : 0
    }

    /// What scheduling says of a service: when its next drill is due, and whether it is overdue.
    public struct Due: Sendable, Equatable {
        public var nextDue: String
        public var overdue: Bool
        public init(nextDue: String, overdue: Bool) { self.nextDue = nextDue; self.overdue = overdue }
    }

    /// Fills the `next due` and `overdue` columns; a service whose drill is overdue counts 0 in
    /// the overall figure (its evidence has expired with its schedule).
    public mutating func schedule(_ due: [String: Due]) {
        for i in services.indices {
            guard let d = due[services[i].service] else { continue }
            services[i].nextDue = d.nextDue
            services[i].overdue = d.overdue
            if d.overdue && (services[i].status == .ok || services[i].status == .needsVerification) {
                services[i].status = .overdue
                services[i].counted = 0
                services[i].reason += "; its drill is overdue (due \(d.nextDue)): it counts 0 until drilled again"
            }
        }
        rank()
    }

    static func measure(_ measured: Double?, objective: Double?, found: Bool) -> Measure {
        if !found { return Measure(measuredSeconds: nil, objectiveSeconds: objective, status: .dataLost) }
        guard let measured else { return Measure(measuredSeconds: nil, objectiveSeconds: objective, status: objective == nil ? .noObjective : .notMeasured) }
        guard let objective else { return Measure(measuredSeconds: measured, objectiveSeconds: nil, status: .noObjective) }
        return Measure(measuredSeconds: measured, objectiveSeconds: objective, status: measured <= objective ? .met : .exceeded)
    }
}

// MARK: - Rendering

extension Scorecard {
    public enum Format: String, Sendable, CaseIterable { case text, markdown, html, json }

    public func rendered(_ format: Format, style: TerminalStyle = TerminalStyle(enabled: false)) throws -> String {
        switch format {
        case .text: return text(style)
        case .markdown: return markdown()
        case .html: return html()
        case .json: return try JSONOutput.encode(self) + "\n"
        }
    }

    static func short(_ c: Score.ComponentID) -> String {
        switch c {
        case .failover: return "failover"
        case .redundancy: return "redundancy"
        case .rto: return "RTO"
        case .rpo: return "RPO"
        case .restore: return "restore"
        }
    }

    static func points(_ row: Row) -> String {
        guard !row.components.isEmpty else { return "" }
        var parts = row.components.map { "\(short($0.id)) " + ($0.applicable ? "\(ScoreRenderer.num($0.earned))/\(ScoreRenderer.num($0.possible))" : "n/a") }
        // An honesty cap takes points the components earned (docs/scoring.md).
        let capped = ScoreCalculator.round(row.components.reduce(0) { $0 + $1.earned } - (row.score ?? 0))
        if capped > 0 { parts.append("cap −\(ScoreRenderer.num(capped))") }
        return parts.joined(separator: " · ")
    }

    static func measureText(_ m: Measure) -> String {
        let v = m.measuredSeconds.map(ReportText.duration) ?? "—"
        return m.objectiveSeconds.map { "\(v) / \(ReportText.duration($0))" } ?? v
    }

    /// 80 columns: a heading line per service, then why, points, measures.
    func text(_ style: TerminalStyle) -> String {
        var out = TextLayout.wrap(style.bold("Readiness \(ScoreRenderer.num(readiness))/100") + " over \(ReportText.count(services.count, "service")), weighted by criticality (critical 4, high 3, medium 2, low 1); a service never drilled, or overdue, counts 0" + (generatedAt.map { "; generated \($0)" } ?? ""),
                                  width: 80, firstIndent: "", indent: "").joined(separator: "\n") + "\n"
        for r in services {
            let status: String
            switch r.status {
            case .ok: status = style.green(r.status.rawValue.uppercased())
            case .failed, .invalid, .overdue: status = style.red(r.status.rawValue.uppercased())
            case .neverDrilled, .needsVerification: status = style.yellow(r.status.rawValue.uppercased())
            }
            let score = r.score.map { "\(ScoreRenderer.num($0)) \(r.grade ?? "")" } ?? "0"
            let head = "\(r.service) (\(r.criticality))"
            let tail = "\(r.status.rawValue.uppercased())  \(score)"
            out += "\n" + style.bold(head) + String(repeating: " ", count: max(2, 80 - head.count - tail.count)) + status + "  " + score + "\n"
            var lines: [String] = []
            if let last = r.lastDrill { lines.append("last drill \(last.prefix(16).replacingOccurrences(of: "T", with: " ")) \(r.lastResult?.rawValue ?? "") (\(r.lastRun ?? ""))") }
            lines.append(r.reason)
            let pts = Self.points(r)
            if !pts.isEmpty { lines.append(pts) }
            lines.append("RTO \(Self.measureText(r.rto)) \(r.rto.status) · RPO \(Self.measureText(r.rpo)) \(r.rpo.status) · open actions \(r.openActions) · next due \(r.nextDue ?? "—")"
                         + (r.overdue == true ? " OVERDUE" : ""))
            for l in lines { out += TextLayout.wrap(l, width: 80, firstIndent: "  ", indent: "    ").map { style.dim(String($0)) }.joined(separator: "\n") + "\n" }
        }
        return out
    }

    func markdown() -> String {
        let md = ReportMarkdownRenderer()
        var out = "# Readiness scorecard\n\n**Readiness \(ScoreRenderer.num(readiness))/100** over \(ReportText.count(services.count, "service")), weighted by criticality (critical 4, high 3, medium 2, low 1); a service never drilled counts 0.\(generatedAt.map { " Generated \($0)." } ?? "")\n\n"
        out += "| Service | Criticality | Status | Score | Points per component | Last drill | RTO (measured / objective) | RPO (measured / objective) | Open actions | Next due |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|\n"
        for r in services {
            out += "| \(md.cell(r.service)) | \(r.criticality) | \(r.status == .ok ? "ok" : "**\(r.status.rawValue)**")<br>\(md.cell(r.reason)) | \(r.score.map { "\(ScoreRenderer.num($0)) (\(r.grade ?? ""))" } ?? "0") | \(md.cell(Self.points(r))) | "
            out += "\(r.lastDrill.map { "\(String($0.prefix(10))) \(r.lastResult?.rawValue ?? "")" } ?? "never") | \(Self.measureText(r.rto)) \(r.rto.status) | \(Self.measureText(r.rpo)) \(r.rpo.status) | \(r.openActions) | \(r.nextDue ?? "—")\(r.overdue == true ? " **overdue**" : "") |\n"
        }
        return out
    }

    func html() -> String {
        func e(_ s: String) -> String { XMLText.escape(s, quotes: true) }
        var h = HTML.head(title: "Readiness scorecard — \(ScoreRenderer.num(readiness))/100", landscape: true)
        h += "<header class=\"top\"><div><p class=\"kicker\">Firedrill readiness scorecard</p><h1>Readiness across \(ReportText.count(services.count, "service"))</h1>"
        let counts = Dictionary(grouping: services, by: \.status).mapValues(\.count)
        h += "<p>\([Status.ok, .failed, .overdue, .needsVerification, .neverDrilled, .invalid].compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }.joined(separator: " · "))</p></div>"
        let grade = Score.Grade(points: readiness).rawValue
        h += "<div class=\"grade grade-\(grade)\" role=\"img\" aria-label=\"Overall readiness \(ScoreRenderer.num(readiness)) of 100\"><span class=\"letter\">\(ScoreRenderer.num(readiness))</span><span class=\"points\">of 100</span></div></header>\n<main>\n"
        h += "<section id=\"bars\" aria-labelledby=\"h-bars\"><h2 id=\"h-bars\">Services, worst first</h2>"
        h += "<p>Weighted by criticality (critical 4, high 3, medium 2, low 1). A service never drilled counts 0.</p>"
        let rowH = 28.0, labelW = 300.0, w = 1000.0, height = Double(services.count) * rowH + 30
        h += "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(SVGNumber.format(w)) \(SVGNumber.format(height))\" width=\"\(SVGNumber.format(w))\" height=\"\(SVGNumber.format(height))\" role=\"img\" aria-labelledby=\"sc-title\">"
        h += "<title id=\"sc-title\">Score of each service's last drill, worst first</title>"
        h += "<defs><pattern id=\"hatch-fail\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f7d4da\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#a4001d\" stroke-width=\"3\"/></pattern>"
        h += "<pattern id=\"dots\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><rect width=\"6\" height=\"6\" fill=\"#fdf0d5\"/><circle cx=\"3\" cy=\"3\" r=\"1.3\" fill=\"#7a4b00\"/></pattern></defs>"
        for (i, r) in services.enumerated() {
            let y = Double(i) * rowH + 4
            let fill: String
            switch r.status {
            case .ok: fill = "#1b5e20"
            case .failed, .invalid, .overdue: fill = "url(#hatch-fail)"
            case .needsVerification, .neverDrilled: fill = "url(#dots)"
            }
            let barW = max(2, r.counted / 100 * (w - labelW - 160))
            h += "<g class=\"service\" data-service=\"\(e(r.service))\"><text x=\"4\" y=\"\(SVGNumber.format(y + 17))\">\(e(r.service)) (\(e(r.criticality.rawValue)))</text>"
            h += "<rect x=\"\(SVGNumber.format(labelW))\" y=\"\(SVGNumber.format(y + 4))\" width=\"\(SVGNumber.format(barW))\" height=\"18\" fill=\"\(fill)\" stroke=\"#1a1a1a\" stroke-width=\"0.5\"><title>\(e(r.service)): \(ScoreRenderer.num(r.counted)), \(e(r.status.rawValue))</title></rect>"
            h += "<text x=\"\(SVGNumber.format(labelW + barW + 6))\" y=\"\(SVGNumber.format(y + 17))\">\(ScoreRenderer.num(r.counted)) — \(e(r.status.rawValue))</text></g>"
        }
        h += "</svg><figcaption>Solid bar: ok · hatched: failed · dotted: needs verification or never drilled.</figcaption></figure></section>\n"
        h += "<section id=\"table\" aria-labelledby=\"h-table\"><h2 id=\"h-table\">Details</h2><table><thead><tr>"
        for c in ["Service", "Criticality", "Status", "Score", "Points per component", "Last drill", "RTO measured / objective", "RPO measured / objective", "Open actions", "Next due"] {
            h += "<th scope=\"col\">\(c)</th>"
        }
        h += "</tr></thead><tbody>"
        for r in services {
            let cls = r.status == .ok ? "ok" : [.failed, .invalid, .overdue].contains(r.status) ? "bad" : "warn"
            h += "<tr><th scope=\"row\">\(e(r.service))<br><span class=\"sub\">\(e(r.name))</span></th><td>\(e(r.criticality.rawValue))</td>"
            h += "<td class=\"\(cls)\">\(HTML.mark(r.status == .ok ? true : [.failed, .invalid, .overdue].contains(r.status) ? false : nil))\(e(r.status.rawValue))<br><span class=\"sub\">\(e(r.reason))</span></td>"
            h += "<td>\(r.score.map { "\(ScoreRenderer.num($0)) (\(e(r.grade ?? "")))" } ?? "0")</td><td>\(e(Self.points(r)))</td>"
            h += "<td>\(e(r.lastDrill.map { "\(String($0.prefix(10))) \(r.lastResult?.rawValue ?? "")" } ?? "never"))</td>"
            h += "<td>\(e(Self.measureText(r.rto))) \(e(r.rto.status.rawValue))</td><td>\(e(Self.measureText(r.rpo))) \(e(r.rpo.status.rawValue))</td><td>\(r.openActions)</td>"
            h += "<td>\(e(r.nextDue ?? "—"))\(r.overdue == true ? " <strong class=\"bad\">overdue</strong>" : "")</td></tr>"
        }
        h += "</tbody></table></section>\n</main>\n<footer><p>\(generatedAt.map { "Generated \($0) — " } ?? "")format \(Scorecard.format)</p></footer>\n</body>\n</html>\n"
        return h
    }
}
