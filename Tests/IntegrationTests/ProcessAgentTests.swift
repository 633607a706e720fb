import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K4] acceptance 4 (process runtime) and the agent restart half of acceptance 3.
@Suite("process runtime agent", .serialized)
struct ProcessAgentTests {
    static let timing = ["--heartbeat-interval", "0.5", "--node-monitor-grace-period", "3", "--pod-eviction-timeout", "3"]

    @Test("the pod scenario on the process runtime: HTTP, logs, delete, back-off, liveness, readiness")
    func podScenario() throws {
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let dataDirectory = server.dataDirectory + "/agent"
        let agent = try AgentProcess(server: server, name: "proc1", cpus: "4", timing: Self.timing,
                                     extraArguments: ["--runtime", "process", "--restart-backoff", "1", "--data-dir", dataDirectory])
        defer { agent.kill9() }
        let runtime = try ProcessRuntime(root: dataDirectory + "/nodes/proc1/containers", shimExecutable: (kube9BinaryPath() as NSString).deletingLastPathComponent + "/kube9-shim")
        let scenario = RuntimeScenario(server: server, connection: try server.connection(), node: "proc1", image: "host", port: freePort()) { uid in
            try runtime.listContainers(node: "proc1").filter { $0.podUID == uid }
        }
        try scenario.run()
        #expect(!agent.log().contains("error"), "\(agent.log())")
        // Leaves no processes behind once every pod is deleted.
        _ = try server.kubectl(arguments: ["delete", "pods", "--all"], timeoutSeconds: 30)
        #expect(waitUntil(seconds: 10) { (try? runtime.listContainers(node: "proc1").isEmpty) ?? false })
    }

    @Test("kill -9 of the agent and a restart: running containers adopted, none started twice, statuses kept")
    func agentRestartAdopts() throws {
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let dataDirectory = server.dataDirectory + "/agent"
        let arguments = ["--runtime", "process", "--data-dir", dataDirectory]
        var agent = try AgentProcess(server: server, name: "proc2", cpus: "4", timing: Self.timing, extraArguments: arguments)
        defer { agent.kill9() }
        let runtime = try ProcessRuntime(root: dataDirectory + "/nodes/proc2/containers", shimExecutable: (kube9BinaryPath() as NSString).deletingLastPathComponent + "/kube9-shim")
        let connection = try server.connection()
        for index in 0..<3 {
            let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string("sleeper-\(index)")],
                             "spec": ["terminationGracePeriodSeconds": 2, "containers": [["name": "main", "image": "host", "command": ["/bin/sleep", "600"]]]]]
            #expect(try connection.request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized()).status == 201)
        }
        func runningPods() throws -> Int {
            (try connection.request("GET", "/api/v1/namespaces/default/pods").json()["items"]?.arrayValue ?? [])
                .filter { $0[path: ["status", "phase"]] == "Running" }.count
        }
        #expect(waitUntil(seconds: 20) { (try? runningPods()) == 3 })
        // Usage is sampled every 10 s and served by the agent, through the API server's node proxy.
        var summary: JSON? = nil
        #expect(waitUntil(seconds: 25) {
            summary = try? connection.request("GET", "/api/v1/nodes/proc2/proxy/stats/summary").json()
            let pods = summary?["pods"]?.arrayValue ?? []
            return pods.count == 3 && pods.allSatisfy { pod in
                (pod["containers"]?.arrayValue ?? []).contains { ($0[path: ["memory", "workingSetBytes"]]?.intValue ?? 0) > 0 }
            }
        }, "\(String(describing: summary))")
        #expect(summary?[path: ["node", "nodeName"]] == "proc2")
        #expect((summary?[path: ["node", "memory", "workingSetBytes"]]?.intValue ?? 0) > 0)
        let raw = try server.kubectl("get", "--raw", "/api/v1/nodes/proc2/proxy/stats/summary")
        #expect(raw.status == 0 && raw.stdout.contains("usageCoreNanoSeconds"), "\(raw.stderr)")
        let before = try runtime.listContainers(node: "proc2")
        #expect(before.count == 6, "3 sandboxes + 3 containers")
        func versions() throws -> [String: String] {
            var result: [String: String] = [:]
            for pod in try connection.request("GET", "/api/v1/namespaces/default/pods").json()["items"]?.arrayValue ?? [] {
                result[ObjectMeta.name(of: pod)] = ObjectMeta.resourceVersion(of: pod)
            }
            return result
        }
        let beforeVersions = try versions()
        agent.kill9()
        // The containers outlive the agent.
        #expect(try runtime.listContainers(node: "proc2").filter { $0.state == .running }.count == 6)
        agent = try AgentProcess(server: server, name: "proc2", cpus: "4", timing: Self.timing, extraArguments: arguments)
        // The restarted agent has synced once it runs a new pod: only then does "nothing replaced" mean something.
        let marker: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "synced"],
                            "spec": ["terminationGracePeriodSeconds": 0, "containers": [["name": "main", "image": "host", "command": ["/bin/sleep", "600"]]]]]
        #expect(try connection.request("POST", "/api/v1/namespaces/default/pods", body: marker.serialized()).status == 201)
        #expect(waitUntil(seconds: 20) { (try? runningPods()) == 4 }, "the restarted agent ran a new pod")
        let markerUID = try ObjectMeta.uid(of: connection.request("GET", "/api/v1/namespaces/default/pods/synced").json())
        let after = try runtime.listContainers(node: "proc2").filter { $0.podUID != markerUID }
        #expect(Set(after.map(\.id)) == Set(before.map(\.id)), "containers were replaced or duplicated")
        #expect(after.allSatisfy { $0.state == .running })
        let pods = try connection.request("GET", "/api/v1/namespaces/default/pods").json()
        for pod in pods["items"]?.arrayValue ?? [] {
            #expect(pod[path: ["status", "phase"]] == "Running")
            #expect(pod[path: ["status", "containerStatuses"]]?.arrayValue?.first?["restartCount"]?.intValue == 0)
        }
        // Nothing to report: the adopted statuses were already right, so no adopted pod was written.
        let afterVersions = try versions()
        for (name, version) in beforeVersions { #expect(afterVersions[name] == version, "\(name) was rewritten after the restart") }
        #expect(try connection.request("DELETE", "/api/v1/namespaces/default/pods/synced?gracePeriodSeconds=0").status == 200)
        #expect(waitUntil(seconds: 10) { (try? runtime.listContainers(node: "proc2").count) == 6 })
        // A container whose pod was deleted while the agent was down is an orphan, removed on return.
        agent.kill9()
        #expect(try connection.request("DELETE", "/api/v1/namespaces/default/pods/sleeper-0?gracePeriodSeconds=0").status == 200)
        agent = try AgentProcess(server: server, name: "proc2", cpus: "4", timing: Self.timing, extraArguments: arguments)
        #expect(waitUntil(seconds: 10) { (try? runtime.listContainers(node: "proc2").count) == 4 })
        _ = try server.kubectl(arguments: ["delete", "pods", "--all"], timeoutSeconds: 30)
        #expect(waitUntil(seconds: 10) { (try? runtime.listContainers(node: "proc2").isEmpty) ?? false })
    }
}

