import Foundation

/// Parses and prints the durations users write in playbooks: `500ms`, `90s`, `5m`, `1h30m`, `2d`.
public enum DurationText {
    /// nil when the text is not a duration.
    public static func parse(_ text: String) -> Duration? {
        let s = text.trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty else { return nil }
        if let n = Int(s) { return n >= 0 ? .seconds(n) : nil }   // bare numbers are seconds
        var total: Int64 = 0
        var number = ""
        var unit = ""
        var sawUnit = false
        func flush() -> Bool {
            guard let n = Int64(number), !unit.isEmpty else { return false }
            let ms: Int64
            switch unit {
            case "ms": ms = 1
            case "s": ms = 1_000
            case "m": ms = 60_000
            case "h": ms = 3_600_000
            case "d": ms = 86_400_000
            default: return false
            }
            let (product, overflow) = n.multipliedReportingOverflow(by: ms)
            guard !overflow else { return false }
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow2 else { return false }
            total = sum
            number = ""; unit = ""
            sawUnit = true
            return true
        }
        for ch in s {
            if ch.isASCII && ch.isNumber {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(ch)
            } else if ch.isASCII && ch.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(ch)
            } else {
                return nil
            }
        }
        guard flush(), sawUnit else { return nil }
        return .milliseconds(total)
    }

    /// Compact form: `1h30m`, `90s` → `1m30s`, `250ms`.
    public static func format(_ d: Duration) -> String {
        let totalMS = milliseconds(d)
        if totalMS == 0 { return "0s" }
        if totalMS < 1_000 { return "\(totalMS)ms" }
        var rest = totalMS / 1_000
        let ms = totalMS % 1_000
        var out = ""
        let days = rest / 86_400; rest %= 86_400
        let hours = rest / 3_600; rest %= 3_600
        let minutes = rest / 60; rest %= 60
        if days > 0 { out += "\(days)d" }
        if hours > 0 { out += "\(hours)h" }
        if minutes > 0 { out += "\(minutes)m" }
        if rest > 0 || ms > 0 {
            out += ms > 0 ? "\(rest).\(String(format3(ms)))s" : "\(rest)s"
        }
        return out
    }

    /// A measured time (RTO, RPO), one way everywhere: `32ms` under a second, `3.25s` or `30s`
    /// under a minute, `1m30s` above.
    public static func measured(_ seconds: Double) -> String {
        if seconds > 0 && seconds < 1 { return String(format: "%.0fms", seconds * 1000) }
        if seconds < 60 { return seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.2fs", seconds) }
        return format(.milliseconds(Int64((seconds * 1000).rounded())))
    }

    public static func milliseconds(_ d: Duration) -> Int64 {
        let c = d.components
        return c.seconds * 1_000 + c.attoseconds / 1_000_000_000_000_000
    }

    public static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    private static func format3(_ ms: Int64) -> String {
        var s = String(ms)
        while s.count < 3 { s = "0" + s }
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }
}

