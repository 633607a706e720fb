import Foundation
@testable import Kube9Controllers
import Kube9Model
@testable import Kube9Server
import Synchronization
import Testing

/// [K7] Deployment rollouts in-process: limits held at every moment, rollback to the same
/// ReplicaSet, Recreate ordering, the progress deadline, pause and proportional scaling.
@Suite("deployments: rolling update, rollback, recreate, deadline, pause", .serialized)
struct DeploymentRolloutTests {
    typealias W = WorkloadTests

    static func replicaSets(_ server: InProcessServer, of name: String) async throws -> [JSON] {
        try await W.items(server, W.replicaSets).filter { ObjectMeta.name(of: $0).hasPrefix(name + "-") }
    }

    static func readyPods(_ pods: [JSON]) -> Int {
        pods.filter { ObjectMeta.deletionTimestamp(of: $0) == nil && Conditions.find($0, "Ready")?["status"] == "True" }.count
    }

    static func deploymentStatus(_ server: InProcessServer, _ name: String) async throws -> JSON {
        try await server.call(.get, W.deployments + "/\(name)").json["status"] ?? .null
    }

    static func complete(_ server: InProcessServer, _ name: String, replicas: Int64) async throws -> Bool {
        let deployment = try await server.call(.get, W.deployments + "/\(name)").json
        let status = deployment["status"] ?? .null
        return status["updatedReplicas"]?.intValue == replicas && status["replicas"]?.intValue == replicas && status["availableReplicas"]?.intValue == replicas
            && status["observedGeneration"] == deployment[path: ["metadata", "generation"]]
            && Conditions.find(deployment, "Progressing")?["reason"] == "NewReplicaSetAvailable"
    }

    @Test("rolling update with maxSurge 1 / maxUnavailable 0 never has fewer than 4 ready or more than 5 pods; undo brings back the first ReplicaSet as revision 3")
    func rollingAndUndo() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let kubelet = W.fakeKubelet(server)
            defer { kubelet.cancel() }
            #expect(try await server.call(.post, W.deployments, json: W.deployment("web", replicas: 4)).status == 201)
            #expect(try await W.eventually(20) { try await Self.complete(server, "web", replicas: 4) })
            let first = try #require(try await Self.replicaSets(server, of: "web").first)
            let firstHash = try #require(ObjectMeta.labels(of: first)[Workloads.podTemplateHashLabel])
            #expect(ObjectMeta.name(of: first) == "web-\(firstHash)" && ObjectMeta.annotation(first, Workloads.revisionAnnotation) == "1")
            #expect(first[path: ["spec", "selector", "matchLabels", "pod-template-hash"]]?.stringValue == firstHash)

            let patched = try await server.call(.patch, W.deployments + "/web", text: #"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:1.37"}]}}}}"#,
                                                contentType: "application/strategic-merge-patch+json")
            #expect(patched.status == 200, "\(patched.text)")
            var fewestReady = Int.max
            var mostPods = 0
            let done = try await W.eventually(30) {
                let pods = try await W.items(server, W.pods).filter { ObjectMeta.deletionTimestamp(of: $0) == nil }
                fewestReady = min(fewestReady, Self.readyPods(pods))
                mostPods = max(mostPods, pods.count)
                return try await Self.complete(server, "web", replicas: 4)
            }
            let statusAfter = try await Self.deploymentStatus(server, "web")
            #expect(done, "\(statusAfter)")
            #expect(fewestReady >= 4 && mostPods <= 5, "ready fell to \(fewestReady), pods rose to \(mostPods)")
            let sets = try await Self.replicaSets(server, of: "web")
            #expect(sets.count == 2)
            let second = try #require(sets.first { ObjectMeta.uid(of: $0) != ObjectMeta.uid(of: first) })
            #expect(ObjectMeta.annotation(second, Workloads.revisionAnnotation) == "2" && Workloads.replicas(second) == 4)
            let deployment = try await server.call(.get, W.deployments + "/web").json
            #expect(ObjectMeta.annotation(deployment, Workloads.revisionAnnotation) == "2")

