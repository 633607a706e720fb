import Kube9Model
import Logging

/// Runs apps/v1 StatefulSets: pod NAME-i for each ordinal i, with hostname NAME-i, the
/// governing service as subdomain, and claim TEMPLATE-NAME-i of each volumeClaimTemplate
/// (made before the pod, kept when the pod goes, so a pod that comes back finds its data).
///
/// ```
/// watch statefulsets, pods ─▶ WorkQueue ─▶ sync ─┬─ claims of every wanted ordinal (created when missing)
///                                                ├─ OrderedReady: the lowest missing pod once all below are Running and Ready;
///                                                │  Parallel: every missing pod
///                                                ├─ failed pods deleted (recreated at the next sync, same name)
///                                                ├─ scale down: the highest ordinal first (OrderedReady: one at a time)
///                                                ├─ RollingUpdate: old-revision pods from the highest ordinal down to the partition
///                                                └─ status: replicas, ready, current/updated and their revisions
/// ```
public final class StatefulSetController: Sendable {
    static let component = "statefulset-controller"
    static let pods = PodStrategy().type
    static let claims = PersistentVolumeClaimStrategy().type
    static let sets = StatefulSetStrategy().type

    let client: any ClusterClient
    let logger: Logger
    let owners = OwnerIndex()
    let queue = WorkQueue()

