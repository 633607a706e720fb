import Kube9Model
import Logging

/// Runs apps/v1 DaemonSets: one pod on each node the DaemonSet wants (DaemonSetStrategy.wants),
/// bound to it directly; pods on nodes that no longer qualify (or are gone) are deleted; a
/// changed template replaces pods node by node within maxUnavailable (RollingUpdate) or when
/// they are deleted (OnDelete).
///
/// ```
/// watch daemonsets, nodes, pods ─▶ WorkQueue ─▶ sync ─┬─ create a pod on each wanted node without one
///                                                     ├─ delete pods on unwanted or missing nodes, duplicates, failed pods
///                                                     ├─ RollingUpdate: delete old-revision pods within maxUnavailable
///                                                     └─ status: desired, current, ready, available, updated, misscheduled
/// ```
public final class DaemonSetController: Sendable {
    static let component = "daemonset-controller"
    static let pods = PodStrategy().type
    static let nodes = NodeStrategy().type
    static let daemonSets = DaemonSetStrategy().type

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
            for type in [Self.daemonSets, Self.nodes, Self.pods] { group.addTask { await self.follow(type) } }
            group.addTask { await self.queue.run(concurrency: 4) { key in await self.sync(key) } }
            await group.waitForAll()
        }
    }

    func follow(_ type: ResourceType) async {
        await OwnerIndex.follow(type, client: client, logger: logger, component: Self.component) { objects in
            queue.add(type == Self.daemonSets ? owners.reset(objects) : owners.allKeys)
        } changed: { change in
            switch type {
            case Self.daemonSets: if let key = owners.apply(change) { queue.add(key) }
            case Self.nodes: queue.add(owners.allKeys)
            default: if let key = owners.owner(of: change.object, kind: "DaemonSet") { queue.add(key) }
            }
        }
    }

    func sync(_ key: String) async {
        await OwnerIndex.sync(key, type: Self.daemonSets, client: client, queue: queue, logger: logger, component: Self.component) { daemonSet in
            try await sync(daemonSet, key: key)
        }
    }

    static func isReady(_ pod: JSON) -> Bool {
        (pod[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }

    func sync(_ daemonSet: JSON, key: String) async throws {
        guard ObjectMeta.deletionTimestamp(of: daemonSet) == nil else { return }
        let namespace = ObjectMeta.namespace(of: daemonSet)
        let uid = ObjectMeta.uid(of: daemonSet)
        let revision = Workloads.templateHash(daemonSet[path: ["spec", "template"]])
        let nodes = client.list(Self.nodes, namespace: nil)
        let wanted = Set(nodes.filter { DaemonSetStrategy.wants(daemonSet, node: $0) }.map { ObjectMeta.name(of: $0) })
        let all = client.list(Self.pods, namespace: namespace).filter { ObjectMeta.controllerReference(of: $0)?.uid == uid }
        let owned = all.filter { ObjectMeta.deletionTimestamp(of: $0) == nil }
        // A node whose old pod is still terminating gets its new one once that pod is gone (maxSurge 0).
        let terminating = Set(all.filter { ObjectMeta.deletionTimestamp(of: $0) != nil }.compactMap { $0[path: ["spec", "nodeName"]]?.stringValue })
        var byNode: [String: [JSON]] = [:]
        for pod in owned { byNode[pod[path: ["spec", "nodeName"]]?.stringValue ?? "", default: []].append(pod) }
        var doomed: [JSON] = []
        var create: [String] = []
        for (node, pods) in byNode where !wanted.contains(node) { doomed += pods }
        for node in wanted.sorted() {
            var pods = byNode[node] ?? []
            let failed = pods.filter { $0[path: ["status", "phase"]]?.stringValue == "Failed" }
            doomed += failed
            pods.removeAll { $0[path: ["status", "phase"]]?.stringValue == "Failed" }
            if pods.isEmpty, !terminating.contains(node) { create.append(node) }
            // One per node: keep the oldest, newest revision first.
            let sorted = pods.sorted { ($0[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") < ($1[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") }
            doomed += sorted.dropFirst()
        }
        // RollingUpdate: old-revision pods go within maxUnavailable (a node whose daemon is not ready counts as unavailable).
        if daemonSet[path: ["spec", "updateStrategy", "type"]]?.stringValue != "OnDelete" {
            var ignored: [FieldCause] = []
            let limit = IntOrPercent.parse(daemonSet[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]], field: "", into: &ignored)?
                .resolve(total: wanted.count, roundUp: true) ?? 1
            let current = wanted.compactMap { node in (byNode[node] ?? []).first { $0[path: ["status", "phase"]]?.stringValue != "Failed" } }
            let unavailable = wanted.count - current.filter(Self.isReady).count
            let old = current.filter { ObjectMeta.labels(of: $0)[DaemonSetStrategy.revisionLabel] != revision }
                .sorted { !Self.isReady($0) && Self.isReady($1) }
            let budget = max(0, max(1, limit) - unavailable)
            doomed += old.filter { !Self.isReady($0) } + old.filter(Self.isReady).prefix(budget)
        }
        var seenUIDs = Set<String>()
        for pod in doomed where seenUIDs.insert(ObjectMeta.uid(of: pod)).inserted {
            do {
                try await client.delete(Self.pods, namespace: namespace, name: ObjectMeta.name(of: pod), uid: ObjectMeta.uid(of: pod), propagation: "Background")
                await client.event(about: daemonSet, type: "Normal", reason: "SuccessfulDelete", message: "Deleted pod: \(ObjectMeta.name(of: pod))", component: Self.component)
            } catch {
                logger.info("daemonset controller: delete failed", metadata: ["pod": "\(ObjectMeta.name(of: pod))", "error": "\(error)"])
            }
        }
        for node in create {
            let pod = Self.pod(from: daemonSet, node: node, revision: revision)
            do {
                let made = try await client.create(Self.pods, namespace: namespace, object: pod)
                await client.event(about: daemonSet, type: "Normal", reason: "SuccessfulCreate", message: "Created pod: \(ObjectMeta.name(of: made))", component: Self.component)
            } catch {
                await client.event(about: daemonSet, type: "Warning", reason: "FailedCreate", message: "Error creating: \(error)", component: Self.component)
                throw error
            }
        }
        // Status from the cache after the writes.
        let now = client.list(Self.pods, namespace: namespace)
            .filter { ObjectMeta.controllerReference(of: $0)?.uid == uid && ObjectMeta.deletionTimestamp(of: $0) == nil && $0[path: ["status", "phase"]]?.stringValue != "Failed" }
        let onWanted = now.filter { wanted.contains($0[path: ["spec", "nodeName"]]?.stringValue ?? "") }
        let scheduledNodes = Set(onWanted.compactMap { $0[path: ["spec", "nodeName"]]?.stringValue })
        let minReady = daemonSet[path: ["spec", "minReadySeconds"]]?.intValue ?? 0
        let ready = onWanted.filter(Self.isReady)
        let available = ready.filter { PodRanking.secondsUntilAvailable($0, minReadySeconds: minReady, now: Timestamp.nowSeconds()) == 0 }
        let updated = onWanted.filter { ObjectMeta.labels(of: $0)[DaemonSetStrategy.revisionLabel] == revision }
        let misscheduled = Set(now.compactMap { $0[path: ["spec", "nodeName"]]?.stringValue }.filter { !wanted.contains($0) })
        let generation = daemonSet[path: ["metadata", "generation"]]?.intValue ?? 0
        let status: JSON = ["desiredNumberScheduled": .int(Int64(wanted.count)), "currentNumberScheduled": .int(Int64(scheduledNodes.count)),
                            "numberMisscheduled": .int(Int64(misscheduled.count)), "numberReady": .int(Int64(ready.count)),
                            "numberAvailable": .int(Int64(available.count)), "numberUnavailable": .int(Int64(max(0, wanted.count - available.count))),
                            "updatedNumberScheduled": .int(Int64(updated.count)), "observedGeneration": .int(generation)]
        _ = try await client.modify(Self.daemonSets, namespace: namespace, name: ObjectMeta.name(of: daemonSet), status: true) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            object["status"] = status
        }
        if ready.count > available.count { queue.add(key, after: .seconds(max(1, minReady))) }
    }

    /// A daemon pod for `node`: the template bound to the node, the implicit tolerations, the revision label.
    static func pod(from daemonSet: JSON, node: String, revision: String) -> JSON {
        let template = daemonSet[path: ["spec", "template"]] ?? .emptyObject
        var metadata: JSON = ["generateName": .string(String((ObjectMeta.name(of: daemonSet) + "-").prefix(58)))]
        var labels = template[path: ["metadata", "labels"]]?.objectValue ?? [:]
        labels[DaemonSetStrategy.revisionLabel] = .string(revision)
        metadata["labels"] = .object(labels)
        if let annotations = template[path: ["metadata", "annotations"]] { metadata["annotations"] = annotations }
        metadata["ownerReferences"] = [OwnerReference.controller(of: daemonSet).json]
        var spec = template["spec"] ?? .emptyObject
        spec["nodeName"] = .string(node)
        var tolerations = spec["tolerations"]?.arrayValue ?? []
        for toleration in DaemonSetStrategy.implicitTolerations where !tolerations.contains(toleration) { tolerations.append(toleration) }
        spec["tolerations"] = .array(tolerations)
        return ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec]
    }
}
