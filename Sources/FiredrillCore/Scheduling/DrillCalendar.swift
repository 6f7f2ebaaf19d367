import Foundation

/// A service's drill schedule, resolved (docs/scheduling.md). Pure: time always comes in as a
/// parameter, never from the clock.
///
/// Periods are counted from `start` (`every: quarter` from 2026-01-01 gives calendar quarters),
/// each from `start` itself so month ends do not drift (Jan 31 monthly: Feb 28, Mar 31, …).
/// A period's *slot* is the first window occurrence that opens on or after the period's first
/// day and is not in a blackout: that is when the drill is due. A service is `due` from its
/// next slot on, and `overdue` once `grace` has passed since.
public struct DrillSchedule: Sendable, Equatable {
    public var every: Recurrence
    public var window: DrillWindow?
    public var timeZone: TimeZone
    public var blackouts: [Blackout]
    public var start: LocalDate
    public var graceSeconds: Double

    public static let defaultStart = LocalDate(2026, 1, 1)
    public static let defaultGraceSeconds = 14.0 * 86400

    public init(every: Recurrence, window: DrillWindow? = nil, timeZone: TimeZone = TimeZone(identifier: "UTC")!, blackouts: [Blackout] = [],
                start: LocalDate = DrillSchedule.defaultStart, graceSeconds: Double = DrillSchedule.defaultGraceSeconds) {
        self.every = every; self.window = window; self.timeZone = timeZone; self.blackouts = blackouts; self.start = start; self.graceSeconds = graceSeconds
    }

    /// One opening of the drill window (or a whole day, without a window).
    public struct Slot: Sendable, Equatable {
        public var period: Int
        public var periodStart: LocalDate
        /// The local day the window opens.
        public var day: LocalDate
        public var start: Date
        public var end: Date
        public var allDay: Bool
        /// What moved it: a time that does not exist or happens twice (DST), a blackout.
        public var notes: [String]
    }

    public enum State: String, Sendable, Codable { case scheduled, due, overdue }

    public struct Status: Sendable, Equatable {
        public var state: State
        public var neverDrilled: Bool
        /// The slot the next drill is due in.
        public var next: Slot
        /// When it becomes overdue.
        public var overdueAt: Date
        /// The window occurrence open now, if any (not in a blackout).
        public var openNow: Slot?
        /// The blackout `now` falls in, if any.
        public var blackoutNow: Blackout?
    }

    // MARK: - Periods

    /// The period `day` falls in (-1 before `start`).
    public func period(containing day: LocalDate) -> Int {
        guard day >= start else { return -1 }
        let days = day.dayNumber - start.dayNumber
        var k: Int
        switch every.unit {
        case .day: return days / every.count
        case .week: return days / (7 * every.count)
        case .month: k = months(from: start, to: day) / every.count
        case .quarter: k = months(from: start, to: day) / (3 * every.count)
        case .halfYear: k = months(from: start, to: day) / (6 * every.count)
        case .year: k = months(from: start, to: day) / (12 * every.count)
        }
        while k > 0 && every.periodStart(k, from: start) > day { k -= 1 }
        while every.periodStart(k + 1, from: start) <= day { k += 1 }
        return k
    }

    func months(from a: LocalDate, to b: LocalDate) -> Int { (b.year - a.year) * 12 + (b.month - a.month) }

    func blackout(on day: LocalDate) -> Blackout? { blackouts.first { $0.contains(day) } }

    /// The window occurrence opening on `day` (nil when the window is not open that weekday).
    func occurrence(on day: LocalDate, period k: Int) -> Slot? {
        guard let w = window else {
            let (s, _) = Zoned.instant(day, minutes: 0, in: timeZone)
            let (e, _) = Zoned.instant(day.adding(days: 1), minutes: 0, in: timeZone)
            return Slot(period: k, periodStart: every.periodStart(k, from: start), day: day, start: s, end: e, allDay: true, notes: [])
        }
        guard w.days.contains(day.weekday) else { return nil }
        let (s, startNote) = Zoned.instant(day, minutes: w.start, in: timeZone)
        let endDay = w.crossesMidnight ? day.adding(days: 1) : day
        let (e, endNote) = w.end == 1440 ? (Zoned.instant(endDay.adding(days: 1), minutes: 0, in: timeZone).0, nil) : Zoned.instant(endDay, minutes: w.end, in: timeZone)
        return Slot(period: k, periodStart: every.periodStart(k, from: start), day: day, start: s, end: e, allDay: false,
                    notes: [startNote.map { "window opens: \($0)" }, endNote.map { "window closes: \($0)" }].compactMap { $0 })
    }

    /// The drill slot of period `k`: its first window occurrence that is not in a blackout. A
    /// blackout covering the rest of the period pushes it past the period's end, and says so.
    public func slot(_ k: Int) -> Slot {
        let first = every.periodStart(k, from: start)
        let next = every.periodStart(k + 1, from: start)
        var skipped: [Blackout] = []
        var vanished: [LocalDate] = []
        var day = first
        // Ten years at most; a blackout is jumped over whole.
        while day.dayNumber - first.dayNumber < 3660 {
            if let b = blackout(on: day) {
                // It moved the drill only if a window would have opened in it.
                let opens = window == nil || stride(from: day.dayNumber, through: b.to.dayNumber, by: 1).prefix(7).contains {
                    window?.days.contains(LocalDate(dayNumber: $0).weekday) == true
                }
                if opens && !skipped.contains(b) { skipped.append(b) }
                day = b.to.adding(days: 1)
                continue
            }
            if var o = occurrence(on: day, period: k) {
                // A window entirely inside the hour skipped by DST does not exist that day.
                guard o.end > o.start else { vanished.append(day); day = day.adding(days: 1); continue }
                o.notes += skipped.map { "blackout \($0) moved it" }
                o.notes += vanished.map { "the window did not exist on \($0) (it falls in the hour skipped when clocks go forward)" }
                if day >= next {
                    o.notes.append(skipped.isEmpty ? "the window opens after this period (\(first) to \(next.adding(days: -1))) ends"
                                                   : "later than its period (\(first) to \(next.adding(days: -1))) because of a blackout")
                }
                return o
            }
            day = day.adding(days: 1)
        }
        // Blackouts over the next ten years: no drill can be placed.
        var o = Slot(period: k, periodStart: first, day: day, start: Zoned.instant(day, minutes: 0, in: timeZone).0,
                     end: Zoned.instant(day.adding(days: 1), minutes: 0, in: timeZone).0, allDay: true, notes: [])
        o.notes.append("no window outside the blackouts within ten years")
        return o
    }

