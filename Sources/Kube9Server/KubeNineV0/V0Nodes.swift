import Foundation
import Kube9Controllers
import Kube9Model
import Kube9Policy
import Logging
import Synchronization

/// Kube-9's node health, on real Node objects. A node created through `POST /nodes/` (or that
/// got a v0 heartbeat) carries its Kube-9 state in annotations, written only when the state
/// changes; heartbeats themselves are memory writes.
///
/// ```
/// healthy ──(no heartbeat for the grace period, simulate/failure, a heartbeat saying so)──▶ failed
/// failed ──(recovery pass, attempts < 3)──▶ recovering (attempts + 1) ──(next heartbeat)──▶ healthy
/// failed ──(recovery pass, attempts ≥ 3)──▶ permanently_failed   (also: deregister, a heartbeat saying so)
/// permanently_failed: terminal. Heartbeats are told to stop, the node is tainted
/// kube9.io/v0-permanently-failed:NoExecute and its pods are rescheduled elsewhere.
/// any state but healthy: taint kube9.io/v0-unhealthy:NoSchedule (no new pods, as in Kube-9)
/// ```
/// Nodes registered by agents have no such state: they are healthy while Ready, failed otherwise.
final class V0Nodes: Sendable {
    static let healthAnnotation = "kube9.io/v0-health"
    static let attemptsAnnotation = "kube9.io/v0-recovery-attempts"
    static let componentsAnnotation = "kube9.io/v0-components"
    static let unhealthyTaint = "kube9.io/v0-unhealthy"
    static let permanentTaint = "kube9.io/v0-permanently-failed"
    /// The label of nodes created through the v0 API: their pods are run by the server itself.
    static let v0Label = NodeStrategy.kubeNineAPILabel
    /// Kube-9 gives up on a node after this many recovery passes.
    static let maximumRecoveryAttempts: Int64 = 3
    static let workerComponents = ["kubelet", "container_runtime", "kube_proxy", "node_agent"]
    static let masterComponents = ["api_server", "scheduler", "controller", "etcd"]

    let cluster: any ClusterClient
    let heartbeats: HeartbeatService
    let logger: Logger
    /// How often failed nodes get a recovery pass (Kube-9: 15 s).
    let recoveryInterval: Duration
    /// Wall-clock time of each node's last heartbeat (Kube-9 shows it).
    private let lastBeat = Mutex<[String: Double]>([:])
    /// Nodes whose pods are being moved off (so that a second pass does not start the same work).
    private let evicting = Mutex<Set<String>>([])
    /// Moves every pod off a node (the node lifecycle controller's eviction).
    let evict: @Sendable (String) async -> Void
    /// How many unfinished pods are bound to a node (from the v0 index).
    let podCount: @Sendable (String) -> Int

    static let nodes = NodeStrategy().type

    init(cluster: any ClusterClient, heartbeats: HeartbeatService, recoveryInterval: Duration, logger: Logger,
         evict: @escaping @Sendable (String) async -> Void, podCount: @escaping @Sendable (String) -> Int) {
        self.cluster = cluster
        self.heartbeats = heartbeats
        self.recoveryInterval = recoveryInterval
        self.logger = logger
        self.evict = evict
        self.podCount = podCount
    }

    /// Whether the node's state is kept by the v0 layer.
    static func isManaged(_ node: JSON) -> Bool {
        node[path: ["metadata", "annotations", healthAnnotation]]?.stringValue != nil
    }

    static func isMaster(_ node: JSON) -> Bool {
        ObjectMeta.labels(of: node)[NodeStrategy.nodeTypeLabel] == "master"
    }

    /// Kube-9's health_status of a node.
    static func health(_ node: JSON) -> String {
        if let stored = node[path: ["metadata", "annotations", healthAnnotation]]?.stringValue { return stored }
        return SchedulerViews.isReady(node) ? "healthy" : "failed"
    }

    static func attempts(_ node: JSON) -> Int64 {
        Int64(node[path: ["metadata", "annotations", attemptsAnnotation]]?.stringValue ?? "") ?? 0
    }

    /// The node's components: the four worker ones (from its last heartbeat, else from its
    /// readiness), plus the control-plane ones on masters when `includeMaster`.
    static func components(_ node: JSON, includeMaster: Bool, controllerKey: String = "controller") -> JSON {
        let fallback: JSON = SchedulerViews.isReady(node) ? "running" : "stopped"
        var stored: JSON = .emptyObject
        if let text = node[path: ["metadata", "annotations", componentsAnnotation]]?.stringValue, let parsed = try? JSON.parse(text) {
            stored = parsed
        }
        var result = JSON.emptyObject
        for key in workerComponents { result[key] = stored[key].flatMap { $0.stringValue.map(JSON.string) } ?? fallback }
        if includeMaster, isMaster(node) {
            for key in masterComponents { result[key == "controller" ? controllerKey : key] = "running" }
        }
        return result
    }

    /// Kube-9's `last_heartbeat` (ISO 8601, UTC, no offset), or null.
    func lastHeartbeat(_ name: String) -> JSON {
        guard let seconds = lastBeat.withLock({ $0[name] }) else { return .null }
        return .string(Self.isoTime(seconds))
    }

    static func isoTime(_ seconds: Double) -> String {
        let whole = Int64(seconds.rounded(.down))
        let micros = Int64(((seconds - Double(whole)) * 1_000_000).rounded(.down))
        let base = String(Timestamp.format(whole).dropLast())
        return base + "." + String(micros).leftPadded(to: 6)
    }

