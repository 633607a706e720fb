import Foundation
import Kube9Model
import Kube9Testing
import Testing

/// K3 acceptance 4: the Kube-9 v0 flow from the old project's README, with curl.
@Suite("Kube-9 v0 API with curl")
struct KubeNineV0Tests {
    func curl(_ server: ServerProcess, _ method: String, _ path: String, _ body: String? = nil) throws -> (Int, JSON) {
        var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, server.url + path]
        if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
        let result = try runCommand("/usr/bin/curl", arguments)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let code = Int(lines.last ?? "") ?? 0
        let text = lines.dropLast().joined(separator: "\n")
        return (code, (try? JSON.parse(text)) ?? .string(text))
    }

    @Test("add a 4-core worker and an 8-core master, two pods, list health, delete a pod and get its cores back")
    func readmeFlow() throws {
        let server = try ServerProcess(extraArguments: ["--node-monitor-grace-period", "30"], scheduler: true)
        defer { server.destroy() }
        let (workerCode, worker) = try curl(server, "POST", "/nodes/", #"{"name": "worker-1", "cpu_cores_avail": 4, "node_type": "worker"}"#)
        #expect(workerCode == 201)
        #expect(worker["cpu_cores"] == 4 && worker["id"] == 1)
        #expect(worker["node_type"] == "worker")
        let (masterCode, master) = try curl(server, "POST", "/nodes/", #"{"name": "master-1", "cpu_cores_avail": 8, "node_type": "master"}"#)
        #expect(masterCode == 201 && master["id"] == 2)
        let (nginxCode, nginx) = try curl(server, "POST", "/pods/", #"{"name": "nginx-pod", "cpu_cores_req": 1, "containers": [{"name": "nginx", "image": "nginx:latest", "cpu_req": 0.5, "memory_req": 256}]}"#)
        #expect(nginxCode == 200, "\(nginx)")
        #expect(nginx[path: ["pod_details", "node"]] == "worker-1", "best fit: the worker (a master takes no pods)")
        let (webCode, web) = try curl(server, "POST", "/pods/", #"{"name": "web-app", "cpu_cores_req": 2, "containers": [{"name": "web", "image": "nginx:latest", "cpu_req": 1.0, "memory_req": 256}, {"name": "cache", "image": "redis:latest", "cpu_req": 0.5, "memory_req": 128}]}"#)
        #expect(webCode == 200, "\(web)")
        #expect(web[path: ["pod_details", "containers_count"]] == 2 && web[path: ["pod_details", "type"]] == "multi-container")
        let (_, nodes) = try curl(server, "GET", "/nodes/")
        let workerAfter = nodes.arrayValue?.first { $0["name"] == "worker-1" }
        #expect(workerAfter?["cpu_cores_avail"] == 1, "4 − 1 − 2")
        #expect(workerAfter?["hosted_pods"] == 2)
        let (healthCode, health) = try curl(server, "POST", "/nodes/1/heartbeat", #"{"pod_ids": [1, 2], "cpu_cores_avail": 1, "health_status": "healthy"}"#)
        #expect(healthCode == 200 && health["node_status"] == "healthy", "\(health)")
        let (_, list) = try curl(server, "GET", "/nodes/health")
        #expect(Set(list.arrayValue?.compactMap { $0["health_status"]?.stringValue } ?? []) == ["healthy"])
        let webID = web[path: ["pod_details", "id"]]?.intValue ?? 0
        let (deleteCode, _) = try curl(server, "DELETE", "/pods/\(webID)")
        #expect(deleteCode == 200)
        let (_, worker2) = try curl(server, "GET", "/nodes/1")
        #expect(worker2["cpu_cores_avail"] == 3, "the 2 cores came back")
        let (tooBigCode, tooBig) = try curl(server, "POST", "/pods/", #"{"name": "huge", "cpu_cores_req": 64, "containers": [{}]}"#)
        #expect(tooBigCode == 400)
        #expect(tooBig["error"]?.stringValue?.contains("Insufficient cpu") == true, "\(tooBig)")
        let kubectl = try server.kubectl("get", "pods", "-o", "name")
        #expect(kubectl.stdout == "pod/nginx-pod\n", "v0 objects are real objects")
        let running = try server.kubectl("get", "pod", "nginx-pod", "-o", "jsonpath={.status.phase}")
        #expect(running.stdout == "Running", "the server runs the pods of v0 nodes, as Kube-9's node simulator did")
    }

    @Test("bad node specs get Kube-9's 400 with an error message", arguments: [
        #"{"name": "n", "cpu_cores_avail": 0}"#, #"{"name": "n", "cpu_cores_avail": -2}"#,
        #"{"name": "n", "cpu_cores_avail": 2, "node_type": "boss"}"#, #"{"name": "Bad_Name", "cpu_cores_avail": 2}"#, #"{"name": "n"}"#,
        #"{"cpu_cores_avail": 2}"#,
    ])
    func badNodes(_ body: String) throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let (code, status) = try curl(server, "POST", "/nodes/", body)
        #expect(code == 400, "\(status)")
        #expect(status["error"]?.stringValue?.isEmpty == false, "\(status)")
    }

    @Test("Node objects: cpu capacity must be positive and the node type known")
    func nodeValidation() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let zero: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "z"], "status": ["capacity": ["cpu": "0"]]]
        let reply = try await server.client().request("POST", "/api/v1/nodes", json: zero)
        #expect(reply.status == 422)
        #expect(try reply.json()[path: ["details", "causes"]]?.arrayValue?.first?["field"] == "status.capacity[cpu]")
        let typed: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "t", "labels": ["kube9.io/node-type": "boss"]]]
        let typedReply = try await server.client().request("POST", "/api/v1/nodes", json: typed)
        #expect(typedReply.status == 422)
    }
}
