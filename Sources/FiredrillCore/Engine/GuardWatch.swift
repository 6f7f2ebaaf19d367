/// When a guard trips, from its samples: pure (instants in, verdicts out), so the rule is a unit
/// test. A guard is *bad* in a sample when it failed — or could not be checked and the playbook
/// says `on_unknown: abort`. It trips when it has been bad in every sample from its first bad one
/// for at least `hold` (`hold: 0s`: at the first bad sample). Samples that are not evidence of a
/// steady run of failures (the controller was paused around one, or they came further apart than
/// `maxGap`) start the run again from the later one: a guard never trips on what it did not see.
struct GuardWatch: Sendable {
    struct Trip: Sendable, Equatable {
        /// Index of the guard (in the plan's order) that tripped.
        var index: Int
        /// Its first bad sample of the run.
        var since: Duration
        var samples: Int
    }

    struct Verdict: Sendable, Equatable {
        /// Guards whose status is new (their first sample, or a change): journaled.
        var changed: [Int]
        var trip: Trip?
    }

    let hold: Duration
    let onUnknown: GuardSetting.OnUnknown
    let maxGap: Duration
    private var last: [CheckOutcome.Status?]
    private var since: [Duration?]
    private var count: [Int]
    private var lastAt: Duration?

    init(guards: Int, hold: Duration, onUnknown: GuardSetting.OnUnknown, maxGap: Duration) {
        self.hold = hold; self.onUnknown = onUnknown; self.maxGap = maxGap
        last = Array(repeating: nil, count: guards)
        since = Array(repeating: nil, count: guards)
        count = Array(repeating: 0, count: guards)
    }

    /// The one rule of a bad sample: failed, or not checkable when the playbook says abort.
    static func isBad(_ status: CheckOutcome.Status, onUnknown: GuardSetting.OnUnknown) -> Bool {
        switch status {
        case .passed: return false
        case .failed: return true
        case .error, .skipped: return onUnknown == .abort
        }
    }

    func isBad(_ status: CheckOutcome.Status) -> Bool { Self.isBad(status, onUnknown: onUnknown) }

    /// One sample of every guard, taken at `t`; `stalled`: the controller did not run around it.
    mutating func sample(at t: Duration, _ statuses: [CheckOutcome.Status], stalled: Bool) -> Verdict {
        let broken = stalled || lastAt.map { t - $0 > maxGap } ?? false
        lastAt = t
        var verdict = Verdict(changed: [], trip: nil)
        for (i, status) in statuses.enumerated() where i < last.count {
            if last[i] != status { verdict.changed.append(i) }
            last[i] = status
            guard isBad(status) else { since[i] = nil; count[i] = 0; continue }
            if since[i] == nil || broken { since[i] = t; count[i] = 0 }
            count[i] += 1
            if verdict.trip == nil, let s = since[i], t - s >= hold {
                verdict.trip = Trip(index: i, since: s, samples: count[i])
            }
        }
        return verdict
    }
}
