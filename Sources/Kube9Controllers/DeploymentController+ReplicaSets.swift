import Kube9Model

/// The Deployment controller's writes: ReplicaSets (create, scale, adopt, release, clean up)
/// and the Deployment's revision annotation and status.
extension DeploymentController {
    func adoptReplicaSet(_ replicaSet: JSON, owner: JSON) async throws -> JSON? {
        let reference = OwnerReference.controller(of: owner).json
        let uid = ObjectMeta.uid(of: replicaSet)
        do {
            return try await client.modify(Self.replicaSets, namespace: ObjectMeta.namespace(of: replicaSet), name: ObjectMeta.name(of: replicaSet), status: false) { object in
                guard ObjectMeta.controllerReference(of: object) == nil, ObjectMeta.uid(of: object) == uid else { return }
                var references = object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []
                references.append(reference)
                object[path: ["metadata", "ownerReferences"]] = .array(references)
            }
        } catch let error as APIError {
            if case .notFound = error { return nil }
            throw error
        }
    }

    func releaseReplicaSet(_ replicaSet: JSON, ownerUID: String) async throws {
        do {
            try await client.modify(Self.replicaSets, namespace: ObjectMeta.namespace(of: replicaSet), name: ObjectMeta.name(of: replicaSet), status: false) { object in
                let kept = (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != ownerUID }
                object[path: ["metadata", "ownerReferences"]] = kept.isEmpty ? Optional<JSON>.none : .array(kept)
            }
        } catch let error as APIError {
            if case .notFound = error { return }
            throw error
        }
    }

    /// The Deployment's annotations a ReplicaSet carries (change-cause and the user's own).
    static func copiedAnnotations(_ deployment: JSON) -> [(String, JSON)] {
        (deployment[path: ["metadata", "annotations"]]?.objectValue ?? [:]).filter { !annotationsNotCopied.contains($0.key) }.map { ($0.key, $0.value) }
    }

    /// Creates the ReplicaSet of the Deployment's current template. On a name taken by another
    /// template (a hash collision) it raises status.collisionCount and leaves the next sync to retry.
    func createNew(_ deployment: JSON, replicas: Int, revision: Int64, limits: (maxSurge: Int, maxUnavailable: Int)) async throws -> (JSON?, String?) {
        let namespace = ObjectMeta.namespace(of: deployment)
        let collisions = deployment[path: ["status", "collisionCount"]]?.intValue ?? 0
        let hash = Workloads.templateHash(deployment[path: ["spec", "template"]], collisionCount: collisions)
        let name = "\(ObjectMeta.name(of: deployment))-\(hash)"
        var template = deployment[path: ["spec", "template"]] ?? .emptyObject
        template[path: ["metadata", "labels", Workloads.podTemplateHashLabel]] = .string(hash)
        var selector = deployment[path: ["spec", "selector"]] ?? .emptyObject
        selector[path: ["matchLabels", Workloads.podTemplateHashLabel]] = .string(hash)
        var annotations: JSON = .emptyObject
        for (key, value) in Self.copiedAnnotations(deployment) { annotations[key] = value }
        annotations[Workloads.revisionAnnotation] = .string(String(revision))
        annotations[Workloads.desiredReplicasAnnotation] = .string(String(Workloads.replicas(deployment)))
        annotations[Workloads.maxReplicasAnnotation] = .string(String(Workloads.replicas(deployment) + limits.maxSurge))
        var spec: JSON = ["replicas": .int(Int64(replicas)), "selector": selector, "template": template]
        if let minReady = deployment[path: ["spec", "minReadySeconds"]] { spec["minReadySeconds"] = minReady }
        let replicaSet: JSON = ["apiVersion": "apps/v1", "kind": "ReplicaSet",
                                "metadata": ["name": .string(name), "labels": template[path: ["metadata", "labels"]] ?? .emptyObject,
                                             "annotations": annotations, "ownerReferences": [OwnerReference.controller(of: deployment).json]],
                                "spec": spec]
        do {
            let created = try await client.create(Self.replicaSets, namespace: namespace, object: replicaSet)
            await client.event(about: deployment, type: "Normal", reason: "ScalingReplicaSet",
                               message: "Scaled up replica set \(name) from 0 to \(replicas)", component: Self.component)
            return (created, name)
        } catch let error as APIError {
            guard case .alreadyExists = error else { throw error }
            if let existing = client.get(Self.replicaSets, namespace: namespace, name: name),
               ObjectMeta.controllerReference(of: existing)?.uid == ObjectMeta.uid(of: deployment),
               Workloads.templateWithoutHash(existing[path: ["spec", "template"]]) == Workloads.templateWithoutHash(deployment[path: ["spec", "template"]]) {
                return (existing, nil)
            }
            let uid = ObjectMeta.uid(of: deployment)
            try await client.modify(Self.deployments, namespace: namespace, name: ObjectMeta.name(of: deployment), status: true) { object in
                guard ObjectMeta.uid(of: object) == uid else { return }
                object[path: ["status", "collisionCount"]] = .int(collisions.saturatingAdd(1))
            }
            return (nil, nil)
        }
    }