    /// The window occurrence open at `now` (outside blackouts), if any.
    public func open(at now: Date) -> Slot? {
        let today = Zoned.localDate(of: now, in: timeZone)
        for day in [today.adding(days: -1), today] {
            guard blackout(on: day) == nil, let o = occurrence(on: day, period: max(0, period(containing: day))) else { continue }
            if o.start <= now && now < o.end { return o }
        }
        return nil
    }

    /// Where the service stands at `now`, given when it last ran a drill (nil: never).
    public func status(now: Date, lastDrill: Date?) -> Status {
        let j = lastDrill.map { max(0, period(containing: Zoned.localDate(of: $0, in: timeZone)) + 1) } ?? 0
        let next = slot(j)
        let overdueAt = next.start.addingTimeInterval(graceSeconds)
        let state: State = now < next.start ? .scheduled : now <= overdueAt ? .due : .overdue
        return Status(state: state, neverDrilled: lastDrill == nil, next: next, overdueAt: overdueAt, openNow: open(at: now),
                      blackoutNow: blackout(on: Zoned.localDate(of: now, in: timeZone)))
    }

    /// Every slot that ends after `from` and starts before `until` (at most `limit`). Periods
    /// shorter than the window's week, or pushed together by a blackout, share one drill.
    public func slots(from: Date, until: Date, limit: Int = 10_000) -> [Slot] {
        var k = max(0, period(containing: Zoned.localDate(of: from, in: timeZone)) - 1)
        var out: [Slot] = []
        var guardCount = 0
        while out.count < limit && guardCount < 100_000 {
            guardCount += 1
            let s = slot(k)
            k += 1
            if s.start >= until { break }
            guard s.end > from else { continue }
            if let last = out.last, last.start == s.start { continue }
            out.append(s)
        }
        return out
    }
}

/// Wall-clock times in a zone, resolved the way calendars do: a time that does not exist (the
/// hour skipped when DST starts) moves to the moment clocks jump; a time that happens twice (the
/// hour repeated when DST ends) is the first one. Either is said.
public enum Zoned {
    public static func instant(_ day: LocalDate, minutes: Int, in tz: TimeZone) -> (Date, note: String?) {
        let wall = Double(day.dayNumber) * 86400 + Double(minutes) * 60
        func offset(_ t: Double) -> Double { Double(tz.secondsFromGMT(for: Date(timeIntervalSince1970: t))) }
        let before = offset(wall - 86400), after = offset(wall + 86400)
        let valid = Set([before, after]).map { wall - $0 }.filter { offset($0) == wall - $0 }.sorted()
        let hhmm = String(format: "%02d:%02d", minutes / 60, minutes % 60)
        if valid.count == 1 { return (Date(timeIntervalSince1970: valid[0]), nil) }
        if valid.count > 1 {
            let t = Date(timeIntervalSince1970: valid[0])
            return (t, "\(hhmm) happens twice on \(day) in \(tz.identifier) (clocks go back): the first, at UTC\(offsetText(t, tz))")
        }
        // In the gap: the moment the clocks jump.
        let jump = tz.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: wall - before - 86400)) ?? Date(timeIntervalSince1970: wall - before)
        let local = localMinutes(of: jump, in: tz)
        return (jump, "\(hhmm) does not exist on \(day) in \(tz.identifier) (clocks go forward): \(String(format: "%02d:%02d", local / 60, local % 60)) at UTC\(offsetText(jump, tz))")
    }

    public static func localDate(of date: Date, in tz: TimeZone) -> LocalDate {
        let local = date.timeIntervalSince1970 + Double(tz.secondsFromGMT(for: date))
        return LocalDate(dayNumber: Int((local / 86400).rounded(.down)))
    }

    /// Minutes after local midnight.
    public static func localMinutes(of date: Date, in tz: TimeZone) -> Int {
        let local = date.timeIntervalSince1970 + Double(tz.secondsFromGMT(for: date))
        let day = (local / 86400).rounded(.down)
        return Int(((local - day * 86400) / 60).rounded(.down))
    }

    /// `2027-01-02 02:00 -08:00` (offsets, not abbreviations: they read the same everywhere).
    public static func format(_ date: Date, in tz: TimeZone) -> String {
        let m = localMinutes(of: date, in: tz)
        return "\(localDate(of: date, in: tz)) \(String(format: "%02d:%02d", m / 60, m % 60)) \(offsetText(date, tz))"
    }

    /// `-08:00`, `+05:30`, `+00:00`.
    public static func offsetText(_ date: Date, _ tz: TimeZone) -> String {
        let o = tz.secondsFromGMT(for: date)
        return String(format: "%@%02d:%02d", o < 0 ? "-" : "+", abs(o) / 3600, abs(o) % 3600 / 60)
    }
}
