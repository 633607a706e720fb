import Kube9Model
import Logging
import Synchronization

/// The health monitor: watches heartbeats, marks silent nodes unreachable, and moves their
/// pods to healthy nodes.
///
/// ```
/// every tick ─▶ for each Node: age = now − last heartbeat (or when first seen)
///    age > grace      ─▶ Ready=Unknown, taint node.kubernetes.io/unreachable:NoExecute, event NodeNotReady
///    unreachable for the eviction timeout ─▶ each pod on it: event Evicted, deleted at once;
///                        a bare pod (no controller owner) is created again, unbound, with
///                        kube9.io/rescheduled-from, so the scheduler places it elsewhere
///    heartbeats again ─▶ Ready=True, taint removed, event NodeReady
/// ```
///
/// A rescheduled pod is a new object (new uid): the old binding is deleted first, so a pod is
/// never bound to two nodes, and an agent that comes back stops the pod it no longer owns.
public final class NodeLifecycleController: Sendable {
    public static let unreachableTaint = "node.kubernetes.io/unreachable"
    public static let rescheduledFromAnnotation = PodStrategy.rescheduledFromAnnotation
    static let component = "node-lifecycle-controller"

    let client: any ClusterClient
    let heartbeats: HeartbeatTable
    let timing: ClusterTiming
    let logger: Logger
    /// When the controller first saw each node (the grace period of a node that never beat starts there).
    private let firstSeen = Mutex<[String: UInt64]>([:])
    /// When each node was marked unreachable.
    private let unreachableSince = Mutex<[String: UInt64]>([:])

    static let nodes = NodeStrategy().type
    static let pods = PodStrategy().type

    public init(client: any ClusterClient, heartbeats: HeartbeatTable, timing: ClusterTiming, logger: Logger) {
        self.client = client
        self.heartbeats = heartbeats
        self.timing = timing
        self.logger = logger
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(duration.components.seconds) * 1_000_000_000 + UInt64(duration.components.attoseconds / 1_000_000_000)
    }

    /// Runs until the task is cancelled, checking several times per heartbeat interval.
    public func run() async {
        let tick = min(Duration.milliseconds(500), timing.heartbeatInterval / 2)
        while !Task.isCancelled {
            await reconcile(now: HeartbeatTable.now())
            try? await Task.sleep(for: tick)
        }
    }

