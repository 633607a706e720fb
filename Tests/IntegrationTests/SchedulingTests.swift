import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Synchronization
import Testing

/// A `kube9 agent` process (sim runtime unless `extraArguments` say otherwise), stopped by pid.
final class AgentProcess: @unchecked Sendable {
    let process = Process()
    let name: String
    let logPath: String

    init(server: ServerProcess, name: String, cpus: String, timing: [String], extraArguments: [String] = []) throws {
        self.name = name
        logPath = server.dataDirectory + "/agent-\(name)-\(UUID().uuidString.prefix(6)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: kube9BinaryPath())
        process.arguments = ["agent", "--name", name, "--cpus", cpus, "--memory", "16Gi", "--kubeconfig", server.kubeconfigPath,
                             "--log-level", "warning"] + timing + extraArguments
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// The agent's output so far.
    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM and wait.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    func kill9() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { kill9() }
}

func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

/// Kube-9's three flows for real (K3 acceptance 2 and 3).
@Suite("scheduling, heartbeats and rescheduling", .serialized)
struct SchedulingTests {
    static let timing = ["--heartbeat-interval", "0.5", "--node-monitor-grace-period", "3", "--pod-eviction-timeout", "3"]

    func pods(_ connection: HTTPConnection) throws -> [JSON] {
        try connection.request("GET", "/api/v1/namespaces/default/pods").json()["items"]?.arrayValue ?? []
    }

