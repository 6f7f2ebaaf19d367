import Testing
@testable import FiredrillCore

/// The verify rule: consecutive passing samples across the hold window, flaps restart it, and
/// the last sample falls on the deadline. Times are offsets in seconds; no clock.
@Suite struct HoldWindowTests {
    func s(_ x: Double) -> Duration { .milliseconds(Int64(x * 1000)) }

    @Test func passesOnlyAfterHoldingForTheWholeWindow() {
        var w = HoldWindow(hold: s(3), within: s(20))
        #expect(w.sample(at: s(1), passing: true) == .holding(since: s(1)))
        #expect(w.sample(at: s(2.5), passing: true) == .holding(since: s(1)))
        #expect(w.sample(at: s(4), passing: true) == .held(since: s(1)), "RTO ends at the first sample of the run that held")
    }

    @Test func aFlapInsideTheWindowRestartsIt() {
        var w = HoldWindow(hold: s(3), within: s(20))
        _ = w.sample(at: s(1), passing: true)
        #expect(w.sample(at: s(2), passing: false) == .flapped(since: s(1)))
        #expect(w.sample(at: s(3), passing: false) == .failing)
        #expect(w.sample(at: s(4), passing: true) == .holding(since: s(4)))
        #expect(w.sample(at: s(7), passing: true) == .held(since: s(4)))
    }

    /// A service flapping 0.7 s up / 0.7 s down, sampled as the runner samples, never holds 3 s.
    @Test(arguments: [0.0, 0.1, 0.35, 0.6, 0.69])
    func aServiceFlappingEverySecondOrSoNeverPasses(_ phase: Double) {
        var w = HoldWindow(hold: s(3), within: s(30))
        var t = s(0), pause = s(0.2)
        func up(_ t: Duration) -> Bool { Int((DurationText.seconds(t) + phase) / 0.7) % 2 == 0 }
        var held = false
        while true {
            if case .held = w.sample(at: t, passing: up(t)) { held = true; break }
            guard let next = w.next(after: t, pause: pause) else { break }
            t = next
            pause = min(pause * 3 / 2, s(2))
        }
        #expect(!held)
    }

    @Test func samplesAtLeastFourTimesPerWindowWhileHolding() {
        var w = HoldWindow(hold: s(4), within: s(60))
        _ = w.sample(at: s(10), passing: true)
        #expect(w.next(after: s(10), pause: s(2)) == s(11), "hold/4 = 1 s, shorter than the 2 s back-off")
        // Never past the end of the window: the sample that can complete it is taken on time.
        _ = w.sample(at: s(13.5), passing: true)
        #expect(w.next(after: s(13.5), pause: s(2)) == s(14))
    }

    @Test func theLastSampleIsTakenAtTheDeadline() {
        let w = HoldWindow(hold: s(3), within: s(20))
        #expect(w.next(after: s(18.5), pause: s(2)) == s(20), "not left unchecked because the next pause ends past it")
        #expect(w.next(after: s(20), pause: s(2)) == nil)
        #expect(w.next(after: s(10), pause: s(2)) == s(12))
    }

    @Test func holdZeroPassesOnOneSample() {
        var w = HoldWindow(hold: .zero, within: s(10))
        #expect(w.sample(at: s(1), passing: true) == .held(since: s(1)))
    }
}
