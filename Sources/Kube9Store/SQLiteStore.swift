import DequeModule
import Dispatch
import Foundation
import Kube9Model
import Logging
import Synchronization

/// How the SQLite store is set up.
public struct SQLiteStoreOptions: Sendable {
    /// The database file; its directory must exist.
    public var path: String
    /// How many changes the in-memory history keeps for watch resume; older revisions get 410.
    public var historyLimit: Int
    /// `FULL` (an acknowledged write survives power loss) or `NORMAL` (survives a process crash).
    public var synchronous: String
    /// The most mutations one transaction (one fsync) may carry.
    public var maximumBatch: Int
    /// Events a watcher may fall behind before it is ended.
    public var watcherBufferLimit: Int
    /// The most bytes (of serialized objects) the in-memory history keeps, whatever its count:
    /// a stream of writes to large objects cannot pin unbounded memory.
    public var historyByteLimit = 128 << 20
    /// Changes objects' bytes on their way to and from the database (encryption at rest); the
    /// cache and history keep the plain bytes.
    public var transformer: (any StorageTransformer)? = nil

    public init(path: String, historyLimit: Int = 10_000, synchronous: String = "FULL", maximumBatch: Int = 1_000, watcherBufferLimit: Int = 100_000) {
        self.path = path
        self.historyLimit = historyLimit
        self.synchronous = synchronous
        self.maximumBatch = maximumBatch
        self.watcherBufferLimit = watcherBufferLimit
    }
}

/// The embedded store: a kine-style log table in SQLite (WAL, synchronous=FULL), all live
/// objects and recent history in memory, and one writer thread that commits queued mutations
/// in groups so that concurrent writers share an fsync.
///
/// ```
/// mutate() ─▶ pending queue ─▶ writer thread: transform each against cache+batch overlay
///                                  ─▶ one INSERT per change, COMMIT (fsync)
///                                  ─▶ apply to cache, append history, fan out to watchers
///                                  ─▶ resume callers
/// ```
public final class SQLiteStore: Store {
    struct Watcher {
        var filter: WatchFilter
        var continuation: AsyncStream<StoreEvent>.Continuation
    }

    enum Work {
        case mutation(ObjectKey, @Sendable (StoredObject?) throws -> Mutation, CheckedContinuation<MutationResult, any Error>)
        case maintenance(@Sendable () -> Void)
    }

    struct State {
        /// resource → namespace → name → object.
        var buckets: [String: [String: [String: StoredObject]]] = [:]
        var revision: Int64 = 0
        var compactedRevision: Int64 = 0
        var history: Deque<StoreEvent> = []
        /// Serialized bytes of the objects in `history`.
        var historyBytes = 0
        var watchers: [Int: Watcher] = [:]
        var nextWatcherID = 0
        var pending: [Work] = []
        var closed = false
        var lastCompactionRevision: Int64 = 0

        func object(_ key: ObjectKey) -> StoredObject? { buckets[key.resource]?[key.namespace]?[key.name] }
    }

    let state = Mutex(State())
    let wakeWriter = DispatchSemaphore(value: 0)
    let writerDone = DispatchSemaphore(value: 0)
    let options: SQLiteStoreOptions
    let logger: Logger
    // The connection is touched only by the writer thread after init.
    nonisolated(unsafe) let connection: SQLiteConnection

    /// Opens or creates the store at `options.path` and loads it into memory.
    public init(options: SQLiteStoreOptions, logger: Logger = Logger(label: "kube9.store")) throws {
        self.options = options
        self.logger = logger
        connection = try SQLiteConnection(path: options.path)
        try connection.execute("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=\(options.synchronous == "NORMAL" ? "NORMAL" : "FULL");
            PRAGMA busy_timeout=5000;
            PRAGMA wal_autocheckpoint=1000;
            PRAGMA journal_size_limit=67108864;
            CREATE TABLE IF NOT EXISTS log (
                revision INTEGER PRIMARY KEY,
                resource TEXT NOT NULL,
                namespace TEXT NOT NULL,
                name TEXT NOT NULL,
                kind INTEGER NOT NULL,
                data BLOB NOT NULL
            );
            CREATE INDEX IF NOT EXISTS log_key ON log(resource, namespace, name, revision);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)
        try load()
        let thread = Thread { [self] in writerLoop() }
        thread.name = "kube9-store-writer"
        thread.start()
    }

    static func kindCode(_ kind: StoreEvent.Kind) -> Int64 {
        switch kind {
        case .added: return 0
        case .modified: return 1
        case .deleted: return 2
        case .bookmark: return 3
        }
    }