    func readyNodes(_ connection: HTTPConnection) throws -> [String] {
        (try connection.request("GET", "/api/v1/nodes").json()["items"]?.arrayValue ?? []).filter { node in
            (node[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
        }.map { ObjectMeta.name(of: $0) }.sorted()
    }

    @Test("ten pods bind within capacity; a silent node goes NotReady and its pods run elsewhere, never bound twice")
    func nodeFailure() throws {
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let connection = try server.connection()
        let agents = try [("n1", "4"), ("n2", "8"), ("n3", "2")].map { try AgentProcess(server: server, name: $0.0, cpus: $0.1, timing: Self.timing) }
        defer { agents.forEach { $0.kill9() } }
        #expect(try waitUntil(seconds: 10) { try readyNodes(connection) == ["n1", "n2", "n3"] })

        // Record every pod event from now on.
        let start = try connection.request("GET", "/api/v1/pods").json()[path: ["metadata", "resourceVersion"]]?.stringValue ?? "0"
        let history = Mutex<[(type: String, name: String, uid: String, node: String)]>([])
        let url = server.url
        let watcher = Thread {
            _ = try? HTTPConnection(baseURL: url).stream("/api/v1/pods?watch=1&resourceVersion=\(start)&timeoutSeconds=60") { line in
                if let event = try? JSON.parse(line), let object = event["object"] {
                    history.withLock { $0.append((event["type"]?.stringValue ?? "", ObjectMeta.name(of: object), ObjectMeta.uid(of: object),
                                                  object[path: ["spec", "nodeName"]]?.stringValue ?? "")) }
                }
                return true
            }
        }
        watcher.start()

        var manifest = ""
        for index in 0..<10 {
            manifest += """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: web-\(index)
                  labels: {app: web}
                spec:
                  containers:
                  - name: c
                    image: busybox
                    resources: {requests: {cpu: 500m}}
                ---

                """
        }
        let path = server.dataDirectory + "/pods.yaml"
        try manifest.write(toFile: path, atomically: true, encoding: .utf8)
        let created = try server.kubectl("apply", "-f", path)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try waitUntil(seconds: 15) { try pods(connection).filter { $0[path: ["status", "phase"]] == "Running" }.count == 10 })
        var perNode: [String: Int] = [:]
        for pod in try pods(connection) { perNode[pod[path: ["spec", "nodeName"]]?.stringValue ?? "", default: 0] += 1 }
        #expect(perNode["n1", default: 0] * 500 <= 4000 && perNode["n2", default: 0] * 500 <= 8000 && perNode["n3", default: 0] * 500 <= 2000)
        #expect(perNode.values.reduce(0, +) == 10)

        // Stop the heartbeats of the busiest node.
        let victim = perNode.max { $0.value < $1.value }!.key
        let moved = perNode[victim]!
        agents.first { $0.name == victim }!.kill9()
        let killed = Date()
        #expect(try waitUntil(seconds: 3 + 2) {
            let nodes = try server.kubectl("get", "nodes").stdout
            return nodes.split(separator: "\n").contains { $0.hasPrefix("\(victim) ") && $0.contains("NotReady") }
        }, "NotReady within grace + 2 s")
        let notReadyAfter = Date().timeIntervalSince(killed)
        #expect(try waitUntil(seconds: 3 + 3 + 5) {
            let current = try pods(connection)
            return current.count == 10 && current.allSatisfy {
                $0[path: ["status", "phase"]] == "Running" && $0[path: ["spec", "nodeName"]]?.stringValue != victim
            }
        }, "pods Running elsewhere within grace + eviction + 5 s")
        let movedAfter = Date().timeIntervalSince(killed)
        print("node \(victim) NotReady after \(notReadyAfter) s; its \(moved) pods Running elsewhere after \(movedAfter) s")

        // Watch history: each pod object (uid) is bound at most once, and a replacement
        // appears only after the old object is gone.
        usleep(300_000)
        let events = history.withLock { $0 }
        var boundTo: [String: String] = [:]
        for event in events where !event.node.isEmpty {
            if let previous = boundTo[event.uid] { #expect(previous == event.node, "\(event.name) uid \(event.uid) bound to \(previous) and \(event.node)") }
            boundTo[event.uid] = event.node
        }
        var live: [String: String] = [:]
        for event in events {
            if event.type == "DELETED" { if live[event.name] == event.uid { live[event.name] = nil } } else {
                if let other = live[event.name] { #expect(other == event.uid, "two live objects named \(event.name)") }
                live[event.name] = event.uid
            }
        }
        // The node comes back: Ready again, taint gone, and it does not get its old pods back.
        let returned = try AgentProcess(server: server, name: victim, cpus: victim == "n2" ? "8" : victim == "n1" ? "4" : "2", timing: Self.timing)
        defer { returned.kill9() }
        #expect(try waitUntil(seconds: 5) { try readyNodes(connection).contains(victim) }, "Ready again once heartbeats resume")
        #expect(try waitUntil(seconds: 3) {
            try connection.request("GET", "/api/v1/nodes/\(victim)").json()[path: ["spec", "taints"]] == nil
        }, "the controller removes the unreachable taint once heartbeats resume")
        usleep(1_000_000)
        #expect(try pods(connection).allSatisfy { $0[path: ["spec", "nodeName"]]?.stringValue != victim }, "no pod is bound back to the returned node")
        let reasons = try server.kubectl("get", "events", "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}").stdout
        for reason in ["RegisteredNode", "NodeNotReady", "Evicted", "Rescheduled", "Scheduled", "NodeReady"] {
            #expect(reasons.contains(reason), "no \(reason) event")
        }
    }

    @Test("swapping the default scheduler policy at runtime changes where the next pods go")
    func policySwap() async throws {
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let connection = try server.connection()
        let agents = try [("small", "4"), ("large", "8")].map { try AgentProcess(server: server, name: $0.0, cpus: $0.1, timing: Self.timing) }
        defer { agents.forEach { $0.kill9() } }
        #expect(try waitUntil(seconds: 10) { try readyNodes(connection) == ["large", "small"] })
        func place(_ name: String) throws -> String {
            var body = podBody(name)
            body[path: ["spec", "containers"]] = [["name": "c", "image": "busybox", "resources": ["requests": ["cpu": "1"]]]]
            _ = try connection.request("POST", "/api/v1/namespaces/default/pods", body: body.serialized())
            var node = ""
            _ = try waitUntil(seconds: 10) {
                node = try connection.request("GET", "/api/v1/namespaces/default/pods/\(name)").json()[path: ["spec", "nodeName"]]?.stringValue ?? ""
                return !node.isEmpty
            }
            return node
        }
        #expect(try place("before") == "small", "best_fit is the default")
        let applied = try runCommand(kube9BinaryPath(), ["policy", "apply", repositoryPath("policies/scheduler/worst_fit.lua"),
                                                         "--slot", "scheduler", "--name", "default", "--kubeconfig", server.kubeconfigPath])
        #expect(applied.status == 0, "\(applied.stderr)")
        _ = waitUntil(seconds: 5) {
            (try? connection.request("GET", "/kube9/v1/policies").text.contains("\"name\":\"default\"")) == true
        }
        #expect(try place("after") == "large", "worst_fit after the swap, no restart")
    }

    @Test("a pod whose scheduler policy is missing binds once that policy is installed, with nothing else changing")
    func missingPolicyRetried() async throws {
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let connection = try server.connection()
        let agent = try AgentProcess(server: server, name: "solo", cpus: "4", timing: Self.timing)
        defer { agent.kill9() }
        #expect(try waitUntil(seconds: 10) { try readyNodes(connection) == ["solo"] })
        var body = podBody("picky")
        body[path: ["spec", "schedulerName"]] = "picky"
        _ = try connection.request("POST", "/api/v1/namespaces/default/pods", body: body.serialized())
        func pod() throws -> JSON { try connection.request("GET", "/api/v1/namespaces/default/pods/picky").json() }
        #expect(try waitUntil(seconds: 10) {
            let condition = (try pod()[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "PodScheduled" }
            return condition?["message"]?.stringValue?.contains("no scheduler policy named picky") == true
        })
        // Heartbeats do not change Node objects, so only the periodic recheck retries the pod.
        let applied = try runCommand(kube9BinaryPath(), ["policy", "apply", repositoryPath("policies/scheduler/worst_fit.lua"),
                                                         "--slot", "scheduler", "--name", "picky", "--kubeconfig", server.kubeconfigPath])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try waitUntil(seconds: 25) { try pod()[path: ["spec", "nodeName"]]?.stringValue == "solo" })
    }

    @Test("a pod that fits nowhere stays Pending with Unschedulable and says why each node was rejected")
    func unschedulable() async throws {
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let connection = try server.connection()
        let agents = try [("a", "2"), ("b", "8")].map { try AgentProcess(server: server, name: $0.0, cpus: $0.1, timing: Self.timing) }
        defer { agents.forEach { $0.kill9() } }
        #expect(try waitUntil(seconds: 10) { try readyNodes(connection).count == 2 })
        var body = podBody("huge")
        body[path: ["spec", "containers"]] = [["name": "c", "image": "busybox", "resources": ["requests": ["cpu": "100"]]]]
        _ = try connection.request("POST", "/api/v1/namespaces/default/pods", body: body.serialized())
        var condition: JSON? = nil
        #expect(try waitUntil(seconds: 10) {
            let pod = try connection.request("GET", "/api/v1/namespaces/default/pods/huge").json()
            condition = (pod[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "PodScheduled" }
            return condition?["reason"] == "Unschedulable"
        })
        #expect(condition?["status"] == "False")
        let message = condition?["message"]?.stringValue ?? ""
        #expect(message.hasPrefix("0/2 nodes are available: 2 Insufficient cpu."), "\(message)")
        #expect(message.contains("more than the capacity of any node (largest: 8)"), "\(message)")
        let describe = try server.kubectl("describe", "pod", "huge")
        #expect(describe.stdout.contains("FailedScheduling"), "\(describe.stdout)")
    }
}