/// [K4] acceptance 4: 1,000 sim nodes in one agent process register and stay Ready.
@Suite("sim fleet", .serialized)
struct SimFleetTests {
    @Test("1,000 sim nodes register, stay Ready through several grace periods, and run pods")
    func thousandNodes() throws {
        let timing = ["--heartbeat-interval", "1", "--node-monitor-grace-period", "4", "--pod-eviction-timeout", "10"]
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        defer { server.destroy() }
        let fleet = try AgentProcess(server: server, name: "sim", cpus: "4", timing: timing, extraArguments: ["--runtime", "sim", "--count", "1000"])
        defer { fleet.kill9() }
        let connection = try server.connection()
        func readyCount() throws -> (total: Int, ready: Int) {
            let nodes = try connection.request("GET", "/api/v1/nodes").json()["items"]?.arrayValue ?? []
            let ready = nodes.filter { node in
                (node[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
            }
            return (nodes.count, ready.count)
        }
        #expect(waitUntil(seconds: 60) { (try? readyCount())?.ready == 1000 }, "\(fleet.log().suffix(2000))")
        // Several grace periods later every node is still Ready.
        for _ in 0..<4 {
            usleep(3_000_000)
            let (total, ready) = try readyCount()
            #expect(total == 1000 && ready == 1000, "\(ready) of \(total) Ready")
        }
        for index in 0..<50 {
            let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string("fleet-\(index)")],
                             "spec": ["containers": [["name": "main", "image": "busybox", "resources": ["requests": ["cpu": "1"]]]]]]
            #expect(try connection.request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized()).status == 201)
        }
        #expect(waitUntil(seconds: 30) {
            let pods = (try? connection.request("GET", "/api/v1/namespaces/default/pods").json()["items"]?.arrayValue) ?? []
            return pods.filter { $0[path: ["status", "phase"]] == "Running" }.count == 50
        })
    }
}
