import Kube9Model
import Logging
import Synchronization

/// Deletes objects whose owners are gone, and carries out foreground and orphan deletion,
/// by `metadata.ownerReferences`, for every kind served.
///
/// ```
/// watch every kind ─▶ graph: dependents by owner uid ─▶ dirty uids ─▶ process
///                     owners being deleted with the            ├─ dependent, every owner gone ─▶ delete it (background)
///                     foregroundDeletion / orphan finalizer    ├─ dependent, some owners gone ─▶ drop those references
///                                                              ├─ foreground owner ─▶ delete dependents; when no blocking one is left, drop the finalizer
///                                                              └─ orphan owner ─▶ remove its reference from each dependent, drop the finalizer
/// ```
///
/// An owner counts as gone only when a read of the cache (always as new as the last commit)
/// finds no object of that kind and name with that uid, so a dependent seen before its owner's
/// watch event is never deleted by mistake. Owners of kinds kube9 does not serve are kept.
public final class GarbageCollector: Sendable {
    static let component = "garbage-collector"

    /// What the graph keeps of an object that has owners, or is being deleted with a collector finalizer.
    struct Node {
        var type: ResourceType
        var namespace: String
        var name: String
        var owners: [OwnerReference]
        var finalizers: [String]
        var deleting: Bool
    }

    struct State {
        var nodes: [String: Node] = [:]
        /// Kinds whose first list has been recorded: nothing is processed before all are (an
        /// owner's dependents of another kind might not be in the graph yet).
        var listed: Set<String> = []
        /// owner uid → uids of its dependents.
        var dependents: [String: Set<String>] = [:]
        var dirty: Set<String> = []
    }

    let client: any ClusterClient
    let logger: Logger
    let state = Mutex(State())
    let wake: AsyncStream<Void>
    let wakeContinuation: AsyncStream<Void>.Continuation
    /// Writes in flight at once.
    let concurrency: Int

    public init(client: any ClusterClient, logger: Logger, concurrency: Int = 64) {
        self.client = client
        self.logger = logger
        self.concurrency = max(1, concurrency)
        (wake, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for type in client.resourceTypes where type.verbs.contains("watch") { group.addTask { await self.follow(type) } }
            group.addTask { await self.processLoop() }
            await group.waitForAll()
        }
    }

