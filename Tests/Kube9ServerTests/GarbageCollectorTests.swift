import Foundation
@testable import Kube9Controllers
import Kube9Model
@testable import Kube9Server
import Testing

/// [K7] Garbage collection by ownerReferences: background, foreground (with blockOwnerDeletion
/// and a dependent that takes its time), orphan, dangling references, several owners.
@Suite("garbage collector", .serialized)
struct GarbageCollectorTests {
    typealias W = WorkloadTests

    static func dependent(_ name: String, owners: [JSON], finalizers: [String] = []) -> JSON {
        var pod = podJSON(name)
        pod[path: ["metadata", "ownerReferences"]] = .array(owners)
        if !finalizers.isEmpty { pod[path: ["metadata", "finalizers"]] = .array(finalizers.map { .string($0) }) }
        return pod
    }

    static func reference(_ owner: JSON, block: Bool = false) -> JSON {
        ["apiVersion": "v1", "kind": "Pod", "name": .string(ObjectMeta.name(of: owner)), "uid": .string(ObjectMeta.uid(of: owner)), "blockOwnerDeletion": .bool(block)]
    }

    static func exists(_ server: InProcessServer, _ name: String) async throws -> Bool {
        try await server.call(.get, W.pods + "/\(name)").status == 200
    }

    @Test("background: the owner goes at once, its dependents after; a dangling reference is collected; a second live owner keeps the dependent")
    func background() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let owner = try await server.call(.post, W.pods, json: podJSON("owner")).json
            let other = try await server.call(.post, W.pods, json: podJSON("other")).json
            #expect(try await server.call(.post, W.pods, json: Self.dependent("child", owners: [Self.reference(owner)])).status == 201)
            #expect(try await server.call(.post, W.pods, json: Self.dependent("shared", owners: [Self.reference(owner), Self.reference(other)])).status == 201)
            var ghost = Self.reference(owner)
            ghost["uid"] = "00000000-0000-0000-0000-000000000000"
            ghost["name"] = "ghost"
            #expect(try await server.call(.post, W.pods, json: Self.dependent("dangling", owners: [ghost])).status == 201)
            let deleted = try await server.call(.delete, W.pods + "/owner", json: ["kind": "DeleteOptions", "propagationPolicy": "Background"])
            #expect(deleted.status == 200)
            #expect(!(try await Self.exists(server, "owner")))
            #expect(try await W.eventually {
                let child = try await Self.exists(server, "child")
                let dangling = try await Self.exists(server, "dangling")
                return !child && !dangling
            })
            #expect(try await W.eventually {
                let shared = try await server.call(.get, W.pods + "/shared").json
                return ObjectMeta.ownerReferences(of: shared).map(\.name) == ["other"]
            }, "the reference to the deleted owner was not removed")
            let bad = try await server.call(.delete, W.pods + "/other?propagationPolicy=Sideways")
            #expect(bad.status == 400 && bad.text.contains("propagationPolicy"), "\(bad.text)")
            #expect(try await Self.exists(server, "other"), "a refused delete deleted")
        }
    }

    @Test("foreground: the owner stays (foregroundDeletion) until its blocking dependent is gone; orphan: dependents lose the reference and stay")
    func foregroundAndOrphan() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let owner = try await server.call(.post, W.pods, json: podJSON("owner")).json
            #expect(try await server.call(.post, W.pods, json: Self.dependent("slow", owners: [Self.reference(owner, block: true)], finalizers: ["example.com/hold"])).status == 201)
            #expect(try await server.call(.post, W.pods, json: Self.dependent("quick", owners: [Self.reference(owner)])).status == 201)
            let reply = try await server.call(.delete, W.pods + "/owner?propagationPolicy=Foreground")
            #expect(reply.status == 200 && ObjectMeta.finalizers(of: reply.json).contains("foregroundDeletion"), "\(reply.text)")
            #expect(try await W.eventually {
                let slow = try await server.call(.get, W.pods + "/slow").json
                let quick = try await Self.exists(server, "quick")
                return ObjectMeta.deletionTimestamp(of: slow) != nil && !quick
            })
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await Self.exists(server, "owner"), "the owner went before its blocking dependent")
            #expect(try await server.call(.patch, W.pods + "/slow", text: #"{"metadata":{"finalizers":null}}"#, contentType: "application/merge-patch+json").status == 200)
            #expect(try await W.eventually {
                let slow = try await Self.exists(server, "slow")
                let owner = try await Self.exists(server, "owner")
                return !slow && !owner
            })

            let parent = try await server.call(.post, W.pods, json: podJSON("parent")).json
            #expect(try await server.call(.post, W.pods, json: Self.dependent("kept", owners: [Self.reference(parent, block: true)])).status == 201)
            #expect(try await server.call(.delete, W.pods + "/parent", json: ["propagationPolicy": "Orphan"]).status == 200)
            #expect(try await W.eventually { !(try await Self.exists(server, "parent")) })
            let kept = try await server.call(.get, W.pods + "/kept")
            #expect(kept.status == 200 && ObjectMeta.ownerReferences(of: kept.json).isEmpty, "\(kept.text)")
        }
    }

    @Test("deleting a Deployment: background removes ReplicaSets and pods; orphan keeps them without the reference")
    func deploymentCascade() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            #expect(try await server.call(.post, W.deployments, json: W.deployment("gone", replicas: 2)).status == 201)
            #expect(try await W.eventually { try await W.items(server, W.pods).count == 2 })
            #expect(try await server.call(.delete, W.deployments + "/gone").status == 200)
            #expect(try await W.eventually {
                let pods = try await W.items(server, W.pods)
                let sets = try await W.items(server, W.replicaSets)
                return pods.isEmpty && sets.isEmpty
            })
            #expect(try await server.call(.post, W.deployments, json: W.deployment("left", replicas: 2)).status == 201)
            #expect(try await W.eventually { try await W.items(server, W.pods).count == 2 })
            #expect(try await server.call(.delete, W.deployments + "/left?propagationPolicy=Orphan").status == 200)
            #expect(try await W.eventually { try await server.call(.get, W.deployments + "/left").status == 404 })
            try await Task.sleep(for: .milliseconds(300))
            let sets = try await W.items(server, W.replicaSets)
            #expect(sets.count == 1 && sets.allSatisfy { ObjectMeta.ownerReferences(of: $0).isEmpty })
            #expect(try await W.items(server, W.pods).count == 2)
        }
    }
}
