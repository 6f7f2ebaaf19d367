import Foundation

/// A thread of its own that runs blocking work in order, so libssh2 and poll(2)
/// never occupy Swift's cooperative thread pool.
final class WorkerThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var stopping = false

    init(name: String, stackSize: Int = 512 * 1024) {
        // The thread holds the worker strongly until `stop()` lets its loop end.
        let thread = Thread { self.loop() }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// Runs `body` on the thread and returns its result.
    func perform<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            submit {
                do throws(E) { continuation.resume(returning: .success(try body())) } catch { continuation.resume(returning: .failure(error)) }
            }
        }
        return try result.get()
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs one blocking call (a `waitpid`, opening a database) on a thread of its own that ends
    /// with it: for work too rare to keep a worker for. The cooperative pool never waits on it.
    static func detached<T: Sendable, E: Error>(_ name: String, _ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let worker = WorkerThread(name: name, stackSize: 256 * 1024)
        defer { worker.stop() }
        return try await worker.perform(body)
    }

    /// Lets the thread end once queued jobs are done.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping { condition.unlock(); return }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// A flag set from any thread (task cancellation) and read by a worker's poll loop.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
