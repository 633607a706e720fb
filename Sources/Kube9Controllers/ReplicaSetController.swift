import Kube9Model
import Logging
import Synchronization

/// Keeps `spec.replicas` pods of each ReplicaSet and ReplicationController (one controller
/// for both kinds, as their semantics are the same).
///
/// ```
/// watch replicasets, replicationcontrollers ─┐
///                                            ├─▶ WorkQueue (owner keys) ─▶ sync ─┬─ adopt matching orphans, release pods that stopped matching
/// watch pods (controller reference or       ─┘                                   ├─ create missing pods (batches 1, 2, 4 … up to 500 a sync)
///   labels the selector matches)                                                 ├─ delete surplus pods (not ready, unscheduled, newest first)
///                                                                                └─ status: replicas, fullyLabeled, ready, available, observedGeneration
/// ```
///
/// A sync reads the owner and its pods from the cache, which holds every committed write, so
/// pods created by the previous sync are counted even before their watch events arrive.
public final class ReplicaSetController: Sendable {
    static let component = "replicaset-controller"
    static let pods = PodStrategy().type
    static let kinds = [ReplicaSetStrategy().type, ReplicationControllerStrategy().type]
    /// The most pods one sync creates or deletes (Kubernetes' burstReplicas).
    static let burst = 500

    struct State {
        /// Owners by namespace, then by queue key.
        var owners: [String: [String: JSON]] = [:]
    }

    let client: any ClusterClient
    let logger: Logger
    let state = Mutex(State())
    let queue = WorkQueue()

