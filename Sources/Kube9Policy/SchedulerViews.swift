import Kube9Lua
import Kube9Model

/// The read-only shapes scheduler hooks receive (see `kube9.Pod` and `kube9.Node` in
/// policies/_meta/kube9.lua), built from API objects.
public enum SchedulerViews {
    /// A pod's total requests: cpu in cores, memory in bytes, one pod slot. Init containers
    /// count as in Kubernetes: the larger of their maximum and the containers' sum.
    public static func requests(of pod: JSON) -> (cpuMillis: Int64, memoryBytes: Int64) {
        func total(_ list: String) -> [(Int64, Int64)] {
            (pod[path: ["spec", list]]?.arrayValue ?? []).map { container in
                let requests = container[path: ["resources", "requests"]]
                return ((Quantity.from(requests?["cpu"])?.milliValue ?? 0),
                        (Quantity.from(requests?["memory"])?.milliValue ?? 0) / 1000)
            }
        }
        let containers = total("containers")
        let initContainers = total("initContainers")
        // Quantities are bounded, but a pod may list many: the sums saturate instead of trapping.
        let cpu = max(containers.map(\.0).saturatingSum(), initContainers.map(\.0).max() ?? 0)
        let memory = max(containers.map(\.1).saturatingSum(), initContainers.map(\.1).max() ?? 0)
        return (cpu, memory)
    }

    /// The `kube9.Pod` view of a Pod object.
    public static func pod(_ pod: JSON) -> LuaValue {
        let (cpu, memory) = requests(of: pod)
        var view: [String: LuaValue] = [
            "name": .string(ObjectMeta.name(of: pod)),
            "namespace": .string(ObjectMeta.namespace(of: pod)),
            "labels": .map(ObjectMeta.labels(of: pod).mapValues { .string($0) }),
            "requests": ["cpu": .number(Double(cpu) / 1000), "memory": .integer(memory), "pods": 1],
        ]
        if let selector = pod[path: ["spec", "nodeSelector"]], case .object = selector { view["node_selector"] = LuaValue(json: selector) }
        if let tolerations = pod[path: ["spec", "tolerations"]], case .array = tolerations { view["tolerations"] = LuaValue(json: tolerations) }
        if let terms = NodeAffinity.requiredTerms(of: pod) { view["node_affinity"] = LuaValue(json: .array(terms)) }
        return .map(view)
    }

    /// What a node offers (status.allocatable, else capacity): cpu millicores, memory bytes, pods.
    public static func allocatable(of node: JSON) -> (cpuMillis: Int64, memoryBytes: Int64, pods: Int64) {
        let source = node[path: ["status", "allocatable"]] ?? node[path: ["status", "capacity"]]
        return (Quantity.from(source?["cpu"])?.milliValue ?? 0,
                (Quantity.from(source?["memory"])?.milliValue ?? 0) / 1000,
                Quantity.from(source?["pods"])?.value ?? 110)
    }

    /// Whether the node's Ready condition is True.
    public static func isReady(_ node: JSON) -> Bool {
        (node[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }

    /// The `kube9.Node` view of a Node object, with `free` computed from the pods bound to it
    /// (pods that finished, Succeeded or Failed, no longer hold resources).
    public static func node(_ node: JSON, boundPods: [JSON]) -> LuaValue {
        var usedCPU: Int64 = 0
        var usedMemory: Int64 = 0
        var count: Int64 = 0
        for pod in boundPods {
            let phase = pod[path: ["status", "phase"]]?.stringValue
            if phase == "Succeeded" || phase == "Failed" { continue }
            let (podCPU, podMemory) = requests(of: pod)
            usedCPU = usedCPU.saturatingAdd(podCPU)
            usedMemory = usedMemory.saturatingAdd(podMemory)
            count += 1
        }
        return self.node(node, usedCPUMillis: usedCPU, usedMemoryBytes: usedMemory, usedPods: count)
    }

    /// The `kube9.Node` view given what its bound pods already use.
    public static func node(_ node: JSON, usedCPUMillis usedCPU: Int64, usedMemoryBytes usedMemory: Int64, usedPods count: Int64) -> LuaValue {
        let (cpu, memory, pods) = allocatable(of: node)
        var view: [String: LuaValue] = [
            "name": .string(ObjectMeta.name(of: node)),
            "labels": .map(ObjectMeta.labels(of: node).mapValues { .string($0) }),
            "ready": .bool(isReady(node)),
            "unschedulable": .bool(node[path: ["spec", "unschedulable"]]?.boolValue ?? false),
            "allocatable": ["cpu": .number(Double(cpu) / 1000), "memory": .integer(memory), "pods": .integer(pods)],
            "free": ["cpu": .number(Double(cpu.saturatingSubtract(usedCPU)) / 1000), "memory": .integer(memory.saturatingSubtract(usedMemory)),
                     "pods": .integer(pods.saturatingSubtract(count))],
            "pods": .integer(count),
        ]
        if let taints = node[path: ["spec", "taints"]], case .array = taints { view["taints"] = LuaValue(json: taints) }
        return .map(view)
    }
}