    /// Brings the new ReplicaSet's revision (a rollback makes an old template the newest),
    /// copied annotations and minReadySeconds up to date.
    func syncNew(_ replicaSet: JSON, revision: Int64, deployment: JSON) async throws -> JSON {
        let current = Int64(ObjectMeta.annotation(replicaSet, Workloads.revisionAnnotation) ?? "") ?? 0
        let copied = Self.copiedAnnotations(deployment)
        let minReady = deployment[path: ["spec", "minReadySeconds"]]
        let needsRevision = current < revision
        let needsAnnotations = copied.contains { ObjectMeta.annotation(replicaSet, $0.0) != $0.1.stringValue }
        let needsMinReady = (replicaSet[path: ["spec", "minReadySeconds"]]?.intValue ?? 0) != (minReady?.intValue ?? 0)
        guard needsRevision || needsAnnotations || needsMinReady else { return replicaSet }
        let uid = ObjectMeta.uid(of: replicaSet)
        return try await client.modify(Self.replicaSets, namespace: ObjectMeta.namespace(of: replicaSet), name: ObjectMeta.name(of: replicaSet), status: false) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            for (key, value) in copied { object[path: ["metadata", "annotations", key]] = value }
            if needsRevision {
                if current > 0 {
                    let history = ObjectMeta.annotation(object, Workloads.revisionHistoryAnnotation).map { $0 + "," } ?? ""
                    object[path: ["metadata", "annotations", Workloads.revisionHistoryAnnotation]] = .string(history + String(current))
                }
                object[path: ["metadata", "annotations", Workloads.revisionAnnotation]] = .string(String(revision))
            }
            object[path: ["spec", "minReadySeconds"]] = minReady
        }
    }

    /// Sets a ReplicaSet's replicas (and the annotations recording the Deployment's replicas then).
    @discardableResult
    func scale(_ replicaSet: JSON, to replicas: Int, deployment: JSON, limits: (maxSurge: Int, maxUnavailable: Int)) async throws -> JSON {
        let from = Workloads.replicas(replicaSet)
        let desired = Workloads.replicas(deployment)
        let uid = ObjectMeta.uid(of: replicaSet)
        let updated = try await client.modify(Self.replicaSets, namespace: ObjectMeta.namespace(of: replicaSet), name: ObjectMeta.name(of: replicaSet), status: false) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            object[path: ["spec", "replicas"]] = .int(Int64(replicas))
            object[path: ["metadata", "annotations", Workloads.desiredReplicasAnnotation]] = .string(String(desired))
            object[path: ["metadata", "annotations", Workloads.maxReplicasAnnotation]] = .string(String(desired + limits.maxSurge))
        }
        if from != replicas {
            await client.event(about: deployment, type: "Normal", reason: "ScalingReplicaSet",
                               message: "Scaled \(replicas > from ? "up" : "down") replica set \(ObjectMeta.name(of: replicaSet)) from \(from) to \(replicas)",
                               component: Self.component)
        }
        return updated
    }

    /// Scales the active ReplicaSets toward `target` in proportion to their sizes (one active:
    /// it takes the Deployment's replicas), recording the Deployment's replicas on each.
    func scaleProportionally(_ deployment: JSON, replicaSets: [JSON], target: Int, newest: JSON?) async throws {
        let active = replicaSets.filter { Workloads.replicas($0) > 0 }
        let limits = (maxSurge: target - Workloads.replicas(deployment), maxUnavailable: 0)
        // None has pods: the new one (or the newest) takes the Deployment's replicas.
        let latest = newest ?? replicaSets.max { ($0[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") < ($1[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") }
        if let only = active.count == 1 ? active.first : (active.isEmpty ? latest : nil) {
            if Workloads.replicas(only) != Workloads.replicas(deployment) || ObjectMeta.annotation(only, Workloads.desiredReplicasAnnotation) != String(Workloads.replicas(deployment)) {
                try await scale(only, to: Workloads.replicas(deployment), deployment: deployment, limits: limits)
            }
            return
        }
        let changes = Rollout.proportional(target: target, active: active.map(Rollout.ReplicaSetView.init))
        for replicaSet in active {
            let wanted = changes[ObjectMeta.name(of: replicaSet)] ?? Workloads.replicas(replicaSet)
            if wanted != Workloads.replicas(replicaSet) || ObjectMeta.annotation(replicaSet, Workloads.desiredReplicasAnnotation) != String(Workloads.replicas(deployment)) {
                try await scale(replicaSet, to: wanted, deployment: deployment, limits: limits)
            }
        }
    }

    /// Deletes the oldest ReplicaSets without pods beyond spec.revisionHistoryLimit.
    func cleanUpHistory(_ deployment: JSON, replicaSets: [JSON], new: JSON?) async throws {
        let limit = Int(deployment[path: ["spec", "revisionHistoryLimit"]]?.intValue ?? 10)
        let newUID = new.map(ObjectMeta.uid)
        let candidates = replicaSets.filter { replicaSet in
            ObjectMeta.uid(of: replicaSet) != newUID && Workloads.replicas(replicaSet) == 0
                && Workloads.count(replicaSet[path: ["status", "replicas"]]) == 0 && ObjectMeta.deletionTimestamp(of: replicaSet) == nil
        }
        guard candidates.count > limit else { return }
        let oldestFirst = candidates.sorted {
            (Int64(ObjectMeta.annotation($0, Workloads.revisionAnnotation) ?? "") ?? 0) < (Int64(ObjectMeta.annotation($1, Workloads.revisionAnnotation) ?? "") ?? 0)
        }
        for replicaSet in oldestFirst.prefix(candidates.count - limit) {
            try await client.delete(Self.replicaSets, namespace: ObjectMeta.namespace(of: replicaSet), name: ObjectMeta.name(of: replicaSet),
                                    uid: ObjectMeta.uid(of: replicaSet), propagation: "Background")
        }
    }
}
