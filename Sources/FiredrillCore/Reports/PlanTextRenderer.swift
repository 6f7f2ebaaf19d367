/// The plan for a terminal: fits 80 columns, colour only when asked.
public struct PlanTextRenderer: Sendable {
    public var style: TerminalStyle
    public var width: Int

    /// Whether a preflight (which connects to the hosts) follows the plan.
    public var preflightFollows: Bool
    /// How commands will reach the hosts (`--executor`), said under the summary.
    public var executor: ExecutorMode?

    public init(style: TerminalStyle = TerminalStyle(enabled: false), width: Int = 80, preflightFollows: Bool = false, executor: ExecutorMode? = nil) {
        self.style = style
        self.width = width
        self.preflightFollows = preflightFollows
        self.executor = executor
    }

    public func render(_ plan: Plan) -> String {
        var out: [String] = []
        let pb = plan.playbook
        if "Plan: \(pb.name)  (\(pb.file))".count <= width {
            out.append(style.bold("Plan: \(pb.name)") + style.dim("  (\(pb.file))"))
        } else {
            out.append(style.bold("Plan: \(pb.name)"))
            out += TextLayout.wrap(pb.file, width: width, firstIndent: "  ", indent: "  ").map(style.dim)
        }
        var meta = ["service \(pb.service)", "criticality \(pb.criticality.rawValue)"]
        if let owner = pb.owner { meta.append("owner \(owner)") }
        out += TextLayout.wrap(meta.joined(separator: " · "), width: width, firstIndent: "", indent: "  ")
        if let s = pb.scenario {
            let ex = pb.exercise.map { " (\($0.rawValue) exercise)" } ?? ""
            out += TextLayout.wrap("Scenario: \(s)\(ex)", width: width, firstIndent: "", indent: "  ")
        }
        let rto = plan.objectives.rto.map { "RTO \($0.duration.text)" } ?? "RTO not set"
        let rpo = plan.objectives.rpo.map { "RPO \($0.duration.text)" } ?? "RPO not set"
        out.append("Objectives: \(rto) · \(rpo)")
        if let a = pb.approval {
            out += TextLayout.wrap("Approval: required, signed by \(a.approvers.isEmpty ? "anyone" : a.approvers.joined(separator: " or ")) in \(a.allowedSigners), not the operator (firedrill approve)",
                                   width: width, firstIndent: "", indent: "  ")
        }
        for n in pb.notify ?? [] {
            out += TextLayout.wrap("Notify: \(n)", width: width, firstIndent: "", indent: "  ")
        }
        if let s = pb.schedule {
            var line = "Schedule: every \(s.every)"
            if let w = s.window { line += ", window \(w)" }
            if let z = s.timezone { line += " \(z)" }
            if let b = s.blackout { line += ", blackout " + b.joined(separator: ", ") }
            out += TextLayout.wrap(line, width: 80, firstIndent: "", indent: "  ")
        }
        out.append("Inventory: " + (plan.inventory.isEmpty ? "none" : plan.inventory.joined(separator: ", ")) + (plan.limit.map { "  Limit: \($0)" } ?? ""))
        if !plan.secrets.isEmpty {
            out.append("Secrets: " + plan.secrets.map { "\($0.name) (\($0.source))" }.joined(separator: ", ") + style.dim(" — values masked"))
        }

        out.append("")
        out.append(style.bold("Hosts (\(plan.hosts.count))"))
        let nameWidth = min(24, (plan.hosts.map(\.name.count).max() ?? 0) + 2)
        for h in plan.hosts.prefix(50) {
            var line = "  " + TextLayout.pad(h.name, nameWidth) + h.endpoint
            if let u = h.user { line += "  as \(u)" }
            let becomes = plan.become(on: h.name)
            if !becomes.isEmpty { line += ", " + becomes.map(\.description).joined(separator: " / ") }
            if h.kind == .local { line += "  (on this machine)" }
            out.append(line)
            // The way there on a line of its own: `via bastion (ops@10.0.0.5:22) → …`.
            if let via = h.pathDescription {
                out += TextLayout.wrap(via, width: width, firstIndent: String(repeating: " ", count: 2 + nameWidth), indent: String(repeating: " ", count: 4 + nameWidth))
            }
        }
        if plan.hosts.count > 50 { out.append(style.dim("  … \(plan.hosts.count - 50) more (see --format json)")) }

        if !plan.steadyState.isEmpty {
            out.append("")
            out.append(style.bold("Steady state") + style.dim(" — must hold before step 1 and after restore"))
            // Nothing ran yet: each check is what must hold (up), never a result.
            for c in plan.steadyState { out += check(c, marker: "up") }
        }
        if let g = plan.guards, !g.checks.isEmpty {
            out.append("")
            out.append(style.bold("Guards") + style.dim(" — stop the failover when production is hurt"))
            let rule = "sampled every \(g.every.duration.text) from the first failover step until restore ends; one failing for \(g.hold.duration.text) stops the failover and restore runs"
                + (g.onUnknown == .abort ? "; one that cannot be checked counts as failing" : "; one that cannot be checked is only reported")
            out += TextLayout.wrap(rule, width: width, firstIndent: "  ", indent: "  ").map { style.dim($0) }
            for c in g.checks { out += check(c, marker: "up") }
        }
        if let dc = plan.dataCheck {
            out.append("")
            out.append(style.bold("Data check (RPO)") + style.dim(" — marker written before failover, read after"))
            for c in dc.write { out += TextLayout.wrap("write on \(c.host): \(c.command)", width: width, firstIndent: "  ", indent: "      ") }
            for c in dc.read { out += TextLayout.wrap("read on \(c.host): \(c.command)", width: width, firstIndent: "  ", indent: "      ") }
        }
        out.append("")
        out.append(style.bold("Failover"))
        if plan.steps.isEmpty { out.append("  (no steps)") }
        for s in plan.steps { out += step(s, indent: "  ") }
        out.append("")
        out.append(style.bold("Restore") + style.dim(" — always runs, also after a failure or Ctrl-C"))
        if plan.restore.isEmpty { out.append(style.yellow("  (no restore steps)")) }
        for s in plan.restore { out += step(s, indent: "  ") }

        let sm = plan.summary
        out.append("")
        var summary = "\(sm.hosts) host\(sm.hosts == 1 ? "" : "s") · \(sm.steps) step\(sm.steps == 1 ? "" : "s") + \(sm.restoreSteps) restore"
        summary += " · \(sm.commands) command\(sm.commands == 1 ? "" : "s") · \(sm.checks) check evaluation\(sm.checks == 1 ? "" : "s")"
        if sm.manualSteps > 0 { summary += " · \(sm.manualSteps) manual" }
        var summaryLines = TextLayout.wrap("Summary: " + summary, width: width, firstIndent: "", indent: "  ")
        summaryLines[0] = style.bold("Summary:") + summaryLines[0].dropFirst("Summary:".count)
        out += summaryLines
        out.append("  worst case \(sm.estimatedWorstCase.duration.text) (sum of timeouts and verify deadlines\(sm.manualSteps > 0 ? ", plus operator time" : ""))")
        switch executor {
        case .auto?:
            out += TextLayout.wrap("commands: through a resident executor on each host (its python3 or ansible_python_interpreter), else one channel per command — each host's way is found at preflight; become: one channel per command",
                                   width: width, firstIndent: "  ", indent: "    ")
        case .channel?:
            out.append("  commands: one channel per command (--executor channel)")
        case nil:
            break
        }
        out.append(style.dim(preflightFollows ? "Nothing from the steps is executed; the preflight below connects to the hosts and runs the steady-state checks (read-only)."
                                              : "Nothing was executed; no connection was made."))
        return out.joined(separator: "\n") + "\n"
    }

