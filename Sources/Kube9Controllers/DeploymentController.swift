import Kube9Model
import Logging
import Synchronization

/// Rolls each Deployment's template out through ReplicaSets: one ReplicaSet per template
/// (named NAME-HASH, its pods labelled pod-template-hash=HASH), the old ones scaled down as
/// the new one becomes available (RollingUpdate) or first (Recreate); revisions, pause, the
/// progress deadline, history cleanup and status.
///
/// ```
/// watch deployments ──┐
/// watch replicasets ──┼─▶ WorkQueue ─▶ sync ─┬─ adopt / release ReplicaSets (controller reference, selector)
/// watch pods (Recreate│                       ├─ new ReplicaSet = the one whose template equals the Deployment's (created if none)
///   waits for them)  ─┘                       ├─ paused: proportional scaling only; else Rolling / Recreate step (Rollout)
///                                             ├─ old ReplicaSets past revisionHistoryLimit deleted once complete
///                                             └─ status, Available and Progressing (ProgressDeadlineExceeded) conditions
/// ```
public final class DeploymentController: Sendable {
    static let component = "deployment-controller"
    static let deployments = DeploymentStrategy().type
    static let replicaSets = ReplicaSetStrategy().type
    static let pods = PodStrategy().type
    /// Deployment annotations that are not copied to its ReplicaSets (nor back on a rollback).
    static let annotationsNotCopied: Set<String> = [
        "kubectl.kubernetes.io/last-applied-configuration", Workloads.revisionAnnotation, Workloads.revisionHistoryAnnotation,
        Workloads.desiredReplicasAnnotation, Workloads.maxReplicasAnnotation,
    ]

    struct State {
        /// Deployments by namespace, then name.
        var deployments: [String: [String: JSON]] = [:]
        /// ReplicaSet uid → its Deployment's queue key.
        var replicaSetOwners: [String: String] = [:]
    }

    let client: any ClusterClient
    let logger: Logger
    let state = Mutex(State())
    let queue = WorkQueue()

