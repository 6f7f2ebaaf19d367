import Foundation

/// A calendar date without a time or a zone (`2027-01-15`).
public struct LocalDate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(_ year: Int, _ month: Int, _ day: Int) { self.year = year; self.month = month; self.day = day }

    /// `YYYY-MM-DD`, a real date; nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m),
              (1...LocalDate.daysIn(y, m)).contains(d) else { return nil }
        self.init(y, m, d)
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    public static func < (a: LocalDate, b: LocalDate) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    public static func isLeap(_ y: Int) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }
    public static func daysIn(_ y: Int, _ m: Int) -> Int { [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] }

    /// Days since 1970-01-01 (proleptic Gregorian; H. Hinnant's `days_from_civil`).
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public init(dayNumber z0: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public func adding(days: Int) -> LocalDate { LocalDate(dayNumber: dayNumber + days) }

    /// `months` later; a day the month does not have becomes its last (Jan 31 + 1 month = Feb 28 or 29).
    public func adding(months: Int) -> LocalDate {
        let index = year * 12 + (month - 1) + months
        let y = Int((Double(index) / 12).rounded(.down)), m = index - y * 12 + 1
        return LocalDate(y, m, min(day, LocalDate.daysIn(y, m)))
    }

    /// 1 = Monday … 7 = Sunday (ISO 8601).
    public var weekday: Int { ((dayNumber % 7) + 7 + 3) % 7 + 1 }
}

/// How often a service is drilled.
public struct Recurrence: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Unit: String, Sendable, Hashable, Codable { case day, week, month, quarter, halfYear = "half-year", year }
    public var unit: Unit
    public var count: Int

    public init(_ unit: Unit, _ count: Int = 1) { self.unit = unit; self.count = count }

    /// `month`, `quarter`, `half-year`, `year`, `week`, `N days`, `N weeks`.
    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch t {
        case "day", "daily": self.init(.day)
        case "week", "weekly": self.init(.week)
        case "month", "monthly": self.init(.month)
        case "quarter", "quarterly": self.init(.quarter)
        case "half-year", "half year", "halfyear": self.init(.halfYear)
        case "year", "yearly", "annually": self.init(.year)
        default:
            let parts = t.split(separator: " ")
            guard parts.count == 2, let n = Int(parts[0]), n >= 1, n <= 3660 else { return nil }
            switch parts[1] {
            case "day", "days": self.init(.day, n)
            case "week", "weeks": self.init(.week, n)
            case "month", "months": self.init(.month, n)
            default: return nil
            }
        }
    }

    public var description: String {
        if count == 1 { return unit.rawValue }
        return "\(count) \(unit.rawValue)s"
    }

    /// The start of period `k` counted from `start` (each from `start`, so month ends do not drift).
    public func periodStart(_ k: Int, from start: LocalDate) -> LocalDate {
        switch unit {
        case .day: return start.adding(days: k * count)
        case .week: return start.adding(days: 7 * k * count)
        case .month: return start.adding(months: k * count)
        case .quarter: return start.adding(months: 3 * k * count)
        case .halfYear: return start.adding(months: 6 * k * count)
        case .year: return start.adding(months: 12 * k * count)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let r = Recurrence(text) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a recurrence: \(text)")) }
        self = r
    }
}

/// When a drill may run: weekdays and a time range in the service's zone (`Sat 02:00-04:00`,
/// `Sat,Sun 01:00-05:00`, `Mon-Fri 22:00-02:00` — an end at or before the start is the next day).
public struct DrillWindow: Sendable, Hashable, Codable, CustomStringConvertible {
    /// ISO weekdays, 1 = Monday … 7 = Sunday.
    public var days: Set<Int>
    /// Minutes after midnight.
    public var start: Int
    public var end: Int
    public var text: String

    public var crossesMidnight: Bool { end <= start }
    public var description: String { text }

    static let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    static let fullNames = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    /// The window, or what is wrong with it (in words, for a diagnostic).
    public static func parse(_ text: String) -> Result<DrillWindow, WindowProblem> {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { return .failure(.init("'\(text)' is not a drill window: write days and a time range")) }
        var days = Set<Int>()
        func day(_ s: Substring) -> Int? {
            let l = s.lowercased()
            return (names.firstIndex(of: l) ?? fullNames.firstIndex(of: l)).map { $0 + 1 }
        }
        for item in parts[0].split(separator: ",", omittingEmptySubsequences: false) {
            let range = item.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(range.count), let a = day(range[0]) else {
                return .failure(.init("'\(item)' is not a weekday or a range of them (Mon, Tue, Wed, Thu, Fri, Sat, Sun; Mon-Fri)"))
            }
            guard range.count == 2 else { days.insert(a); continue }
            guard let b = day(range[1]) else { return .failure(.init("'\(range[1])' is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)")) }
            var d = a
            while true { days.insert(d); if d == b { break }; d = d % 7 + 1 }
        }
        let times = parts[1].split(separator: "-")
        func minutes(_ s: Substring) -> Int? {
            let hm = s.split(separator: ":")
            guard hm.count == 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440 else { return nil }
            return h * 60 + m
        }
        guard times.count == 2, let s = minutes(times[0]), let e = minutes(times[1]) else {
            return .failure(.init("'\(parts[1])' is not a time range (HH:MM-HH:MM)"))
        }
        guard s < 1440 else { return .failure(.init("a window cannot start at 24:00: write 00:00 on the next day")) }
        guard s != e % 1440 || (s == 0 && e == 1440) else { return .failure(.init("the window '\(text)' is empty: it starts and ends at \(times[0])")) }
        return .success(DrillWindow(days: days, start: s % 1440, end: e, text: text))
    }

    public struct WindowProblem: Error, Sendable { public var message: String; init(_ m: String) { message = m } }
}

/// Dates when no drill may run (a change freeze), inclusive, in the service's zone.
public struct Blackout: Sendable, Hashable, Codable, CustomStringConvertible {
    public var from: LocalDate
    public var to: LocalDate
    public var description: String { "\(from)..\(to)" }
    public init(from: LocalDate, to: LocalDate) { self.from = from; self.to = to }
    public func contains(_ d: LocalDate) -> Bool { from <= d && d <= to }
}