    func step(_ s: PlannedStep, indent: String) -> [String] {
        var out: [String] = []
        var tags = ["timeout \(s.timeout.duration.text)"]
        if s.kind == .manual { tags = ["manual"] }
        if s.disruptive { tags.append("disruptive") }
        if s.batches.count > 1 {
            tags.append("\(s.batches.count) batches" + (s.verify == nil ? "" : ", verified after each") + (s.onlyTouched ? " (of the hosts it will run on)" : ""))
        }
        if s.onlyTouched { tags.append("only the hosts the failover touches") }
        if s.maxFailPercentage > 0 { tags.append("max fail \(s.maxFailPercentage)%") }
        // Wrap plain text first, then colour whole lines: escape codes must not count as columns.
        out += TextLayout.wrap("\(s.number). \(s.name)", width: width, firstIndent: indent, indent: indent + "   ").map(style.bold)
        out.append(indent + "   " + style.dim(tags.joined(separator: " · ")))
        let inner = indent + "   "
        if let instruction = s.instruction {
            out += TextLayout.wrap("operator: \(instruction)", width: width, firstIndent: inner, indent: inner + "  ")
        }
        if let p = s.pattern {
            out += TextLayout.wrap("on \(p) → \(TextLayout.hostList(s.hosts))", width: width, firstIndent: inner, indent: inner + "  ")
        }
        if s.batches.count > 1 {
            for (i, b) in s.batches.enumerated().prefix(5) {
                out += TextLayout.wrap("batch \(i + 1): \(TextLayout.hostList(b))", width: width, firstIndent: inner, indent: inner + "  ")
            }
            if s.batches.count > 5 { out.append(inner + "… \(s.batches.count - 5) more batches") }
        }
        // Identical commands are shown once with their hosts.
        var groups: [(String, [String])] = []
        for c in s.commands {
            let text = c.command.description
            if let i = groups.firstIndex(where: { $0.0 == text }) { groups[i].1.append(c.host) } else { groups.append((text, [c.host])) }
        }
        for (text, hosts) in groups.prefix(20) {
            let whom = groups.count == 1 ? "" : "  [\(TextLayout.hostList(hosts, max: 3))]"
            out += TextLayout.wrap("$ \(text)\(whom)", width: width, firstIndent: inner, indent: inner + "  ")
        }
        if groups.count > 20 { out.append(inner + style.dim("… \(groups.count - 20) more distinct commands (see --format json)")) }
        if let v = s.verify {
            out.append(inner + "verify within \(v.within.duration.text):")
            for c in v.up { out += check(c, marker: "up", indent: inner + "  ") }
            for c in v.down { out += check(c, marker: "down", indent: inner + "  ") }
        }
        for f in s.onFailure {
            out.append(inner + style.yellow("on failure:"))
            out += step(f, indent: inner + "  ")
        }
        return out
    }

    func check(_ c: PlannedCheck, marker: String, indent: String = "  ") -> [String] {
        let from = c.from.map { " from \($0)" } ?? ""
        let head = "\(TextLayout.pad(marker, 4)) \(c.label)  \(c.type)\(from)  \(c.target)"
        var out = TextLayout.wrap(head, width: width, firstIndent: indent, indent: indent + "     ")
        // A `down` check passes when the check fails: say so, not what it would see when up.
        let expect = marker == "down" ? "must fail (not: \(c.expect))" : "expect \(c.expect)"
        out += TextLayout.wrap("\(expect) · timeout \(c.timeout.duration.text)", width: width,
                               firstIndent: indent + "     ", indent: indent + "     ").map(style.dim)
        return out
    }
}

extension Duration {
    /// `1h30m`, `90s` → `1m30s`.
    public var text: String { DurationText.format(self) }
}