    public init(client: any ClusterClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static func key(_ namespace: String, _ name: String) -> String { namespace + "/" + name }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for type in [Self.deployments, Self.replicaSets, Self.pods] { group.addTask { await self.follow(type) } }
            group.addTask { await self.queue.run(concurrency: 8) { key in await self.sync(key) } }
            await group.waitForAll()
        }
    }

    func follow(_ type: ResourceType) async {
        while !Task.isCancelled {
            do {
                let (objects, changes) = try client.listAndWatch(type)
                if type == Self.deployments {
                    let keys = state.withLock { state -> [String] in
                        let stale = state.deployments.flatMap { namespace, names in names.keys.map { Self.key(namespace, $0) } }
                        state.deployments = [:]
                        for object in objects { state.deployments[ObjectMeta.namespace(of: object), default: [:]][ObjectMeta.name(of: object)] = object }
                        return stale + objects.map { Self.key(ObjectMeta.namespace(of: $0), ObjectMeta.name(of: $0)) }
                    }
                    queue.add(keys)
                } else {
                    for object in objects { apply(ClusterChange(kind: .added, object: object), type: type) }
                }
                for await change in changes { apply(change, type: type) }
            } catch {
                logger.warning("deployment controller: watch failed", metadata: ["resource": "\(type.resource)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    func apply(_ change: ClusterChange, type: ResourceType) {
        let object = change.object
        let namespace = ObjectMeta.namespace(of: object)
        if type == Self.deployments {
            let name = ObjectMeta.name(of: object)
            let statusOnly = state.withLock { state -> Bool in
                let previous = state.deployments[namespace]?[name]
                if change.kind == .deleted { state.deployments[namespace]?.removeValue(forKey: name) } else { state.deployments[namespace, default: [:]][name] = object }
                return change.kind == .modified && previous.map { Workloads.onlyStatusChanged($0, object) } == true
            }
            if !statusOnly { queue.add(Self.key(namespace, name)) }
            return
        }
        let controller = ObjectMeta.controllerReference(of: object)
        if type == Self.replicaSets {
            let uid = ObjectMeta.uid(of: object)
            let keys = state.withLock { state -> [String] in
                if let controller, let (name, _) = state.deployments[namespace]?.first(where: { ObjectMeta.uid(of: $0.value) == controller.uid }) {
                    let key = Self.key(namespace, name)
                    if change.kind == .deleted { state.replicaSetOwners.removeValue(forKey: uid) } else { state.replicaSetOwners[uid] = key }
                    return [key]
                }
                if change.kind == .deleted, let key = state.replicaSetOwners.removeValue(forKey: uid) { return [key] }
                guard controller == nil else { return [] }
                // An orphan: the Deployments that select it may adopt it.
                return (state.deployments[namespace] ?? [:]).compactMap { name, deployment in
                    Workloads.selector(deployment)?.matches(object: object) == true ? Self.key(namespace, name) : nil
                }
            }
            queue.add(keys)
            return
        }
        // Pods matter to a Recreate rollout, which waits until the old pods are gone.
        guard change.kind == .deleted || ObjectMeta.deletionTimestamp(of: object) != nil, let controller else { return }
        if let key = state.withLock({ $0.replicaSetOwners[controller.uid] }) { queue.add(key) }
    }

    func sync(_ key: String) async {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let deployment = client.get(Self.deployments, namespace: parts[0], name: parts[1]) else { return }
        do {
            try await sync(deployment, key: key)
            queue.forget(key)
        } catch {
            logger.info("deployment controller: sync failed, will retry", metadata: ["deployment": "\(key)", "error": "\(error)"])
            queue.retry(key)
        }
    }

    func sync(_ deployment: JSON, key: String) async throws {
        let namespace = ObjectMeta.namespace(of: deployment)
        let uid = ObjectMeta.uid(of: deployment)
        let deleting = ObjectMeta.deletionTimestamp(of: deployment) != nil
        let selector = Workloads.selector(deployment)
        var owned: [JSON] = []
        for replicaSet in client.list(Self.replicaSets, namespace: namespace) {
            let controller = ObjectMeta.controllerReference(of: replicaSet)
            let matches = selector?.matches(object: replicaSet) ?? false
            if controller?.uid == uid {
                if matches || deleting { owned.append(replicaSet) } else { try await releaseReplicaSet(replicaSet, ownerUID: uid) }
            } else if controller == nil, matches, !deleting, ObjectMeta.deletionTimestamp(of: replicaSet) == nil {
                if let adopted = try await adoptReplicaSet(replicaSet, owner: deployment) { owned.append(adopted) }
            }
        }
        if deleting {
            try await writeStatus(deployment, replicaSets: owned, new: nil, key: key, event: nil)
            return
        }
        let template = Workloads.templateWithoutHash(deployment[path: ["spec", "template"]])
        // The oldest ReplicaSet with the template is the new one (as Kubernetes picks it).
        let byAge = owned.sorted { ($0[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "", ObjectMeta.name(of: $0)) < ($1[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "", ObjectMeta.name(of: $1)) }
        var new = byAge.first { Workloads.templateWithoutHash($0[path: ["spec", "template"]]) == template && ObjectMeta.deletionTimestamp(of: $0) == nil }
        var old = owned.filter { ObjectMeta.uid(of: $0) != new.map(ObjectMeta.uid) }
        let replicas = Workloads.replicas(deployment)
        let paused = deployment[path: ["spec", "paused"]]?.boolValue == true
        var event: String? = nil
        if paused {
            let surge = deployment[path: ["spec", "strategy", "type"]]?.stringValue == "Recreate" ? 0 : DeploymentStrategy.rollingLimits(deployment, replicas: replicas).maxSurge
            try await scaleProportionally(deployment, replicaSets: owned, target: replicas + surge, newest: new)
            try await writeStatus(deployment, replicaSets: client.list(Self.replicaSets, namespace: namespace).filter { ObjectMeta.controllerReference(of: $0)?.uid == uid },
                                  new: new.flatMap { client.get(Self.replicaSets, namespace: namespace, name: ObjectMeta.name(of: $0)) }, key: key, event: nil)
            return
        }
        let recreate = deployment[path: ["spec", "strategy", "type"]]?.stringValue == "Recreate"
        let limits = recreate ? (maxSurge: 0, maxUnavailable: 0) : DeploymentStrategy.rollingLimits(deployment, replicas: replicas)
        // Replicas changed in the middle of a rollout: share the change out before stepping on.
        let active = owned.filter { Workloads.replicas($0) > 0 }
        if !recreate, active.count > 1, isScalingEvent(active, replicas: replicas) {
            try await scaleProportionally(deployment, replicaSets: owned, target: replicas + limits.maxSurge, newest: new)
            return
        }
        let revision = old.compactMap { Int64(ObjectMeta.annotation($0, Workloads.revisionAnnotation) ?? "") }.max().map { $0.saturatingAdd(1) } ?? 1
        if recreate {
            let oldActive = old.filter { Workloads.replicas($0) > 0 }
            for replicaSet in oldActive { try await scale(replicaSet, to: 0, deployment: deployment, limits: limits) }
            if !oldActive.isEmpty || oldPodsRunning(old, namespace: namespace) {
                try await writeStatus(deployment, replicaSets: owned, new: new, key: key, event: nil)
                return
            }
            if let existing = new {
                new = try await syncNew(existing, revision: revision, deployment: deployment)
                if Workloads.replicas(existing) != replicas { new = try await scale(existing, to: replicas, deployment: deployment, limits: limits) }
            } else {
                (new, event) = try await createNew(deployment, replicas: replicas, revision: revision, limits: limits)
            }
        } else {
            let total = owned.reduce(0) { $0 + Workloads.replicas($1) }
            if let existing = new {
                new = try await syncNew(existing, revision: revision, deployment: deployment)
                let current = Workloads.replicas(existing)
                let wanted = current > replicas ? replicas
                    : Rollout.newReplicas(replicas: replicas, maxSurge: limits.maxSurge, totalReplicas: total, newReplicas: current)
                if wanted != current { new = try await scale(existing, to: wanted, deployment: deployment, limits: limits) }
            } else {
                let wanted = Rollout.newReplicas(replicas: replicas, maxSurge: limits.maxSurge, totalReplicas: total, newReplicas: 0)
                (new, event) = try await createNew(deployment, replicas: wanted, revision: revision, limits: limits)
            }
            let changes = Rollout.scaleDownOld(replicas: replicas, maxUnavailable: limits.maxUnavailable,
                                               new: new.map(Rollout.ReplicaSetView.init), old: old.map(Rollout.ReplicaSetView.init))
            for (index, replicaSet) in old.enumerated() {
                if let target = changes[ObjectMeta.name(of: replicaSet)] {
                    old[index] = try await scale(replicaSet, to: target, deployment: deployment, limits: limits)
                }
            }
        }
        let current = client.list(Self.replicaSets, namespace: namespace).filter { ObjectMeta.controllerReference(of: $0)?.uid == uid }
        let newCurrent = new.flatMap { client.get(Self.replicaSets, namespace: namespace, name: ObjectMeta.name(of: $0)) }
        let complete = try await writeStatus(deployment, replicaSets: current, new: newCurrent, key: key, event: event)
        if complete { try await cleanUpHistory(deployment, replicaSets: current, new: newCurrent) }
    }

    /// Whether an active ReplicaSet was last scaled for other Deployment replicas than now
    /// (the user scaled in the middle of a rollout). ReplicaSets without the annotation do not count.
    func isScalingEvent(_ active: [JSON], replicas: Int) -> Bool {
        active.contains { replicaSet in
            guard let desired = ObjectMeta.annotation(replicaSet, Workloads.desiredReplicasAnnotation).flatMap({ Int($0) }) else { return false }
            return desired != replicas
        }
    }

    func oldPodsRunning(_ old: [JSON], namespace: String) -> Bool {
        let uids = Set(old.map(ObjectMeta.uid))
        return client.list(Self.pods, namespace: namespace).contains { pod in
            guard let controller = ObjectMeta.controllerReference(of: pod), uids.contains(controller.uid) else { return false }
            let phase = pod[path: ["status", "phase"]]?.stringValue ?? ""
            return phase != "Succeeded" && phase != "Failed"
        }
    }
}
