import Foundation

/// The scorecard in Prometheus' text exposition format (0.0.4), for node_exporter's textfile
/// collector: readiness, and per service its score, last drill time and result, whether it is
/// overdue, its open action items and its status. `promtool check metrics` accepts it.
public enum ScorecardMetrics {
    public static func render(_ card: Scorecard) -> String {
        var out: [String] = []
        func family(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            out.append("# HELP \(name) \(help)")
            out.append("# TYPE \(name) gauge")
            for s in samples {
                let labels = s.labels.isEmpty ? "" : "{" + s.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
                out.append("\(name)\(labels) \(number(s.value))")
            }
        }
        func labels(_ r: Scorecard.Row) -> [(String, String)] { [("service", r.service), ("criticality", r.criticality.rawValue)] }
        family("firedrill_readiness_score", "Readiness over every service (0-100), weighted by criticality.", [([], card.readiness)])
        family("firedrill_service_score", "Score of the service's last drill (0-100); absent when never drilled.",
               card.services.compactMap { r in r.score.map { (labels(r), $0) } })
        family("firedrill_service_last_drill_timestamp_seconds", "When the service's last drill ran (Unix time); absent when never drilled.",
               card.services.compactMap { r in (r.lastDrill ?? r.lastRun).flatMap(Journal.date).map { (labels(r), $0.timeIntervalSince1970) } })
        family("firedrill_service_last_drill_passed", "1 when the service's last drill passed, 0 when it did not; absent when never drilled.",
               card.services.compactMap { r in r.lastResult.map { (labels(r), $0 == .passed ? 1 : 0) } })
        family("firedrill_service_overdue", "1 when the service's drill is overdue by its schedule or it was never drilled, else 0.",
               card.services.map { r in (labels(r), r.overdue == true || r.status == .overdue || r.status == .neverDrilled ? 1 : 0) })
        family("firedrill_service_open_actions", "Open action items from the service's drills.",
               card.services.map { r in (labels(r), Double(r.openActions)) })
        let statuses: [Scorecard.Status] = [.ok, .failed, .neverDrilled, .needsVerification, .invalid, .overdue]
        family("firedrill_service_status", "The service's status on the scorecard: 1 for the one it has.",
               card.services.flatMap { r in statuses.map { s in (labels(r) + [("status", s.rawValue)], r.status == s ? 1 : 0) } })
        if let at = card.generatedAt.flatMap(Journal.date) {
            family("firedrill_scorecard_generated_timestamp_seconds", "When these metrics were written (Unix time).", [([], at.timeIntervalSince1970)])
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// A label value as the format wants it: `\`, `"` and newlines escaped.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}
