import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Notices when this process did not run: a thread of its own wakes every `period` on
/// `CLOCK_BOOTTIME` (which counts a suspended machine too) and records every wake that came more
/// than `threshold` late — the process was stopped (SIGSTOP, Ctrl-Z), the machine or VM was
/// suspended, or it was starved of CPU. A verify asks it whether its last sample can be trusted.
///
/// The thread starts on first use and lives as long as the process; a wake costs microseconds.
public final class Heartbeat: @unchecked Sendable {
    public static let shared = Heartbeat()

    public let period: Duration
    public let threshold: Duration
    private let lock = NSLock()
    private var lastTick: UInt64
    /// Every stall seen, in order, as lengths in nanoseconds.
    private var stalls: [UInt64] = []

    public init(period: Duration = .milliseconds(100), threshold: Duration = .seconds(1)) {
        self.period = period
        self.threshold = threshold
        lastTick = Heartbeat.clock()
        // The thread keeps its heartbeat for the life of the process.
        let thread = Thread { self.beat() }
        thread.name = "heartbeat"
        thread.stackSize = 64 * 1024
        thread.start()
    }

    static func clock() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private static func nanoseconds(_ d: Duration) -> UInt64 {
        UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
    }

    private func beat() {
        let step = Heartbeat.nanoseconds(period)
        var ts = timespec(tv_sec: Int(step / 1_000_000_000), tv_nsec: Int(step % 1_000_000_000))
        while true {
            _ = nanosleep(&ts, nil)
            ts = timespec(tv_sec: Int(step / 1_000_000_000), tv_nsec: Int(step % 1_000_000_000))
            let now = Heartbeat.clock()
            lock.withLock {
                let late = now &- lastTick
                if late > step + Heartbeat.nanoseconds(threshold) { stalls.append(late - step) }
                lastTick = now
            }
        }
    }

    /// A point to ask "since then?" from: how many stalls were seen so far.
    public func mark() -> Int {
        lock.withLock { stalls.count }
    }

    /// The longest time the process did not run since `mark`, if it was longer than the
    /// threshold; nil when it ran throughout. A stall that just ended (the heartbeat thread has
    /// not woken since) counts too.
    public func stalled(since mark: Int) -> Duration? {
        let now = Heartbeat.clock()
        return lock.withLock {
            let step = Heartbeat.nanoseconds(period)
            var longest = stalls.dropFirst(mark).max() ?? 0
            let pending = now &- lastTick
            if pending > step + Heartbeat.nanoseconds(threshold) { longest = max(longest, pending - step) }
            return longest == 0 ? nil : .nanoseconds(Int64(longest))
        }
    }
}