    func recordBeat(_ name: String) {
        lastBeat.withLock { $0[name] = Date().timeIntervalSince1970 }
    }

    func forget(_ name: String) {
        _ = lastBeat.withLock { $0.removeValue(forKey: name) }
    }

    // MARK: Transitions

    /// Writes the node's Kube-9 state (annotations and the taints that follow from it).
    /// Whether Kube-9 would place pods on a node with these components: kubelet and container runtime running.
    static func componentsAllowPods(_ node: JSON) -> Bool {
        let components = Self.components(node, includeMaster: false)
        return components["kubelet"]?.stringValue == "running" && components["container_runtime"]?.stringValue == "running"
    }

    /// Writes the node's Kube-9 state (annotations and the taints that follow from it). A node
    /// turned permanently failed has its pods moved off in the background.
    @discardableResult
    func setState(_ name: String, health: String, attempts: Int64? = nil, components: JSON? = nil) async throws -> JSON {
        let node = try await cluster.modify(Self.nodes, namespace: "", name: name, status: false) { node in
            node[path: ["metadata", "annotations", Self.healthAnnotation]] = .string(health)
            if let attempts { node[path: ["metadata", "annotations", Self.attemptsAnnotation]] = .string(String(attempts)) }
            if let components { node[path: ["metadata", "annotations", Self.componentsAnnotation]] = .string(components.text) }
            var taints = (node[path: ["spec", "taints"]]?.arrayValue ?? []).filter {
                let key = $0["key"]?.stringValue
                return key != Self.unhealthyTaint && key != Self.permanentTaint
            }
            if health != "healthy" || !Self.componentsAllowPods(node) { taints.append(["key": .string(Self.unhealthyTaint), "effect": "NoSchedule"]) }
            if health == "permanently_failed" { taints.append(["key": .string(Self.permanentTaint), "effect": "NoExecute"]) }
            node[path: ["spec", "taints"]] = taints.isEmpty ? nil : .array(taints)
        }
        if health == "permanently_failed" { moveOffLater(name) }
        return node
    }

    /// Reschedules the pods of a permanently failed node, in the background, when it has any
    /// (a request never waits for it, and a node with no pods costs nothing).
    func moveOffLater(_ name: String) {
        guard podCount(name) > 0, evicting.withLock({ $0.insert(name).inserted }) else { return }
        Task {
            defer { _ = self.evicting.withLock { $0.remove(name) } }
            await self.evict(name)
        }
    }

    /// A heartbeat (Kube-9's body: health_status, components; cpu_cores_avail and pod_ids are
    /// accepted and not used: kube9 counts what is bound). Returns the node's state after it,
    /// and whether the node had failed permanently before (then nothing changed).
    func heartbeat(_ node: JSON, body: JSON) async throws -> (status: String, alreadyFailed: Bool) {
        let name = ObjectMeta.name(of: node)
        let current = Self.health(node)
        if Self.isManaged(node), current == "permanently_failed" {
            recordBeat(name)
            moveOffLater(name)
            return ("permanently_failed", true)
        }
        try await heartbeats.beat(node: name)
        recordBeat(name)
        let reported: String
        switch body["health_status"] {
        case .string(let text)?: reported = text
        case nil, .null?: reported = "healthy"
        case let other?: reported = other.text
        }
        var components = Self.components(node, includeMaster: false)
        if let given = body["components"]?.objectValue {
            for key in Self.workerComponents {
                if let value = given[key] { components[key] = value.stringValue.map(JSON.string) ?? .string(value.text) }
            }
        }
        let storedComponents = node[path: ["metadata", "annotations", Self.componentsAnnotation]]?.stringValue
        if !Self.isManaged(node) || current != reported || storedComponents != components.text {
            try await setState(name, health: reported, components: components)
        }
        return (reported, false)
    }

    // MARK: Monitor

    /// The health monitor and recovery loop of Kube-9, on kube9's timing: a managed node that
    /// is healthy but no longer Ready (no heartbeat for the grace period) turns failed; every
    /// `recoveryInterval`, failed nodes get a recovery pass.
    func run() async {
        var lastRecovery = ContinuousClock.now
        while !Task.isCancelled {
            let recover = ContinuousClock.now - lastRecovery >= recoveryInterval
            if recover { lastRecovery = .now }
            for node in cluster.list(Self.nodes, namespace: nil) where Self.isManaged(node) {
                let name = ObjectMeta.name(of: node)
                let health = Self.health(node)
                do {
                    if health == "healthy", !SchedulerViews.isReady(node) {
                        try await setState(name, health: "failed")
                    } else if health == "recovering" || health == "failed", !NodeStrategy.isKubeNineNode(node), SchedulerViews.isReady(node), !recover {
                        // An agent's node sends kube9 heartbeats, not Kube-9 ones: Ready again is healthy again.
                        if health == "recovering" { try await setState(name, health: "healthy", attempts: 0) }
                    } else if health == "failed", recover {
                        let attempts = Self.attempts(node)
                        if attempts >= Self.maximumRecoveryAttempts {
                            try await setState(name, health: "permanently_failed")
                        } else {
                            // A recovery pass: Kube-9 restarts the node's container and counts it as a heartbeat.
                            recordBeat(name)
                            try await setState(name, health: "recovering", attempts: attempts + 1)
                        }
                    } else if health == "permanently_failed" {
                        moveOffLater(name)
                    }
                } catch {
                    logger.debug("v0 node state not written", metadata: ["node": "\(name)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}
