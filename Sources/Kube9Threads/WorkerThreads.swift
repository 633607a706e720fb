import Foundation
import Synchronization

/// A fixed set of threads of their own serving one FIFO queue: where blocking or long work
/// runs instead of Swift's cooperative pool (which has as many threads as cores, 2 here).
/// The number of threads is bounded; the queue is not, so every item put on it must be
/// bounded in time by itself (a Lua budget, a socket timeout).
///
/// ```
/// async caller ── run { … } ──▶ queue ──▶ NAME-N runs it ──▶ continuation resumed
/// deinit of a state ── dispose ──▶ queue (teardown runs on a worker, not on the caller)
/// ```
public final class WorkerThreads: Sendable {
    private struct Queue {
        /// Taken jobs leave nil behind, so that compacting the array inside the lock releases
        /// nothing (a released closure may run a deinit that submits work: the lock must be free).
        var jobs: [(@Sendable () -> Void)?] = []
        var head = 0
        var running = 0
    }

    private let queue = Mutex(Queue())
    private let available = DispatchSemaphore(value: 0)
    /// Threads serving the queue.
    public let threads: Int
    /// The threads' name prefix (shown by debuggers and `top -H`).
    public let name: String

    /// Starts `threads` worker threads that live as long as the process.
    public init(threads: Int, name: String, stackSize: Int = 8 << 20) {
        self.threads = max(1, threads)
        self.name = name
        for index in 0..<self.threads {
            let thread = Thread { [self] in work() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = stackSize
            thread.start()
        }
    }

    private func work() {
        while true {
            available.wait()
            let job = queue.withLock { queue -> (@Sendable () -> Void)? in
                guard queue.head < queue.jobs.count else { return nil }
                let job = queue.jobs[queue.head]
                queue.jobs[queue.head] = nil
                queue.head += 1
                if queue.head >= 1024, queue.head * 2 >= queue.jobs.count {
                    queue.jobs.removeFirst(queue.head)
                    queue.head = 0
                }
                queue.running += 1
                return job
            }
            guard let job else { continue }
            job()
            queue.withLock { $0.running -= 1 }
        }
    }

    /// Queues `job` for a worker thread and returns at once.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        queue.withLock { $0.jobs.append(job) }
        available.signal()
    }

    /// Jobs queued and not yet started.
    public var pending: Int { queue.withLock { $0.jobs.count - $0.head } }

    /// Jobs running now.
    public var running: Int { queue.withLock { $0.running } }

    /// Runs `work` on a worker thread and returns its result to the async caller.
    public func run<Value: Sendable, Failure: Error>(_ work: @escaping @Sendable () throws(Failure) -> Value) async throws(Failure) -> Value {
        let result: Result<Value, Failure> = await withCheckedContinuation { continuation in
            submit {
                do throws(Failure) {
                    continuation.resume(returning: .success(try work()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Releases `values` on a worker thread: their teardown (for a Lua state, lua_close) never
    /// runs on the caller's thread.
    public func dispose(_ values: sending [AnyObject]) {
        let box = DisposalBox(values)
        submit { box.drop() }
    }
}

/// Carries objects to a worker thread to be released there.
private final class DisposalBox: @unchecked Sendable {
    // Confinement: written once at init, emptied once by the worker that runs `drop`.
    private var values: [AnyObject]
    init(_ values: [AnyObject]) { self.values = values }
    func drop() { values.removeAll() }
}