    static func kind(code: Int64) -> StoreEvent.Kind {
        switch code {
        case 0: return .added
        case 1: return .modified
        default: return .deleted
        }
    }

    // MARK: Reads

    public var currentRevision: Int64 { state.withLock { $0.revision } }
    public var compactedRevision: Int64 { state.withLock { $0.compactedRevision } }

    public func get(_ key: ObjectKey) -> StoredObject? { state.withLock { $0.object(key) } }

    public func list(resource: String, namespace: String?) -> (objects: [StoredObject], revision: Int64) {
        let (snapshot, revision): ([String: [String: StoredObject]], Int64) = state.withLock { state in
            let bucket = state.buckets[resource] ?? [:]
            if let namespace { return ([namespace: bucket[namespace] ?? [:]], state.revision) }
            return (bucket, state.revision)
        }
        var objects: [StoredObject] = []
        for (_, byName) in snapshot.sorted(by: { $0.key < $1.key }) {
            for (_, object) in byName.sorted(by: { $0.key < $1.key }) { objects.append(object) }
        }
        return (objects, revision)
    }

    public func count(resource: String) -> Int {
        state.withLock { state in state.buckets[resource]?.values.reduce(0) { $0 + $1.count } ?? 0 }
    }

    // MARK: Writes

    public func mutate(_ key: ObjectKey, _ transform: @escaping @Sendable (StoredObject?) throws -> Mutation) async throws -> MutationResult {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                if state.closed { return false }
                state.pending.append(.mutation(key, transform, continuation))
                return true
            }
            if accepted { wakeWriter.signal() } else { continuation.resume(throwing: StoreError.closed) }
        }
    }

    private func writerLoop() {
        while true {
            wakeWriter.wait()
            let (batch, closed): ([Work], Bool) = state.withLock { state in
                let count = min(state.pending.count, options.maximumBatch)
                let taken = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                if !state.pending.isEmpty { wakeWriter.signal() }
                return (taken, state.closed && state.pending.isEmpty)
            }
            if !batch.isEmpty { process(batch) }
            if closed, batch.isEmpty || state.withLock({ $0.pending.isEmpty }) {
                connection.close()
                writerDone.signal()
                return
            }
        }
    }

    private enum Overlay { case present(StoredObject), absent }

    private func process(_ batch: [Work]) {
        var overlay: [ObjectKey: Overlay] = [:]
        var revision = state.withLock { $0.revision }
        var events: [StoreEvent] = []
        var outcomes: [(CheckedContinuation<MutationResult, any Error>, Result<MutationResult, any Error>)] = []
        var maintenance: [@Sendable () -> Void] = []

        for work in batch {
            switch work {
            case .maintenance(let job):
                maintenance.append(job)
            case .mutation(let key, let transform, let continuation):
                let current: StoredObject?
                switch overlay[key] {
                case .present(let object): current = object
                case .absent: current = nil
                case nil: current = state.withLock { $0.object(key) }
                }
                do {
                    switch try transform(current) {
                    case .put(let object):
                        revision += 1
                        let stored = StoredObject(key: key, revision: revision, stamping: object)
                        overlay[key] = .present(stored)
                        let kind: StoreEvent.Kind = current == nil ? .added : .modified
                        events.append(StoreEvent(kind: kind, object: stored, previous: current, revision: revision))
                        outcomes.append((continuation, .success(MutationResult(outcome: current == nil ? .created : .updated, object: stored, previous: current))))
                    case .delete:
                        guard let current else {
                            outcomes.append((continuation, .success(MutationResult(outcome: .unchanged, object: nil, previous: nil))))
                            continue
                        }
                        revision += 1
                        let stored = StoredObject(key: key, revision: revision, stamping: current.object)
                        overlay[key] = .absent
                        events.append(StoreEvent(kind: .deleted, object: stored, previous: current, revision: revision))
                        outcomes.append((continuation, .success(MutationResult(outcome: .deleted, object: stored, previous: current))))
                    case .none:
                        outcomes.append((continuation, .success(MutationResult(outcome: .unchanged, object: current, previous: current))))
                    }
                } catch {
                    outcomes.append((continuation, .failure(error)))
                }
            }
        }

        if !events.isEmpty {
            do {
                try connection.execute("BEGIN IMMEDIATE")
                for event in events {
                    guard let object = event.object else { continue }
                    try connection.run(
                        "INSERT INTO log (revision, resource, namespace, name, kind, data) VALUES (?, ?, ?, ?, ?, ?)",
                        [.integer(event.revision), .text(object.key.resource), .text(object.key.namespace), .text(object.key.name),
                         .integer(Self.kindCode(event.kind)), .blob(try options.transformer?.toStorage(object.bytes, key: object.key) ?? object.bytes)])
                }
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                logger.error("commit failed", metadata: ["error": "\(error)"])
                let failure = StoreError.database("\(error)")
                for (continuation, _) in outcomes { continuation.resume(throwing: failure) }
                for job in maintenance { job() }
                return
            }
            publish(events: events, overlay: overlay, revision: revision)
        }
        for (continuation, result) in outcomes { continuation.resume(with: result) }
        for job in maintenance { job() }
    }

    private func publish(events: [StoreEvent], overlay: [ObjectKey: Overlay], revision: Int64) {
        state.withLock { state in
            for (key, change) in overlay {
                switch change {
                case .present(let object):
                    state.buckets[key.resource, default: [:]][key.namespace, default: [:]][key.name] = object
                case .absent:
                    state.buckets[key.resource]?[key.namespace]?[key.name] = nil
                    if state.buckets[key.resource]?[key.namespace]?.isEmpty == true {
                        state.buckets[key.resource]?[key.namespace] = nil
                    }
                }
            }
            state.revision = revision
            state.history.append(contentsOf: events)
            for event in events { state.historyBytes += event.object?.bytes.count ?? 0 }
            while state.history.count > options.historyLimit || state.historyBytes > options.historyByteLimit,
                  let dropped = state.history.popFirst() {
                state.historyBytes -= dropped.object?.bytes.count ?? 0
                state.compactedRevision = dropped.revision
            }
            var ended: [Int] = []
            for (id, watcher) in state.watchers {
                for event in events where Self.matches(event, watcher.filter) {
                    if case .dropped = watcher.continuation.yield(event) {
                        ended.append(id)
                        break
                    }
                }
            }
            for id in ended {
                state.watchers.removeValue(forKey: id)?.continuation.finish()
            }
            if state.compactedRevision - state.lastCompactionRevision > Int64(options.historyLimit / 2) {
                state.lastCompactionRevision = state.compactedRevision
                let through = state.compactedRevision
                state.pending.append(.maintenance { [self] in compactDatabase(through: through) })
                wakeWriter.signal()
            }
        }
    }

    static func matches(_ event: StoreEvent, _ filter: WatchFilter) -> Bool {
        guard let object = event.object ?? event.previous else { return true }
        if object.key.resource != filter.resource { return false }
        if let namespace = filter.namespace, object.key.namespace != namespace { return false }
        return filter.predicate?(event) ?? true
    }

    /// Deletes log rows no watch can ask for: superseded or deleted versions at or below `through`.
    /// Runs on the writer thread.
    private func compactDatabase(through revision: Int64) {
        do {
            try connection.execute("BEGIN IMMEDIATE")
            try connection.run("""
                DELETE FROM log WHERE revision <= ?1 AND (kind = 2 OR EXISTS (
                    SELECT 1 FROM log later WHERE later.resource = log.resource AND later.namespace = log.namespace
                    AND later.name = log.name AND later.revision > log.revision))
                """, [.integer(revision)])
            try connection.run("INSERT INTO meta (key, value) VALUES ('compacted', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               [.integer(revision)])
            try connection.execute("COMMIT")
            try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            logger.debug("compacted", metadata: ["through": "\(revision)"])
        } catch {
            try? connection.execute("ROLLBACK")
            logger.error("compaction failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Lifecycle

    public func close() async {
        let watchers: [Watcher] = state.withLock { state in
            if state.closed { return [] }
            state.closed = true
            let all = Array(state.watchers.values)
            state.watchers.removeAll()
            return all
        }
        for watcher in watchers { watcher.continuation.finish() }
        wakeWriter.signal()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [writerDone] in
                writerDone.wait()
                writerDone.signal()  // let a second close() return too
                continuation.resume()
            }
        }
    }

    /// Runs `PRAGMA integrity_check` on a database file (read-only) and returns its answer ("ok" when sound).
    public static func integrityCheck(path: String) throws -> String {
        let connection = try SQLiteConnection(path: path, readOnly: true)
        defer { connection.close() }
        return try connection.scalarText("PRAGMA integrity_check") ?? "no answer"
    }

    /// The highest revision in a database file, read without opening the store.
    public static func maximumRevision(path: String) throws -> Int64 {
        let connection = try SQLiteConnection(path: path, readOnly: true)
        defer { connection.close() }
        return try connection.scalar("SELECT MAX(revision) FROM log") ?? 0
    }
}
