import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K4] acceptance 1–3 on Docker: nodes as containers from the locally built node image, pods
/// as sibling containers on the kube9 bridge. Needs a Docker daemon (DOCKER_HOST); scripts/test
/// starts a private one. Under CI=true a missing daemon is a failure, never a skip.
@Suite("docker runtime and node containers", .serialized)
struct DockerNodeTests {
    static let timing = ["--heartbeat-interval", "0.5", "--node-monitor-grace-period", "3", "--pod-eviction-timeout", "3"]
    static let podImage = "kube9-test/busybox:latest"

    static func engine() throws -> DockerEngine? {
        do {
            let engine = try DockerEngine()
            if try !engine.imageExists(podImage) { try NodeImage.buildSandboxImage(engine: engine, reference: podImage) }
            return engine
        } catch {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("CI runs the Docker tests and needs a daemon (DOCKER_HOST): \(error)")
            }
            return nil
        }
    }

    /// Removes every container kube9 made on this daemon (pods and node containers).
    static func cleanUp(_ engine: DockerEngine) {
        for label in ["kube9.io/node", "kube9.io/node-container"] {
            let filters = "{\"label\":[\"\(label)\"]}".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let items = (try? engine.request("GET", "/containers/json?all=1&filters=\(filters)").json().arrayValue) ?? nil
            for item in items ?? [] {
                if let id = item["Id"]?.stringValue { _ = try? engine.request("DELETE", "/containers/\(id)?force=1") }
            }
        }
    }

    func kube9(_ arguments: [String], server: ServerProcess, timeoutSeconds: Double = 120) throws -> CommandResult {
        try runCommand(kube9BinaryPath(), arguments + ["--kubeconfig", server.kubeconfigPath, "--data-dir", server.dataDirectory],
                       timeoutSeconds: timeoutSeconds)
    }

    @Test("node add runs a node container that is Ready within 10 s; pods run as containers; node container removal reschedules")
    func nodeContainers() throws {
        guard let engine = try Self.engine() else { return }
        Self.cleanUp(engine)
        defer { Self.cleanUp(engine) }
        let built = try runCommand(kube9BinaryPath(), ["node", "image", "build"], timeoutSeconds: 300)
        #expect(built.status == 0, "\(built.stdout) \(built.stderr)")
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let agentArgs = (Self.timing.prefix(2) + ["--restart-backoff", "1"]).joined(separator: " ")
        let started = Date()
        let added = try kube9(["node", "add", "w1", "--cpus", "2", "--runtime", "docker", "--wait", "10", "--agent-args=" + agentArgs], server: server)
        let elapsed = Date().timeIntervalSince(started)
        #expect(added.status == 0, "\(added.stdout) \(added.stderr)")
        #expect(added.stdout.contains("node/w1 Ready after"), "\(added.stdout)")
        #expect(elapsed <= 10.5, "node add took \(elapsed) s")
        let inspected = try engine.call("GET", "/containers/kube9-node-w1/json").json()
        #expect(inspected[path: ["State", "Running"]]?.boolValue == true)
        #expect(inspected[path: ["HostConfig", "NanoCpus"]]?.intValue == 2_000_000_000)
        let listed = try kube9(["node", "list"], server: server)
        #expect(listed.stdout.contains("w1") && listed.stdout.contains("Ready") && listed.stdout.contains("container kube9-node-w1"), "\(listed.stdout)")

        let runtime = try DockerRuntime(engine: engine)
        let scenario = RuntimeScenario(server: server, connection: try server.connection(), node: "w1", image: Self.podImage, port: 8080) { uid in
            try runtime.listContainers(node: "w1").filter { $0.podUID == uid }
        }
        try scenario.run()

        // A missing image is a clear status, not a hang.
        try scenario.create(["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "noimage"],
                             "spec": ["nodeSelector": ["kubernetes.io/hostname": "w1"], "containers": [["name": "main", "image": "kube9-test/missing:1"]]]])
        var missing: JSON? = nil
        #expect(try waitUntil(seconds: 15) {
            missing = try scenario.pod("noimage")
            return RuntimeScenario.containerStatus(missing)?[path: ["state", "waiting", "reason"]] == "ErrImageNeverPull"
        }, "\(String(describing: missing))")
        #expect(RuntimeScenario.containerStatus(missing)?[path: ["state", "waiting", "message"]]?.stringValue?.contains("kube9-test/missing:1") == true)
        #expect(missing?[path: ["status", "phase"]] == "Pending")
        _ = try server.kubectl(arguments: ["delete", "pod", "noimage"], timeoutSeconds: 30)

        // The node container's agent killed with SIGKILL (the container stops; its pods, siblings,
        // keep running) and started again: it adopts them, starting nothing twice.
        try scenario.create(scenario.podObject("keeper", command: "exec sleep 600", grace: 1))
        #expect(try waitUntil(seconds: 20) { try scenario.pod("keeper")?[path: ["status", "phase"]] == "Running" })
        let keeperUID = try scenario.pod("keeper").map(ObjectMeta.uid(of:)) ?? ""
        let before = try runtime.listContainers(node: "w1").filter { $0.podUID == keeperUID }
        #expect(before.count == 2)
        try engine.call("POST", "/containers/kube9-node-w1/kill?signal=SIGKILL", expected: [204])
        #expect(try waitUntil(seconds: 5) { try engine.call("GET", "/containers/kube9-node-w1/json").json()[path: ["State", "Running"]]?.boolValue == false })
        try engine.call("POST", "/containers/kube9-node-w1/start", expected: [204])
        // Synced once it runs a new pod: only then does "nothing replaced" mean something.
        try scenario.create(scenario.podObject("synced", command: "exec sleep 600", grace: 1))
        #expect(try waitUntil(seconds: 20) { try scenario.pod("synced")?[path: ["status", "phase"]] == "Running" })
        let after = try runtime.listContainers(node: "w1").filter { $0.podUID == keeperUID }
        #expect(Set(after.map(\.id)) == Set(before.map(\.id)), "containers replaced or duplicated after the agent restart")
        #expect(after.allSatisfy { $0.state == .running })
        let kept = try scenario.pod("keeper")
        #expect(kept?[path: ["status", "phase"]] == "Running")
        #expect(RuntimeScenario.containerStatus(kept)?["restartCount"]?.intValue == 0)
        #expect(RuntimeScenario.containerStatus(kept)?["containerID"]?.stringValue == "docker://" + (after.first { !$0.isSandbox }?.id ?? "-"))
        _ = try server.kubectl(arguments: ["delete", "pod", "keeper"], timeoutSeconds: 30)

        // Node failure: the node container is removed; its pod comes back on w2, as a container.
        let connection = try server.connection()
        try scenario.create(scenario.podObject("mover", command: "exec sleep 600", grace: 1).removing(path: ["spec", "nodeSelector"]))
        #expect(try waitUntil(seconds: 20) { try scenario.pod("mover")?[path: ["status", "phase"]] == "Running" })
        let second = try kube9(["node", "add", "w2", "--cpus", "2", "--runtime", "docker", "--wait", "10", "--agent-args=" + agentArgs], server: server)
        #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
        try engine.call("DELETE", "/containers/kube9-node-w1?force=1", expected: [204])
        let failed = Date()
        #expect(try waitUntil(seconds: 8) {
            let node = try connection.request("GET", "/api/v1/nodes/w1").json()
            return node[path: ["status", "conditions"]]?.arrayValue?.first { $0["type"] == "Ready" }?["status"]?.stringValue != "True"
        }, "w1 did not go NotReady")
        let notReadyAfter = Date().timeIntervalSince(failed)
        var moved: JSON? = nil
        #expect(try waitUntil(seconds: 30) {
            moved = try scenario.pod("mover")
            return moved?[path: ["spec", "nodeName"]] == "w2" && moved?[path: ["status", "phase"]] == "Running"
        }, "mover: \(String(describing: moved))")
        let uid = moved.map(ObjectMeta.uid(of:)) ?? ""
        #expect(try runtime.listContainers(node: "w2").contains { $0.podUID == uid && !$0.isSandbox && $0.state == .running })
        print("docker node failure: NotReady after \(notReadyAfter) s, pod running on w2 after \(Date().timeIntervalSince(failed)) s")
        let removed = try kube9(["node", "remove", "w2"], server: server)
        #expect(removed.status == 0, "\(removed.stdout) \(removed.stderr)")
        #expect(removed.stdout.contains("pod/mover recreated"), "\(removed.stdout)")
    }

    @Test("kill -9 of a docker agent and a restart: no duplicate containers, statuses correct")
    func agentRestart() throws {
        guard let engine = try Self.engine() else { return }
        Self.cleanUp(engine)
        defer { Self.cleanUp(engine) }
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        var agent = try AgentProcess(server: server, name: "d1", cpus: "4", timing: Self.timing, extraArguments: ["--runtime", "docker"])
        defer { agent.kill9() }
        let connection = try server.connection()
        for index in 0..<2 {
            let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string("keeper-\(index)")],
                             "spec": ["terminationGracePeriodSeconds": 1,
                                      "containers": [["name": "main", "image": .string(Self.podImage), "command": ["/bin/sleep", "600"]]]]]
            #expect(try connection.request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized()).status == 201)
        }
        func running() throws -> Int {
            (try connection.request("GET", "/api/v1/namespaces/default/pods").json()["items"]?.arrayValue ?? [])
                .filter { $0[path: ["status", "phase"]] == "Running" }.count
        }
        #expect(waitUntil(seconds: 30) { (try? running()) == 2 }, "\(agent.log())")
        let runtime = try DockerRuntime(engine: engine)
        let before = try runtime.listContainers(node: "d1")
        #expect(before.count == 4)
        agent.kill9()
        agent = try AgentProcess(server: server, name: "d1", cpus: "4", timing: Self.timing, extraArguments: ["--runtime", "docker"])
        // Synced once it runs a new pod: only then does "nothing replaced" mean something.
        let marker: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "synced"],
                            "spec": ["terminationGracePeriodSeconds": 1,
                                     "containers": [["name": "main", "image": .string(Self.podImage), "command": ["/bin/sleep", "600"]]]]]
        #expect(try connection.request("POST", "/api/v1/namespaces/default/pods", body: marker.serialized()).status == 201)
        #expect(waitUntil(seconds: 30) { (try? running()) == 3 }, "the restarted agent ran a new pod")
        let markerUID = try ObjectMeta.uid(of: connection.request("GET", "/api/v1/namespaces/default/pods/synced").json())
        let after = try runtime.listContainers(node: "d1").filter { $0.podUID != markerUID }
        #expect(Set(after.map(\.id)) == Set(before.map(\.id)))
        #expect(after.allSatisfy { $0.state == .running })
        for pod in try connection.request("GET", "/api/v1/namespaces/default/pods").json()["items"]?.arrayValue ?? [] {
            #expect(pod[path: ["status", "containerStatuses"]]?.arrayValue?.first?["restartCount"]?.intValue == 0)
            #expect(pod[path: ["status", "podIP"]]?.stringValue.map { !$0.isEmpty && $0 != "127.0.0.1" } == true)
        }
        _ = try server.kubectl(arguments: ["delete", "pods", "--all"], timeoutSeconds: 30)
        #expect(waitUntil(seconds: 15) { (try? runtime.listContainers(node: "d1").isEmpty) ?? false })
    }
}

extension JSON {
    /// A copy without the value at `path`.
    func removing(path: [String]) -> JSON {
        var copy = self
        copy[path: path] = nil
        return copy
    }
}
