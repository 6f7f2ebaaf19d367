import Crypto
import Foundation

/// A service with a schedule, as `schedule`, `due` and the scorecard read it.
public struct ScheduledService: Sendable {
    public var service: String
    public var name: String
    public var playbook: String
    public var criticality: String
    public var schedule: DrillSchedule
    /// The schedule as written (`every quarter, Sat 02:00-04:00 America/Los_Angeles`).
    public var scheduleText: String
    /// The hosts the drill touches, and where they are reached (for conflicts).
    public var hosts: [String]
    public var endpoints: [String]
    public var steps: [String]
    public var restoreSteps: [String]
    public var rtoSeconds: Double?
    public var rpoSeconds: Double?
    /// The exact command that runs the drill.
    public var command: String
    /// Whether a person must answer a step (`due --run` needs `--manual` then).
    public var hasManualSteps = false

    public init(service: String, name: String, playbook: String, criticality: String, schedule: DrillSchedule, scheduleText: String, hosts: [String],
                endpoints: [String], steps: [String], restoreSteps: [String], rtoSeconds: Double?, rpoSeconds: Double?, command: String) {
        self.service = service; self.name = name; self.playbook = playbook; self.criticality = criticality; self.schedule = schedule
        self.scheduleText = scheduleText; self.hosts = hosts; self.endpoints = endpoints; self.steps = steps; self.restoreSteps = restoreSteps
        self.rtoSeconds = rtoSeconds; self.rpoSeconds = rpoSeconds; self.command = command
    }
}

/// One planned drill: a service's slot in one of its periods.
public struct PlannedDrill: Sendable, Codable, Equatable {
    public var service: String
    public var name: String
    public var playbook: String
    /// Stable across exports: the service and the period's first day (a re-import updates, never duplicates).
    public var uid: String
    public var period: String
    public var start: String
    public var end: String
    public var allDay: Bool
    public var timezone: String
    /// In the service's zone, and in the viewer's.
    public var local: String
    public var viewer: String
    public var notes: [String]
    public var hosts: [String]
    /// Other drills whose windows overlap this one's and that touch a host this one touches.
    public var conflicts: [String]

    enum CodingKeys: String, CodingKey {
        case service, name, playbook, uid, period, start, end, allDay = "all_day", timezone, local, viewer, notes, hosts, conflicts
    }
}

public enum DrillCalendar {
    /// Every drill of `services` between `from` and `until`, merged and sorted, conflicts flagged.
    public static func plan(_ services: [ScheduledService], from: Date, until: Date, viewer: TimeZone) -> [PlannedDrill] {
        var items: [(ScheduledService, DrillSchedule.Slot)] = []
        for s in services {
            for slot in s.schedule.slots(from: from, until: until) { items.append((s, slot)) }
        }
        items.sort { ($0.1.start, $0.0.service) < ($1.1.start, $1.0.service) }
        return items.enumerated().map { i, item in
            let (s, slot) = item
            var conflicts: [String] = []
            for (j, other) in items.enumerated() where j != i && other.0.service != s.service {
                guard other.1.start < slot.end && slot.start < other.1.end else { continue }
                // Hosts in common by name, or by where they are reached (two names for one machine).
                var shared = Set(s.hosts).intersection(other.0.hosts).sorted()
                for (i, e) in s.endpoints.enumerated() where other.0.endpoints.contains(e) && !shared.contains(s.hosts[i]) { shared.append("\(s.hosts[i]) (\(e))") }
                guard !shared.isEmpty else { continue }
                conflicts.append("\(other.0.service) at \(Zoned.format(other.1.start, in: viewer)) shares \(shared.joined(separator: ", "))")
            }
            return PlannedDrill(service: s.service, name: s.name, playbook: s.playbook, uid: uid(s.service, slot.periodStart), period: slot.periodStart.description,
                                start: Journal.timestamp(slot.start), end: Journal.timestamp(slot.end), allDay: slot.allDay, timezone: s.schedule.timeZone.identifier,
                                local: Zoned.format(slot.start, in: s.schedule.timeZone), viewer: Zoned.format(slot.start, in: viewer), notes: slot.notes,
                                hosts: s.hosts, conflicts: conflicts)
        }
    }

    static func uid(_ service: String, _ period: LocalDate) -> String {
        let digest = SHA256.hash(data: Data("\(service)\u{0}\(period)".utf8))
        return String(Hex.string(digest).prefix(32)) + "@firedrill"
    }
}

