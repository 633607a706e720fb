import Kube9Model

/// The Deployment's status: counts from its ReplicaSets, the Available and Progressing
/// conditions (with the progress deadline), and the revision annotation.
extension DeploymentController {
    /// Writes the status when it changed; returns whether the rollout is complete. Marks the
    /// Deployment again when its progress deadline falls due.
    @discardableResult
    func writeStatus(_ deployment: JSON, replicaSets: [JSON], new: JSON?, key: String, event createdName: String?) async throws -> Bool {
        let namespace = ObjectMeta.namespace(of: deployment)
        let name = ObjectMeta.name(of: deployment)
        let uid = ObjectMeta.uid(of: deployment)
        if let new, let revision = ObjectMeta.annotation(new, Workloads.revisionAnnotation),
           ObjectMeta.annotation(deployment, Workloads.revisionAnnotation) != revision {
            try await client.modify(Self.deployments, namespace: namespace, name: name, status: false) { object in
                guard ObjectMeta.uid(of: object) == uid else { return }
                object[path: ["metadata", "annotations", Workloads.revisionAnnotation]] = .string(revision)
            }
        }
        let replicas = Workloads.replicas(deployment)
        let recreate = deployment[path: ["spec", "strategy", "type"]]?.stringValue == "Recreate"
        let maxUnavailable = recreate ? 0 : DeploymentStrategy.rollingLimits(deployment, replicas: replicas).maxUnavailable
        let counts = Rollout.counts(replicaSets: replicaSets, new: new)
        let specTotal = replicaSets.reduce(Int64(0)) { $0.saturatingAdd(Int64(Workloads.replicas($1))) }
        let generation = deployment[path: ["metadata", "generation"]]?.intValue ?? 0
        let paused = deployment[path: ["spec", "paused"]]?.boolValue == true
        let deadline = deployment[path: ["spec", "progressDeadlineSeconds"]]?.intValue ?? 600
        let complete = counts.updated == Int64(replicas) && counts.replicas == Int64(replicas) && counts.available == Int64(replicas)
        let newName = new.map(ObjectMeta.name) ?? ""
        let now = Timestamp.nowSeconds()
        let written = try await client.modify(Self.deployments, namespace: namespace, name: name, status: true) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            let old = object["status"] ?? .emptyObject
            var status: JSON = .emptyObject
            status["observedGeneration"] = .int(generation)
            status["replicas"] = .int(counts.replicas)
            status["updatedReplicas"] = .int(counts.updated)
            status["readyReplicas"] = .int(counts.ready)
            status["availableReplicas"] = .int(counts.available)
            status["unavailableReplicas"] = specTotal > counts.available ? .int(specTotal - counts.available) : Optional<JSON>.none
            if let collisions = old["collisionCount"] { status["collisionCount"] = collisions }
            status["conditions"] = old["conditions"]
            if status["conditions"]?.isNull == true { status["conditions"] = Optional<JSON>.none }
            if counts.available >= Int64(replicas - maxUnavailable) {
                Rollout.setCondition(&status, type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability.", touch: false)
            } else {
                Rollout.setCondition(&status, type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability.", touch: false)
            }
            let progressing = (old["conditions"]?.arrayValue ?? []).first { $0["type"]?.stringValue == "Progressing" }
            let reason = progressing?["reason"]?.stringValue
            if paused {
                Rollout.setCondition(&status, type: "Progressing", status: "Unknown", reason: "DeploymentPaused", message: "Deployment is paused", touch: false)
            } else if complete, !newName.isEmpty {
                Rollout.setCondition(&status, type: "Progressing", status: "True", reason: "NewReplicaSetAvailable",
                                     message: "ReplicaSet \"\(newName)\" has successfully progressed.", touch: reason != "NewReplicaSetAvailable")
            } else if let createdName {
                Rollout.setCondition(&status, type: "Progressing", status: "True", reason: "NewReplicaSetCreated", message: "Created new replica set \"\(createdName)\"")
            } else if progressing == nil || reason == "DeploymentPaused" || reason == "NewReplicaSetAvailable" || Rollout.progressed(old: old, new: status) {
                Rollout.setCondition(&status, type: "Progressing", status: "True", reason: reason == "DeploymentPaused" ? "DeploymentResumed" : "ReplicaSetUpdated",
                                     message: reason == "DeploymentPaused" ? "Deployment is resumed" : "ReplicaSet \"\(newName)\" is progressing.")
            } else if reason != "ProgressDeadlineExceeded", let progressing,
                      let updated = Timestamp.parse(progressing["lastUpdateTime"]?.stringValue ?? "") {
                if updated.saturatingAdd(deadline) <= now {
                    Rollout.setCondition(&status, type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded",
                                         message: "ReplicaSet \"\(newName)\" has timed out progressing.")
                }
            }
            object["status"] = status
        }
        if !complete, !paused, let progressing = Conditions.find(written, "Progressing"), progressing["reason"]?.stringValue != "ProgressDeadlineExceeded" {
            let updated = Timestamp.parse(progressing["lastUpdateTime"]?.stringValue ?? "") ?? now
            queue.add(key, after: .seconds(max(1, updated.saturatingAdd(deadline) - now)) + .milliseconds(100))
        }
        if let progressing = Conditions.find(written, "Progressing"), progressing["reason"]?.stringValue == "ProgressDeadlineExceeded",
           Conditions.find(deployment, "Progressing")?["reason"]?.stringValue != "ProgressDeadlineExceeded" {
            await client.event(about: deployment, type: "Warning", reason: "ProgressDeadlineExceeded",
                               message: "Deployment \(name) has timed out progressing.", component: Self.component)
        }
        return complete
    }
}
