import Synchronization

/// The keys a controller must sync, coalesced: a key marked many times before its sync runs
/// is synced once, and a key is never synced twice at the same time. `after` marks it again
/// later (a minReadySeconds or progress deadline coming due).
public final class WorkQueue: Sendable {
    struct State {
        var dirty: Set<String> = []
        var running: Set<String> = []
        /// Marked while running: synced again after.
        var again: Set<String> = []
        /// Delayed marks: the earliest due time per key (one sleeping task per key at most).
        var due: [String: ContinuousClock.Instant] = [:]
        /// Failures in a row per key (the retry back-off).
        var failures: [String: Int] = [:]
    }

    let state = Mutex(State())
    let wakeStream: AsyncStream<Void>
    let wakeContinuation: AsyncStream<Void>.Continuation

    public init() {
        (wakeStream, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Marks keys for a sync.
    public func add<Keys: Sequence>(_ keys: Keys) where Keys.Element == String {
        let added = state.withLock { state -> Bool in
            var any = false
            for key in keys {
                if state.running.contains(key) { state.again.insert(key) } else if state.dirty.insert(key).inserted { any = true }
            }
            return any
        }
        if added { wakeContinuation.yield() }
    }

    public func add(_ key: String) { add(CollectionOfOne(key)) }

    /// Marks `key` again after `delay` (bounded to an hour). A key already due sooner keeps that time.
    public func add(_ key: String, after delay: Duration) {
        let when = ContinuousClock.now.advanced(by: min(max(delay, .zero), .seconds(3600)))
        let schedule = state.withLock { state -> Bool in
            if let existing = state.due[key], existing <= when { return false }
            state.due[key] = when
            return true
        }
        guard schedule else { return }
        Task {
            try? await Task.sleep(until: when, clock: .continuous)
            let fire = self.state.withLock { state -> Bool in
                guard state.due[key] == when else { return false }
                state.due.removeValue(forKey: key)
                return true
            }
            if fire { self.add(key) }
        }
    }

    /// Marks a key whose sync failed again after a back-off that doubles per failure in a row
    /// (0.5 s up to 60 s).
    public func retry(_ key: String) {
        let failures = state.withLock { state -> Int in
            state.failures[key, default: 0] += 1
            return state.failures[key] ?? 1
        }
        let milliseconds = min(60_000, 500 << min(failures - 1, 7))
        add(key, after: .milliseconds(milliseconds))
    }

    /// A key synced successfully: its back-off starts over.
    public func forget(_ key: String) { _ = state.withLock { $0.failures.removeValue(forKey: key) } }

    /// Runs until cancelled: waits for marked keys and runs `sync` on each, up to `concurrency` at once.
    public func run(concurrency: Int, _ sync: @escaping @Sendable (String) async -> Void) async {
        var iterator = wakeStream.makeAsyncIterator()
        while !Task.isCancelled {
            let batch = state.withLock { state -> [String] in
                let keys = Array(state.dirty)
                state.dirty = []
                state.running.formUnion(keys)
                return keys
            }
            if batch.isEmpty {
                guard await iterator.next() != nil else { return }
                continue
            }
            await withTaskGroup(of: String.self) { group in
                var running = 0
                for key in batch {
                    if running >= max(1, concurrency), let done = await group.next() {
                        running -= 1
                        finish(done)
                    }
                    running += 1
                    group.addTask {
                        await sync(key)
                        return key
                    }
                }
                for await done in group { finish(done) }
            }
        }
    }

    func finish(_ key: String) {
        let again = state.withLock { state -> Bool in
            state.running.remove(key)
            guard state.again.remove(key) != nil else { return false }
            state.dirty.insert(key)
            return true
        }
        if again { wakeContinuation.yield() }
    }

    /// Wakes `run` to end when the surrounding task is cancelled.
    public func close() { wakeContinuation.finish() }
}