    public init(client: any ClusterClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for type in [Self.sets, Self.pods] { group.addTask { await self.follow(type) } }
            group.addTask { await self.queue.run(concurrency: 4) { key in await self.sync(key) } }
            await group.waitForAll()
        }
    }

    func follow(_ type: ResourceType) async {
        await OwnerIndex.follow(type, client: client, logger: logger, component: Self.component) { objects in
            queue.add(type == Self.sets ? owners.reset(objects) : owners.allKeys)
        } changed: { change in
            if type == Self.sets {
                if let key = owners.apply(change) { queue.add(key) }
            } else if let key = owners.owner(of: change.object, kind: "StatefulSet") {
                queue.add(key)
            }
        }
    }

    func sync(_ key: String) async {
        await OwnerIndex.sync(key, type: Self.sets, client: client, queue: queue, logger: logger, component: Self.component) { set in
            try await sync(set, key: key)
        }
    }

    static func isRunningAndReady(_ pod: JSON) -> Bool {
        pod[path: ["status", "phase"]]?.stringValue == "Running" && DaemonSetController.isReady(pod)
    }

    /// The revision name pods of the current template carry: NAME-HASH, as Kubernetes names ControllerRevisions.
    static func revision(of set: JSON) -> String {
        "\(ObjectMeta.name(of: set))-\(Workloads.templateHash(set[path: ["spec", "template"]]))"
    }

    func sync(_ set: JSON, key: String) async throws {
        guard ObjectMeta.deletionTimestamp(of: set) == nil else { return }
        let namespace = ObjectMeta.namespace(of: set)
        let uid = ObjectMeta.uid(of: set)
        let setName = ObjectMeta.name(of: set)
        let replicas = Workloads.replicas(set)
        let first = StatefulSetStrategy.firstOrdinal(set)
        let wanted = first..<(first + replicas)
        let ordered = set[path: ["spec", "podManagementPolicy"]]?.stringValue != "Parallel"
        let updateRevision = Self.revision(of: set)
        let owned = client.list(Self.pods, namespace: namespace).filter { ObjectMeta.controllerReference(of: $0)?.uid == uid }
        var byOrdinal: [Int: JSON] = [:]
        var condemned: [(Int, JSON)] = []
        for pod in owned {
            guard let ordinal = StatefulSetStrategy.ordinal(of: ObjectMeta.name(of: pod), set: setName), wanted.contains(ordinal) else {
                condemned.append((StatefulSetStrategy.ordinal(of: ObjectMeta.name(of: pod), set: setName) ?? Int.max, pod))
                continue
            }
            byOrdinal[ordinal] = pod
        }
        try await ensureClaims(set, ordinals: wanted)
        // Creation and replacement, lowest ordinal first.
        var blocked = false
        for ordinal in wanted {
            if let pod = byOrdinal[ordinal] {
                let phase = pod[path: ["status", "phase"]]?.stringValue
                if ObjectMeta.deletionTimestamp(of: pod) == nil, phase == "Failed" || phase == "Succeeded" {
                    try await delete(pod, from: set, reason: "pod \(phase ?? "") phase")
                    blocked = blocked || ordered
                } else if ordered, ObjectMeta.deletionTimestamp(of: pod) != nil || !Self.isRunningAndReady(pod) {
                    blocked = true
                }
            } else if !blocked {
                try await create(set, ordinal: ordinal, revision: updateRevision)
                if ordered { blocked = true }
            }
            if blocked && ordered { break }
        }
        // Scale down: the highest ordinal first; OrderedReady waits until every wanted pod runs and is ready.
        let allReady = wanted.allSatisfy { byOrdinal[$0].map(Self.isRunningAndReady) == true }
        let live = condemned.filter { ObjectMeta.deletionTimestamp(of: $0.1) == nil }.sorted { $0.0 > $1.0 }
        if ordered {
            let terminating = condemned.contains { ObjectMeta.deletionTimestamp(of: $0.1) != nil }
            if allReady, !terminating, let highest = live.first { try await delete(highest.1, from: set, reason: "scale down") }
        } else {
            for (_, pod) in live { try await delete(pod, from: set, reason: "scale down") }
        }
        if live.isEmpty, set[path: ["spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"]]?.stringValue == "Delete" {
            try await deleteScaledClaims(set, wanted: wanted)
        }
        // Rolling update: one old-revision pod at a time, from the highest ordinal down to the partition.
        if set[path: ["spec", "updateStrategy", "type"]]?.stringValue != "OnDelete", allReady, condemned.isEmpty {
            let partition = Int(min(max(set[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]]?.intValue ?? 0, 0), Workloads.maximumReplicas))
            let stale = wanted.reversed().filter { $0 >= first + partition }.compactMap { byOrdinal[$0] }
                .first { ObjectMeta.labels(of: $0)[DaemonSetStrategy.revisionLabel] != updateRevision }
            if let stale { try await delete(stale, from: set, reason: "rolling update to \(updateRevision)") }
        }
        try await writeStatus(set, updateRevision: updateRevision, wanted: wanted, key: key)
    }

    /// The claims of the wanted ordinals, made from the templates when missing.
    func ensureClaims(_ set: JSON, ordinals: Range<Int>) async throws {
        let templates = set[path: ["spec", "volumeClaimTemplates"]]?.arrayValue ?? []
        guard !templates.isEmpty else { return }
        let namespace = ObjectMeta.namespace(of: set)
        let setName = ObjectMeta.name(of: set)
        let deleteWithSet = set[path: ["spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"]]?.stringValue == "Delete"
        var selectorLabels: [String: JSON] = [:]
        for (key, value) in set[path: ["spec", "selector", "matchLabels"]]?.objectValue ?? [:] { selectorLabels[key] = value }
        for ordinal in ordinals {
            for template in templates {
                let templateName = template[path: ["metadata", "name"]]?.stringValue ?? ""
                let name = StatefulSetStrategy.claimName(template: templateName, set: setName, ordinal: ordinal)
                guard client.get(Self.claims, namespace: namespace, name: name) == nil else { continue }
                var labels = template[path: ["metadata", "labels"]]?.objectValue ?? [:]
                for (key, value) in selectorLabels { labels[key] = value }
                var metadata: JSON = ["name": .string(name), "namespace": .string(namespace), "labels": .object(labels)]
                if let annotations = template[path: ["metadata", "annotations"]] { metadata["annotations"] = annotations }
                if deleteWithSet { metadata["ownerReferences"] = [OwnerReference.controller(of: set).json] }
                let claim: JSON = ["apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": template["spec"] ?? .emptyObject]
                do {
                    try await client.create(Self.claims, namespace: namespace, object: claim)
                    await client.event(about: set, type: "Normal", reason: "SuccessfulCreate", message: "create Claim \(name) Pod \(setName)-\(ordinal) in StatefulSet \(setName) success", component: Self.component)
                } catch let error as APIError where error.code == 409 {
                    continue
                } catch {
                    await client.event(about: set, type: "Warning", reason: "FailedCreate", message: "create Claim \(name) for Pod \(setName)-\(ordinal) in StatefulSet \(setName) failed error: \(error)", component: Self.component)
                    throw error
                }
            }
        }
    }

    /// Claims of ordinals beyond the replicas, deleted under whenScaled: Delete.
    func deleteScaledClaims(_ set: JSON, wanted: Range<Int>) async throws {
        let namespace = ObjectMeta.namespace(of: set)
        let setName = ObjectMeta.name(of: set)
        for template in set[path: ["spec", "volumeClaimTemplates"]]?.arrayValue ?? [] {
            let prefix = "\(template[path: ["metadata", "name"]]?.stringValue ?? "")-"
            for claim in client.list(Self.claims, namespace: namespace) where ObjectMeta.deletionTimestamp(of: claim) == nil {
                let name = ObjectMeta.name(of: claim)
                guard name.hasPrefix(prefix), let ordinal = StatefulSetStrategy.ordinal(of: String(name.dropFirst(prefix.count)), set: setName),
                      !wanted.contains(ordinal) else { continue }
                try await client.delete(Self.claims, namespace: namespace, name: name, uid: ObjectMeta.uid(of: claim), propagation: "Background")
            }
        }
    }

    func create(_ set: JSON, ordinal: Int, revision: String) async throws {
        let pod = Self.pod(from: set, ordinal: ordinal, revision: revision)
        let namespace = ObjectMeta.namespace(of: set)
        do {
            try await client.create(Self.pods, namespace: namespace, object: pod)
            await client.event(about: set, type: "Normal", reason: "SuccessfulCreate",
                               message: "create Pod \(ObjectMeta.name(of: pod)) in StatefulSet \(ObjectMeta.name(of: set)) successful", component: Self.component)
        } catch let error as APIError where error.code == 409 {
            return  // the old pod of that name is still going away
        } catch {
            await client.event(about: set, type: "Warning", reason: "FailedCreate",
                               message: "create Pod \(ObjectMeta.name(of: pod)) in StatefulSet \(ObjectMeta.name(of: set)) failed error: \(error)", component: Self.component)
            throw error
        }
    }

    func delete(_ pod: JSON, from set: JSON, reason: String) async throws {
        let name = ObjectMeta.name(of: pod)
        try await client.delete(Self.pods, namespace: ObjectMeta.namespace(of: pod), name: name, uid: ObjectMeta.uid(of: pod), propagation: "Background")
        await client.event(about: set, type: "Normal", reason: "SuccessfulDelete",
                           message: "delete Pod \(name) in StatefulSet \(ObjectMeta.name(of: set)) successful (\(reason))", component: Self.component)
    }

    func writeStatus(_ set: JSON, updateRevision: String, wanted: Range<Int>, key: String) async throws {
        let namespace = ObjectMeta.namespace(of: set)
        let uid = ObjectMeta.uid(of: set)
        let setName = ObjectMeta.name(of: set)
        let pods = client.list(Self.pods, namespace: namespace).filter {
            ObjectMeta.controllerReference(of: $0)?.uid == uid && ObjectMeta.deletionTimestamp(of: $0) == nil
                && StatefulSetStrategy.ordinal(of: ObjectMeta.name(of: $0), set: setName).map(wanted.contains) == true
        }
        let minReady = set[path: ["spec", "minReadySeconds"]]?.intValue ?? 0
        let ready = pods.filter(Self.isRunningAndReady)
        let available = ready.filter { PodRanking.secondsUntilAvailable($0, minReadySeconds: minReady, now: Timestamp.nowSeconds()) == 0 }
        let updated = pods.filter { ObjectMeta.labels(of: $0)[DaemonSetStrategy.revisionLabel] == updateRevision }
        var currentRevision = set[path: ["status", "currentRevision"]]?.stringValue ?? updateRevision
        if currentRevision.isEmpty { currentRevision = updateRevision }
        var current = pods.filter { ObjectMeta.labels(of: $0)[DaemonSetStrategy.revisionLabel] == currentRevision }.count
        // The rollout is complete once every wanted pod runs the update revision and is ready.
        if updated.count == wanted.count, ready.count == wanted.count {
            currentRevision = updateRevision
            current = updated.count
        }
        let generation = set[path: ["metadata", "generation"]]?.intValue ?? 0
        let status: JSON = ["replicas": .int(Int64(pods.count)), "readyReplicas": .int(Int64(ready.count)),
                            "availableReplicas": .int(Int64(available.count)), "currentReplicas": .int(Int64(current)),
                            "updatedReplicas": .int(Int64(updated.count)), "currentRevision": .string(currentRevision),
                            "updateRevision": .string(updateRevision), "observedGeneration": .int(generation),
                            "collisionCount": .int(set[path: ["status", "collisionCount"]]?.intValue ?? 0)]
        if set["status"] != status {
            try await client.modify(Self.sets, namespace: namespace, name: setName, status: true) { object in
                guard ObjectMeta.uid(of: object) == uid else { return }
                object["status"] = status
            }
        }
        if ready.count > available.count { queue.add(key, after: .seconds(max(1, minReady))) }
    }

    /// Pod NAME-ordinal: the template with the set's identity labels, hostname and subdomain,
    /// and each claim template's volume pointing at the ordinal's claim.
    static func pod(from set: JSON, ordinal: Int, revision: String) -> JSON {
        let setName = ObjectMeta.name(of: set)
        let name = "\(setName)-\(ordinal)"
        let template = set[path: ["spec", "template"]] ?? .emptyObject
        var labels = template[path: ["metadata", "labels"]]?.objectValue ?? [:]
        labels[DaemonSetStrategy.revisionLabel] = .string(revision)
        labels[StatefulSetStrategy.podNameLabel] = .string(name)
        labels[StatefulSetStrategy.podIndexLabel] = .string(String(ordinal))
        var metadata: JSON = ["name": .string(name), "labels": .object(labels), "ownerReferences": [OwnerReference.controller(of: set).json]]
        if let annotations = template[path: ["metadata", "annotations"]] { metadata["annotations"] = annotations }
        var spec = template["spec"] ?? .emptyObject
        spec["hostname"] = .string(name)
        if let service = set[path: ["spec", "serviceName"]]?.stringValue, !service.isEmpty { spec["subdomain"] = .string(service) }
        var volumes = spec["volumes"]?.arrayValue ?? []
        for claimTemplate in set[path: ["spec", "volumeClaimTemplates"]]?.arrayValue ?? [] {
            let volumeName = claimTemplate[path: ["metadata", "name"]]?.stringValue ?? ""
            volumes.removeAll { $0["name"]?.stringValue == volumeName }
            volumes.append(["name": .string(volumeName),
                            "persistentVolumeClaim": ["claimName": .string(StatefulSetStrategy.claimName(template: volumeName, set: setName, ordinal: ordinal))]])
        }
        if !volumes.isEmpty { spec["volumes"] = .array(volumes) }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec]
    }
}
