import Foundation
import Testing
@testable import FiredrillCore

/// Drill calendars: recurrence, windows across DST changes, month ends, leap years,
/// blackouts, window edges, half-hour zones, due and overdue. Time always comes in as a value.
@Suite struct ScheduleTests {
    static func zone(_ id: String) -> TimeZone { TimeZone(identifier: id)! }
    /// An instant from an ISO 8601 UTC text.
    static func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
    static func window(_ text: String) -> DrillWindow { try! DrillWindow.parse(text).get() }

    func local(_ d: Date, _ z: String) -> String { Zoned.format(d, in: Self.zone(z)) }

    @Test func datesAddMonthsByClampingAndKnowLeapYears() {
        #expect(LocalDate(2027, 1, 31).adding(months: 1) == LocalDate(2027, 2, 28))
        #expect(LocalDate(2028, 1, 31).adding(months: 1) == LocalDate(2028, 2, 29))
        #expect(LocalDate(2100, 2, 1).adding(months: 0) == LocalDate(2100, 2, 1) && !LocalDate.isLeap(2100) && LocalDate.isLeap(2000))
        #expect(LocalDate(2026, 11, 30).adding(months: 3) == LocalDate(2027, 2, 28))
        #expect(LocalDate(2027, 3, 1).adding(days: -1) == LocalDate(2027, 2, 28))
        #expect(LocalDate("2028-02-29") != nil && LocalDate("2027-02-29") == nil && LocalDate("2027-13-01") == nil)
        #expect(LocalDate(2026, 12, 5).weekday == 6, "Saturday")
        #expect(LocalDate(1970, 1, 1).weekday == 4 && LocalDate(dayNumber: LocalDate(2024, 2, 29).dayNumber) == LocalDate(2024, 2, 29))
    }

    @Test func monthlyFromTheThirtyFirstDoesNotDrift() {
        let s = DrillSchedule(every: Recurrence(.month), start: LocalDate(2027, 1, 31))
        #expect((0...3).map { s.every.periodStart($0, from: s.start) } == [LocalDate(2027, 1, 31), LocalDate(2027, 2, 28), LocalDate(2027, 3, 31), LocalDate(2027, 4, 30)])
        #expect(s.period(containing: LocalDate(2027, 3, 30)) == 1 && s.period(containing: LocalDate(2027, 3, 31)) == 2)
        #expect(s.period(containing: LocalDate(2027, 1, 30)) == -1)
    }

    @Test func recurrencesParse() {
        #expect(Recurrence("quarter") == Recurrence(.quarter) && Recurrence("half-year") == Recurrence(.halfYear))
        #expect(Recurrence("6 weeks") == Recurrence(.week, 6) && Recurrence("10 days") == Recurrence(.day, 10))
        #expect(Recurrence("fortnight") == nil && Recurrence("0 days") == nil && Recurrence("-2 weeks") == nil)
        #expect(Recurrence(.week, 6).description == "6 weeks")
    }

