import Kube9Model
import Kube9Policy
import Kube9Store
import Logging
import Synchronization

/// Kube-9's integer ids for Nodes and Pods, and what each node's pods use: the in-memory
/// index every v0 request reads, so that none of them scans the cluster.
///
/// ```
/// ObjectRegistry.create (pods, nodes) ─▶ assignID: annotation kube9.io/v0-id = next number
/// store watch (nodes, pods) ─────────▶ ids ↔ keys, pod → node, per-node cpu and pod ids
/// v0 handlers ─▶ upsert(after their own writes, so a client reads what it just wrote)
/// ```
/// Ids start at 1 and are never reused. A pod recreated after an eviction keeps the id of the
/// pod it replaces (its annotations are copied); an id already held by another live object is
/// replaced by a new one.
final class V0Index: Sendable {
    /// The annotation holding an object's Kube-9 id.
    static let idAnnotation = "kube9.io/v0-id"

    enum Kind: String, Sendable { case node = "nodes", pod = "pods" }

    struct PodEntry: Sendable, Equatable {
        var node: String
        var cpuMillis: Int64
        var active: Bool
    }

    struct State {
        var next: [Kind: Int64] = [.node: 1, .pod: 1]
        var keys: [Kind: [Int64: ObjectKey]] = [.node: [:], .pod: [:]]
        var ids: [ObjectKey: Int64] = [:]
        /// Pods bound to a node: what they use (finished pods use nothing).
        var pods: [ObjectKey: PodEntry] = [:]
        /// node name → (cpu in use, pod keys on it).
        var usage: [String: (cpuMillis: Int64, pods: Set<ObjectKey>)] = [:]
        var revision: Int64 = 0
    }

    private let state = Mutex(State())
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    static func kind(of key: ObjectKey) -> Kind? { Kind(rawValue: key.resource) }

    /// The id an object carries in its annotation, if it is a positive integer.
    static func annotatedID(_ object: JSON) -> Int64? {
        guard let text = object[path: ["metadata", "annotations", idAnnotation]]?.stringValue,
              text.utf8.count <= 18, let value = Int64(text), value > 0 else { return nil }
        return value
    }

    /// The create hook of pods and nodes: gives the object its id (keeping a carried one that
    /// no other live object holds).
    /// The id is only taken here: the index records which object holds it when the object is
    /// stored (`upsert`), so a create that fails afterwards leaves no trace but a skipped number.
    func assignID(_ object: inout JSON, kind: Kind, key: ObjectKey) {
        let id = state.withLock { state -> Int64 in
            if let carried = Self.annotatedID(object), state.keys[kind]?[carried] == nil || state.keys[kind]?[carried] == key {
                state.next[kind] = max(state.next[kind] ?? 1, carried.saturatingAdd(1))
                return carried
            }
            let id = state.next[kind] ?? 1
            state.next[kind] = id.saturatingAdd(1)
            return id
        }
        object[path: ["metadata", "annotations", Self.idAnnotation]] = .string(String(id))
    }

    /// Gives `id` back when it was the last one taken (a v0 create that Kube-9 would have refused
    /// before storing anything, such as a pod that fits nowhere), so the next object gets it.
    func release(_ kind: Kind, id: Int64) {
        state.withLock { state in
            if state.next[kind] == id.saturatingAdd(1), state.keys[kind]?[id] == nil { state.next[kind] = id }
        }
    }

    /// Loads every node and pod, then follows the store until it closes. Objects created before
    /// ids existed get one now (written back in the background).
    func follow(store: any Store, registry: ObjectRegistry) async {
        let (nodes, revision) = store.list(resource: Kind.node.rawValue, namespace: nil)
        let pods = store.list(resource: Kind.pod.rawValue, namespace: nil).objects
        var missing: [StoredObject] = []
        for object in nodes + pods {
            if Self.annotatedID(object.object) == nil { missing.append(object) }
            upsert(object.key, object.object, revision: object.revision)
        }
        state.withLock { $0.revision = revision }
        for object in missing {
            guard let kind = Self.kind(of: object.key) else { continue }
            var copy = object.object
            assignID(&copy, kind: kind, key: object.key)
            let id = copy[path: ["metadata", "annotations", Self.idAnnotation]] ?? .null
            let strategy: any ResourceStrategy = kind == .node ? NodeStrategy() : PodStrategy()
            _ = try? await registry.patch(strategy, namespace: object.key.namespace, name: object.key.name, patchType: .merge,
                                          patch: ["metadata": ["annotations": [Self.idAnnotation: id]]])
        }
        for kind in [Kind.node, .pod] {
            Task { await self.watch(store: store, kind: kind, from: revision) }
        }
    }

