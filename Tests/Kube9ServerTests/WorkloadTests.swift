import Foundation
@testable import Kube9Controllers
import Kube9Model
@testable import Kube9Server
import Synchronization
import Testing

/// [K7] ReplicaSets, ReplicationControllers and Deployments through the API in-process, with a
/// fake kubelet that marks pods Ready (except those of image `missing`), and the garbage collector.
@Suite("workloads: replica sets, deployments, garbage collection", .serialized)
struct WorkloadTests {
    static let pods = "/api/v1/namespaces/default/pods"
    static let replicaSets = "/apis/apps/v1/namespaces/default/replicasets"
    static let deployments = "/apis/apps/v1/namespaces/default/deployments"
    static let controllers = "/api/v1/namespaces/default/replicationcontrollers"

    static func template(_ app: String, image: String = "busybox:1.36") -> JSON {
        ["metadata": ["labels": ["app": .string(app)]], "spec": ["containers": [["name": "c", "image": .string(image)]]]]
    }

    static func replicaSet(_ name: String, replicas: Int64, app: String = "web") -> JSON {
        ["apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": ["name": .string(name)],
         "spec": ["replicas": .int(replicas), "selector": ["matchLabels": ["app": .string(app)]], "template": template(app)]]
    }

    static func deployment(_ name: String, replicas: Int64, strategy: JSON = ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": 1, "maxUnavailable": 0]],
                           extra: JSON = .emptyObject) -> JSON {
        var spec: JSON = ["replicas": .int(replicas), "selector": ["matchLabels": ["app": .string(name)]], "template": template(name), "strategy": strategy]
        for (key, value) in extra.objectValue ?? [:] { spec[key] = value }
        return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)], "spec": spec]
    }

    static func items(_ server: InProcessServer, _ path: String) async throws -> [JSON] {
        try await server.call(.get, path).json["items"]?.arrayValue ?? []
    }

    /// Polls until `check` holds (at most `seconds`); returns whether it did.
    static func eventually(_ seconds: Double = 10, _ check: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        for _ in 0..<4000 where Date() < deadline {
            if try await check() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return try await check()
    }

    /// Marks every pod Running and Ready (image `missing` stays Pending) until cancelled.
    static func fakeKubelet(_ server: InProcessServer) -> Task<Void, Never> {
        let cluster = server.stack.cluster
        let pods = PodStrategy().type
        return Task {
            while !Task.isCancelled {
                for pod in cluster.list(pods, namespace: "default") where ObjectMeta.deletionTimestamp(of: pod) == nil && Conditions.find(pod, "Ready") == nil {
                    guard pod[path: ["spec", "containers"]]?.arrayValue?.first?["image"]?.stringValue != "missing" else { continue }
                    _ = try? await cluster.modify(pods, namespace: "default", name: ObjectMeta.name(of: pod), status: true) { object in
                        object[path: ["status", "phase"]] = "Running"
                        Conditions.set(&object, type: "Ready", status: "True", reason: "", message: "")
                    }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    static func ownedPods(_ server: InProcessServer, by owner: JSON) async throws -> [JSON] {
        try await items(server, pods).filter { ObjectMeta.controllerReference(of: $0)?.uid == ObjectMeta.uid(of: owner) }
    }

    @Test("a ReplicaSet keeps its replicas: creates, adopts a matching orphan, releases a relabelled pod, scales through the scale subresource")
    func replicaSet() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let orphan = podJSON("orphan").merging(labels: ["app": "web"])
            #expect(try await server.call(.post, Self.pods, json: orphan).status == 201)
            let created = try await server.call(.post, Self.replicaSets, json: Self.replicaSet("web", replicas: 3))
            #expect(created.status == 201, "\(created.text)")
            let owner = created.json
            #expect(try await Self.eventually { try await Self.ownedPods(server, by: owner).count == 3 })
            let owned = try await Self.ownedPods(server, by: owner)
            #expect(owned.contains { ObjectMeta.name(of: $0) == "orphan" }, "the matching orphan was not adopted")
            #expect(owned.allSatisfy { ObjectMeta.controllerReference(of: $0)?.blockOwnerDeletion == true && ObjectMeta.labels(of: $0)["app"] == "web" })
            // A pod relabelled out of the selector is released and replaced.
            let released = try #require(owned.first { ObjectMeta.name(of: $0) != "orphan" })
            #expect(try await server.call(.patch, Self.pods + "/\(ObjectMeta.name(of: released))", text: #"{"metadata":{"labels":{"app":"other"}}}"#,
                                          contentType: "application/merge-patch+json").status == 200)
            #expect(try await Self.eventually {
                let now = try await Self.ownedPods(server, by: owner)
                return now.count == 3 && !now.contains { ObjectMeta.name(of: $0) == ObjectMeta.name(of: released) }
            })
            let releasedNow = try await server.call(.get, Self.pods + "/\(ObjectMeta.name(of: released))").json
            #expect(ObjectMeta.ownerReferences(of: releasedNow).isEmpty)
            // Scale: GET, PATCH, bad values.
            let scale = try await server.call(.get, Self.replicaSets + "/web/scale").json
            #expect(scale["kind"] == "Scale" && scale[path: ["spec", "replicas"]] == 3 && scale[path: ["status", "selector"]] == "app=web", "\(scale)")
            #expect(try await server.call(.patch, Self.replicaSets + "/web/scale", text: #"{"spec":{"replicas":1}}"#, contentType: "application/merge-patch+json").status == 200)
            #expect(try await Self.eventually { try await Self.ownedPods(server, by: owner).count == 1 })
            let bad = try await server.call(.put, Self.replicaSets + "/web/scale", json: ["kind": "Scale", "metadata": ["name": "web"], "spec": ["replicas": -1]])
            #expect(bad.status == 422 && bad.text.contains("spec.replicas"), "\(bad.text)")
            let stale = try await server.call(.put, Self.replicaSets + "/web/scale", json: ["kind": "Scale", "metadata": ["name": "web", "resourceVersion": "1"], "spec": ["replicas": 2]])
            #expect(stale.status == 409, "\(stale.text)")
            #expect(try await Self.eventually {
                let status = try await server.call(.get, Self.replicaSets + "/web").json["status"] ?? .null
                return status["replicas"] == 1 && status["observedGeneration"]?.intValue == 2
            })
        }
    }

    @Test("workload validation names the field: selector vs template labels, restartPolicy, maxUnavailable, both limits 0, selector immutable")
    func validation() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            var mismatch = Self.replicaSet("a", replicas: 1)
            mismatch[path: ["spec", "selector", "matchLabels", "app"]] = "other"
            let refused = try await server.call(.post, Self.replicaSets, json: mismatch)
            #expect(refused.status == 422 && refused.text.contains("spec.template.metadata.labels"), "\(refused.text)")
            var never = Self.deployment("b", replicas: 1)
            never[path: ["spec", "template", "spec", "restartPolicy"]] = "Never"
            let policy = try await server.call(.post, Self.deployments, json: never)
            #expect(policy.status == 422 && policy.text.contains("spec.template.spec.restartPolicy"), "\(policy.text)")
            let word = try await server.call(.post, Self.deployments, json: Self.deployment("c", replicas: 1, strategy: ["rollingUpdate": ["maxUnavailable": "lots"]]))
            #expect(word.status == 422 && word.text.contains("spec.strategy.rollingUpdate.maxUnavailable"), "\(word.text)")
            let zero = try await server.call(.post, Self.deployments, json: Self.deployment("d", replicas: 1, strategy: ["rollingUpdate": ["maxUnavailable": 0, "maxSurge": "0%"]]))
            #expect(zero.status == 422 && zero.text.contains("may not be 0"), "\(zero.text)")
            let container = try await server.call(.post, Self.deployments, json: Self.deployment("e", replicas: 1).settingContainers([["image": "x"]]))
            #expect(container.status == 422 && container.text.contains("spec.template.spec.containers[0].name"), "\(container.text)")
            let negative = try await server.call(.post, Self.deployments, json: Self.deployment("f", replicas: -2))
            #expect(negative.status == 422 && negative.text.contains("spec.replicas"), "\(negative.text)")
            #expect(try await server.call(.post, Self.deployments, json: Self.deployment("g", replicas: 1)).status == 201)
            let moved = try await server.call(.patch, Self.deployments + "/g", text: #"{"spec":{"selector":{"matchLabels":{"app":"h"}},"template":{"metadata":{"labels":{"app":"h"}}}}}"#,
                                              contentType: "application/merge-patch+json")
            #expect(moved.status == 422 && moved.text.contains("spec.selector") && moved.text.contains("immutable"), "\(moved.text)")
            let defaults = try await server.call(.get, Self.deployments + "/g").json
            #expect(defaults[path: ["spec", "revisionHistoryLimit"]] == 10 && defaults[path: ["spec", "progressDeadlineSeconds"]] == 600)
            #expect(defaults[path: ["spec", "template", "spec", "restartPolicy"]] == "Always")
            // A ReplicationController's selector defaults to its template's labels.
            let controller: JSON = ["apiVersion": "v1", "kind": "ReplicationController", "metadata": ["name": "rc"],
                                    "spec": ["replicas": 2, "template": Self.template("legacy")]]
            let rc = try await server.call(.post, Self.controllers, json: controller)
            #expect(rc.status == 201 && rc.json[path: ["spec", "selector", "app"]] == "legacy", "\(rc.text)")
            #expect(try await Self.eventually { try await Self.ownedPods(server, by: rc.json).count == 2 })
        }
    }
}

extension JSON {
    func merging(labels: JSON) -> JSON {
        var copy = self
        copy[path: ["metadata", "labels"]] = labels
        return copy
    }

    func settingContainers(_ containers: JSON) -> JSON {
        var copy = self
        copy[path: ["spec", "template", "spec", "containers"]] = containers
        return copy
    }
}
