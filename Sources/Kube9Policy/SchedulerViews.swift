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
        // Views carry only the typed fields the API defines, capped in number: whatever else a
        // client stored (unknown fields, deep values) never reaches the policy's state.
        if let selector = pod[path: ["spec", "nodeSelector"]]?.objectValue {
            var map: [String: LuaValue] = [:]
            for (key, value) in selector.prefix(maximumListItems) { if let text = value.stringValue { map[key] = .string(text) } }
            view["node_selector"] = .map(map)
        }
        if let tolerations = pod[path: ["spec", "tolerations"]]?.arrayValue {
            view["tolerations"] = .array(tolerations.prefix(maximumListItems).map { toleration in
                var fields = strings(toleration, ["key", "operator", "value", "effect"])
                if let seconds = toleration["tolerationSeconds"]?.intValue { fields["tolerationSeconds"] = .integer(seconds) }
                return .map(fields)
            })
        }
        if let terms = NodeAffinity.requiredTerms(of: pod) {
            view["node_affinity"] = .array(terms.prefix(maximumListItems).map { term in
                var fields: [String: LuaValue] = [:]
                for list in ["matchExpressions", "matchFields"] {
                    guard let expressions = term[list]?.arrayValue else { continue }
                    fields[list] = .array(expressions.prefix(maximumListItems).map { expression in
                        var entry = strings(expression, ["key", "operator"])
                        if let values = expression["values"]?.arrayValue {
                            entry["values"] = .array(values.prefix(maximumListItems).compactMap { $0.stringValue.map(LuaValue.string) })
                        }
                        return .map(entry)
                    })
                }
                return .map(fields)
            })
        }
        return .map(view)
    }

    /// The most entries of a list (taints, tolerations, affinity terms, selector keys) a view carries.
    public static let maximumListItems = 256

    /// The string fields `names` of `object`.
    static func strings(_ object: JSON, _ names: [String]) -> [String: LuaValue] {
        var fields: [String: LuaValue] = [:]
        for name in names { if let text = object[name]?.stringValue { fields[name] = .string(text) } }
        return fields
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
        if let taints = node[path: ["spec", "taints"]]?.arrayValue {
            view["taints"] = .array(taints.prefix(maximumListItems).map { .map(strings($0, ["key", "value", "effect"])) })
        }
        return .map(view)
    }
}