    private func watch(store: any Store, kind: Kind, from revision: Int64) async {
        var from = revision
        while !Task.isCancelled {
            let subscription: WatchSubscription
            do {
                subscription = try store.watch(WatchFilter(resource: kind.rawValue, namespace: nil), fromRevision: from)
            } catch StoreError.closed {
                return
            } catch StoreError.compacted {
                // Fell behind the history: start over from the current state.
                let (objects, now) = store.list(resource: kind.rawValue, namespace: nil)
                for object in objects { upsert(object.key, object.object, revision: object.revision) }
                from = now
                continue
            } catch {
                logger.error("the Kube-9 v0 index stopped following \(kind.rawValue)", metadata: ["error": "\(error)"])
                return
            }
            for await event in subscription.events {
                from = max(from, event.revision)
                switch event.kind {
                case .added, .modified:
                    if let object = event.object { upsert(object.key, object.object, revision: object.revision) }
                case .deleted:
                    if let object = event.previous ?? event.object { remove(object.key) }
                case .bookmark:
                    continue
                }
            }
        }
    }

    /// Records an object as it is now.
    func upsert(_ key: ObjectKey, _ object: JSON, revision: Int64 = 0) {
        guard let kind = Self.kind(of: key) else { return }
        state.withLock { state in
            if let id = Self.annotatedID(object) {
                if let old = state.ids[key], old != id { state.keys[kind]?[old] = nil }
                state.ids[key] = id
                state.keys[kind, default: [:]][id] = key
                state.next[kind] = max(state.next[kind] ?? 1, id.saturatingAdd(1))
            }
            guard kind == .pod else { return }
            let node = object[path: ["spec", "nodeName"]]?.stringValue ?? ""
            let phase = object[path: ["status", "phase"]]?.stringValue
            let entry = PodEntry(node: node, cpuMillis: SchedulerViews.requests(of: object).cpuMillis,
                                 active: !node.isEmpty && phase != "Succeeded" && phase != "Failed")
            Self.account(&state, key: key, entry: entry)
        }
    }

    /// Forgets a deleted object (its id is not given out again).
    func remove(_ key: ObjectKey) {
        guard let kind = Self.kind(of: key) else { return }
        state.withLock { state in
            if let id = state.ids.removeValue(forKey: key), state.keys[kind]?[id] == key { state.keys[kind]?[id] = nil }
            if kind == .pod { Self.account(&state, key: key, entry: nil) }
        }
    }

    private static func account(_ state: inout State, key: ObjectKey, entry: PodEntry?) {
        if let old = state.pods[key], old == entry { return }
        // In place: copying a node's set of pods out and back would cost its size per event.
        if let old = state.pods[key], old.active {
            state.usage[old.node, default: (0, [])].cpuMillis = (state.usage[old.node]?.cpuMillis ?? 0).saturatingSubtract(old.cpuMillis)
            state.usage[old.node, default: (0, [])].pods.remove(key)
            if state.usage[old.node]?.pods.isEmpty == true { state.usage[old.node] = nil }
        }
        state.pods[key] = entry
        if let entry, entry.active {
            state.usage[entry.node, default: (0, [])].cpuMillis = (state.usage[entry.node]?.cpuMillis ?? 0).saturatingAdd(entry.cpuMillis)
            state.usage[entry.node, default: (0, [])].pods.insert(key)
        }
    }

    /// The key of the object with Kube-9 id `id`.
    func key(_ kind: Kind, id: Int64) -> ObjectKey? { state.withLock { $0.keys[kind]?[id] } }

    /// The Kube-9 id of an object.
    func id(of key: ObjectKey) -> Int64? { state.withLock { $0.ids[key] } }

    /// What the unfinished pods bound to `node` use, and their ids (sorted).
    func usage(of node: String) -> (cpuMillis: Int64, podIDs: [Int64]) {
        state.withLock { state in
            guard let usage = state.usage[node] else { return (0, []) }
            return (usage.cpuMillis, usage.pods.compactMap { state.ids[$0] }.sorted())
        }
    }
}