    /// One pass over all nodes.
    public func reconcile(now: UInt64) async {
        let grace = Self.nanoseconds(timing.nodeMonitorGracePeriod)
        let eviction = Self.nanoseconds(timing.podEvictionTimeout)
        let nodes = client.list(Self.nodes, namespace: nil)
        let names = Set(nodes.map { ObjectMeta.name(of: $0) })
        let added = firstSeen.withLock { seen -> Set<String> in
            let added = names.filter { seen[$0] == nil }
            for name in added { seen[name] = now }
            for name in seen.keys where !names.contains(name) { seen[name] = nil }
            return added
        }
        // A node registered in the last minute gets its RegisteredNode event (not every node at each server start).
        let recent = Timestamp.nowSeconds() - 60
        for node in nodes where added.contains(ObjectMeta.name(of: node))
            && (Timestamp.parse(node[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") ?? 0) >= recent {
            let name = ObjectMeta.name(of: node)
            await client.event(about: node, type: "Normal", reason: "RegisteredNode",
                               message: "Node \(name) event: Registered Node \(name) in Controller", component: Self.component)
        }
        for node in nodes {
            let name = ObjectMeta.name(of: node)
            let last = heartbeats.last(name) ?? firstSeen.withLock { $0[name] } ?? now
            let silent = now > last && now - last > grace
            let readyStatus = Conditions.find(node, "Ready")?["status"]?.stringValue
            if silent {
                if readyStatus != "Unknown" {
                    await markUnreachable(node)
                    unreachableSince.withLock { $0[name] = now }
                }
                let since = unreachableSince.withLock { state -> UInt64 in
                    if let since = state[name] { return since }
                    state[name] = now  // marked by an earlier server run: the timeout starts now
                    return now
                }
                // Kube-9's nodes keep their pods until they fail permanently (its own state machine
                // moves them then): only agents' nodes are evicted for silence.
                if now - since >= eviction, !NodeStrategy.isKubeNineNode(node) { await evictPods(from: name) }
            } else if readyStatus == "Unknown" || hasUnreachableTaint(node) {
                unreachableSince.withLock { $0[name] = nil }
                await markReachable(node)
            }
        }
    }

    func hasUnreachableTaint(_ node: JSON) -> Bool {
        (node[path: ["spec", "taints"]]?.arrayValue ?? []).contains { $0["key"]?.stringValue == Self.unreachableTaint }
    }

    func markUnreachable(_ node: JSON) async {
        let name = ObjectMeta.name(of: node)
        do {
            try await client.modify(Self.nodes, namespace: "", name: name, status: true) { node in
                Conditions.set(&node, type: "Ready", status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status.")
            }
            try await client.modify(Self.nodes, namespace: "", name: name, status: false) { node in
                var taints = node[path: ["spec", "taints"]]?.arrayValue ?? []
                if !taints.contains(where: { $0["key"]?.stringValue == Self.unreachableTaint }) {
                    taints.append(["key": .string(Self.unreachableTaint), "effect": "NoExecute", "timeAdded": .string(Timestamp.now())])
                }
                node[path: ["spec", "taints"]] = .array(taints)
            }
            await client.event(about: node, type: "Warning", reason: "NodeNotReady",
                               message: "Node \(name) status is now: NodeNotReady (no heartbeat for \(timing.nodeMonitorGracePeriod))",
                               component: Self.component)
            logger.warning("node unreachable", metadata: ["node": "\(name)"])
        } catch {
            logger.error("cannot mark node unreachable", metadata: ["node": "\(name)", "error": "\(error)"])
        }
    }

    func markReachable(_ node: JSON) async {
        let name = ObjectMeta.name(of: node)
        do {
            try await client.modify(Self.nodes, namespace: "", name: name, status: true) { node in
                Conditions.set(&node, type: "Ready", status: "True", reason: "KubeletReady", message: "kube9 agent is posting ready status", heartbeat: true)
            }
            try await client.modify(Self.nodes, namespace: "", name: name, status: false) { node in
                let taints = (node[path: ["spec", "taints"]]?.arrayValue ?? []).filter { $0["key"]?.stringValue != Self.unreachableTaint }
                node[path: ["spec", "taints"]] = taints.isEmpty ? nil : .array(taints)
            }
            await client.event(about: node, type: "Normal", reason: "NodeReady", message: "Node \(name) status is now: NodeReady", component: Self.component)
            logger.info("node reachable again", metadata: ["node": "\(name)"])
        } catch {
            logger.error("cannot mark node ready", metadata: ["node": "\(name)", "error": "\(error)"])
        }
    }

    /// Deletes every pod bound to `node`; bare pods come back unbound for the scheduler.
    public func evictPods(from node: String) async {
        let pods = client.list(Self.pods, namespace: nil).filter { $0[path: ["spec", "nodeName"]]?.stringValue == node }
        for pod in pods {
            let name = ObjectMeta.name(of: pod)
            let namespace = ObjectMeta.namespace(of: pod)
            let recreate = PodStrategy.isRecreatedAfterEviction(pod)
            await client.event(about: pod, type: "Warning", reason: "Evicted",
                               message: "Evicting pod from unreachable node \(node)", component: Self.component)
            do {
                try await client.delete(Self.pods, namespace: namespace, name: name, gracePeriodSeconds: 0)
            } catch {
                logger.error("cannot evict pod", metadata: ["pod": "\(namespace)/\(name)", "error": "\(error)"])
                continue
            }
            // Finished pods and pods a controller owns are not recreated here.
            guard recreate else { continue }
            let replacement = PodStrategy.replacement(of: pod, leavingNode: node)
            do {
                let created = try await client.create(Self.pods, namespace: namespace, object: replacement)
                await client.event(about: created, type: "Normal", reason: "Rescheduled",
                                   message: "Pod recreated after eviction from unreachable node \(node); waiting for the scheduler",
                                   component: Self.component)
                logger.info("pod rescheduled", metadata: ["pod": "\(namespace)/\(name)", "from": "\(node)"])
            } catch {
                logger.error("cannot recreate evicted pod", metadata: ["pod": "\(namespace)/\(name)", "error": "\(error)"])
            }
        }
    }
}
