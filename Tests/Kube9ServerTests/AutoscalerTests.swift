import Foundation
@testable import Kube9Autoscaler
@testable import Kube9Controllers
import Kube9Model
@testable import Kube9Server
import Testing

/// [K7] The HorizontalPodAutoscaler in-process: usage reports written into the metrics table,
/// a 1 s sync period, a fake kubelet; the Lua policy decides, Swift stabilizes and limits.
@Suite("horizontal pod autoscaler", .serialized)
struct AutoscalerTests {
    typealias W = WorkloadTests
    static let autoscalers = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"

    /// Reports `totalMilliCores` of cpu shared by the running pods (one node's report, n1, where they are bound first:
    /// a report counts only for pods bound to the node that sent it).
    static func report(_ server: InProcessServer, totalMilliCores: Int64) async throws {
        var pods = try await W.items(server, W.pods).filter { ObjectMeta.deletionTimestamp(of: $0) == nil && $0[path: ["status", "phase"]] == "Running" }
        for pod in pods where (pod[path: ["spec", "nodeName"]]?.stringValue ?? "").isEmpty {
            _ = try await server.call(.post, W.pods + "/\(ObjectMeta.name(of: pod))/binding",
                                      json: ["apiVersion": "v1", "kind": "Binding", "metadata": ["name": .string(ObjectMeta.name(of: pod))], "target": ["kind": "Node", "name": "n1"]])
        }
        pods = try await W.items(server, W.pods).filter { ObjectMeta.deletionTimestamp(of: $0) == nil && $0[path: ["status", "phase"]] == "Running" }
        let each = pods.isEmpty ? 0 : totalMilliCores / Int64(pods.count)
        let usage = pods.map { pod in
            UsageReport.PodUsage(namespace: "default", name: ObjectMeta.name(of: pod), uid: ObjectMeta.uid(of: pod),
                                 containers: [("c", UsageReport.Usage(cpuNanoCores: each * 1_000_000, memoryBytes: 1 << 20))])
        }
        server.stack.metrics.record(node: "n1", report: UsageReport(windowSeconds: 1, node: .zero, pods: usage))
    }

    static func replicas(_ server: InProcessServer) async throws -> Int64 {
        try await server.call(.get, W.deployments + "/burn").json[path: ["spec", "replicas"]]?.intValue ?? -1
    }

    @Test("scales up within two sync periods under load, down only after the stabilization window, records each decision; a swapped Lua policy takes the next one")
    func scaleUpDownAndSwap() async throws {
        try await InProcessServer.with(scheduler: false, autoscalerSyncPeriod: .seconds(1)) { server in
            let kubelet = W.fakeKubelet(server)
            defer { kubelet.cancel() }
            var deployment = W.deployment("burn", replicas: 2)
            deployment = deployment.settingContainers([["name": "c", "image": "busybox:1.36", "resources": ["requests": ["cpu": "100m"]]]])
            #expect(try await server.call(.post, W.deployments, json: deployment).status == 201)
            #expect(try await W.eventually(10) { try await W.items(server, W.pods).filter { Conditions.find($0, "Ready") != nil }.count == 2 })
            let hpa: JSON = ["apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": ["name": "burn"],
                             "spec": ["scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "burn"], "minReplicas": 1, "maxReplicas": 10,
                                      "metrics": [["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": 50]]]],
                                      "behavior": ["scaleDown": ["stabilizationWindowSeconds": 4]]]]
            let created = try await server.call(.post, Self.autoscalers, json: hpa)
            #expect(created.status == 201, "\(created.text)")
            // Load: 180m over the pods (90 % of 2 × 100m) → ceil(2 × 90 / 50) = 4 within two periods.
            let loaded = Date()
            let up = try await W.eventually(6) {
                try await Self.report(server, totalMilliCores: 180)
                return try await Self.replicas(server) == 4
            }
            let upAfter = Date().timeIntervalSince(loaded)
            let upReplicas = try await Self.replicas(server)
            #expect(up && upAfter < 2.5, "replicas \(upReplicas) after \(upAfter) s")
            // 180m over 4 pods is 45 %: within the 10 % tolerance, the count stays.
            try await Task.sleep(for: .seconds(2))
            try await Self.report(server, totalMilliCores: 180)
            try await Task.sleep(for: .seconds(1.5))
            #expect(try await Self.replicas(server) == 4)
            // The load stops: the recommendation drops to the minimum, applied only once the 4 s window has passed.
            let stopped = Date()
            var heldUntil = 0.0
            let down = try await W.eventually(12) {
                try await Self.report(server, totalMilliCores: 0)
                let now = try await Self.replicas(server)
                if now == 4 { heldUntil = Date().timeIntervalSince(stopped) }
                return now == 1
            }
            #expect(down, "never scaled down")
            #expect(heldUntil >= 3, "scaled down after \(heldUntil) s, inside the 4 s stabilization window")
            let status = try await server.call(.get, Self.autoscalers + "/burn").json
            #expect(status[path: ["status", "currentMetrics"]]?.arrayValue?.first?[path: ["resource", "current", "averageUtilization"]] != nil, "\(status["status"]?.text ?? "")")
            // The event follows the write of the replicas: wait for it.
            var rescales: [String] = []
            _ = try await W.eventually(5) {
                let events = try await W.items(server, "/api/v1/namespaces/default/events").filter { $0[path: ["involvedObject", "kind"]] == "HorizontalPodAutoscaler" }
                rescales = events.filter { $0["reason"] == "SuccessfulRescale" }.compactMap { $0["message"]?.stringValue }
                return rescales.contains { $0.contains("replicas 4 → 1") }
            }
            #expect(rescales.contains { $0.contains("cpu 90% (target 50%) over 2 pods") && $0.contains("replicas 2 → 4") }, "\(rescales)")
            #expect(rescales.contains { $0.contains("replicas 4 → 1") }, "\(rescales)")

