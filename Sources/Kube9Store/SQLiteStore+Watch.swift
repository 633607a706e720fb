import Foundation
import Kube9Model

/// Watches: a subscription per watcher, fed by the writer after each commit; bookmarks.
extension SQLiteStore {
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
}
