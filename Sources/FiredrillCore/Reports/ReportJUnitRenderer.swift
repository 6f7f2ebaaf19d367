/// The drill as JUnit XML, the shape CI dashboards read (Jenkins, GitLab): one `testsuite` per
/// phase, one `testcase` per step × host and per check, failures carrying the evidence.
/// Unreachable hosts are `error`s of the preflight suite — never dropped (Ansible's JUnit
/// callback drops them). Planned steps that never ran are `skipped`, naming why.
public struct ReportJUnitRenderer: Sendable {
    public init() {}

    struct Case {
        var name: String
        var classname: String
        var time: Double = 0
        /// `failure`, `error` or `skipped`, with its message and body.
        var problem: (kind: String, type: String, message: String, body: String)?
        var output: String?
    }

    struct Suite {
        var name: String
        var cases: [Case] = []
    }

    public func render(_ r: DrillReport) -> String {
        let service = r.overview.service
        var suites: [Suite] = []

        var pre = Suite(name: "\(service).preflight")
        for h in r.scope.hosts {
            var c = Case(name: "host \(h.name) reachable (\(h.address ?? "?"))", classname: "\(service).preflight")
            if h.status == .unreachable { c.problem = ("error", "unreachable", "\(h.name) unreachable: \(h.detail ?? "")", h.detail ?? "") }
            if h.status == .notChecked { c.problem = ("skipped", "", "not checked: the run stopped before", "") }
            pre.cases.append(c)
        }
        pre.cases += checkCases(r.steadyState, classname: "\(service).preflight", prefix: "steady state")
        if !r.evidence.chainVerified {
            pre.cases.append(Case(name: "journal chain verified", classname: "\(service).evidence",
                                  problem: ("error", "journal damaged", "JOURNAL DAMAGED: " + (r.evidence.problem ?? ""), "the report shows only what precedes the damage")))
        }
        suites.append(pre)

        for phase in [Phase.failover, .onFailure, .restore] {
            let steps = r.timeline.filter { $0.phase == phase }
            guard !steps.isEmpty else { continue }
            var suite = Suite(name: "\(service).\(phase.rawValue)")
            for s in steps {
                let cls = "\(service).\(s.id)"
                if s.result == .notRun || s.result == .skipped {
                    let why = s.result == .skipped ? "skipped: \(s.detail ?? "selects no host")" : "not run: \(s.detail ?? "")"
                    for h in s.plannedHosts.isEmpty ? [""] : s.plannedHosts {
                        suite.cases.append(Case(name: "\(s.id) \(s.name)" + (h.isEmpty ? "" : " @ \(h)"), classname: cls, problem: ("skipped", "", why, "")))
                    }
                    continue
                }
                if s.kind == .manual {
                    var c = Case(name: "\(s.id) \(s.name) (manual)", classname: cls, time: (s.durationMS ?? 0) / 1000)
                    let said = s.manualResult?.rawValue ?? "no answer"
                    let answer = "\(said), answered by \(s.answeredBy ?? "nobody")"
                    if s.manualResult != .confirmed && s.result != .passed { c.problem = ("failure", said, answer, s.instruction ?? "") }
                    c.output = "\(s.instruction ?? "")\n\(answer)"
                    suite.cases.append(c)
                }
                for h in s.hosts {
                    var c = Case(name: "\(s.id) \(s.name) @ \(h.host)", classname: cls, time: (h.durationMS ?? 0) / 1000)
                    if !h.passed {
                        // A command that ran and did not succeed is a failure; one whose end is unknown, or that never ran, an error.
                        let kind: String
                        switch h.outcome {
                        case .failed, .timedOut: kind = "failure"
                        case .passed, .running, .notCompleted: kind = "error"
                        }
                        c.problem = (kind, h.outcome.rawValue, "\(h.host): \(h.text)",
                                     [h.command.map { "$ \($0)" }, h.stderr].compactMap { $0 }.joined(separator: "\n"))
                    }
                    c.output = [h.command.map { "$ \($0)" }, h.stdout, h.stderr.map { "stderr: \($0)" }].compactMap { $0 }.joined(separator: "\n")
                    suite.cases.append(c)
                }
                if let v = s.verify, v.samples.isEmpty, v.passed == nil, s.result != .passed {
                    // The step failed before its verify: nothing was checked.
                    suite.cases.append(Case(name: "\(s.id) verify", classname: "\(cls).verify", problem: ("skipped", "", "not run: the step failed before its verify", "")))
                } else if let v = s.verify {
                    // One case per check of the verify: it held when its last sample met what was expected.
                    var order: [String] = []
                    var samples: [String: [DrillReport.Check]] = [:]
                    for c in v.samples {
                        if samples[c.label] == nil { order.append(c.label) }
                        samples[c.label, default: []].append(c)
                    }
                    for label in order {
                        guard let list = samples[label], let last = list.last else { continue }
                        var c = Case(name: "\(s.id) verify \(label) (expect \(last.expect))", classname: "\(cls).verify")
                        if v.passed != true && !last.met {
                            c.problem = ("failure", last.outcome.rawValue, "\(label): \(last.detail)",
                                         list.map { "#\($0.attempt) \(ReportText.offset($0.offsetMS)) \($0.verdict): \($0.detail)" }.joined(separator: "\n"))
                        }
                        c.output = ReportText.count(list.count, "sample") + (v.flaps.isEmpty ? "" : "; flapped: " + v.flaps.joined(separator: "; "))
                        suite.cases.append(c)
                    }
                    if order.isEmpty || (v.passed != true && !(samples.values.contains { !($0.last?.met ?? true) })) {
                        var c = Case(name: "\(s.id) verify", classname: "\(cls).verify")
                        if v.passed != true { c.problem = (v.passed == false ? "failure" : "error", "verify", v.detail ?? (v.passed == nil ? "the verify did not finish" : "did not hold"), "") }
                        suite.cases.append(c)
                    }
                }
            }
            suites.append(suite)
        }

        var measures = Suite(name: "\(service).objectives")
        for o in r.objectives.all {
            var c = Case(name: "\(o.name) within objective" + (o.objectiveSeconds.map { " (\(ReportText.duration($0)))" } ?? ""), classname: "\(service).objectives")
            switch o.status {
            case .met, .measured: break
            case .noObjective, .noDataCheck: c.problem = ("skipped", "", o.status.rawValue, "")
            case .exceeded, .notMeasured, .dataLost:
                c.problem = ("failure", o.status.rawValue, "\(o.name) \(o.status)" + (o.measuredSeconds.map { ": \(ReportText.duration($0))" } ?? ""), o.detail ?? "")
            }
            c.output = o.measuredSeconds.map { "measured \(ReportText.duration($0))" }
            measures.cases.append(c)
        }
        suites.append(measures)

        if !r.finalState.isEmpty || r.restore.status != nil {
            var final = Suite(name: "\(service).final")
            var restore = Case(name: "restore completed", classname: "\(service).final")
            switch r.restore.status {
            case .completed?: break
            case .notNeeded?: restore.problem = ("skipped", "", r.restore.summary, "")
            case .failed?, .abandoned?, .notRun?, nil:
                restore.problem = ("failure", r.restore.status?.rawValue ?? "not run", r.restore.summary, r.restore.hostsLeft)
            }
            final.cases.append(restore)
            final.cases += checkCases(r.finalState, classname: "\(service).final", prefix: "steady state after restore")
            suites.append(final)
        }

        let all = suites.flatMap(\.cases)
        // The whole run's wall time (a 13 s drill is 13 s, not the sum of its commands); the
        // cases' sum when the run has no recorded end.
        let wall: Double? = r.overview.started.flatMap(Journal.date).flatMap { start in r.overview.ended.flatMap(Journal.date).map { $0.timeIntervalSince(start) } }
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites name=\(attr("firedrill \(service) \(r.overview.run)")) tests=\"\(all.count)\" failures=\"\(count(all, "failure"))\" errors=\"\(count(all, "error"))\" skipped=\"\(count(all, "skipped"))\" time=\"\(seconds(wall ?? all.reduce(0) { $0 + $1.time }))\">\n"
        for (i, s) in suites.enumerated() {
            xml += "  <testsuite name=\(attr(s.name)) id=\"\(i)\" tests=\"\(s.cases.count)\" failures=\"\(count(s.cases, "failure"))\" errors=\"\(count(s.cases, "error"))\" skipped=\"\(count(s.cases, "skipped"))\" time=\"\(seconds(s.cases.reduce(0) { $0 + $1.time }))\""
            if let t = r.overview.started { xml += " timestamp=\(attr(String(t.prefix(19))))" }
            xml += " hostname=\(attr(r.overview.controller))>\n"
            if i == 0 {
                xml += "    <properties>\n"
                for (k, v) in r.evidence.warnings.enumerated().map({ ("warning_\($0.offset + 1)", $0.element) }) + [("run", r.overview.run), ("service", service), ("result", r.overview.result.rawValue), ("score", ScoreRenderer.num(r.score.points)),
                               ("grade", r.score.grade.rawValue), ("score_rules", r.score.rules), ("journal", r.evidence.journal),
                               ("journal_head", r.evidence.headHash), ("chain_verified", String(r.evidence.chainVerified))]
                    + (r.evidence.generatedAt.map { [("generated_at", $0)] } ?? [])
                    + (r.evidence.approval.map { [("approved_by", $0.approver)] } ?? []) {
                    xml += "      <property name=\(attr(k)) value=\(attr(v))/>\n"
                }
                xml += "    </properties>\n"
            }
            for c in s.cases {
                xml += "    <testcase name=\(attr(c.name)) classname=\(attr(c.classname)) time=\"\(seconds(c.time))\""
                if c.problem == nil && (c.output ?? "").isEmpty { xml += "/>\n"; continue }
                xml += ">\n"
                if let p = c.problem {
                    if p.kind == "skipped" {
                        xml += "      <skipped message=\(attr(p.message))/>\n"
                    } else {
                        xml += "      <\(p.kind) message=\(attr(p.message)) type=\(attr(p.type))>\(text(p.body))</\(p.kind)>\n"
                    }
                }
                if let out = c.output, !out.isEmpty { xml += "      <system-out>\(text(out))</system-out>\n" }
                xml += "    </testcase>\n"
            }
            xml += "  </testsuite>\n"
        }
        xml += "</testsuites>\n"
        return xml
    }