            // A policy swapped at runtime (a Policy object replacing the built-in) makes the next decision.
            let source = #"return { name = "fixed", api = 1, desired_replicas = function(target, metrics) return 3 end }"#
            let policy: JSON = ["apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": ["name": "autoscaler.target-utilization"],
                                "spec": ["slot": "autoscaler", "source": .string(source)]]
            #expect(try await server.call(.post, "/apis/kube9.io/v1/policies", json: policy).status == 201)
            #expect(try await W.eventually(6) {
                try await Self.report(server, totalMilliCores: 0)
                return try await Self.replicas(server) == 3
            }, "the swapped policy did not take over")
        }
    }

    @Test("HPA validation and the autoscaling/v1 view; a failing policy keeps the count with a FailedComputeMetricsReplicas event")
    func validationAndFailure() async throws {
        try await InProcessServer.with(scheduler: false, autoscalerSyncPeriod: .seconds(1)) { server in
            let bad: JSON = ["apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": ["name": "bad"],
                             "spec": ["scaleTargetRef": ["kind": "Deployment"], "minReplicas": 5, "maxReplicas": 2,
                                      "metrics": [["type": "External"]], "behavior": ["scaleUp": ["selectPolicy": "Sometimes", "policies": [["type": "Pods", "value": 0, "periodSeconds": 9999]]]]]]
            let refused = try await server.call(.post, Self.autoscalers, json: bad)
            #expect(refused.status == 422, "\(refused.text)")
            for field in ["spec.scaleTargetRef.name", "spec.maxReplicas", "spec.metrics[0].type", "spec.behavior.scaleUp.selectPolicy",
                          "spec.behavior.scaleUp.policies[0].value", "spec.behavior.scaleUp.policies[0].periodSeconds"] {
                #expect(refused.text.contains(field), "\(field) not named: \(refused.text)")
            }
            var deployment = W.deployment("burn", replicas: 2)
            deployment = deployment.settingContainers([["name": "c", "image": "busybox:1.36", "resources": ["requests": ["cpu": "100m"]]]])
            #expect(try await server.call(.post, W.deployments, json: deployment).status == 201)
            let kubelet = W.fakeKubelet(server)
            defer { kubelet.cancel() }
            let v1: JSON = ["apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": ["name": "burn", "annotations": ["kube9.io/autoscaler-policy": "broken"]],
                            "spec": ["scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "burn"], "maxReplicas": 5, "targetCPUUtilizationPercentage": 60]]
            let created = try await server.call(.post, "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers", json: v1)
            #expect(created.status == 201 && created.json["apiVersion"] == "autoscaling/v1" && created.json[path: ["spec", "targetCPUUtilizationPercentage"]] == 60, "\(created.text)")
            let stored = try await server.call(.get, Self.autoscalers + "/burn").json
            #expect(stored[path: ["spec", "metrics"]]?.arrayValue?.first?[path: ["resource", "target", "averageUtilization"]] == 60)
            let source = #"return { name = "broken", api = 1, desired_replicas = function(target, metrics) return "lots" end }"#
            #expect(try await server.call(.post, "/apis/kube9.io/v1/policies", json: ["apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": ["name": "autoscaler.broken"],
                                                                                       "spec": ["slot": "autoscaler", "source": .string(source)]]).status == 201)
            #expect(try await W.eventually(8) {
                try await Self.report(server, totalMilliCores: 190)
                let events = try await W.items(server, "/api/v1/namespaces/default/events")
                return events.contains { $0["reason"] == "FailedComputeMetricsReplicas" && ($0["message"]?.stringValue ?? "").contains("not a whole number") }
            })
            #expect(try await Self.replicas(server) == 2, "a failing policy changed the count")
        }
    }

    @Test("a usage report with counts past their bounds is a 422 naming the field; a report about a pod bound elsewhere does not count for it")
    func reports() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            #expect(try await server.call(.post, "/api/v1/nodes", json: ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "n1"]]).status == 201)
            let huge: JSON = ["windowSeconds": 10, "node": ["cpu": 0, "memory": 0],
                              "pods": [["namespace": "default", "name": "p", "containers": [["name": "c", "cpu": 1, "memory": .int(9_000_000_000_000_000_001)]]]]]
            let refused = try await server.call(.post, "/kube9/v1/nodes/n1/metrics", json: huge)
            #expect(refused.status == 422 && refused.text.contains("pods[0].containers[0].memory"), "\(refused.text)")
            #expect(try await server.call(.post, "/kube9/v1/nodes/ghost/metrics", json: ["windowSeconds": 10, "node": ["cpu": 0, "memory": 0]]).status == 404)
            var pod = podJSON("p")
            pod[path: ["spec", "nodeName"]] = "n2"
            #expect(try await server.call(.post, W.pods, json: pod).status == 201)
            let wrongNode: JSON = ["windowSeconds": 10, "node": ["cpu": 5, "memory": 5],
                                   "pods": [["namespace": "default", "name": "p", "containers": [["name": "c", "cpu": 5, "memory": 5]]]]]
            #expect(try await server.call(.post, "/kube9/v1/nodes/n1/metrics", json: wrongNode).status == 200)
            let listed = try await server.call(.get, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").json
            #expect(listed["items"]?.arrayValue?.isEmpty == true, "\(listed)")
            let nodes = try await server.call(.get, "/apis/metrics.k8s.io/v1beta1/nodes/n1").json
            #expect(nodes[path: ["usage", "cpu"]] == "5n", "\(nodes)")
            #expect(try await server.call(.post, "/apis/metrics.k8s.io/v1beta1/nodes", json: ["kind": "NodeMetrics"]).status == 405)
        }
    }

    @Test("behavior arithmetic: stabilization windows, Pods and Percent limits, Max/Min/Disabled, min and max")
    func behavior() {
        let rules = HorizontalPodAutoscalerStrategy.rules(.emptyObject)
        #expect(ScalingBehavior.decide(current: 2, recommendation: 20, minimum: 1, maximum: 10, history: [], events: [], up: rules.up, down: rules.down, now: 100) == (6, "ScaleUpLimit"))
        #expect(ScalingBehavior.decide(current: 10, recommendation: 30, minimum: 1, maximum: 12, history: [], events: [], up: rules.up, down: rules.down, now: 100) == (12, "TooManyReplicas"))
        // Down: the highest recommendation of the last 300 s holds.
        let history = [ScalingBehavior.Record(time: 50, value: 8)]
        #expect(ScalingBehavior.decide(current: 8, recommendation: 2, minimum: 1, maximum: 10, history: history, events: [], up: rules.up, down: rules.down, now: 100).replicas == 8)
        #expect(ScalingBehavior.decide(current: 8, recommendation: 2, minimum: 1, maximum: 10, history: history, events: [], up: rules.up, down: rules.down, now: 400).replicas == 2)
        // 10 % per 60 s, with 1 pod already removed in the period.
        let slow = HorizontalPodAutoscalerStrategy.Rules(stabilizationWindowSeconds: 0, selectPolicy: "Max",
                                                         policies: [.init(percent: true, value: 10, periodSeconds: 60), .init(percent: false, value: 1, periodSeconds: 60)])
        #expect(ScalingBehavior.scaleDownLimit(current: 19, events: [ScalingBehavior.Record(time: 90, value: -1)], rules: slow, now: 100) == 18)
        var disabled = slow
        disabled.selectPolicy = "Disabled"
        #expect(ScalingBehavior.scaleUpLimit(current: 3, events: [], rules: disabled, now: 0) == 3)
        var minimal = rules.up
        minimal.selectPolicy = "Min"
        #expect(ScalingBehavior.scaleUpLimit(current: 10, events: [], rules: minimal, now: 0) == 14)
        // Scaled up by 4, then set back to 2 by hand: the scale-up limit is no reason to go below 2.
        let percent = HorizontalPodAutoscalerStrategy.Rules(stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [.init(percent: true, value: 100, periodSeconds: 60)])
        #expect(ScalingBehavior.scaleUpLimit(current: 2, events: [ScalingBehavior.Record(time: 95, value: 4)], rules: percent, now: 100) == 2)
        #expect(ScalingBehavior.decide(current: 2, recommendation: 8, minimum: 1, maximum: 10, history: [], events: [ScalingBehavior.Record(time: 95, value: 4)],
                                       up: percent, down: rules.down, now: 100).replicas == 2)
        // An event exactly one period old has left the period (Kubernetes: after now − period).
        #expect(ScalingBehavior.scaleUpLimit(current: 4, events: [ScalingBehavior.Record(time: 40, value: 2)], rules: percent, now: 100) == 8)
    }
}
