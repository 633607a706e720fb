import Kube9Controllers
import Kube9Model
import Kube9Store
import Logging
import Synchronization

/// The in-process `ClusterClient`: reads from the watch cache, writes through `ObjectRegistry`
/// (the same validation and admission as HTTP requests).
final class RegistryClusterClient: ClusterClient {
    let registry: ObjectRegistry
    let logger: Logger

    init(registry: ObjectRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    func strategy(_ type: ResourceType) -> any ResourceStrategy {
        registry.catalog.strategies.first { $0.type == type }!
    }

    var revision: Int64 { registry.store.currentRevision }

    func list(_ type: ResourceType, namespace: String?) -> [JSON] {
        registry.store.list(resource: type.storageName, namespace: type.namespaced ? namespace : nil).objects.map(\.object)
    }

    func get(_ type: ResourceType, namespace: String, name: String) -> JSON? {
        try? registry.get(type, namespace: namespace, name: name).object
    }

    func modify(_ type: ResourceType, namespace: String, name: String, status: Bool,
                _ change: @escaping @Sendable (inout JSON) -> Void) async throws -> JSON {
        var lastError: (any Error)?
        for _ in 0..<8 {
            let current = try registry.get(type, namespace: namespace, name: name).object
            var changed = current
            change(&changed)
            if changed == current { return current }
            do {
                return try await registry.update(strategy(type), namespace: namespace, name: name, body: changed,
                                                 part: status ? .status : .main).object
            } catch let error as APIError {
                guard case .conflict = error else { throw error }
                lastError = error
            }
        }
        throw lastError ?? APIError.internalError("modify of \(type.resource) \(name) kept conflicting")
    }

    func create(_ type: ResourceType, namespace: String, object: JSON) async throws -> JSON {
        try await registry.create(strategy(type), namespace: namespace, body: object).object
    }

    func delete(_ type: ResourceType, namespace: String, name: String, gracePeriodSeconds: Int64?) async throws {
        var options = ObjectRegistry.DeleteOptions()
        options.gracePeriodSeconds = gracePeriodSeconds
        _ = try await registry.delete(strategy(type), namespace: namespace, name: name, options: options)
    }

    func delete(_ type: ResourceType, namespace: String, name: String, uid: String, propagation: String) async throws {
        var options = ObjectRegistry.DeleteOptions()
        options.preconditionUID = uid
        options.propagationPolicy = ObjectRegistry.PropagationPolicy(rawValue: propagation)
        do {
            _ = try await registry.delete(strategy(type), namespace: namespace, name: name, options: options)
        } catch let error as APIError {
            // Gone, or replaced by an object of the same name: nothing of this one is left to delete.
            switch error {
            case .notFound, .conflict: return
            default: throw error
            }
        }
    }

    func resourceType(apiVersion: String, kind: String) -> ResourceType? {
        registry.catalog.strategy(apiVersion: apiVersion, kind: kind)?.type
    }

    var resourceTypes: [ResourceType] { registry.catalog.strategies.map(\.type) }

    func listAndWatch(_ type: ResourceType) throws -> (objects: [JSON], changes: AsyncStream<ClusterChange>) {
        let (objects, revision) = registry.store.list(resource: type.storageName, namespace: nil)
        let subscription = try registry.store.watch(WatchFilter(resource: type.storageName, namespace: nil), fromRevision: revision)
        let changes = AsyncStream<ClusterChange> { continuation in
            let task = Task {
                for await event in subscription.events {
                    switch event.kind {
                    case .added: if let object = event.object { continuation.yield(ClusterChange(kind: .added, object: object.object)) }
                    case .modified: if let object = event.object { continuation.yield(ClusterChange(kind: .modified, object: object.object)) }
                    case .deleted:
                        if let object = event.previous ?? event.object { continuation.yield(ClusterChange(kind: .deleted, object: object.object)) }
                    case .bookmark: continue
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in
                task.cancel()
                subscription.cancel()
            }
        }
        return (objects.map(\.object), changes)
    }

    func bind(namespace: String, pod: String, node: String) async throws {
        try await registry.bind(namespace: namespace, podName: pod,
                                body: ["apiVersion": "v1", "kind": "Binding", "metadata": ["name": .string(pod)], "target": ["kind": "Node", "name": .string(node)]])
    }

    func event(about object: JSON, type: String, reason: String, message: String, component: String) async {
        let event = EventStrategy.event(about: object, type: type, reason: reason, message: message, component: component)
        let namespace = event[path: ["metadata", "namespace"]]?.stringValue ?? "default"
        do {
            _ = try await registry.create(EventStrategy(), namespace: namespace, body: event)
        } catch {
            logger.debug("event not recorded", metadata: ["reason": "\(reason)", "error": "\(error)"])
        }
    }
}

/// Heartbeats: a memory write each, plus the node's Lease in kube-node-lease written to the
/// store only when created and then at most once per `persistInterval`.
final class HeartbeatService: Sendable {
    let table = HeartbeatTable()
    let registry: ObjectRegistry
    let timing: ClusterTiming
    let persistInterval: UInt64
    private let persisted = Mutex<[String: UInt64]>([:])

    init(registry: ObjectRegistry, timing: ClusterTiming, persistIntervalSeconds: UInt64 = 60) {
        self.registry = registry
        self.timing = timing
        self.persistInterval = persistIntervalSeconds * 1_000_000_000
    }

    /// Records a heartbeat of an existing node; 404 for an unknown node.
    func beat(node: String) async throws {
        _ = try registry.get(NodeStrategy().type, namespace: "", name: node)
        table.beat(node)
        let due = persisted.withLock { state -> Bool in
            // Read the clock under the lock: a later beat never stores an earlier time.
            let now = HeartbeatTable.now()
            if let last = state[node], now >= last, now - last < persistInterval { return false }
            state[node] = now
            return true
        }
        guard due else { return }
        let leases = LeaseStrategy()
        let seconds = Int64(timing.nodeMonitorGracePeriod.components.seconds)
        let renew = JSON.string(Timestamp.nowMicro())
        if (try? registry.get(leases.type, namespace: "kube-node-lease", name: node)) == nil {
            let lease: JSON = ["apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": ["name": .string(node)],
                               "spec": ["holderIdentity": .string(node), "leaseDurationSeconds": .int(max(1, seconds)), "acquireTime": renew, "renewTime": renew]]
            _ = try? await registry.create(leases, namespace: "kube-node-lease", body: lease)
        } else {
            _ = try? await registry.patch(leases, namespace: "kube-node-lease", name: node, patchType: .merge,
                                          patch: ["spec": ["renewTime": renew]])
        }
    }
}
