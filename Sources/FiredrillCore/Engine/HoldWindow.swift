/// The rule that makes a verify pass: every check as expected in consecutive samples across a
/// `hold` window, inside `within`. Pure — times are offsets from the verify's start — so every
/// case (a flap, a short window, the last sample at the deadline, a paused controller, a sample
/// that comes too late) is a unit test.
///
/// - Samples come every `pause` (growing from the poll interval), but at least four times per
///   hold window while the checks hold, so a flap inside the window is seen.
/// - A failing sample while holding is a *flap*: the window starts again at the next passing one.
/// - A sample that *starts* more than `gapSlack` (1 s) after it was due is a *gap* (the
///   controller was paused — SIGSTOP, a laptop lid, a VM suspended): nothing was looked at in
///   between, so the window starts again; the sample itself may start the next one.
/// - A sample during which (or before which, since the previous one) the controller was seen
///   not running (`stalled`, from a heartbeat) is *stale*: what it says may be from before the
///   pause. It breaks the window and does not start one. So is a sample that took longer than
///   its checks may (`longestSample`: the slowest check's timeout + 1 s), which only a pause can
///   cause. A slow check within its timeout is neither: its sample starts on time and the
///   controller keeps running while it waits.
/// - A sample started after `within` never passes: it is too late to show anything in time.
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
    /// How late a sample may start (after the time `next` gave) before it is a gap.
    public let gapSlack: Duration
    public private(set) var since: Duration?
    /// When the last sample was taken, and when the next one was due.
    public private(set) var last: Duration?
    private var due: Duration?
    /// The time nothing was seen before the last sample, if it came after a gap or a stall.
    public private(set) var gap: Duration?

    /// How long one sample may take (its slowest check's timeout, and a second).
    public let longestSample: Duration?

    public init(hold: Duration, within: Duration, gapSlack: Duration = .seconds(1), longestSample: Duration? = nil) {
        self.hold = hold; self.within = within; self.gapSlack = gapSlack; self.longestSample = longestSample
    }

    /// A sample that ended at `t`, having started at `started` (nil: at `t`); `stalled`: how long
    /// the controller was seen not running since the previous sample ended (nil: it ran).
    public mutating func sample(at t: Duration, started: Duration? = nil, passing: Bool, stalled: Duration? = nil) -> Verdict {
        defer { last = t; due = nil }
        gap = nil
        let start = started ?? t
        if let due, let last, start - due > gapSlack {
            // Nothing was looked at for a while: whatever held before does not vouch for the time between.
            gap = start - last
            since = nil
        }
        let overran = longestSample.flatMap { t - start > $0 ? t - start : nil }
        if let stale = stalled ?? overran {
            // The controller did not run: this sample's answer may be from before the pause.
            gap = max(gap ?? .zero, stale)
            since = nil
            return .failing
        }
        // Started too late to show anything within the deadline.
        guard passing, start <= within else {
            defer { since = nil }
            return since.map { .flapped(since: $0) } ?? .failing
        }
        let begin = since ?? t
        since = begin
        return t - begin >= hold ? .held(since: begin) : .holding(since: begin)
    }

    /// When to take the next sample after one at `t`, given the current back-off `pause`; nil
    /// when the window is over (the last sample was at the deadline).
    /// `now` (when the sample's results are recorded, after `t`): a sample due before then is
    /// only late from then on — recording is not a pause.
    public mutating func next(after t: Duration, now: Duration? = nil, pause: Duration) -> Duration? {
        var wait = pause
        if let since {
            wait = min(wait, max(hold / 4, .milliseconds(50)))
            let end = since + hold
            if end > t { wait = min(wait, end - t) }
        }
        let at = t + wait
        let ready = max(now ?? t, t)
        if at <= within { due = max(at, ready); return at }
        if t < within { due = max(within, ready); return within }
        return nil
    }
}
