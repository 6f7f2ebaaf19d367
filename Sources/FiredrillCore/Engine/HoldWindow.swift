/// The rule that makes a verify pass: every check as expected in consecutive samples across a
/// `hold` window, inside `within`. Pure — times are offsets from the verify's start — so every
/// case (a flap, a short window, the last sample at the deadline, a paused controller, a sample
/// that comes too late) is a unit test.
///
/// - Samples come every `pause` (growing from the poll interval), but at least four times per
///   hold window while the checks hold, so a flap inside the window is seen.
/// - A failing sample while holding is a *flap*: the window starts again at the next passing one.
/// - A sample that comes more than `gapSlack` after it was due is a *gap* (the controller was
///   paused — a laptop lid, a VM suspended — or a check hung): nothing was seen in between, so
///   the window starts again; the sample itself may start the next one.
/// - A sample taken after `within` never passes: it is too late to show anything in time.
/// - The last sample is taken at the deadline, never skipped because the next pause would end
///   past it.
public struct HoldWindow: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        /// Held for the whole window: passed. `since` is the first sample of the run that held (RTO ends there).
        case held(since: Duration)
        /// Passing, the window not over yet.
        case holding(since: Duration)
        /// Was passing since `since`, this sample was not: the window starts again.
        case flapped(since: Duration)
        /// Not passing (and was not).
        case failing
    }

    public let hold: Duration
    public let within: Duration
    /// How late a sample may come (after the time `next` gave) before it is a gap.
    public let gapSlack: Duration
    public private(set) var since: Duration?
    /// When the last sample was taken, and when the next one was due.
    public private(set) var last: Duration?
    private var due: Duration?
    /// The gap the last sample came after (from the sample before it), if it came too late.
    public private(set) var gap: Duration?

    public init(hold: Duration, within: Duration, gapSlack: Duration = .seconds(5)) {
        self.hold = hold; self.within = within; self.gapSlack = gapSlack
    }

    public mutating func sample(at t: Duration, passing: Bool) -> Verdict {
        defer { last = t; due = nil }
        gap = nil
        if let due, let last, t - due > gapSlack {
            // Nothing was seen for a while: whatever held before does not vouch for the time between.
            gap = t - last
            since = nil
        }
        // Too late to show anything within the deadline.
        guard passing, t <= within else {
            defer { since = nil }
            return since.map { .flapped(since: $0) } ?? .failing
        }
        let start = since ?? t
        since = start
        return t - start >= hold ? .held(since: start) : .holding(since: start)
    }

    /// When to take the next sample after one at `t`, given the current back-off `pause`; nil
    /// when the window is over (the last sample was at the deadline).
    public mutating func next(after t: Duration, pause: Duration) -> Duration? {
        var wait = pause
        if let since {
            wait = min(wait, max(hold / 4, .milliseconds(50)))
            let end = since + hold
            if end > t { wait = min(wait, end - t) }
        }
        let at = t + wait
        if at <= within { due = at; return at }
        if t < within { due = within; return within }
        return nil
    }
}
