import Kube9Controllers
import Kube9Lua
import Kube9Model
import Kube9Policy
import Logging
import Synchronization

/// Adds nodes when pods are Pending for lack of room and removes nodes that stay underused,
/// within min/max nodes, as the `node-autoscaler` policy in Lua decides; nodes come and go
/// through a `NodeProvider` (`kube9 node add` / `kube9 node remove`). Only nodes it made (label
/// kube9.io/node-group=autoscaler) count toward the bounds and may be removed.
///
/// ```
/// every interval ─▶ nodes (allocatable, requested, idle since), pending unschedulable pods, shapes, upcoming
///                 ─▶ Lua decide(cluster) ─▶ {add = {shape = count}, remove = {names}}  (a failure keeps the count)
///                 ─▶ checked: known shapes, own nodes, within min/max ─▶ provider add | remove; events
/// ```
public final class NodeAutoscalerController: Sendable {
    static let component = "node-autoscaler"
    static let nodes = NodeStrategy().type
    static let pods = PodStrategy().type

    struct State {
        /// Nodes being added: name → (shape, when asked).
        var upcoming: [String: (String, Int64)] = [:]
        var removing: Set<String> = []
        /// Node → since when it has been under the utilization threshold.
        var underusedSince: [String: Int64] = [:]
        var lastMessage = ""
        /// Pod uid → (scale-ups it triggered, the last one's time): a pod still pending after two
        /// is one a new node does not help (it wants something else), left out for 10 minutes.
        var triggered: [String: (Int, Int64)] = [:]
    }

    /// Scale-ups a pod may trigger before it is left out, and for how long.
    static let maximumTriggers = 2
    static let triggerMemorySeconds: Int64 = 600

    let client: any ClusterClient
    let host: PolicyHost
    let provider: any NodeProvider
    let configuration: NodeAutoscalerConfiguration
    let logger: Logger
    let state = Mutex(State())

