extension DrillReport {
    /// What a reader must see first, before any section: what failed, how long the service was
    /// seen down, what the operator concluded beside what the tool measured, and what is still
    /// to do. Every format leads with it.
    public struct Headline: Sendable, Codable, Equatable {
        /// The first thing that went wrong, in one line (`failover.2 Promote standby on db2:
        /// exit 1`); nil when the drill passed without a finding.
        public var cause: String?
        /// How many more things went wrong after it (the findings section lists them).
        public var moreFindings: Int
        /// How long the service was seen down, measured from its checks (whether or not an RTO
        /// applies); nil when no check ever saw it down.
        public var downtime: Downtime?
        /// The operator's verdict in the latest annotation, and who gave it; nil before any.
        public var operatorVerdict: Annotation.Verdict?
        public var verdictBy: String?
        /// Whether the operator's verdict and the tool's result say different things (an
        /// annotated `partial` on a drill the tool passed).
        public var disagrees: Bool
        /// Open action items of this service (this drill's and earlier ones), due date first.
        public var openActions: [OpenAction]

        enum CodingKeys: String, CodingKey {
            case cause, moreFindings = "more_findings", downtime, operatorVerdict = "operator_verdict", verdictBy = "verdict_by", disagrees
            case openActions = "open_actions"
        }
    }

    /// From the first check that found the service down to the one that found it answering again.
    public struct Downtime: Sendable, Codable, Equatable {
        public var fromOffsetMS: Double
        /// nil: no check found it answering again before the record ends.
        public var toOffsetMS: Double?
        public var seconds: Double?
        /// The check that first found it down (`ehr_api`, `db_port@db2`).
        public var firstDown: String
        /// The check that last came back; nil while still down.
        public var backBy: String?

        enum CodingKeys: String, CodingKey {
            case fromOffsetMS = "from_offset_ms", toOffsetMS = "to_offset_ms", seconds, firstDown = "first_down", backBy = "back_by"
        }

        /// `3.02s: db_port@db1 found down at +0.1s, every check of the service answering again at
        /// +3.2s`, or `still down when the record ends (since +0.1s, db_port@db1)`.
        public var text: String {
            guard let seconds, let to = toOffsetMS else {
                return "still down when the record ends (since \(ReportText.offset(fromOffsetMS)), \(firstDown))"
            }
            return "\(ReportText.duration(seconds)): \(firstDown) found down at \(ReportText.offset(fromOffsetMS)), every check of the service answering again at \(ReportText.offset(to))"
        }
    }

    public struct OpenAction: Sendable, Codable, Equatable {
        public var id: Int64
        public var run: String
        public var owner: String
        public var item: String
        public var due: String

        /// `#3 dba-team: automate the rejoin, due 2027-01-15`, with the drill it came from when
        /// that is not `run`.
        public func text(in run: String) -> String { "#\(id) \(owner): \(item), due \(due)" + (self.run == run ? "" : " (from \(self.run))") }
    }

    static func headline(_ report: DrillReport, openActions: [ActionItem]) -> Headline {
        let failed = report.overview.result != .passed
        let latest = report.afterAction.annotations.last
        let disagrees: Bool
        switch (latest?.verdict, report.overview.result) {
        case (nil, _): disagrees = false
        case (.pass?, .passed): disagrees = false
        case (.pass?, _), (.partial?, _): disagrees = true
        case (.fail?, .passed): disagrees = true
        case (.fail?, _): disagrees = false
        }
        // An interrupted drill may have no finding: the interrupt is its cause.
        let cause = report.findings.first ?? (failed ? report.notes.first { $0.hasPrefix("interrupt at") } : nil)
        return Headline(cause: cause,
                        moreFindings: max(0, report.findings.count - 1),
                        downtime: report.overview.resumed > 0 ? nil : downtime(report),
                        operatorVerdict: latest?.verdict, verdictBy: latest?.by, disagrees: disagrees,
                        openActions: openActions.map { OpenAction(id: $0.id, run: $0.run, owner: $0.owner, item: $0.item, due: $0.due) })
    }

    /// The service's outage as its checks saw it, whether or not an RTO applies. It starts at
    /// the first sample that found anything down (the primary a failover stopped is the outage's
    /// start too) and ends when every check that shows the service answering — those the
    /// failover's verifies expect up, else the steady state's — has answered since, with none
    /// failing after. Samples that could not check are left out. Offsets restart when a run is
    /// resumed, so a resumed run has none.
    static func downtime(_ report: DrillReport) -> Downtime? {
        let samples = (report.steadyState + report.timeline.flatMap { $0.verify?.samples ?? [] } + report.finalState).enumerated()
            .filter { $0.element.offsetMS != nil && ($0.element.outcome == .passed || $0.element.outcome == .failed) }
            .sorted { ($0.element.offsetMS!, $0.offset) < ($1.element.offsetMS!, $1.offset) }
            .map(\.element)
        guard let startIndex = samples.firstIndex(where: { $0.outcome == .failed }), let from = samples[startIndex].offsetMS else { return nil }
        var service = Set(report.timeline.filter { $0.phase == .failover }.flatMap { $0.verify?.samples ?? [] }.filter { $0.expect == .up }.map(\.label))
        if service.isEmpty { service = Set(report.steadyState.map(\.label)) }
        var latest: [String: Bool] = [:]
        var back: Check?
        for s in samples[startIndex...] where service.contains(s.label) {
            latest[s.label] = s.outcome == .passed
            if s.outcome == .failed { back = nil }
            else if back == nil, latest.count == service.count, latest.values.allSatisfy({ $0 }) { back = s }
        }
        let first = samples[startIndex]
        guard let back, let to = back.offsetMS else {
            return Downtime(fromOffsetMS: from, toOffsetMS: nil, seconds: nil, firstDown: first.label, backBy: nil)
        }
        return Downtime(fromOffsetMS: from, toOffsetMS: to, seconds: round2((to - from) / 1000), firstDown: first.label, backBy: back.label)
    }
}

extension DrillReport.Headline {
    /// The headline as labelled lines, in the order every format shows them (only those that
    /// say something), each with its tone.
    public func lines(result: DrillReport.Overview) -> [(label: String, text: String, tone: Tone)] {
        var out: [(String, String, Tone)] = []
        if let cause {
            out.append(("Cause", cause + (moreFindings > 0 ? " (and \(ReportText.count(moreFindings, "more finding")) below)" : ""), .bad))
        }
        if let downtime {
            out.append(("Service down", downtime.text, downtime.toOffsetMS == nil ? .bad : .warning))
        }
        if let operatorVerdict {
            let by = verdictBy.map { " (\($0))" } ?? ""
            out.append(("Operator's verdict", disagrees ? "\(operatorVerdict.rawValue)\(by) — the tool's result was \(result.resultText)"
                                                        : "\(operatorVerdict.rawValue)\(by)", disagrees || operatorVerdict != .pass ? .warning : .good))
        }
        if !openActions.isEmpty {
            out.append(("Open actions", "\(openActions.count): " + openActions.map { $0.text(in: result.run) }.joined(separator: "; "), .warning))
        }
        return out
    }
}