    func checkCases(_ checks: [DrillReport.Check], classname: String, prefix: String) -> [Case] {
        checks.map { c in
            var k = Case(name: "\(prefix) \(c.label) (expect \(c.expect))", classname: classname)
            if !c.met { k.problem = ("failure", c.outcome.rawValue, "\(c.label): \(c.detail)", "expected \(c.expect), the probe found \(c.outcome)") }
            k.output = c.detail
            return k
        }
    }

    func count(_ cases: [Case], _ kind: String) -> Int { cases.filter { $0.problem?.kind == kind }.count }

    func seconds(_ s: Double) -> String { String(format: "%.3f", s) }

    func attr(_ s: String) -> String { "\"" + XMLText.escape(s, quotes: true) + "\"" }
    func text(_ s: String) -> String { XMLText.escape(s, quotes: false) }
}

/// Escaping shared by the XML and HTML writers.
enum XMLText {
    /// `&`, `<`, `>` (and quotes in attributes) escaped; characters XML 1.0 cannot carry dropped.
    static func escape(_ s: String, quotes: Bool) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where quotes: out += "&quot;"
            case "'" where quotes: out += "&#39;"
            case "\n" where quotes: out += "&#10;"
            case "\t", "\n", "\r": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || (0xFFFE...0xFFFF).contains(u.value) { out += "\u{FFFD}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}