    public init(client: any ClusterClient, host: PolicyHost, provider: any NodeProvider, configuration: NodeAutoscalerConfiguration, logger: Logger) {
        self.client = client
        self.host = host
        self.provider = provider
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await step()
            try? await Task.sleep(for: .milliseconds(Int64(configuration.intervalSeconds * 1000)))
        }
    }

    static func isManaged(_ node: JSON) -> Bool {
        ObjectMeta.labels(of: node)[NodeAutoscalerConfiguration.groupLabel] == NodeAutoscalerConfiguration.groupValue
    }

    static func isReady(_ node: JSON) -> Bool { Conditions.find(node, "Ready")?["status"] == "True" }

    /// What the policy sees of one node.
    struct NodeView {
        var name: String
        var managed: Bool
        var ready: Bool
        var unschedulable: Bool
        var shape: String
        var cpu: Int64, memory: Int64, podsAllowed: Int64
        var cpuRequested: Int64, memoryRequested: Int64, pods: Int64
        var idleSeconds: Int64
        var bare: Int

        var lua: LuaValue {
            .map(["name": .string(name), "managed": .bool(managed), "ready": .bool(ready), "unschedulable": .bool(unschedulable),
                  "shape": .string(shape), "cpu": .integer(cpu), "memory": .integer(memory), "pods_allowed": .integer(podsAllowed),
                  "cpu_requested": .integer(cpuRequested), "memory_requested": .integer(memoryRequested), "pods": .integer(pods),
                  "idle_seconds": .integer(idleSeconds), "bare_pods": .integer(Int64(bare))])
        }
    }

    /// Whether a node of a shape could take the pod: its node selector names only labels the
    /// autoscaler's nodes carry, and it has not triggered two scale-ups that did not help.
    func helps(_ pod: JSON, now: Int64) -> Bool {
        let selector = pod[path: ["spec", "nodeSelector"]]?.objectValue ?? [:]
        let fits = selector.allSatisfy { key, value in
            switch key {
            case NodeAutoscalerConfiguration.groupLabel: return value.stringValue == NodeAutoscalerConfiguration.groupValue
            case NodeAutoscalerConfiguration.shapeLabel: return configuration.shapes.contains { $0.name == value.stringValue }
            case "kubernetes.io/os": return value.stringValue == "linux"
            default: return false
            }
        }
        let triggers = state.withLock { $0.triggered[ObjectMeta.uid(of: pod)]?.0 ?? 0 }
        return fits && triggers < Self.maximumTriggers
    }

    static func requests(_ pod: JSON) -> (cpu: Int64, memory: Int64) {
        var cpu: Int64 = 0
        var memory: Int64 = 0
        for container in pod[path: ["spec", "containers"]]?.arrayValue ?? [] {
            cpu = cpu.saturatingAdd(Quantity.from(container[path: ["resources", "requests", "cpu"]])?.milliValue ?? 0)
            memory = memory.saturatingAdd(Quantity.from(container[path: ["resources", "requests", "memory"]])?.value ?? 0)
        }
        return (cpu, memory)
    }

    /// Gathers the cluster, asks the policy, checks and applies its decision.
    func step() async {
        let now = Timestamp.nowSeconds()
        let nodeObjects = client.list(Self.nodes, namespace: nil)
        let podObjects = client.list(Self.pods, namespace: nil).filter { pod in
            let phase = pod[path: ["status", "phase"]]?.stringValue ?? ""
            return phase != "Succeeded" && phase != "Failed"
        }
        var byNode: [String: [JSON]] = [:]
        var pending: [JSON] = []
        for pod in podObjects {
            let node = pod[path: ["spec", "nodeName"]]?.stringValue ?? ""
            if node.isEmpty {
                if ObjectMeta.deletionTimestamp(of: pod) == nil, Conditions.find(pod, "PodScheduled")?["reason"] == "Unschedulable", helps(pod, now: now) { pending.append(pod) }
            } else {
                byNode[node, default: []].append(pod)
            }
        }
        let names = Set(nodeObjects.map(ObjectMeta.name))
        let ready = Set(nodeObjects.filter(Self.isReady).map(ObjectMeta.name))
        let (upcoming, removing) = state.withLock { state -> ([String: (String, Int64)], Set<String>) in
            // An added node counts as upcoming until it is Ready (the scheduler can use it), or for 5 minutes.
            state.upcoming = state.upcoming.filter { !ready.contains($0.key) && now - $0.value.1 < 300 }
            state.triggered = state.triggered.filter { now - $0.value.1 < Self.triggerMemorySeconds }
            state.removing = state.removing.intersection(names)
            return (state.upcoming, state.removing)
        }
        var views: [NodeView] = []
        for node in nodeObjects {
            let name = ObjectMeta.name(of: node)
            let allocatable = node[path: ["status", "allocatable"]] ?? .emptyObject
            let pods = byNode[name] ?? []
            let requested = pods.reduce((cpu: Int64(0), memory: Int64(0))) { sum, pod in
                let own = Self.requests(pod)
                return (sum.cpu.saturatingAdd(own.cpu), sum.memory.saturatingAdd(own.memory))
            }
            let cpu = Quantity.from(allocatable["cpu"])?.milliValue ?? 0
            let memory = Quantity.from(allocatable["memory"])?.value ?? 0
            let utilization = max(cpu > 0 ? Double(requested.cpu) / Double(cpu) : 0, memory > 0 ? Double(requested.memory) / Double(memory) : 0)
            let since = state.withLock { state -> Int64 in
                if utilization < configuration.scaleDownUtilization {
                    if state.underusedSince[name] == nil { state.underusedSince[name] = now }
                } else {
                    state.underusedSince.removeValue(forKey: name)
                }
                return state.underusedSince[name] ?? now
            }
            views.append(NodeView(name: name, managed: Self.isManaged(node), ready: Self.isReady(node),
                                  unschedulable: node[path: ["spec", "unschedulable"]]?.boolValue == true,
                                  shape: ObjectMeta.labels(of: node)[NodeAutoscalerConfiguration.shapeLabel] ?? "",
                                  cpu: cpu, memory: memory, podsAllowed: Quantity.from(allocatable["pods"])?.value ?? 110,
                                  cpuRequested: requested.cpu, memoryRequested: requested.memory, pods: Int64(pods.count),
                                  idleSeconds: utilization < configuration.scaleDownUtilization ? now - since : 0,
                                  bare: pods.filter { ObjectMeta.controllerReference(of: $0) == nil }.count))
        }
        state.withLock { state in state.underusedSince = state.underusedSince.filter { names.contains($0.key) } }
        let managed = views.filter { $0.managed && !removing.contains($0.name) }.count
        // Below the minimum: nodes of the first shape are added without asking the policy.
        if managed + upcoming.count < configuration.minNodes, let shape = configuration.shapes.first {
            await add([shape.name: configuration.minNodes - managed - upcoming.count], pending: [], reason: "below minNodes \(configuration.minNodes)")
            return
        }
        let cluster = clusterValue(views: views, pending: pending, upcoming: upcoming, managed: managed)
        let decision: (add: [String: Int], remove: [String])
        do {
            decision = try await decide(cluster)
        } catch {
            await note("Warning", "NodeAutoscalerPolicyFailed", "node-autoscaler policy \(configuration.policy) failed, keeping the nodes: \(error)")
            return
        }
        // Swift checks the decision: known shapes, within maxNodes; only its own, ready nodes removed, not below minNodes.
        var additions: [String: Int] = [:]
        var room = configuration.maxNodes - managed - upcoming.count
        for (shape, count) in decision.add.sorted(by: { $0.key < $1.key }) where count > 0 && room > 0 {
            guard configuration.shapes.contains(where: { $0.name == shape }) else {
                await note("Warning", "NodeAutoscalerPolicyFailed", "node-autoscaler policy \(configuration.policy) asked for unknown shape \(shape)")
                continue
            }
            additions[shape] = min(count, room)
            room -= min(count, room)
        }
        var removals: [String] = []
        var left = managed
        for name in decision.remove where left > configuration.minNodes {
            guard let view = views.first(where: { $0.name == name }), view.managed, view.ready, !removing.contains(name), !removals.contains(name) else {
                await note("Warning", "NodeAutoscalerPolicyFailed", "node-autoscaler policy \(configuration.policy) asked to remove \(name), which is not one of its ready nodes")
                continue
            }
            removals.append(name)
            left -= 1
        }
        if !additions.isEmpty {
            await add(additions, pending: pending, reason: "\(pending.count) pods pending that fit no node")
        }
        for name in removals {
            guard let view = views.first(where: { $0.name == name }) else { continue }
            state.withLock { _ = $0.removing.insert(name) }
            let message = "removing node \(name): \(view.cpuRequested)m of \(view.cpu)m cpu requested, under \(Int(configuration.scaleDownUtilization * 100))% for \(view.idleSeconds) s; \(left) managed nodes stay (min \(configuration.minNodes))"
            if let node = nodeObjects.first(where: { ObjectMeta.name(of: $0) == name }) {
                await client.event(about: node, type: "Normal", reason: "ScaleDown", message: message, component: Self.component)
            }
            let provider = self.provider
            let logger = self.logger
            Task {
                do { try await provider.remove(name: name) } catch {
                    logger.warning("node autoscaler: remove failed", metadata: ["node": "\(name)", "error": "\(error)"])
                    self.state.withLock { _ = $0.removing.remove(name) }
                }
            }
        }
    }
}