    public init(client: any ClusterClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static func key(_ type: ResourceType, _ namespace: String, _ name: String) -> String { "\(type.resource)/\(namespace)/\(name)" }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for type in Self.kinds { group.addTask { await self.follow(type) } }
            group.addTask { await self.follow(Self.pods) }
            group.addTask { await self.queue.run(concurrency: 8) { key in await self.sync(key) } }
            await group.waitForAll()
        }
    }

    func follow(_ type: ResourceType) async {
        while !Task.isCancelled {
            do {
                let (objects, changes) = try client.listAndWatch(type)
                if type == Self.pods {
                    queue.add(state.withLock { state in state.owners.values.flatMap(\.keys) })
                } else {
                    let keys = state.withLock { state -> [String] in
                        let stale = state.owners.values.flatMap { $0.filter { $0.key.hasPrefix(type.resource + "/") }.keys }
                        for namespace in state.owners.keys { state.owners[namespace] = state.owners[namespace]?.filter { !$0.key.hasPrefix(type.resource + "/") } }
                        for object in objects {
                            state.owners[ObjectMeta.namespace(of: object), default: [:]][Self.key(type, ObjectMeta.namespace(of: object), ObjectMeta.name(of: object))] = object
                        }
                        return stale + objects.map { Self.key(type, ObjectMeta.namespace(of: $0), ObjectMeta.name(of: $0)) }
                    }
                    queue.add(keys)
                }
                for await change in changes { apply(change, type: type) }
            } catch {
                logger.warning("replicaset controller: watch failed", metadata: ["resource": "\(type.resource)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    func apply(_ change: ClusterChange, type: ResourceType) {
        let object = change.object
        let namespace = ObjectMeta.namespace(of: object)
        if type != Self.pods {
            let key = Self.key(type, namespace, ObjectMeta.name(of: object))
            let statusOnly = state.withLock { state -> Bool in
                let previous = state.owners[namespace]?[key]
                if change.kind == .deleted { state.owners[namespace]?.removeValue(forKey: key) } else { state.owners[namespace, default: [:]][key] = object }
                return change.kind == .modified && previous.map { Workloads.onlyStatusChanged($0, object) } == true
            }
            // Its own status writes are no reason to sync again (a failing create would loop).
            if !statusOnly { queue.add(key) }
            return
        }
        // A pod concerns its controller, and every owner whose selector matches it (adoption).
        let controller = ObjectMeta.controllerReference(of: object)
        let keys = state.withLock { state -> [String] in
            (state.owners[namespace] ?? [:]).compactMap { key, owner in
                if let controller, controller.uid == ObjectMeta.uid(of: owner) { return key }
                if controller == nil, let selector = Workloads.selector(owner), selector.matches(object: object) { return key }
                return nil
            }
        }
        queue.add(keys)
    }

    func sync(_ key: String) async {
        let parts = key.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let type = Self.kinds.first(where: { $0.resource == parts[0] }) else { return }
        guard let owner = client.get(type, namespace: parts[1], name: parts[2]) else { return }
        do {
            if try await sync(owner, type: type, key: key) { queue.forget(key) } else { queue.retry(key) }
        } catch {
            logger.info("replicaset controller: sync failed, will retry", metadata: ["object": "\(key)", "error": "\(error)"])
            queue.retry(key)
        }
    }

    /// Whether a pod still counts toward its owner's replicas.
    static func isActive(_ pod: JSON) -> Bool {
        let phase = pod[path: ["status", "phase"]]?.stringValue ?? ""
        return ObjectMeta.deletionTimestamp(of: pod) == nil && phase != "Succeeded" && phase != "Failed"
    }

    /// One sync; false when a pod could not be created or deleted (retried with back-off).
    func sync(_ owner: JSON, type: ResourceType, key: String) async throws -> Bool {
        let namespace = ObjectMeta.namespace(of: owner)
        let uid = ObjectMeta.uid(of: owner)
        let deleting = ObjectMeta.deletionTimestamp(of: owner) != nil
        let selector = Workloads.selector(owner)
        var owned: [JSON] = []
        for pod in client.list(Self.pods, namespace: namespace) {
            let controller = ObjectMeta.controllerReference(of: pod)
            let matches = selector?.matches(object: pod) ?? false
            if controller?.uid == uid {
                if matches || deleting { owned.append(pod) } else { try await release(pod, ownerUID: uid) }
            } else if controller == nil, matches, !deleting, Self.isActive(pod) {
                if let adopted = try await adopt(pod, owner: owner) { owned.append(adopted) }
            }
        }
        let active = owned.filter(Self.isActive)
        let desired = Workloads.replicas(owner)
        var failure: String? = nil
        var deleted = true
        if !deleting, let selector, !selector.isEmpty {
            if active.count < desired {
                failure = await createPods(min(desired - active.count, Self.burst), owner: owner)
                if desired - active.count > Self.burst { queue.add(key) }
            } else if active.count > desired {
                deleted = await deletePods(Array(PodRanking.deletionOrder(active).prefix(min(active.count - desired, Self.burst))), owner: owner)
            }
        }
        try await writeStatus(owner, type: type, key: key, failure: failure)
        return failure == nil && deleted
    }

    func adopt(_ pod: JSON, owner: JSON) async throws -> JSON? {
        let reference = OwnerReference.controller(of: owner).json
        let ownerUID = ObjectMeta.uid(of: owner)
        do {
            return try await client.modify(Self.pods, namespace: ObjectMeta.namespace(of: pod), name: ObjectMeta.name(of: pod), status: false) { object in
                guard ObjectMeta.controllerReference(of: object) == nil, ObjectMeta.uid(of: object) == ObjectMeta.uid(of: pod) else { return }
                var references = object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []
                references.removeAll { $0["uid"]?.stringValue == ownerUID }
                references.append(reference)
                object[path: ["metadata", "ownerReferences"]] = .array(references)
            }
        } catch let error as APIError {
            if case .notFound = error { return nil }
            throw error
        }
    }

    func release(_ pod: JSON, ownerUID: String) async throws {
        do {
            try await client.modify(Self.pods, namespace: ObjectMeta.namespace(of: pod), name: ObjectMeta.name(of: pod), status: false) { object in
                let kept = (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != ownerUID }
                object[path: ["metadata", "ownerReferences"]] = kept.isEmpty ? Optional<JSON>.none : .array(kept)
            }
        } catch let error as APIError {
            if case .notFound = error { return }
            throw error
        }
    }

    /// The pod a workload's template makes.
    static func pod(from owner: JSON) -> JSON {
        let template = owner[path: ["spec", "template"]] ?? .emptyObject
        // As Kubernetes' name generator: the prefix is cut to 58 characters, so NAME-xxxxx stays a valid name.
        var metadata: JSON = ["generateName": .string(String((ObjectMeta.name(of: owner) + "-").prefix(58)))]
        if let labels = template[path: ["metadata", "labels"]] { metadata["labels"] = labels }
        if let annotations = template[path: ["metadata", "annotations"]] { metadata["annotations"] = annotations }
        if let finalizers = template[path: ["metadata", "finalizers"]] { metadata["finalizers"] = finalizers }
        metadata["ownerReferences"] = [OwnerReference.controller(of: owner).json]
        return ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"] ?? .emptyObject]
    }

    /// Creates `count` pods in batches of 1, 2, 4 … (a failing template fails fast); returns the first error.
    func createPods(_ count: Int, owner: JSON) async -> String? {
        let namespace = ObjectMeta.namespace(of: owner)
        let pod = Self.pod(from: owner)
        var remaining = count
        var batch = 1
        while remaining > 0 {
            let size = min(batch, remaining)
            let errors = await withTaskGroup(of: String?.self) { group -> [String] in
                for _ in 0..<size {
                    group.addTask {
                        do {
                            let created = try await self.client.create(Self.pods, namespace: namespace, object: pod)
                            await self.client.event(about: owner, type: "Normal", reason: "SuccessfulCreate",
                                                    message: "Created pod: \(ObjectMeta.name(of: created))", component: Self.component)
                            return nil
                        } catch let error as APIError {
                            // The generated name is left out, so the condition stays the same from one failure to the next.
                            if case .invalid(_, _, _, let causes) = error { return causes.map(\.summary).joined(separator: "; ") }
                            return error.status["message"]?.stringValue ?? "\(error)"
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                var errors: [String] = []
                for await error in group { if let error { errors.append(error) } }
                return errors
            }
            if let first = errors.first {
                await client.event(about: owner, type: "Warning", reason: "FailedCreate", message: "Error creating: \(first)", component: Self.component)
                return first
            }
            remaining -= size
            batch = min(batch * 2, Self.burst)
        }
        return nil
    }

    /// Deletes the pods; false when any delete failed.
    func deletePods(_ pods: [JSON], owner: JSON) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            for pod in pods {
                group.addTask {
                    do {
                        try await self.client.delete(Self.pods, namespace: ObjectMeta.namespace(of: pod), name: ObjectMeta.name(of: pod),
                                                     uid: ObjectMeta.uid(of: pod), propagation: "Background")
                        await self.client.event(about: owner, type: "Normal", reason: "SuccessfulDelete",
                                                message: "Deleted pod: \(ObjectMeta.name(of: pod))", component: Self.component)
                        return true
                    } catch {
                        self.logger.info("replicaset controller: delete failed", metadata: ["pod": "\(ObjectMeta.name(of: pod))", "error": "\(error)"])
                        return false
                    }
                }
            }
            var all = true
            for await ok in group where !ok { all = false }
            return all
        }
    }

    /// Recounts the owner's pods from the cache and writes the status when it changed; marks the
    /// owner again when a ready pod becomes available later (minReadySeconds).
    func writeStatus(_ owner: JSON, type: ResourceType, key: String, failure: String?) async throws {
        let uid = ObjectMeta.uid(of: owner)
        let namespace = ObjectMeta.namespace(of: owner)
        let pods = client.list(Self.pods, namespace: namespace).filter { ObjectMeta.controllerReference(of: $0)?.uid == uid && Self.isActive($0) }
        let minReady = owner[path: ["spec", "minReadySeconds"]]?.intValue ?? 0
        let templateLabels = ObjectMeta.labels(of: owner[path: ["spec", "template"]] ?? .emptyObject)
        let now = Timestamp.nowSeconds()
        var ready = 0
        var available = 0
        var fullyLabeled = 0
        var nextAvailable: Int64? = nil
        for pod in pods {
            let labels = ObjectMeta.labels(of: pod)
            if templateLabels.allSatisfy({ labels[$0.key] == $0.value }) { fullyLabeled += 1 }
            guard let wait = PodRanking.secondsUntilAvailable(pod, minReadySeconds: minReady, now: now) else { continue }
            ready += 1
            if wait == 0 { available += 1 } else { nextAvailable = min(nextAvailable ?? wait, wait) }
        }
        if let nextAvailable { queue.add(key, after: .seconds(nextAvailable) + .milliseconds(100)) }
        let counts = (ready: ready, available: available, fullyLabeled: fullyLabeled)
        let generation = owner[path: ["metadata", "generation"]]?.intValue ?? 0
        _ = try await client.modify(type, namespace: namespace, name: ObjectMeta.name(of: owner), status: true) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            var status = object["status"] ?? .emptyObject
            if case .object = status {} else { status = .emptyObject }
            status["replicas"] = .int(Int64(pods.count))
            status["fullyLabeledReplicas"] = .int(Int64(counts.fullyLabeled))
            status["readyReplicas"] = .int(Int64(counts.ready))
            status["availableReplicas"] = .int(Int64(counts.available))
            status["observedGeneration"] = .int(generation)
            object["status"] = status
            if let failure {
                Conditions.set(&object, type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: failure)
            } else if Conditions.find(object, "ReplicaFailure") != nil {
                let kept = (object[path: ["status", "conditions"]]?.arrayValue ?? []).filter { $0["type"]?.stringValue != "ReplicaFailure" }
                object[path: ["status", "conditions"]] = kept.isEmpty ? Optional<JSON>.none : .array(kept)
            }
        }
    }
}
