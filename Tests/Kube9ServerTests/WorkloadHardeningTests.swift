import Foundation
@testable import Kube9Controllers
import Kube9Model
@testable import Kube9Server
import Testing

/// [K7] Hostile input for the workload controllers: statuses a client wrote, huge counts, long
/// names, big protobuf bodies; and the rules found in review (scale without a precondition,
/// ReplicationControllers orphan by default, a dependent with another owner survives).
@Suite("workloads: hostile statuses, long names, big bodies", .serialized)
struct WorkloadHardeningTests {
    typealias W = WorkloadTests

    @Test("client-written statuses near Int64 bounds do not crash the controllers; they go on working")
    func hostileStatuses() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let kubelet = W.fakeKubelet(server)
            defer { kubelet.cancel() }
            #expect(try await server.call(.post, W.deployments, json: W.deployment("h", replicas: 2)).status == 201)
            #expect(try await W.eventually(10) { try await W.items(server, W.replicaSets).count == 1 })
            var deployment = try await server.call(.get, W.deployments + "/h").json
            deployment["status"] = ["updatedReplicas": .int(Int64.max), "replicas": .int(Int64.min), "availableReplicas": .int(Int64.max),
                                    "conditions": [["type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "lastUpdateTime": "2026-01-01T00:00:00Z"]]]
            _ = try await server.call(.put, W.deployments + "/h/status", json: deployment)
            var replicaSet = try #require(try await W.items(server, W.replicaSets).first)
            replicaSet["status"] = ["replicas": .int(Int64.min), "availableReplicas": .int(Int64.min), "readyReplicas": .int(Int64.max)]
            _ = try await server.call(.put, W.replicaSets + "/\(ObjectMeta.name(of: replicaSet))/status", json: replicaSet)
            // A new template: the controllers read those statuses back while rolling.
            #expect(try await server.call(.patch, W.deployments + "/h", text: #"{"spec":{"replicas":3,"template":{"metadata":{"annotations":{"v":"2"}}}}}"#,
                                          contentType: "application/merge-patch+json").status == 200)
            #expect(try await W.eventually(20) { try await DeploymentRolloutTests.complete(server, "h", replicas: 3) })
            #expect(try await server.call(.get, "/healthz").status == 200)
        }
        #expect(Rollout.proportional(target: 0, active: [Rollout.ReplicaSetView(name: "a", replicas: Int(Int32.max), available: 0, created: "1"),
                                                         Rollout.ReplicaSetView(name: "b", replicas: Int(Int32.max), available: 0, created: "2"),
                                                         Rollout.ReplicaSetView(name: "c", replicas: Int(Int32.max), available: 0, created: "3")]).values.allSatisfy { $0 >= 0 })
    }

    @Test("a 253-character ReplicaSet makes pods of valid names (prefix cut to 58), and a ReplicationController deleted without a policy orphans its pods")
    func longNamesAndDefaults() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let name = String(repeating: "a", count: 253)
            #expect(try await server.call(.post, W.replicaSets, json: W.replicaSet(name, replicas: 2)).status == 201)
            #expect(try await W.eventually(10) { try await W.items(server, W.pods).count == 2 })
            let names = try await W.items(server, W.pods).map(ObjectMeta.name)
            #expect(names.allSatisfy { $0.count == 63 && $0.hasPrefix(String(repeating: "a", count: 58)) }, "\(names)")
            let controller: JSON = ["apiVersion": "v1", "kind": "ReplicationController", "metadata": ["name": "legacy"],
                                    "spec": ["replicas": 1, "template": W.template("legacy")]]
            let rc = try await server.call(.post, W.controllers, json: controller).json
            #expect(try await W.eventually(10) { try await W.ownedPods(server, by: rc).count == 1 })
            #expect(try await server.call(.delete, W.controllers + "/legacy").status == 200)
            #expect(try await W.eventually(10) { try await server.call(.get, W.controllers + "/legacy").status == 404 })
            try await Task.sleep(for: .milliseconds(300))
            let left = try await W.items(server, W.pods + "?labelSelector=app%3Dlegacy")
            #expect(left.count == 1 && left.allSatisfy { ObjectMeta.ownerReferences(of: $0).isEmpty }, "\(left.map(ObjectMeta.name))")
        }
    }

    @Test("kubectl scale's merge patch applies although the status changed since its read; a stale resourceVersion in the patch is a 409")
    func scaleWithoutPrecondition() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            #expect(try await server.call(.post, W.replicaSets, json: W.replicaSet("s", replicas: 1)).status == 201)
            _ = try await server.call(.get, W.replicaSets + "/s/scale")
            #expect(try await W.eventually(10) { try await W.items(server, W.pods).count == 1 })
            let patched = try await server.call(.patch, W.replicaSets + "/s/scale", text: #"{"spec":{"replicas":2}}"#, contentType: "application/merge-patch+json")
            #expect(patched.status == 200 && patched.json[path: ["spec", "replicas"]] == 2, "\(patched.text)")
            let stale = try await server.call(.patch, W.replicaSets + "/s/scale", text: #"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":3}}"#,
                                              contentType: "application/merge-patch+json")
            #expect(stale.status == 409, "\(stale.text)")
        }
    }

    @Test("foreground deletion of one owner keeps a dependent that has another live owner (its reference goes)")
    func foregroundSharedDependent() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let first = try await server.call(.post, W.pods, json: podJSON("first")).json
            let second = try await server.call(.post, W.pods, json: podJSON("second")).json
            #expect(try await server.call(.post, W.pods, json: GarbageCollectorTests.dependent("shared", owners: [GarbageCollectorTests.reference(first, block: true),
                                                                                                          GarbageCollectorTests.reference(second)])).status == 201)
            #expect(try await server.call(.delete, W.pods + "/first?propagationPolicy=Foreground").status == 200)
            #expect(try await W.eventually { try await server.call(.get, W.pods + "/first").status == 404 })
            let shared = try await server.call(.get, W.pods + "/shared")
            #expect(shared.status == 200 && ObjectMeta.ownerReferences(of: shared.json).map(\.name) == ["second"], "\(shared.text)")
        }
    }

    @Test("a protobuf Deployment with 200,000 finalizers decodes in linear time (no quadratic copies)")
    func bigProtobufBody() throws {
        func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [UInt8(number << 3 | 2)]
            var length = bytes.count
            repeat {
                var byte = UInt8(length & 0x7F)
                length >>= 7
                if length > 0 { byte |= 0x80 }
                out.append(byte)
            } while length > 0
            return out + bytes
        }
        var metadata = field(1, Array("big".utf8))
        for _ in 0..<200_000 { metadata += field(14, Array("x".utf8)) }
        let deployment = field(1, metadata)
        let envelope = [0x6B, 0x38, 0x73, 0x00] + field(1, field(1, Array("apps/v1".utf8)) + field(2, Array("Deployment".utf8))) + field(2, deployment)
        let decoded = try ProtobufBody.decode(envelope)
        #expect(decoded[path: ["metadata", "finalizers"]]?.arrayValue?.count == 200_000)
    }
}