            // kubectl rollout undo: a JSON patch of the template back to the first ReplicaSet's (its hash label removed).
            var template = first[path: ["spec", "template"]] ?? .null
            template[path: ["metadata", "labels", Workloads.podTemplateHashLabel]] = Optional<JSON>.none
            let undo: JSON = [["op": "replace", "path": "/spec/template", "value": template]]
            #expect(try await server.call(.patch, W.deployments + "/web", json: undo, contentType: "application/json-patch+json").status == 200)
            #expect(try await W.eventually(30) { try await Self.complete(server, "web", replicas: 4) })
            let after = try await Self.replicaSets(server, of: "web")
            #expect(after.count == 2, "undo made a new ReplicaSet: \(after.map(ObjectMeta.name))")
            let restored = try #require(after.first { ObjectMeta.uid(of: $0) == ObjectMeta.uid(of: first) })
            #expect(Workloads.replicas(restored) == 4 && ObjectMeta.annotation(restored, Workloads.revisionAnnotation) == "3")
            #expect(ObjectMeta.annotation(restored, Workloads.revisionHistoryAnnotation) == "1")
            let pods = try await W.items(server, W.pods).filter { ObjectMeta.deletionTimestamp(of: $0) == nil }
            #expect(pods.count == 4 && pods.allSatisfy { ObjectMeta.labels(of: $0)[Workloads.podTemplateHashLabel] == firstHash })
        }
    }

    @Test("a rollout to an image that never becomes ready stalls at maxUnavailable and reports ProgressDeadlineExceeded")
    func progressDeadline() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let kubelet = W.fakeKubelet(server)
            defer { kubelet.cancel() }
            let strategy: JSON = ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": 1, "maxUnavailable": 1]]
            #expect(try await server.call(.post, W.deployments, json: W.deployment("stuck", replicas: 4, strategy: strategy, extra: ["progressDeadlineSeconds": 2])).status == 201)
            #expect(try await W.eventually(20) { try await Self.complete(server, "stuck", replicas: 4) })
            #expect(try await server.call(.patch, W.deployments + "/stuck", text: #"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"missing"}]}}}}"#,
                                          contentType: "application/strategic-merge-patch+json").status == 200)
            var fewestReady = Int.max
            let exceeded = try await W.eventually(15) {
                fewestReady = min(fewestReady, Self.readyPods(try await W.items(server, W.pods)))
                let deployment = try await server.call(.get, W.deployments + "/stuck").json
                return Conditions.find(deployment, "Progressing")?["reason"] == "ProgressDeadlineExceeded"
            }
            let deployment = try await server.call(.get, W.deployments + "/stuck").json
            #expect(exceeded, "\(deployment["status"]?.text ?? "")")
            #expect(Conditions.find(deployment, "Progressing")?["status"] == "False")
            #expect(fewestReady >= 3, "ready pods fell to \(fewestReady), below replicas - maxUnavailable")
            #expect(deployment[path: ["status", "availableReplicas"]] == 3 && deployment[path: ["status", "updatedReplicas"]] == 2, "\(deployment["status"]?.text ?? "")")
        }
    }

    @Test("Recreate removes every old pod before the new ReplicaSet has any")
    func recreate() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let kubelet = W.fakeKubelet(server)
            defer { kubelet.cancel() }
            #expect(try await server.call(.post, W.deployments, json: W.deployment("re", replicas: 3, strategy: ["type": "Recreate"])).status == 201)
            #expect(try await W.eventually(20) { try await Self.complete(server, "re", replicas: 3) })
            #expect(try await server.call(.patch, W.deployments + "/re", text: #"{"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}}"#,
                                          contentType: "application/merge-patch+json").status == 200)
            var mixed = false
            let done = try await W.eventually(30) {
                let hashes = Set(try await W.items(server, W.pods).compactMap { ObjectMeta.labels(of: $0)[Workloads.podTemplateHashLabel] })
                if hashes.count > 1 { mixed = true }
                return try await Self.complete(server, "re", replicas: 3)
            }
            #expect(done && !mixed, "old and new pods ran together: \(mixed)")
        }
    }

    @Test("paused: a template change makes no ReplicaSet, scaling still applies; resume rolls out")
    func pauseAndScale() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let kubelet = W.fakeKubelet(server)
            defer { kubelet.cancel() }
            #expect(try await server.call(.post, W.deployments, json: W.deployment("p", replicas: 2)).status == 201)
            #expect(try await W.eventually(20) { try await Self.complete(server, "p", replicas: 2) })
            #expect(try await server.call(.patch, W.deployments + "/p", text: #"{"spec":{"paused":true,"replicas":3,"template":{"metadata":{"annotations":{"v":"2"}}}}}"#,
                                          contentType: "application/merge-patch+json").status == 200)
            #expect(try await W.eventually(10) { try await W.items(server, W.pods).filter { ObjectMeta.deletionTimestamp(of: $0) == nil }.count == 3 })
            let paused = try await server.call(.get, W.deployments + "/p").json
            #expect(try await Self.replicaSets(server, of: "p").count == 1)
            #expect(Conditions.find(paused, "Progressing")?["reason"] == "DeploymentPaused", "\(paused["status"]?.text ?? "")")
            #expect(try await server.call(.patch, W.deployments + "/p", text: #"{"spec":{"paused":false}}"#, contentType: "application/merge-patch+json").status == 200)
            #expect(try await W.eventually(30) { try await Self.complete(server, "p", replicas: 3) })
            #expect(try await Self.replicaSets(server, of: "p").count == 2)
        }
    }

    @Test("rollout arithmetic: new replicas within the surge, old ones down to minAvailable (unhealthy first), proportional shares")
    func arithmetic() {
        #expect(Rollout.newReplicas(replicas: 4, maxSurge: 1, totalReplicas: 4, newReplicas: 0) == 1)
        #expect(Rollout.newReplicas(replicas: 4, maxSurge: 1, totalReplicas: 5, newReplicas: 1) == 1)
        #expect(Rollout.newReplicas(replicas: 10, maxSurge: 3, totalReplicas: 10, newReplicas: 0) == 3)
        let old = Rollout.ReplicaSetView(name: "old", replicas: 4, available: 4, created: "2026-01-01T00:00:00Z")
        let new = Rollout.ReplicaSetView(name: "new", replicas: 1, available: 0, created: "2026-01-02T00:00:00Z")
        #expect(Rollout.scaleDownOld(replicas: 4, maxUnavailable: 0, new: new, old: [old]) == [:])
        var ready = new
        ready.available = 1
        #expect(Rollout.scaleDownOld(replicas: 4, maxUnavailable: 0, new: ready, old: [old]) == ["old": 3])
        let sick = Rollout.ReplicaSetView(name: "sick", replicas: 2, available: 0, created: "2026-01-01T00:00:00Z")
        #expect(Rollout.scaleDownOld(replicas: 4, maxUnavailable: 1, new: Rollout.ReplicaSetView(name: "n", replicas: 4, available: 3, created: "b"), old: [sick]) == ["sick": 0])
        #expect(Rollout.proportional(target: 12, active: [Rollout.ReplicaSetView(name: "a", replicas: 6, available: 6, created: "1"),
                                                          Rollout.ReplicaSetView(name: "b", replicas: 4, available: 0, created: "2")]) == ["a": 7, "b": 5])
        #expect(DeploymentStrategy.rollingLimits(["spec": ["strategy": ["rollingUpdate": ["maxSurge": "25%", "maxUnavailable": "25%"]]]], replicas: 10) == (3, 2))
        #expect(DeploymentStrategy.rollingLimits(["spec": ["strategy": ["rollingUpdate": ["maxSurge": 0, "maxUnavailable": "10%"]]]], replicas: 5) == (0, 1))
        #expect(Workloads.templateHash(["metadata": ["labels": ["a": "b"]], "spec": ["x": 1]]) == Workloads.templateHash(["spec": ["x": 1], "metadata": ["labels": ["a": "b", "pod-template-hash": "zz"], "creationTimestamp": nil]]))
    }
}
