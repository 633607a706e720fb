import Kube9Model

/// Where an object lives: its resource (storage name, e.g. "pods" or "leases.coordination.k8s.io"),
/// namespace ("" for cluster-scoped kinds) and name.
public struct ObjectKey: Hashable, Sendable, CustomStringConvertible {
    public var resource: String
    public var namespace: String
    public var name: String

    public init(resource: String, namespace: String, name: String) {
        self.resource = resource
        self.namespace = namespace
        self.name = name
    }

    public var description: String { namespace.isEmpty ? "\(resource)/\(name)" : "\(resource)/\(namespace)/\(name)" }
}

/// One stored version of an object: its JSON (with `metadata.resourceVersion` set to
/// `revision`) and the same JSON already encoded, so reads never re-serialize.
public final class StoredObject: Sendable {
    public let key: ObjectKey
    /// The store revision that wrote this version; equals `metadata.resourceVersion`.
    public let revision: Int64
    public let object: JSON
    /// `object` encoded as compact JSON.
    public let bytes: [UInt8]

    public init(key: ObjectKey, revision: Int64, object: JSON, bytes: [UInt8]) {
        self.key = key
        self.revision = revision
        self.object = object
        self.bytes = bytes
    }

    /// Builds a stored version of `object` at `revision`, stamping the resourceVersion.
    public convenience init(key: ObjectKey, revision: Int64, stamping object: JSON) {
        var stamped = object
        stamped[path: ["metadata", "resourceVersion"]] = .string(String(revision))
        self.init(key: key, revision: revision, object: stamped, bytes: stamped.serialized())
    }
}

/// What a transform decides for one key.
public enum Mutation: Sendable {
    /// Write this object (create when absent, update when present).
    case put(JSON)
    /// Delete the object (a no-op error if absent: the transform should check).
    case delete
    /// Change nothing.
    case none
}

/// What a mutation did.
public struct MutationResult: Sendable {
    public enum Outcome: Sendable { case created, updated, deleted, unchanged }
    public var outcome: Outcome
    /// The object after the change; for a delete, the last version (stamped with the delete's revision).
    public var object: StoredObject?
    /// The object before the change.
    public var previous: StoredObject?

    public init(outcome: Outcome, object: StoredObject?, previous: StoredObject?) {
        self.outcome = outcome
        self.object = object
        self.previous = previous
    }
}

/// A change seen by a watch.
public struct StoreEvent: Sendable {
    public enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK" }
    public var kind: Kind
    /// The object after the change (for deletes, its last state stamped with the delete's revision).
    /// For bookmarks, nil.
    public var object: StoredObject?
    /// The object before the change (modified and deleted events).
    public var previous: StoredObject?
    /// The revision of the change, or for a bookmark the revision every earlier event has been sent up to.
    public var revision: Int64
}

/// A live watch: `events` yields changes in revision order until `cancel()` or the store closes.
/// A watcher that falls more than `bufferLimit` events behind is ended; it must re-list.
public final class WatchSubscription: Sendable {
    public let events: AsyncStream<StoreEvent>
    private let onCancel: @Sendable () -> Void

    init(events: AsyncStream<StoreEvent>, onCancel: @escaping @Sendable () -> Void) {
        self.events = events
        self.onCancel = onCancel
    }

    /// Stops the watch; `events` finishes.
    public func cancel() { onCancel() }
}

/// The filter a watch applies inside the store: resource, optional namespace, and a
/// predicate over each event (for selectors; it sees both the new and previous object).
public struct WatchFilter: Sendable {
    public var resource: String
    public var namespace: String?
    public var predicate: (@Sendable (StoreEvent) -> Bool)?
    public var wantsBookmarks: Bool

    public init(resource: String, namespace: String?, predicate: (@Sendable (StoreEvent) -> Bool)? = nil, wantsBookmarks: Bool = false) {
        self.resource = resource
        self.namespace = namespace
        self.predicate = predicate
        self.wantsBookmarks = wantsBookmarks
    }
}

/// Failures of the store itself (not of the API request).
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// The requested watch revision is older than the retained history.
    case compacted(requested: Int64, oldest: Int64)
    /// The store has been closed.
    case closed
    /// The database failed; the message says how.
    case database(String)

    public var description: String {
        switch self {
        case .compacted(let requested, let oldest): return "too old resource version: \(requested) (\(oldest))"
        case .closed: return "the store is closed"
        case .database(let message): return message
        }
    }
}

/// The storage contract the API server depends on. Reads are served from memory; every
/// mutation is durable before it returns. One global revision orders all changes.
public protocol Store: Sendable {
    /// The revision of the latest committed change.
    var currentRevision: Int64 { get }
    /// The oldest revision a watch may resume from.
    var compactedRevision: Int64 { get }
    /// The current version of one object.
    func get(_ key: ObjectKey) -> StoredObject?
    /// All objects of a resource (in one namespace, or all when nil), sorted by namespace and
    /// name, and the revision the list is consistent with.
    func list(resource: String, namespace: String?) -> (objects: [StoredObject], revision: Int64)
    /// How many objects of a resource are stored.
    func count(resource: String) -> Int
    /// Atomically reads the key's current version, calls `transform`, and commits its decision.
    /// Errors thrown by `transform` are rethrown unchanged and change nothing.
    func mutate(_ key: ObjectKey, _ transform: @escaping @Sendable (StoredObject?) throws -> Mutation) async throws -> MutationResult
    /// Starts a watch. With `fromRevision` nil, first yields an ADDED event per existing object;
    /// otherwise yields every change after that revision (throws `StoreError.compacted` when too old).
    func watch(_ filter: WatchFilter, fromRevision: Int64?) throws -> WatchSubscription
    /// Sends a bookmark with the current revision to every watch that asked for them.
    func broadcastBookmarks()
    /// Finishes in-flight writes, ends all watches and closes the database.
    func close() async
}
