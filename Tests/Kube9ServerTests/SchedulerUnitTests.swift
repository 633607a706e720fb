import Kube9Model
@testable import Kube9Scheduler
import Kube9Controllers
import Testing

@Suite("NodeFit: Swift's own check of a policy's choice")
struct NodeFitTests {
    func node(cpu: String, ready: Bool = true, taints: JSON? = nil, labels: JSON = [:]) -> JSON {
        var node: JSON = ["metadata": ["name": "n", "labels": labels], "status": ["allocatable": ["cpu": .string(cpu), "memory": "4Gi", "pods": "3"],
                          "conditions": [["type": "Ready", "status": .string(ready ? "True" : "Unknown")]]]]
        if let taints { node[path: ["spec", "taints"]] = taints }
        return node
    }

    func pod(cpu: String, tolerations: JSON? = nil, selector: JSON? = nil) -> JSON {
        var pod: JSON = ["metadata": ["name": "p"], "spec": ["containers": [["name": "c", "image": "i", "resources": ["requests": ["cpu": .string(cpu)]]]]]]
        if let tolerations { pod[path: ["spec", "tolerations"]] = tolerations }
        if let selector { pod[path: ["spec", "nodeSelector"]] = selector }
        return pod
    }

    @Test("never over-commits cpu, memory or pod slots")
    func overcommit() {
        var used = NodeUsage()
        used.cpuMillis = 1500
        #expect(NodeFit.problem(pod: pod(cpu: "500m"), node: node(cpu: "2"), usage: used) == nil)
        #expect(NodeFit.problem(pod: pod(cpu: "501m"), node: node(cpu: "2"), usage: used) == "Insufficient cpu")
        used.pods = 3
        #expect(NodeFit.problem(pod: pod(cpu: "1m"), node: node(cpu: "8"), usage: used) == "Too many pods")
    }

    @Test("readiness, taints and selectors")
    func constraints() {
        #expect(NodeFit.problem(pod: pod(cpu: "1"), node: node(cpu: "4", ready: false), usage: NodeUsage()) == "node(s) were not ready")
        let taint: JSON = [["key": "dedicated", "value": "gpu", "effect": "NoSchedule"]]
        #expect(NodeFit.problem(pod: pod(cpu: "1"), node: node(cpu: "4", taints: taint), usage: NodeUsage())?.hasPrefix("node(s) had untolerated taint") == true)
        let toleration: JSON = [["key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"]]
        #expect(NodeFit.problem(pod: pod(cpu: "1", tolerations: toleration), node: node(cpu: "4", taints: taint), usage: NodeUsage()) == nil)
        let everything: JSON = [["operator": "Exists"]]
        #expect(NodeFit.problem(pod: pod(cpu: "1", tolerations: everything), node: node(cpu: "4", taints: taint), usage: NodeUsage()) == nil)
        #expect(NodeFit.problem(pod: pod(cpu: "1", selector: ["disk": "ssd"]), node: node(cpu: "4"), usage: NodeUsage()) != nil)
        #expect(NodeFit.problem(pod: pod(cpu: "1", selector: ["disk": "ssd"]), node: node(cpu: "4", labels: ["disk": "ssd"]), usage: NodeUsage()) == nil)
    }

    @Test("required node affinity: terms ORed, expressions ANDed, Gt/Lt on integers")
    func affinity() {
        func withAffinity(_ terms: JSON) -> JSON {
            var pod = pod(cpu: "1")
            pod[path: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]] = terms
            return pod
        }
        let zoneB: JSON = [["matchExpressions": [["key": "zone", "operator": "In", "values": ["b"]], ["key": "cores", "operator": "Gt", "values": ["8"]]]]]
        #expect(NodeFit.problem(pod: withAffinity(zoneB), node: node(cpu: "4", labels: ["zone": "b", "cores": "16"]), usage: NodeUsage()) == nil)
        #expect(NodeFit.problem(pod: withAffinity(zoneB), node: node(cpu: "4", labels: ["zone": "b", "cores": "4"]), usage: NodeUsage()) != nil)
        #expect(NodeFit.problem(pod: withAffinity(zoneB), node: node(cpu: "4", labels: ["zone": "a", "cores": "16"]), usage: NodeUsage()) != nil)
        let byName: JSON = [["matchExpressions": [["key": "zone", "operator": "In", "values": ["x"]]]], ["matchFields": [["key": "metadata.name", "operator": "In", "values": ["n"]]]]]
        #expect(NodeFit.problem(pod: withAffinity(byName), node: node(cpu: "4"), usage: NodeUsage()) == nil, "the second term matches the node's name")
        #expect(NodeFit.problem(pod: withAffinity([[:]]), node: node(cpu: "4"), usage: NodeUsage()) != nil, "an empty term matches nothing")
    }
}

@Suite("scheduling state")
struct SchedulingStateTests {
    /// Regression: `nodes[name] = deleted ? nil : object` stored JSON.null (JSON is
    /// ExpressibleByNilLiteral), so a deleted node stayed in the scheduler's view.
    @Test("a deleted node leaves the scheduler's view")
    func deletedNodeLeaves() {
        let state = SchedulingState()
        let node: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "n1"]]
        state.applyNode(ClusterChange(kind: .added, object: node))
        #expect(state.snapshot().nodes.keys.sorted() == ["n1"])
        state.applyNode(ClusterChange(kind: .deleted, object: node))
        #expect(state.snapshot().nodes.isEmpty)
    }
}
