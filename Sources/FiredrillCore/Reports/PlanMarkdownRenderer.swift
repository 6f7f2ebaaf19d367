import Foundation

/// The plan as Markdown, for change tickets and the drill's paperwork.
public struct PlanMarkdownRenderer: Sendable {
    public init() {}

    public func render(_ plan: Plan) -> String {
        var md: [String] = []
        let pb = plan.playbook
        md.append("# Drill plan: \(escape(pb.name))")
        md.append("")
        md.append("| | |")
        md.append("|---|---|")
        md.append("| Playbook | `\(pb.file)` |")
        md.append("| Service | \(escape(pb.service)) (\(pb.criticality.rawValue)) |")
        if let o = pb.owner { md.append("| Owner | \(escape(o)) |") }
        if let s = pb.scenario { md.append("| Scenario | \(escape(s)) |") }
        if let e = pb.exercise { md.append("| Exercise | \(e.rawValue) |") }
        md.append("| RTO objective | \(plan.objectives.rto?.duration.text ?? "not set") |")
        md.append("| RPO objective | \(plan.objectives.rpo?.duration.text ?? "not set") |")
        if let a = pb.approval { md.append("| Approval | required: \(a.approvers.isEmpty ? "anyone" : a.approvers.map(escape).joined(separator: " or ")) in `\(a.allowedSigners)`, not the operator |") }
        for n in pb.notify ?? [] { md.append("| Notify | \(escape(n)) |") }
        md.append("| Inventory | \(plan.inventory.map { "`\($0)`" }.joined(separator: ", ")) |")
        if let l = plan.limit { md.append("| Limit | `\(l)` |") }
        md.append("")
        md.append("## Hosts")
        md.append("")
        md.append("| Host | Address | User | Connection |")
        md.append("|---|---|---|---|")
        for h in plan.hosts { md.append("| \(h.name) | \(h.endpoint)\(h.pathDescription.map { " \($0)" } ?? "") | \(h.user ?? "")\(plan.become(on: h.name).map { ", \($0)" }.joined()) | \(h.kind.rawValue) |") }
        if !plan.steadyState.isEmpty {
            md.append("")
            md.append("## Steady state")
            md.append("")
            md += checkTable(plan.steadyState.map { ("ok", $0) })
        }
        if let g = plan.guards, !g.checks.isEmpty {
            md.append("")
            md.append("## Guards")
            md.append("")
            md.append("Sampled every \(g.every.duration.text) from the first failover step until restore ends; a guard failing for \(g.hold.duration.text) stops the failover and restore runs."
                      + (g.onUnknown == .abort ? " A guard that cannot be checked counts as failing." : " A guard that cannot be checked is reported only."))
            md.append("")
            md += checkTable(g.checks.map { ("ok", $0) })
        }
        if let dc = plan.dataCheck {
            md.append("")
            md.append("## Data check (RPO)")
            md.append("")
            for c in dc.write { md.append("- write on **\(c.host)**: `\(code(c.command.description))`") }
            for c in dc.read { md.append("- read on **\(c.host)**: `\(code(c.command.description))`") }
        }
        md.append("")
        md.append("## Failover")
        for s in plan.steps { md += step(s, level: "###") }
        md.append("")
        md.append("## Restore (always runs)")
        for s in plan.restore { md += step(s, level: "###") }
        let sm = plan.summary
        md.append("")
        md.append("## Summary")
        md.append("")
        md.append("- \(sm.hosts) hosts, \(sm.steps) steps + \(sm.restoreSteps) restore steps, \(sm.manualSteps) manual")
        md.append("- \(sm.commands) commands, \(sm.checks) check evaluations")
        md.append("- worst case \(sm.estimatedWorstCase.duration.text) (sum of timeouts and verify deadlines)")
        return md.joined(separator: "\n") + "\n"
    }

    func step(_ s: PlannedStep, level: String) -> [String] {
        var md = ["", "\(level) \(s.number). \(escape(s.name))", ""]
        var facts = ["timeout \(s.timeout.duration.text)"]
        if s.kind == .manual { facts = ["manual step"] }
        if s.disruptive { facts.append("disruptive") }
        if s.batches.count > 1 { facts.append("\(s.batches.count) batches") }
        md.append("*" + facts.joined(separator: " · ") + "*")
        md.append("")
        if let i = s.instruction { md.append("Operator: \(escape(i))"); md.append("") }
        if let p = s.pattern { md.append("On `\(p)`: \(s.hosts.joined(separator: ", "))"); md.append("") }
        if !s.commands.isEmpty {
            md.append("| Host | Command |")
            md.append("|---|---|")
            for c in s.commands { md.append("| \(c.host) | `\(code(c.command.description))` |") }
            md.append("")
        }
        if let v = s.verify {
            md.append("Verify within \(v.within.duration.text):")
            md.append("")
            md += checkTable(v.up.map { ("up", $0) } + v.down.map { ("down", $0) })
        }
        for f in s.onFailure { md += step(f, level: level + "#") }
        return md
    }

    func checkTable(_ rows: [(String, PlannedCheck)]) -> [String] {
        var md = ["| Must be | Check | Type | Target | Expect | Timeout |", "|---|---|---|---|---|---|"]
        for (m, c) in rows {
            let from = c.from.map { " (from \($0))" } ?? ""
            md.append("| \(m) | \(c.label) | \(c.type)\(from) | `\(code(c.target.description))` | \(escape(c.expect)) | \(c.timeout.duration.text) |")
        }
        return md
    }

    func escape(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
    func code(_ s: String) -> String { s.replacingOccurrences(of: "`", with: "'").replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
}