/// RFC 5545 text: CRLF line ends, lines folded at 75 octets (never inside a UTF-8 sequence),
/// TEXT values escaped, a VTIMEZONE for every zone used, with its real transitions.
public enum ICSWriter {
    public static func render(_ drills: [PlannedDrill], services: [ScheduledService], stamp: Date, version: String) -> String {
        var lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Firedrill//firedrill \(version)//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
                     "X-WR-CALNAME:Firedrill drills"]
        let byService = Dictionary(services.map { ($0.service, $0) }, uniquingKeysWith: { a, _ in a })
        // Zones with the span of the events that use them.
        var spans: [String: (Date, Date)] = [:]
        for d in drills where !d.allDay {
            guard let s = Journal.date(d.start), let e = Journal.date(d.end) else { continue }
            let old = spans[d.timezone]
            spans[d.timezone] = (min(old?.0 ?? s, s), max(old?.1 ?? e, e))
        }
        for (zone, span) in spans.sorted(by: { $0.key < $1.key }) {
            guard let tz = TimeZone(identifier: zone) else { continue }
            lines += timezone(tz, from: span.0.addingTimeInterval(-366 * 86400), until: span.1.addingTimeInterval(366 * 86400))
        }
        for d in drills {
            guard let start = Journal.date(d.start), let end = Journal.date(d.end), let tz = TimeZone(identifier: d.timezone) else { continue }
            let s = byService[d.service]
            lines += ["BEGIN:VEVENT", "UID:\(d.uid)", "DTSTAMP:\(utc(stamp))"]
            if d.allDay {
                lines += ["DTSTART;VALUE=DATE:\(compact(Zoned.localDate(of: start, in: tz)))", "DTEND;VALUE=DATE:\(compact(Zoned.localDate(of: end, in: tz)))"]
            } else {
                lines += ["DTSTART;TZID=\(d.timezone):\(local(start, tz))", "DTEND;TZID=\(d.timezone):\(local(end, tz))"]
            }
            lines.append("SUMMARY:" + text("DR drill: \(d.name) (\(d.service))"))
            var description = "Disaster-recovery drill of \(d.service) (\(s?.criticality ?? "")), \(s?.scheduleText ?? "").\n"
            description += "Hosts: \(d.hosts.joined(separator: ", ")).\n"
            if let s {
                description += "Failover: " + s.steps.joined(separator: "; ") + ".\n"
                if !s.restoreSteps.isEmpty { description += "Restore: " + s.restoreSteps.joined(separator: "; ") + ".\n" }
                description += "Objectives: RTO \(s.rtoSeconds.map(ReportText.duration) ?? "not set"), RPO \(s.rpoSeconds.map(ReportText.duration) ?? "not set").\n"
                description += "Run it: \(s.command)\n"
            }
            for n in d.notes { description += "Note: \(n).\n" }
            for c in d.conflicts { description += "CONFLICT: \(c).\n" }
            lines.append("DESCRIPTION:" + text(description))
            lines += ["CATEGORIES:Disaster recovery drill", "TRANSP:OPAQUE", "END:VEVENT"]
        }
        lines.append("END:VCALENDAR")
        return lines.map(fold).joined(separator: "\r\n") + "\r\n"
    }

    /// A VTIMEZONE with every transition between `from` and `until` (or one STANDARD block for a zone without DST).
    static func timezone(_ tz: TimeZone, from: Date, until: Date) -> [String] {
        var out = ["BEGIN:VTIMEZONE", "TZID:\(tz.identifier)"]
        func block(_ at: Date, fromOffset: Int, toOffset: Int, daylight: Bool) -> [String] {
            let kind = daylight ? "DAYLIGHT" : "STANDARD"
            // DTSTART is the local time just before the change, in the offset being left.
            let wall = Date(timeIntervalSince1970: at.timeIntervalSince1970 + Double(fromOffset))
            return ["BEGIN:\(kind)", "DTSTART:\(local(wall, TimeZone(identifier: "UTC")!))", "TZOFFSETFROM:\(offset(fromOffset))", "TZOFFSETTO:\(offset(toOffset))",
                    "TZNAME:\(tz.abbreviation(for: at.addingTimeInterval(1)) ?? tz.identifier)", "END:\(kind)"]
        }
        let first = tz.secondsFromGMT(for: from)
        out += block(from, fromOffset: first, toOffset: first, daylight: tz.isDaylightSavingTime(for: from))
        var t = from
        var count = 0
        while count < 1000, let next = tz.nextDaylightSavingTimeTransition(after: t), next <= until {
            out += block(next, fromOffset: tz.secondsFromGMT(for: next.addingTimeInterval(-1)), toOffset: tz.secondsFromGMT(for: next),
                         daylight: tz.isDaylightSavingTime(for: next))
            t = next
            count += 1
        }
        out.append("END:VTIMEZONE")
        return out
    }

    static func offset(_ seconds: Int) -> String {
        String(format: "%@%02d%02d", seconds < 0 ? "-" : "+", abs(seconds) / 3600, abs(seconds) % 3600 / 60)
    }

    static func compact(_ d: LocalDate) -> String { String(format: "%04d%02d%02d", d.year, d.month, d.day) }

    /// `20270102T020000`, the wall time in `tz`.
    static func local(_ date: Date, _ tz: TimeZone) -> String {
        let m = Zoned.localMinutes(of: date, in: tz)
        let secs = Int(date.timeIntervalSince1970.rounded(.down)) % 60
        return compact(Zoned.localDate(of: date, in: tz)) + String(format: "T%02d%02d%02d", m / 60, m % 60, (secs + 60) % 60)
    }

    static func utc(_ date: Date) -> String { local(date, TimeZone(identifier: "UTC")!) + "Z" }

    /// TEXT escaping (RFC 5545 3.3.11).
    static func text(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\\\"
            case ";": out += "\\;"
            case ",": out += "\\,"
            case "\n": out += "\\n"
            case "\r": break
            default: out.append(ch)
            }
        }
        return out
    }

    /// Folds a content line at 75 octets; continuation lines start with one space.
    static func fold(_ line: String) -> String {
        var parts: [String] = []
        var current: [UInt8] = []
        var limit = 75
        for scalar in line.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if current.count + bytes.count > limit {
                parts.append(String(decoding: current, as: UTF8.self))
                current = []
                limit = 74   // the leading space counts
            }
            current += bytes
        }
        parts.append(String(decoding: current, as: UTF8.self))
        return parts.joined(separator: "\r\n ")
    }
}