    @Test func windowsParseAndRefuseWhatIsNotOne() throws {
        let w = Self.window("Sat,Sun 01:00-05:00")
        #expect(w.days == [6, 7] && w.start == 60 && w.end == 300)
        #expect(Self.window("Mon-Fri 22:00-02:00").days == [1, 2, 3, 4, 5] && Self.window("Mon-Fri 22:00-02:00").crossesMidnight)
        #expect(Self.window("Fri-Mon 00:00-24:00").days == [5, 6, 7, 1])
        for bad in ["Sat 02:00-02:00", "Sat 24:00-02:00", "Sat", "Caturday 02:00-04:00", "Sat 2-4", "Sat 25:00-26:00", "Sat 02:00-04:60"] {
            #expect(throws: DrillWindow.WindowProblem.self, "\(bad)") { try DrillWindow.parse(bad).get() }
        }
        #expect((try? DrillWindow.parse("Sat 02:00-02:00").get()) == nil)
        if case let .failure(p) = DrillWindow.parse("Sat 02:00-02:00") { #expect(p.message.contains("empty")) }
    }

    @Test func aQuarterlyWindowInLosAngelesIsDueOnTheFirstSaturday() {
        let s = DrillSchedule(every: Recurrence(.quarter), window: Self.window("Sat 02:00-04:00"), timeZone: Self.zone("America/Los_Angeles"))
        let q1 = s.slot(4)   // 2027 Q1, counting quarters from 2026-01-01
        #expect(q1.periodStart == LocalDate(2027, 1, 1) && q1.day == LocalDate(2027, 1, 2))
        #expect(local(q1.start, "America/Los_Angeles") == "2027-01-02 02:00 -08:00" && q1.end.timeIntervalSince(q1.start) == 7200)
        #expect(q1.start == Self.at("2027-01-02T10:00:00Z"))
        let q3 = s.slot(6)
        #expect(local(q3.start, "America/Los_Angeles") == "2027-07-03 02:00 -07:00" && q3.start == Self.at("2027-07-03T09:00:00Z"))
    }

    @Test func springForwardMovesAWindowOutOfTheSkippedHourAndSaysSo() {
        // 2027-03-14: 02:00 PST jumps to 03:00 PDT in Los Angeles.
        let s = DrillSchedule(every: Recurrence(.day, 7), window: Self.window("Sun 02:00-04:00"), timeZone: Self.zone("America/Los_Angeles"),
                              start: LocalDate(2027, 3, 14))
        let slot = s.slot(0)
        #expect(slot.start == Self.at("2027-03-14T10:00:00Z") && local(slot.start, "America/Los_Angeles") == "2027-03-14 03:00 -07:00")
        #expect(slot.end == Self.at("2027-03-14T11:00:00Z"), "04:00 PDT: the window is one hour that night")
        #expect(slot.notes.contains { $0.contains("02:00 does not exist on 2027-03-14") && $0.contains("03:00") })
        // The next Sunday is whole again.
        #expect(s.slot(1).end.timeIntervalSince(s.slot(1).start) == 7200 && s.slot(1).notes.isEmpty)
    }

    @Test func fallBackTakesTheFirstOfTheRepeatedHourAndSaysSo() {
        // 2027-11-07: 02:00 PDT goes back to 01:00 PST.
        let s = DrillSchedule(every: Recurrence(.day, 7), window: Self.window("Sun 01:30-03:00"), timeZone: Self.zone("America/Los_Angeles"),
                              start: LocalDate(2027, 11, 7))
        let slot = s.slot(0)
        #expect(slot.start == Self.at("2027-11-07T08:30:00Z"), "01:30 PDT, the first of the two")
        #expect(slot.notes.contains { $0.contains("happens twice") && $0.contains("UTC-07:00") })
        #expect(slot.end == Self.at("2027-11-07T11:00:00Z") && slot.end.timeIntervalSince(slot.start) == 2.5 * 3600, "03:00 PST: the night is longer")
    }

    @Test func londonAndSydneyChangeOnTheirOwnDays() {
        // Europe/London: 2027-03-28 01:00 GMT → 02:00 BST.
        let london = DrillSchedule(every: Recurrence(.week), window: Self.window("Sun 01:00-03:00"), timeZone: Self.zone("Europe/London"), start: LocalDate(2027, 3, 28))
        #expect(london.slot(0).start == Self.at("2027-03-28T01:00:00Z") && london.slot(0).notes.contains { $0.contains("does not exist") })
        // Australia/Sydney: 2027-04-04 03:00 AEDT → 02:00 AEST (clocks go back), 2027-10-03 02:00 AEST → 03:00 AEDT.
        let back = DrillSchedule(every: Recurrence(.week), window: Self.window("Sun 02:30-04:00"), timeZone: Self.zone("Australia/Sydney"), start: LocalDate(2027, 4, 4))
        #expect(back.slot(0).start == Self.at("2027-04-03T15:30:00Z") && back.slot(0).notes.contains { $0.contains("happens twice") })
        let forward = DrillSchedule(every: Recurrence(.week), window: Self.window("Sun 02:30-04:00"), timeZone: Self.zone("Australia/Sydney"), start: LocalDate(2027, 10, 3))
        #expect(forward.slot(0).start == Self.at("2027-10-02T16:00:00Z"), "03:00 AEDT, when the clocks jump")
    }

    @Test func halfHourAndQuarterHourZones() {
        let kolkata = DrillSchedule(every: Recurrence(.month), window: Self.window("Sat 02:00-04:00"), timeZone: Self.zone("Asia/Kolkata"), start: LocalDate(2027, 1, 1))
        #expect(kolkata.slot(0).start == Self.at("2027-01-01T20:30:00Z"), "Sat 2027-01-02 02:00 IST = Fri 20:30 UTC")
        let kathmandu = DrillSchedule(every: Recurrence(.month), window: Self.window("Sat 02:00-04:00"), timeZone: Self.zone("Asia/Kathmandu"), start: LocalDate(2027, 1, 1))
        #expect(kathmandu.slot(0).start == Self.at("2027-01-01T20:15:00Z"))
        let adelaide = DrillSchedule(every: Recurrence(.month), window: Self.window("Sat 02:00-04:00"), timeZone: Self.zone("Australia/Adelaide"), start: LocalDate(2027, 1, 1))
        #expect(adelaide.slot(0).start == Self.at("2027-01-01T15:30:00Z"), "ACDT is +10:30 in January")
    }

    @Test func windowEdgesAreHalfOpen() {
        let s = DrillSchedule(every: Recurrence(.quarter), window: Self.window("Sat 02:00-04:00"), timeZone: Self.zone("America/Los_Angeles"))
        #expect(s.open(at: Self.at("2027-01-02T09:59:00Z")) == nil, "01:59 is before the window")
        #expect(s.open(at: Self.at("2027-01-02T10:00:00Z")) != nil, "02:00 is in it")
        #expect(s.open(at: Self.at("2027-01-02T11:59:59Z")) != nil)
        #expect(s.open(at: Self.at("2027-01-02T12:00:00Z")) == nil, "04:00 is after it")
        // A window past midnight belongs to the day it opens.
        let night = DrillSchedule(every: Recurrence(.week), window: Self.window("Fri 23:00-01:00"), start: LocalDate(2027, 1, 1))
        #expect(night.open(at: Self.at("2027-01-02T00:30:00Z"))?.day == LocalDate(2027, 1, 1))
    }

    @Test func blackoutsMoveTheSlotAndCanPushItPastItsPeriod() {
        let freeze = Blackout(from: LocalDate(2026, 12, 15), to: LocalDate(2027, 1, 10))
        let s = DrillSchedule(every: Recurrence(.quarter), window: Self.window("Sat 02:00-04:00"), timeZone: Self.zone("America/Los_Angeles"), blackouts: [freeze])
        let q1 = s.slot(4)
        #expect(q1.day == LocalDate(2027, 1, 16) && q1.notes.contains { $0.contains("blackout 2026-12-15..2027-01-10") })
        #expect(s.open(at: Self.at("2027-01-02T10:30:00Z")) == nil, "no window opens in a blackout")
        // A blackout over the rest of a monthly period pushes the drill into the next month, and says so.
        let monthly = DrillSchedule(every: Recurrence(.month), window: Self.window("Sat 02:00-04:00"), blackouts: [Blackout(from: LocalDate(2027, 2, 1), to: LocalDate(2027, 3, 2))],
                                    start: LocalDate(2027, 1, 1))
        let feb = monthly.slot(1)
        #expect(feb.day == LocalDate(2027, 3, 6) && feb.notes.contains { $0.contains("later than its period") })
        // Overlapping blackouts.
        let twice = DrillSchedule(every: Recurrence(.month), window: Self.window("Sat 02:00-04:00"),
                                  blackouts: [Blackout(from: LocalDate(2027, 1, 1), to: LocalDate(2027, 1, 10)), Blackout(from: LocalDate(2027, 1, 8), to: LocalDate(2027, 1, 20))],
                                  start: LocalDate(2027, 1, 1))
        #expect(twice.slot(0).day == LocalDate(2027, 1, 23) && twice.slot(0).notes.count == 2)
    }

    @Test func dueAndOverdueFollowTheLastDrillAndTheGrace() {
        let s = DrillSchedule(every: Recurrence(.quarter), window: Self.window("Sat 02:00-04:00"), timeZone: Self.zone("America/Los_Angeles"))
        let lastQ4 = Self.at("2026-10-03T09:30:00Z")
        // Before Q1's first window: scheduled for it.
        let before = s.status(now: Self.at("2027-01-01T12:00:00Z"), lastDrill: lastQ4)
        #expect(before.state == .scheduled && before.next.day == LocalDate(2027, 1, 2))
        // In the window: due, and open now.
        let during = s.status(now: Self.at("2027-01-02T10:30:00Z"), lastDrill: lastQ4)
        #expect(during.state == .due && during.openNow != nil)
        // Past the slot by more than 14 days: overdue.
        let late = s.status(now: Self.at("2027-01-17T10:00:01Z"), lastDrill: lastQ4)
        #expect(late.state == .overdue && late.overdueAt == Self.at("2027-01-16T10:00:00Z"))
        // Drilled early in Q1 (before the slot): next due is Q2's.
        let early = s.status(now: Self.at("2027-01-05T00:00:00Z"), lastDrill: Self.at("2027-01-01T20:00:00Z"))
        #expect(early.state == .scheduled && early.next.periodStart == LocalDate(2027, 4, 1))
        // A missed quarter is overdue even before this quarter's window.
        let missed = s.status(now: Self.at("2027-04-02T00:00:00Z"), lastDrill: lastQ4)
        #expect(missed.state == .overdue && missed.next.periodStart == LocalDate(2027, 1, 1))
        // Never drilled since the start: due from the first slot.
        let never = s.status(now: Self.at("2026-01-03T10:30:00Z"), lastDrill: nil)
        #expect(never.neverDrilled && never.state == .due && never.next.day == LocalDate(2026, 1, 3))
    }

    @Test func upcomingSlotsBetweenTwoDates() {
        let s = DrillSchedule(every: Recurrence(.quarter), window: Self.window("Sat 02:00-04:00"), timeZone: Self.zone("America/Los_Angeles"))
        let slots = s.slots(from: Self.at("2027-01-01T00:00:00Z"), until: Self.at("2027-12-31T00:00:00Z"))
        #expect(slots.map(\.day) == [LocalDate(2027, 1, 2), LocalDate(2027, 4, 3), LocalDate(2027, 7, 3), LocalDate(2027, 10, 2)])
        let allDay = DrillSchedule(every: Recurrence(.month), start: LocalDate(2027, 1, 1))
        let d = allDay.slot(0)
        #expect(d.allDay && d.start == Self.at("2027-01-01T00:00:00Z") && d.end == Self.at("2027-01-02T00:00:00Z"))
    }

    func service(_ name: String, _ window: String, hosts: [String], zone: String = "America/Los_Angeles") -> ScheduledService {
        ScheduledService(service: name, name: name, playbook: "\(name).yml", criticality: "high",
                         schedule: DrillSchedule(every: Recurrence(.quarter), window: Self.window(window), timeZone: Self.zone(zone)),
                         scheduleText: window, hosts: hosts, endpoints: hosts.map { "\($0).example:22" }, steps: [], restoreSteps: [],
                         rtoSeconds: nil, rpoSeconds: nil, command: "firedrill run \(name).yml --yes")
    }

    @Test func drillsThatOverlapOnASharedHostAreConflicts() {
        let from = Self.at("2027-01-01T00:00:00Z"), until = Self.at("2027-02-01T00:00:00Z")
        let utc = Self.zone("UTC")
        // db and portal share app1, windows overlap (02:00-04:00 and 03:00-05:00): both flagged.
        let db = service("db", "Sat 02:00-04:00", hosts: ["db1", "app1"])
        let portal = service("portal", "Sat 03:00-05:00", hosts: ["app1", "app2"])
        let plan = DrillCalendar.plan([db, portal], from: from, until: until, viewer: utc)
        #expect(plan.count == 2 && plan.allSatisfy { $0.conflicts.count == 1 && $0.conflicts[0].contains("app1") })
        // Overlapping windows on other hosts, or the same host at other times: no conflict.
        let dns = service("dns", "Sat 02:00-04:00", hosts: ["dns1"])
        let later = service("later", "Sat 04:00-05:00", hosts: ["db1"])
        #expect(DrillCalendar.plan([db, dns, later], from: from, until: until, viewer: utc).allSatisfy { $0.conflicts.isEmpty })
        // The same hour in two zones is not the same time.
        let london = service("london", "Sat 02:00-04:00", hosts: ["db1"], zone: "Europe/London")
        #expect(DrillCalendar.plan([db, london], from: from, until: until, viewer: utc).allSatisfy { $0.conflicts.isEmpty })
        // UIDs are the service and the period: the same from any range.
        let wider = DrillCalendar.plan([db], from: Self.at("2026-06-01T00:00:00Z"), until: Self.at("2027-06-01T00:00:00Z"), viewer: utc)
        #expect(wider.contains { $0.uid == plan.first { $0.service == "db" }?.uid })
    }

    @Test func icsFoldsAtSeventyFiveOctetsAndEscapesText() {
        let long = "DESCRIPTION:" + String(repeating: "é", count: 100)
        let folded = ICSWriter.fold(long)
        for line in folded.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 75) }
        #expect(folded.replacingOccurrences(of: "\r\n ", with: "") == long, "unfolding gives the line back")
        #expect(ICSWriter.text("a, b; c\\d\ne") == "a\\, b\\; c\\\\d\\ne")
    }

    @Test func anOverdueServiceCountsZeroInTheScorecard() {
        let svc = Scorecard.Service(service: "ehr", name: "EHR", playbook: "ehr.yml", criticality: .critical, rtoObjectiveSeconds: 300, rpoObjectiveSeconds: nil,
                                    playbookSHA256: "p", inventorySHA256: "i")
        let last = LatestRun(service: "ehr", id: "r", result: "passed", started: "2026-10-01T00:00:00.000Z", score: 95, grade: "A", rules: Score.rules,
                             playbookSHA256: "p", inventorySHA256: "i", journal: "/j", rtoSeconds: 60, rtoObjectiveSeconds: 300, rpoSeconds: nil,
                             rpoObjectiveSeconds: nil, rpoFound: nil, components: [], openActions: 0, lastPassedRun: "r", lastPassedPlaybookSHA256: "p",
                             lastPassedInventorySHA256: "i")
        var card = Scorecard(services: [svc], latest: [last])
        #expect(card.readiness == 95)
        card.schedule(["ehr": .init(nextDue: "2027-01-02 02:00 -08:00", overdue: true)])
        #expect(card.readiness == 0 && card.services[0].overdue == true && card.services[0].nextDue == "2027-01-02 02:00 -08:00")
        #expect(card.services[0].reason.contains("overdue"))
    }

    @Test func periodsSharingAWindowGiveOneDrillAndLongBlackoutsAreJumped() {
        // Every 2 days but a window once a week: one drill per Saturday, without a false blackout note.
        let s = DrillSchedule(every: Recurrence(.day, 2), window: Self.window("Sat 02:00-03:00"), start: LocalDate(2027, 1, 1))
        let slots = s.slots(from: Self.at("2027-01-01T00:00:00Z"), until: Self.at("2027-01-31T00:00:00Z"))
        #expect(slots.map(\.day) == [LocalDate(2027, 1, 2), LocalDate(2027, 1, 9), LocalDate(2027, 1, 16), LocalDate(2027, 1, 23), LocalDate(2027, 1, 30)])
        #expect(slots.allSatisfy { !$0.notes.contains { $0.contains("blackout") } })
        // A blackout of years: the first drill after it, never one inside it.
        let frozen = DrillSchedule(every: Recurrence(.quarter), window: Self.window("Sat 02:00-03:00"),
                                   blackouts: [Blackout(from: LocalDate(2027, 1, 1), to: LocalDate(2031, 12, 31))])
        let during = frozen.slots(from: Self.at("2027-01-01T00:00:00Z"), until: Self.at("2028-01-01T00:00:00Z"))
        #expect(during.isEmpty || during.allSatisfy { $0.day > LocalDate(2031, 12, 31) })
        #expect(frozen.slot(4).day == LocalDate(2032, 1, 3) && frozen.slot(4).notes.contains { $0.contains("2027-01-01..2031-12-31") })
    }

    @Test func aWindowInsideTheSkippedHourDoesNotExistThatDay() {
        let s = DrillSchedule(every: Recurrence(.year), window: Self.window("Sun 02:00-02:30"), timeZone: Self.zone("America/Los_Angeles"),
                              start: LocalDate(2027, 3, 14))
        let slot = s.slot(0)
        #expect(slot.day == LocalDate(2027, 3, 21) && slot.end.timeIntervalSince(slot.start) == 1800)
        #expect(slot.notes.contains { $0.contains("did not exist on 2027-03-14") })
    }
}
