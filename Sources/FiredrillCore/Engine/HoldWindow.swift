/// The rule that makes a verify pass: every check as expected in consecutive samples across a
/// `hold` window, inside `within`. Pure — times are offsets from the verify's start — so every
/// case (a flap, a short window, the last sample at the deadline) is a unit test.
///
/// - Samples come every `pause` (growing from the poll interval), but at least four times per
///   hold window while the checks hold, so a flap inside the window is seen.
/// - A failing sample while holding is a *flap*: the window starts again at the next passing one.
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
    public private(set) var since: Duration?

    public init(hold: Duration, within: Duration) { self.hold = hold; self.within = within }

    public mutating func sample(at t: Duration, passing: Bool) -> Verdict {
        guard passing else {
            defer { since = nil }
            return since.map { .flapped(since: $0) } ?? .failing
        }
        let start = since ?? t
        since = start
        return t - start >= hold ? .held(since: start) : .holding(since: start)
    }

    /// When to take the next sample after one at `t`, given the current back-off `pause`; nil
    /// when the window is over (the last sample was at the deadline).
    public func next(after t: Duration, pause: Duration) -> Duration? {
        var wait = pause
        if let since {
            wait = min(wait, max(hold / 4, .milliseconds(50)))
            let end = since + hold
            if end > t { wait = min(wait, end - t) }
        }
        let at = t + wait
        if at <= within { return at }
        return t < within ? within : nil
    }
}
