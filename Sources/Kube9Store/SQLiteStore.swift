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

    private let state = Mutex(State())
    private let wakeWriter = DispatchSemaphore(value: 0)
    private let writerDone = DispatchSemaphore(value: 0)
    private let options: SQLiteStoreOptions
    private let logger: Logger
    // The connection is touched only by the writer thread after init.
    private nonisolated(unsafe) let connection: SQLiteConnection

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

    private func fromStorage(_ bytes: [UInt8], key: ObjectKey) throws -> [UInt8] {
        guard let transformer = options.transformer else { return bytes }
        return try transformer.fromStorage(bytes, key: key)
    }

    /// Rewrites every stored row of the transformer's resources that is stale (plain, or under a
    /// key that no longer writes), history included, so an old key can leave the key file after one start.
    private func rewriteStaleRows() throws {
        guard let transformer = options.transformer else { return }
        var stale: [(Int64, [UInt8])] = []
        for resource in transformer.resources.sorted() {
            try connection.query("SELECT revision, resource, namespace, name, data FROM log WHERE resource = ?", [.text(resource)]) { row in
                let key = ObjectKey(resource: row.text(1), namespace: row.text(2), name: row.text(3))
                let bytes = row.blob(4)
                guard transformer.isStale(bytes, key: key) else { return }
                stale.append((row.integer(0), try transformer.toStorage(try transformer.fromStorage(bytes, key: key), key: key)))
            }
        }
        guard !stale.isEmpty else { return }
        // secure_delete zeroes the replaced content, and the checkpoint empties the WAL, so the old
        // (plain or old-key) bytes do not stay in the files.
        try connection.execute("PRAGMA secure_delete = ON")
        defer { try? connection.execute("PRAGMA secure_delete = OFF") }
        try connection.execute("BEGIN IMMEDIATE")
        do {
            for (revision, bytes) in stale { try connection.run("UPDATE log SET data = ? WHERE revision = ?", [.blob(bytes), .integer(revision)]) }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
        try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        logger.info("stored rows re-encrypted with the current key", metadata: ["rows": "\(stale.count)"])
    }

    private func load() throws {
        try rewriteStaleRows()
        var loaded = State()
        let compacted = try connection.scalar("SELECT value FROM meta WHERE key = 'compacted'") ?? 0
        let maximum = try connection.scalar("SELECT MAX(revision) FROM log") ?? 0
        loaded.revision = max(compacted, maximum)
        var count = 0
        try connection.query("""
            SELECT l.revision, l.resource, l.namespace, l.name, l.data FROM log l
            JOIN (SELECT MAX(revision) AS latest FROM log GROUP BY resource, namespace, name) m ON l.revision = m.latest
            WHERE l.kind != 2
            """) { row in
            let key = ObjectKey(resource: row.text(1), namespace: row.text(2), name: row.text(3))
            let bytes = try fromStorage(row.blob(4), key: key)
            let object = try JSON.parse(bytes)
            loaded.buckets[key.resource, default: [:]][key.namespace, default: [:]][key.name] =
                StoredObject(key: key, revision: row.integer(0), object: object, bytes: bytes)
            count += 1
        }
        // Recent history, for watches that resume across a restart.
        var floor = max(compacted, loaded.revision - Int64(options.historyLimit))
        var previousByKey: [ObjectKey: StoredObject] = [:]
        try connection.query("""
            SELECT revision, resource, namespace, name, kind, data FROM log WHERE revision > ? ORDER BY revision
            """, [.integer(floor)]) { row in
            let key = ObjectKey(resource: row.text(1), namespace: row.text(2), name: row.text(3))
            let bytes = try fromStorage(row.blob(5), key: key)
            let stored = StoredObject(key: key, revision: row.integer(0), object: try JSON.parse(bytes), bytes: bytes)
            let kind = Self.kind(code: row.integer(4))
            loaded.history.append(StoreEvent(kind: kind, object: stored, previous: previousByKey[key], revision: stored.revision))
            loaded.historyBytes += bytes.count
            while loaded.historyBytes > options.historyByteLimit, let dropped = loaded.history.popFirst() {
                loaded.historyBytes -= dropped.object?.bytes.count ?? 0
                floor = dropped.revision
            }
            previousByKey[key] = kind == .deleted ? nil : stored
        }
        loaded.compactedRevision = floor
        loaded.lastCompactionRevision = floor
        logger.info("store loaded", metadata: ["objects": "\(count)", "revision": "\(loaded.revision)", "path": "\(options.path)"])
        state.withLock { $0 = loaded }
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

    // MARK: Watch

    public func watch(_ filter: WatchFilter, fromRevision: Int64?) throws -> WatchSubscription {
        let (stream, continuation) = AsyncStream<StoreEvent>.makeStream(bufferingPolicy: .bufferingOldest(options.watcherBufferLimit))
        let id: Int = try state.withLock { state in
            if state.closed { throw StoreError.closed }
            if let fromRevision {
                if fromRevision < state.compactedRevision {
                    throw StoreError.compacted(requested: fromRevision, oldest: state.compactedRevision)
                }
                for event in state.history where event.revision > fromRevision && Self.matches(event, filter) {
                    continuation.yield(event)
                }
            } else {
                var initial: [StoredObject] = []
                if let namespace = filter.namespace {
                    initial = Array((state.buckets[filter.resource]?[namespace] ?? [:]).values)
                } else {
                    for byName in (state.buckets[filter.resource] ?? [:]).values { initial.append(contentsOf: byName.values) }
                }
                initial.sort { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }
                for object in initial {
                    let event = StoreEvent(kind: .added, object: object, previous: nil, revision: object.revision)
                    if filter.predicate?(event) ?? true { continuation.yield(event) }
                }
            }
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = Watcher(filter: filter, continuation: continuation)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return WatchSubscription(events: stream) { [weak self] in
            let watcher = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
            (watcher?.continuation ?? continuation).finish()
        }
    }

    public func broadcastBookmarks() {
        state.withLock { state in
            let event = StoreEvent(kind: .bookmark, object: nil, previous: nil, revision: state.revision)
            for watcher in state.watchers.values where watcher.filter.wantsBookmarks {
                watcher.continuation.yield(event)
            }
        }
    }

    /// How many watches are open (for metrics and tests).
    public var watcherCount: Int { state.withLock { $0.watchers.count } }

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
