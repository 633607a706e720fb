import Foundation
import HTTPTypes
import Kube9Model
@testable import Kube9Server
import Testing

/// K5 acceptance 4: the Kube-9 request sequence of shared/kube9-v0-wire.md (nodes, heartbeats,
/// pods, health, deletes, and each error case) gets Kube-9's status codes and JSON shapes.
@Suite("Kube-9 v0 wire", .serialized)
struct KubeNineV0WireTests {
    /// Keys and JSON types of an answer, as the wire spec lists them.
    static func expectShape(_ value: JSON?, _ keys: [String: String], _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let members = value?.objectValue else {
            Issue.record("\(label): not an object: \(value?.text ?? "nil")", sourceLocation: sourceLocation)
            return
        }
        #expect(Set(members.keys) == Set(keys.keys), "\(label) keys: \(members.keys.sorted())", sourceLocation: sourceLocation)
        for (key, type) in keys {
            let actual = members[key].map(typeName) ?? "missing"
            let allowed = type.split(separator: "|").map(String.init)
            #expect(allowed.contains(actual), "\(label).\(key) is \(actual), expected \(type)", sourceLocation: sourceLocation)
        }
    }

    static func typeName(_ value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "object"
        }
    }

    static let nodeCreated = ["id": "int", "cpu_cores": "int", "status": "str", "name": "str", "node_type": "str",
                              "container_id": "str", "node_ip": "str", "message": "str"]
    static let nodeItem = ["id": "int", "name": "str", "node_type": "str", "cpu_cores_total": "int", "cpu_cores_avail": "int",
                           "health_status": "str", "hosted_pods": "int", "components": "object"]
    static let healthItem = ["node_id": "int", "node_name": "str", "node_type": "str", "health_status": "str", "pods_count": "int",
                             "component_status": "object"]
    static let nodeDetail = ["id": "int", "name": "str", "node_type": "str", "cpu_cores_total": "int", "cpu_cores_avail": "int",
                             "health_status": "str", "last_heartbeat": "str|null", "container": "object", "pod_ids": "list", "components": "object"]
    static let podItem = ["id": "int", "name": "str", "cpu_cores_req": "int", "node": "object|null", "health_status": "str",
                          "ip_address": "str", "type": "str", "containers": "list", "volumes": "list", "config": "list"]
    static let json = "application/json"

    @Test("the whole sequence: nodes, heartbeats, pods, health, failures, deletes, error cases")
    func sequence() async throws {
        try await InProcessServer.with { server in
            // Root and database check: text.
            let root = try await server.call(.get, "/")
            #expect(root.status == 200 && root.text == "Kube_9 API is running!")
            #expect(try await server.call(.get, "/test_db").text == "Database Connected!")

            // Nodes: errors first, in Kube-9's order.
            #expect(try await server.call(.post, "/nodes/", text: #"{"cpu_cores_avail": 4}"#).status == 400)
            #expect(try await server.call(.post, "/nodes/", text: #"{"name": "w"}"#).status == 400)
            #expect(try await server.call(.post, "/nodes/", text: #"{"name": "w", "cpu_cores_avail": 0}"#).status == 400)
            #expect(try await server.call(.post, "/nodes/", text: #"{"name": "w", "cpu_cores_avail": -3}"#).status == 400)
            #expect(try await server.call(.post, "/nodes/", text: #"{"name": "w", "cpu_cores_avail": 2, "node_type": "boss"}"#).status == 400)
            let wrongType = try await server.call(.post, "/nodes/", text: #"{"name": "w", "cpu_cores_avail": "four"}"#)
            #expect(wrongType.status == 500 && wrongType.json["error"]?.stringValue != nil)
            let notJSON = try await server.call(.post, "/nodes/", text: #"{"name": "w", "cpu_cores_avail": 4}"#, contentType: "text/plain")
            #expect(notJSON.status == 500)
            #expect(notJSON.json["error"]?.stringValue?.contains("415 Unsupported Media Type") == true)

            // Two nodes: 201 node-created, ids 1 and 2; node_type any case.
            let worker = try await server.call(.post, "/nodes/", text: #"{"name": "worker-1", "cpu_cores_avail": 4, "node_type": "worker"}"#)
            #expect(worker.status == 201)
            Self.expectShape(worker.json, Self.nodeCreated, "node-created")
            #expect(worker.json["id"] == 1 && worker.json["status"] == "healthy" && worker.json["cpu_cores"] == 4)
            let master = try await server.call(.post, "/nodes/", text: #"{"name": "master-1", "cpu_cores_avail": 8, "node_type": "MASTER"}"#)
            #expect(master.status == 201 && master.json["id"] == 2 && master.json["node_type"] == "master")
            #expect(try await server.call(.post, "/nodes/", text: #"{"name": "worker-1", "cpu_cores_avail": 4}"#).status == 400, "name exists")

            // Listings.
            let nodes = try await server.call(.get, "/nodes/")
            #expect(nodes.status == 200 && nodes.json.arrayValue?.count == 2)
            for item in nodes.json.arrayValue ?? [] { Self.expectShape(item, Self.nodeItem, "node-item") }
            let masterItem = nodes.json.arrayValue?.first { $0["id"] == 2 }
            #expect(Set(masterItem?["components"]?.objectValue?.keys.map { $0 } ?? []) ==
                    ["kubelet", "container_runtime", "kube_proxy", "node_agent", "api_server", "scheduler", "controller", "etcd"])
            let redirect = try await server.call(.get, "/nodes")
            #expect(redirect.status == 308)
            #expect(redirect.headers[.init("Location")!]?.hasSuffix("/nodes/") == true)
            #expect(try await server.call(.get, "/pods").status == 308)
            let health = try await server.call(.get, "/nodes/health")
            for item in health.json.arrayValue ?? [] { Self.expectShape(item, Self.healthItem, "health-item") }
            let masterHealth = health.json.arrayValue?.first { $0["node_id"] == 2 }
            #expect(masterHealth?[path: ["component_status", "controller_manager"]] == "running")
            let detail = try await server.call(.get, "/nodes/1")
            Self.expectShape(detail.json, Self.nodeDetail, "node-detail")
            Self.expectShape(detail.json["container"], ["id": "str|null", "status": "str", "ip": "str|null", "port": "int"], "node-detail.container")
            #expect(Set(detail.json["components"]?.objectValue?.keys.map { $0 } ?? []) == ["kubelet", "container_runtime", "kube_proxy", "node_agent"])
            #expect(try await server.call(.get, "/nodes/worker-1").json["id"] == 1, "kube9's names still work")
            for missing in ["/nodes/99", "/nodes/abc", "/nodes/-1", "/nodes/1/"] {
                let reply = try await server.call(.get, missing)
                #expect(reply.status == 404 && reply.text.contains("<title>404 Not Found</title>"), "\(missing)")
            }
            let wrongMethod = try await server.call(.put, "/nodes/1")
            #expect(wrongMethod.status == 405 && wrongMethod.text.contains("<title>405 Method Not Allowed</title>"))
            #expect(wrongMethod.headers[.init("Allow")!]?.contains("DELETE") == true)
            for (method, path) in [(HTTPRequest.Method.post, "/nodes/-1/heartbeat"), (.delete, "/nodes/-1"), (.post, "/nodes/x_y/deregister"), (.delete, "/pods/-1")] {
                let reply = try await server.call(method, path, text: "{}")
                #expect(reply.status == 404 && reply.text.contains("<title>404 Not Found</title>"), "\(method) \(path): \(reply.status)")
            }
            // Several problems at once: Kube-9's first check answers.
            #expect(try await server.call(.post, "/nodes/", text: #"{"cpu_cores_avail": 0, "node_type": "boss"}"#).json["error"] == "Node name is required")

            // Heartbeats.
            let beat = try await server.call(.post, "/nodes/1/heartbeat",
                                             text: #"{"pod_ids": [], "cpu_cores_avail": 4, "health_status": "healthy", "components": {"kubelet": "running", "container_runtime": "running", "kube_proxy": "running", "node_agent": "running"}}"#)
            #expect(beat.status == 200)
            Self.expectShape(beat.json, ["message": "str", "node_status": "str", "should_stop_heartbeat": "bool"], "heartbeat")
            #expect(beat.json["should_stop_heartbeat"] == false)
            let beaten = try await server.call(.get, "/nodes/1")
            let stamp = beaten.json["last_heartbeat"]?.stringValue ?? ""
            #expect(stamp.count == 26 && stamp.dropFirst(10).hasPrefix("T") && !stamp.hasSuffix("Z"), "ISO 8601 without offset: \(stamp)")
            let unknown = try await server.call(.post, "/nodes/42/heartbeat", text: "{}")
            #expect(unknown.status == 404)
            Self.expectShape(unknown.json, ["error": "str", "node_status": "str", "should_stop_heartbeat": "bool"], "heartbeat-404")
            #expect(unknown.json["node_status"] == "non_existent" && unknown.json["should_stop_heartbeat"] == true)
            let plain = try await server.call(.post, "/nodes/1/heartbeat", text: "{}", contentType: "text/plain")
            #expect(plain.status == 500 && plain.json["error"]?.stringValue?.contains("415 Unsupported Media Type") == true)
            // A heartbeat's health and components replace the node's; a stopped kubelet takes no pods.
            let failing = try await server.call(.post, "/nodes/1/heartbeat", text: #"{"health_status": "failed"}"#)
            #expect(failing.json["node_status"] == "failed")
            #expect(try await server.call(.get, "/nodes/1").json["health_status"] == "failed")
            _ = try await server.call(.post, "/nodes/1/heartbeat", text: #"{"components": {"kubelet": "stopped"}}"#)
            let stopped = try await server.call(.get, "/nodes/")
            #expect(stopped.json.arrayValue?.first { $0["id"] == 1 }?[path: ["components", "kubelet"]] == "stopped")
            let refusedByComponents = try await server.call(.post, "/pods/", text: #"{"name": "early", "cpu_cores_req": 1, "containers": [{}]}"#)
            #expect(refusedByComponents.status == 400, "Kube-9 needs kubelet and container_runtime running")
            _ = try await server.call(.post, "/nodes/1/heartbeat", text: #"{"health_status": "healthy", "components": {"kubelet": "running"}}"#)
            #expect(try await server.call(.get, "/nodes/1/heartbeat").status == 405)

            // Pods: errors in Kube-9's order.
            #expect(try await server.call(.post, "/pods/", text: #"{"cpu_cores_req": 1, "containers": [{}]}"#).status == 400)
            #expect(try await server.call(.post, "/pods/", text: #"{"cpu_cores_req": 0}"#).json["error"] == "Pod name is required")
            #expect(try await server.call(.post, "/pods/", text: #"{"name": "p", "containers": [{}]}"#).status == 400)
            #expect(try await server.call(.post, "/pods/", text: #"{"name": "p", "cpu_cores_req": 0, "containers": [{}]}"#).status == 400)
            #expect(try await server.call(.post, "/pods/", text: #"{"name": "p", "cpu_cores_req": 1}"#).status == 400)
            #expect(try await server.call(.post, "/pods/", text: #"{"name": "p", "cpu_cores_req": 1, "containers": []}"#).status == 400)
            let noFit = try await server.call(.post, "/pods/", text: #"{"name": "huge", "cpu_cores_req": 64, "containers": [{}]}"#)
            #expect(noFit.status == 400 && noFit.json["error"]?.stringValue?.contains("No eligible node") == true, "\(noFit.text)")
            #expect(try await server.call(.post, "/pods/", text: #"{"name": "p", "cpu_cores_req": "one", "containers": [{}]}"#).status == 500)

            // A pod: 200 (not 201), best fit on the worker (the master takes no pods).
            let created = try await server.call(.post, "/pods/", text: """
                {"name": "nginx-pod", "cpu_cores_req": 1, "containers": [{"name": "nginx", "image": "nginx:latest", "cpu_req": 0.5, "memory_req": 256},
                                                                         {"name": "side", "image": "busybox", "cpu_req": 1, "memory_req": 16}],
                 "volumes": [{"name": "data", "type": "emptyDir", "size": 2, "path": "/data"}],
                 "config": [{"name": "mode", "type": "env", "key": "MODE", "value": "prod"}, {"name": "pw", "type": "secret", "key": "PW", "value": "hunter2"}]}
                """)
            #expect(created.status == 200, "\(created.text)")
            Self.expectShape(created.json, ["message": "str", "pod_details": "object"], "pod-created")
            Self.expectShape(created.json["pod_details"], ["id": "int", "name": "str", "ip_address": "str", "node": "str", "type": "str",
                                                           "status": "str", "containers_count": "int"], "pod-created.pod_details")
            #expect(created.json[path: ["pod_details", "node"]] == "worker-1")
            #expect(created.json[path: ["pod_details", "id"]] == 1, "the refused pods took no id, as in Kube-9")
            #expect(created.json[path: ["pod_details", "type"]] == "multi-container")
            #expect(created.json[path: ["pod_details", "status"]] == "running")
            #expect(created.json[path: ["pod_details", "ip_address"]]?.stringValue?.hasPrefix("10.244.") == true)
            let duplicate = try await server.call(.post, "/pods/", text: #"{"name": "nginx-pod", "cpu_cores_req": 1, "containers": [{}]}"#)
            #expect(duplicate.status == 500)

            let pods = try await server.call(.get, "/pods/")
            let item = pods.json.arrayValue?.first { $0["name"] == "nginx-pod" }
            Self.expectShape(item, Self.podItem, "pod-item")
            Self.expectShape(item?["node"], ["id": "int", "name": "str", "type": "str"], "pod-item.node")
            Self.expectShape(item?["containers"]?.arrayValue?.first, ["id": "int", "name": "str", "image": "str", "status": "str", "cpu": "float", "memory": "int"], "pod-item.container")
            #expect(item?["containers"]?.arrayValue?.first?["cpu"] == .double(0.5))
            #expect(item?["containers"]?.arrayValue?.last?["cpu"] == .double(1), "a whole cpu_req is still a float")
            #expect(item?["health_status"] == "running" && item?["ip_address"]?.stringValue?.hasPrefix("10.244.") == true, "running as soon as bound")
            Self.expectShape(item?["volumes"]?.arrayValue?.first, ["name": "str", "type": "str", "size": "int", "path": "str"], "pod-item.volume")
            #expect(item?["config"]?.arrayValue?.first { $0["type"] == "secret" }?["value"] == "******")
            let podID = created.json[path: ["pod_details", "id"]]?.intValue ?? 0
            let podDetail = try await server.call(.get, "/pods/\(podID)")
            #expect(podDetail.status == 200, "Kube-9's handler answered 500 by mistake; kube9 answers what it meant")
            #expect(podDetail.json["docker_network_id"] != nil)
            #expect(podDetail.json["containers"]?.arrayValue?.first?["docker_status"] != nil)
            #expect(podDetail.json["volumes"]?.arrayValue?.first?["id"]?.intValue != nil)
            let missingPod = try await server.call(.get, "/pods/999")
            #expect(missingPod.status == 404 && missingPod.text.contains("<title>404 Not Found</title>"))
            let podHealth = try await server.call(.get, "/pods/\(podID)/health")
            #expect(podHealth.status == 200)
            Self.expectShape(podHealth.json, ["pod_id": "str", "status": "str", "containers": "list"], "pod health")
            let missingHealth = try await server.call(.get, "/pods/999/health")
            #expect(missingHealth.status == 404 && missingHealth.text.contains("<title>404 Not Found</title>"))

            // The node now shows the pod and its cores.
            let afterPod = try await server.call(.get, "/nodes/1")
            #expect(afterPod.json["pod_ids"] == [.int(podID)])
            #expect(afterPod.json["cpu_cores_avail"] == 3)
            let refused = try await server.call(.delete, "/nodes/1")
            #expect(refused.status == 400, "a node with pods that is not permanently failed")

            // Failure, recovery, deregistration.
            #expect(try await server.call(.post, "/nodes/2/simulate/failure").status == 200)
            #expect(try await server.call(.get, "/nodes/2").json["health_status"] == "failed")
            #expect(try await server.call(.post, "/nodes/99/simulate/failure").status == 500)
            #expect(try await server.call(.post, "/nodes/2/force_cleanup").status == 400, "only permanently failed nodes")
            #expect(try await server.call(.post, "/nodes/99/deregister").status == 404)
            #expect(try await server.call(.post, "/nodes/2/deregister").status == 200)
            #expect(try await server.call(.get, "/nodes/2").json["health_status"] == "permanently_failed")
            let stop = try await server.call(.post, "/nodes/2/heartbeat", text: #"{"health_status": "healthy"}"#)
            #expect(stop.status == 200)
            #expect(stop.json["should_stop_heartbeat"] == true && stop.json["should_terminate"] == true && stop.json["node_status"] == "permanently_failed")
            #expect(try await server.call(.post, "/nodes/2/force_cleanup").status == 200)
            #expect(try await server.call(.post, "/nodes/99/force_cleanup").status == 500)

            // Deletes.
            #expect(try await server.call(.delete, "/pods/\(podID)").status == 200)
            let gone = try await server.call(.delete, "/pods/\(podID)")
            #expect(gone.status == 500 && gone.json["error"]?.stringValue?.contains("404 Not Found") == true, "a missing pod is Kube-9's 500-404")
            #expect(try await server.call(.get, "/nodes/1").json["cpu_cores_avail"] == 4, "the cores came back")
            #expect(try await server.call(.delete, "/nodes/2").status == 200)
            #expect(try await server.call(.delete, "/nodes/1").status == 200)
            #expect(try await server.call(.delete, "/nodes/1").status == 500)
            #expect(try await server.call(.get, "/nodes/").json == .array([]))
        }
    }

    @Test("failing three times makes a node permanently failed; its pods stay until then, then move; it may be deleted with pods")
    func permanentFailure() async throws {
        try await InProcessServer.with(recoveryInterval: .milliseconds(300)) { server in
            #expect(try await server.call(.post, "/nodes/", text: #"{"name": "w", "cpu_cores_avail": 4}"#).status == 201)
            let pod = try await server.call(.post, "/pods/", text: #"{"name": "p", "cpu_cores_req": 1, "containers": [{}]}"#)
            #expect(pod.status == 200)
            for attempt in 1...4 {
                #expect(try await server.call(.post, "/nodes/1/simulate/failure").status == 200)
                let wanted = attempt <= 3 ? "recovering" : "permanently_failed"
                var health = ""
                let deadline = ContinuousClock.now + .seconds(10)
                while ContinuousClock.now < deadline, health != wanted {
                    try await Task.sleep(for: .milliseconds(100))
                    health = try await server.call(.get, "/nodes/1").json["health_status"]?.stringValue ?? ""
                }
                #expect(health == wanted, "after failure \(attempt)")
                if attempt <= 3 {
                    #expect(try await server.call(.get, "/nodes/1").json["pod_ids"] == [1], "a failed node keeps its pods")
                }
            }
            var moved = false
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline, !moved {
                try await Task.sleep(for: .milliseconds(100))
                moved = try await server.call(.get, "/nodes/1").json["pod_ids"] == []
            }
            #expect(moved, "the pods of a permanently failed node are rescheduled")
            #expect(try await server.call(.delete, "/nodes/1").status == 200)
        }
    }

    @Test("a node that stops sending heartbeats turns failed, then recovering; a heartbeat makes it healthy")
    func recovery() async throws {
        var timing = ClusterTiming.defaults
        timing.heartbeatInterval = .milliseconds(200)
        timing.nodeMonitorGracePeriod = .seconds(1)
        try await InProcessServer.with(timing: timing, recoveryInterval: .seconds(1)) { server in
            #expect(try await server.call(.post, "/nodes/", text: #"{"name": "w", "cpu_cores_avail": 2}"#).status == 201)
            var seen: Set<String> = []
            let deadline = ContinuousClock.now + .seconds(40)
            while ContinuousClock.now < deadline, !seen.contains("recovering") {
                if let status = try await server.call(.get, "/nodes/1").json["health_status"]?.stringValue { seen.insert(status) }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(seen.contains("failed") && seen.contains("recovering"), "\(seen)")
            #expect(try await server.call(.get, "/nodes/1").json["last_heartbeat"]?.stringValue != nil, "a recovery pass counts as a heartbeat")
            let beat = try await server.call(.post, "/nodes/1/heartbeat", text: "{}")
            #expect(beat.json["node_status"] == "healthy")
            #expect(try await server.call(.get, "/nodes/1").json["health_status"] == "healthy")
        }
    }
}
