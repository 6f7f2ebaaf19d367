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
        var w = HoldWindow(hold: s(4), within: s(60), gapSlack: s(5))
        _ = w.sample(at: s(10), passing: true)
        #expect(w.next(after: s(10), pause: s(2)) == s(11), "hold/4 = 1 s, shorter than the 2 s back-off")
        // Never past the end of the window: the sample that can complete it is taken on time.
        _ = w.sample(at: s(13.5), passing: true)
        #expect(w.next(after: s(13.5), pause: s(2)) == s(14))
    }

    @Test func theLastSampleIsTakenAtTheDeadline() {
        var w = HoldWindow(hold: s(3), within: s(20))
        #expect(w.next(after: s(18.5), pause: s(2)) == s(20), "not left unchecked because the next pause ends past it")
        #expect(w.next(after: s(20), pause: s(2)) == nil)
        #expect(w.next(after: s(10), pause: s(2)) == s(12))
    }

    @Test func holdZeroPassesOnOneSample() {
        var w = HoldWindow(hold: .zero, within: s(10))
        #expect(w.sample(at: s(1), passing: true) == .held(since: s(1)))
    }
}

/// A controller paused between samples, and samples that come after the deadline.
@Suite struct HoldWindowTimeTests {
    func s(_ x: Double) -> Duration { .milliseconds(Int64(x * 1000)) }

    /// SIGSTOP for 20 s inside an 8 s hold: the two samples around the pause do not make a hold.
    @Test func aGapBetweenTwoSamplesBreaksTheHold() {
        var w = HoldWindow(hold: s(8), within: s(60), gapSlack: s(4))
        #expect(w.sample(at: s(0.1), passing: true) == .holding(since: s(0.1)))
        #expect(w.next(after: s(0.1), pause: s(0.2)) == s(0.3))
        // The controller was stopped; the next sample comes 20 s late, still passing.
        #expect(w.sample(at: s(20.3), passing: true) == .holding(since: s(20.3)), "without the gap rule this would be held (20.2 s ≥ 8 s)")
        #expect(w.gap == s(20.2))
        // Samples on time from there hold once they span the window.
        var t = s(20.3)
        var verdict = HoldWindow.Verdict.holding(since: t)
        while case .holding = verdict, let n = w.next(after: t, pause: s(2)) {
            t = n
            verdict = w.sample(at: t, passing: true)
        }
        #expect(verdict == .held(since: s(20.3)) && t >= s(28.3))
    }

    @Test func aSampleOnTimeIsNoGap() {
        var w = HoldWindow(hold: s(3), within: s(20), gapSlack: s(1))
        _ = w.sample(at: s(1), passing: true)
        let due = w.next(after: s(1), pause: s(0.5))!
        _ = w.sample(at: due + s(0.9), passing: true)
        #expect(w.gap == nil, "a check that takes a while is not a gap")
    }

    /// Stopped while a sample was out: the sample started on time, but what it says may be from
    /// before the pause; it breaks the window and does not start one.
    @Test func aSampleAroundAPauseIsStale() {
        var w = HoldWindow(hold: s(3), within: s(60), longestSample: s(6))
        _ = w.sample(at: s(1), passing: true)
        let due = w.next(after: s(1), pause: s(0.5))!
        #expect(w.sample(at: due + s(2), started: due, passing: true, stalled: s(2)) == .failing)
        #expect(w.gap == s(2))
        #expect(w.sample(at: s(5), passing: true) == .holding(since: s(5)), "the next sample starts the window")
        // Longer than its checks may take: only a pause does that, heartbeat or not.
        var v = HoldWindow(hold: s(3), within: s(60), longestSample: s(6))
        _ = v.sample(at: s(1), passing: true)
        let d = v.next(after: s(1), pause: s(0.5))!
        #expect(v.sample(at: d + s(15), started: d, passing: true) == .failing && v.gap == s(15))
    }

    /// Recording 500 results on a slow disk took 2 s: the next sample starts after that, on
    /// time from then on, and is no gap.
    @Test func recordingTheResultsIsNoGap() {
        var w = HoldWindow(hold: s(5), within: s(60))
        _ = w.sample(at: s(1), passing: true)
        #expect(w.next(after: s(1), now: s(3), pause: s(0.5)) == s(1.5), "the schedule is kept")
        #expect(w.sample(at: s(3.3), started: s(3.2), passing: true) == .holding(since: s(1)) && w.gap == nil)
    }

    /// A slow check within its timeout is no gap: its sample started on time.
    @Test func aSlowCheckWithinItsTimeoutIsNoGap() {
        var w = HoldWindow(hold: s(3), within: s(60), longestSample: s(21))
        _ = w.sample(at: s(1), passing: true)
        let due = w.next(after: s(1), pause: s(0.5))!
        #expect(w.sample(at: due + s(4), started: due, passing: true) == .held(since: s(1)) && w.gap == nil)
    }

    /// hold 0s, within 8s: the only passing sample came 12 s in: too late.
    @Test func aSampleAfterTheDeadlineNeverPasses() {
        var w = HoldWindow(hold: .zero, within: s(8))
        #expect(w.sample(at: s(0.2), passing: false) == .failing)
        #expect(w.sample(at: s(12), passing: true) == .failing)
        #expect(w.next(after: s(12), pause: s(1)) == nil)
        var on = HoldWindow(hold: .zero, within: s(8))
        #expect(on.sample(at: s(8), passing: true) == .held(since: s(8)), "the sample at the deadline still counts")
    }
}