    func follow(_ type: ResourceType) async {
        while !Task.isCancelled {
            do {
                let (objects, changes) = try client.listAndWatch(type)
                state.withLock { state in
                    // Objects of this kind that went while the watch was down are recorded as deleted
                    // (their owners may wait for them); every dependent is looked at again.
                    let present = Set(objects.map(ObjectMeta.uid))
                    for (uid, node) in state.nodes where node.type == type && !present.contains(uid) {
                        Self.record(["metadata": ["uid": .string(uid)]], type: type, deleted: true, in: &state)
                    }
                    state.dirty.formUnion(state.nodes.keys)
                    for object in objects { Self.record(object, type: type, deleted: false, in: &state) }
                    state.listed.insert(type.storageName)
                }
                wakeContinuation.yield()
                for await change in changes {
                    state.withLock { Self.record(change.object, type: type, deleted: change.kind == .deleted, in: &$0) }
                    wakeContinuation.yield()
                }
            } catch {
                logger.warning("garbage collector: watch failed", metadata: ["resource": "\(type.resource)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    static func isCollectorFinalizer(_ finalizer: String) -> Bool {
        finalizer == foregroundFinalizer || finalizer == orphanFinalizer
    }
    /// The finalizers of DeleteOptions.propagationPolicy Foreground and Orphan.
    public static let foregroundFinalizer = "foregroundDeletion"
    public static let orphanFinalizer = "orphan"

    /// Updates the graph for one object and marks what must be looked at.
    static func record(_ object: JSON, type: ResourceType, deleted: Bool, in state: inout State) {
        let uid = ObjectMeta.uid(of: object)
        guard !uid.isEmpty else { return }
        let previous = state.nodes[uid]
        for owner in previous?.owners ?? [] {
            state.dependents[owner.uid]?.remove(uid)
            if state.dependents[owner.uid]?.isEmpty == true { state.dependents.removeValue(forKey: owner.uid) }
        }
        if deleted {
            state.nodes.removeValue(forKey: uid)
            // Its dependents may be orphans now; its owners may be waiting for it (foreground).
            state.dirty.formUnion(state.dependents[uid] ?? [])
            for owner in previous?.owners ?? [] { state.dirty.insert(owner.uid) }
            state.dependents.removeValue(forKey: uid)
            state.dirty.remove(uid)
            return
        }
        let owners = ObjectMeta.ownerReferences(of: object)
        // An owner this dependent no longer names may be waiting for it (foreground).
        for owner in previous?.owners ?? [] where !owners.contains(where: { $0.uid == owner.uid }) { state.dirty.insert(owner.uid) }
        let finalizers = ObjectMeta.finalizers(of: object)
        let deleting = ObjectMeta.deletionTimestamp(of: object) != nil
        let collecting = deleting && finalizers.contains(where: isCollectorFinalizer)
        guard !owners.isEmpty || collecting else {
            state.nodes.removeValue(forKey: uid)
            if previous != nil { state.dirty.insert(uid) }
            return
        }
        state.nodes[uid] = Node(type: type, namespace: ObjectMeta.namespace(of: object), name: ObjectMeta.name(of: object),
                                owners: owners, finalizers: finalizers, deleting: deleting)
        for owner in owners { state.dependents[owner.uid, default: []].insert(uid) }
        if previous == nil || previous?.owners != owners || collecting || previous?.deleting != deleting { state.dirty.insert(uid) }
        // A dependent that starts being deleted may be the last one its foreground owner waits for.
        if deleting, previous?.deleting == false { for owner in owners { state.dirty.insert(owner.uid) } }
    }

    func processLoop() async {
        var iterator = wake.makeAsyncIterator()
        let kinds = client.resourceTypes.filter { $0.verbs.contains("watch") }.count
        while !Task.isCancelled {
            guard await iterator.next() != nil else { return }
            guard state.withLock({ $0.listed.count >= kinds }) else { continue }
            let batch = state.withLock { state -> [(String, Node?)] in
                let uids = state.dirty
                state.dirty = []
                return uids.map { ($0, state.nodes[$0]) }
            }
            var retry: [String] = []
            await withTaskGroup(of: String?.self) { group in
                var running = 0
                for (uid, node) in batch {
                    guard let node else { continue }
                    if running >= concurrency, let failed = await group.next() {
                        running -= 1
                        if let failed { retry.append(failed) }
                    }
                    running += 1
                    group.addTask {
                        do {
                            try await self.process(uid: uid, node: node)
                            return nil
                        } catch {
                            self.logger.info("garbage collector: will retry", metadata: ["object": "\(node.type.resource)/\(node.name)", "error": "\(error)"])
                            return uid
                        }
                    }
                }
                for await failed in group { if let failed { retry.append(failed) } }
            }
            if !retry.isEmpty {
                let again = retry
                Task {
                    try? await Task.sleep(for: .seconds(1))
                    self.state.withLock { $0.dirty.formUnion(again) }
                    self.wakeContinuation.yield()
                }
            }
        }
    }

    /// Whether an owner reference still names a live object: nil when its kind is not served (kept).
    func ownerExists(_ owner: OwnerReference, dependentNamespace: String) -> Bool? {
        guard let type = client.resourceType(apiVersion: owner.apiVersion, kind: owner.kind) else { return nil }
        guard let object = client.get(type, namespace: type.namespaced ? dependentNamespace : "", name: owner.name) else { return false }
        return ObjectMeta.uid(of: object) == owner.uid
    }

    func process(uid: String, node: Node) async throws {
        if node.deleting, node.finalizers.contains(Self.orphanFinalizer) {
            try await orphanDependents(of: uid, node: node)
            return
        }
        if node.deleting, node.finalizers.contains(Self.foregroundFinalizer) {
            try await deleteDependents(of: uid, node: node)
        }
        guard !node.owners.isEmpty else { return }
        var solid: [OwnerReference] = []
        var gone: [OwnerReference] = []
        var waiting: [OwnerReference] = []
        for owner in node.owners {
            switch ownerExists(owner, dependentNamespace: node.namespace) {
            case false?: gone.append(owner)
            case nil: solid.append(owner)
            case true?:
                let type = client.resourceType(apiVersion: owner.apiVersion, kind: owner.kind)
                let object = type.flatMap { client.get($0, namespace: $0.namespaced ? node.namespace : "", name: owner.name) }
                if let object, ObjectMeta.deletionTimestamp(of: object) != nil, ObjectMeta.finalizers(of: object).contains(Self.foregroundFinalizer) {
                    waiting.append(owner)
                } else {
                    solid.append(owner)
                }
            }
        }
        if !solid.isEmpty {
            guard !gone.isEmpty else { return }
            let dropped = Set(gone.map(\.uid))
            try await client.modify(node.type, namespace: node.namespace, name: node.name, status: false) { object in
                guard ObjectMeta.uid(of: object) == uid else { return }
                let kept = (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).filter { !dropped.contains($0["uid"]?.stringValue ?? "") }
                object[path: ["metadata", "ownerReferences"]] = kept.isEmpty ? Optional<JSON>.none : .array(kept)
            }
            return
        }
        if node.deleting { return }
        let hasDependents = state.withLock { !($0.dependents[uid]?.isEmpty ?? true) }
        let propagation = !waiting.isEmpty && hasDependents ? "Foreground" : "Background"
        logger.debug("garbage collector: deleting", metadata: ["object": "\(node.type.resource)/\(node.namespace)/\(node.name)", "propagation": "\(propagation)"])
        try await client.delete(node.type, namespace: node.namespace, name: node.name, uid: uid, propagation: propagation)
    }

    /// Foreground: deletes every dependent (the blocking ones in the foreground too) and drops the
    /// owner's finalizer once no dependent with blockOwnerDeletion is left.
    func deleteDependents(of uid: String, node: Node) async throws {
        let dependents = state.withLock { state in (state.dependents[uid] ?? []).compactMap { dependent in state.nodes[dependent].map { (dependent, $0) } } }
        var blocking = 0
        for (dependentUID, dependent) in dependents {
            // A dependent with another live owner stays: only the reference to this owner goes.
            let others = dependent.owners.filter { $0.uid != uid }
            if others.contains(where: { ownerExists($0, dependentNamespace: dependent.namespace) != false }) {
                try await dropReference(to: uid, from: dependentUID, dependent)
                continue
            }
            let blocks = dependent.owners.contains { $0.uid == uid && $0.blockOwnerDeletion }
            if blocks { blocking += 1 }
            if dependent.deleting { continue }
            let hasOwn = state.withLock { !($0.dependents[dependentUID]?.isEmpty ?? true) }
            try await client.delete(dependent.type, namespace: dependent.namespace, name: dependent.name, uid: dependentUID,
                                    propagation: blocks && hasOwn ? "Foreground" : "Background")
        }
        if blocking == 0 { try await removeFinalizer(Self.foregroundFinalizer, uid: uid, node: node) }
    }

    /// Orphan: removes the owner's reference from each dependent, then the owner's finalizer.
    func orphanDependents(of uid: String, node: Node) async throws {
        let dependents = state.withLock { state in (state.dependents[uid] ?? []).compactMap { dependent in state.nodes[dependent].map { (dependent, $0) } } }
        for (dependentUID, dependent) in dependents { try await dropReference(to: uid, from: dependentUID, dependent) }
        try await removeFinalizer(Self.orphanFinalizer, uid: uid, node: node)
    }

    /// Removes the reference to owner `uid` from a dependent (gone already: nothing to do).
    func dropReference(to uid: String, from dependentUID: String, _ dependent: Node) async throws {
        do {
            try await client.modify(dependent.type, namespace: dependent.namespace, name: dependent.name, status: false) { object in
                guard ObjectMeta.uid(of: object) == dependentUID else { return }
                let kept = (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != uid }
                object[path: ["metadata", "ownerReferences"]] = kept.isEmpty ? Optional<JSON>.none : .array(kept)
            }
        } catch let error as APIError {
            if case .notFound = error { return }
            throw error
        }
    }

    func removeFinalizer(_ finalizer: String, uid: String, node: Node) async throws {
        do {
            try await client.modify(node.type, namespace: node.namespace, name: node.name, status: false) { object in
                guard ObjectMeta.uid(of: object) == uid else { return }
                let kept = ObjectMeta.finalizers(of: object).filter { $0 != finalizer }
                object[path: ["metadata", "finalizers"]] = kept.isEmpty ? Optional<JSON>.none : .array(kept.map { .string($0) })
            }
        } catch let error as APIError {
            if case .notFound = error { return }
            throw error
        }
    }
}
