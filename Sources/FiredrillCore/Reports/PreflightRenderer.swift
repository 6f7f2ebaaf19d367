import Foundation

/// The preflight section under a plan: each host's connection, each steady-state check's evidence.
public struct PreflightRenderer: Sendable {
    public var style: TerminalStyle
    public init(style: TerminalStyle) { self.style = style }

    public func render(_ report: PreflightReport) -> String {
        var out = style.bold("Preflight") + "\n  hosts\n"
        let width = (report.hosts.map(\.host.count).max() ?? 0) + 2
        for h in report.hosts {
            let name = h.host.padding(toLength: width, withPad: " ", startingAt: 0)
            if h.ok {
                out += "    \(name)" + style.green("ok") + String(format: "  %.1f ms  ", h.latencyMS ?? 0) + "\(h.endpoint)\(h.via.map { " \($0)" } ?? "")\(h.executor.map { ", \(TerminalText.safe($0))" } ?? "")\n"
                if let key = h.trustedNewKey { out += "    " + String(repeating: " ", count: width) + style.yellow(key) + "\n" }
            } else {
                out += "    \(name)" + style.red("FAILED") + "  \(h.endpoint)\(h.via.map { " \($0)" } ?? ""): \(h.error ?? "")\n"
                if let hint = h.hint { out += "    " + String(repeating: " ", count: width) + "hint: \(hint)\n" }
            }
        }
        if !report.checks.isEmpty {
            out += "  steady state\n"
            let cw = (report.checks.map(\.check.count).max() ?? 0) + 2
            for c in report.checks {
                let mark = c.outcome.passed ? style.green("✓") : style.red("✗")
                let from = c.from.map { " (from \($0))" } ?? ""
                out += "    \(mark) \(c.check.padding(toLength: cw, withPad: " ", startingAt: 0))\(c.outcome.detail)\(from)\n"
            }
        }
        if !report.guards.isEmpty {
            out += "  guards\n"
            let cw = (report.guards.map(\.check.count).max() ?? 0) + 2
            for c in report.guards {
                let mark = c.outcome.passed ? style.green("✓") : report.guardHolds(c) ? style.yellow("?") : style.red("✗")
                let from = c.from.map { " (from \($0))" } ?? ""
                out += "    \(mark) \(c.check.padding(toLength: cw, withPad: " ", startingAt: 0))\(c.outcome.detail)\(from)\n"
            }
        }
        let okHosts = report.hosts.filter(\.ok).count, okChecks = report.checks.filter(\.outcome.passed).count
        var summary = "preflight: \(okHosts)/\(report.hosts.count) hosts ready, \(okChecks)/\(report.checks.count) steady-state checks pass"
        if !report.guards.isEmpty { summary += ", \(report.guards.filter(report.guardHolds).count)/\(report.guards.count) guards hold" }
        out += (report.passed ? style.green(summary) : style.red(summary + " — the drill would not start")) + "\n"
        return out
    }
}
