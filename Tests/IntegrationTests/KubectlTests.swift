import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// The stock kubectl 1.32 against the real kube9 binary (acceptance 1 and 2 of K1).
@Suite("kubectl against kube9 server")
struct KubectlTests {
    static let podManifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: ap1
          labels:
            app: x
        spec:
          containers:
          - name: c
            image: busybox
            ports:
            - containerPort: 80

        """

    func writeManifest(_ text: String, in server: ServerProcess, name: String = "pod.yaml") throws -> String {
        let path = server.dataDirectory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("healthz, version and system namespaces")
    func basics() throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let health = try server.kubectl("get", "--raw", "/healthz")
        #expect(health.stdout == "ok")
        let version = try server.kubectl("version")
        #expect(version.stdout.contains("Server Version: v1.32.4"))
        let namespaces = try server.kubectl("get", "ns")
        #expect(namespaces.status == 0)
        for name in ["default", "kube-system", "kube-node-lease"] {
            #expect(namespaces.stdout.contains("\n\(name) "), "missing \(name) in:\n\(namespaces.stdout)")
        }
    }

    @Test("apply creates, a changed label reports configured, no change reports unchanged")
    func applyLifecycle() throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let path = try writeManifest(Self.podManifest, in: server)
        let first = try server.kubectl("apply", "-f", path)
        #expect(first.stdout == "pod/ap1 created\n", "\(first.stderr)")
        _ = try writeManifest(Self.podManifest.replacingOccurrences(of: "app: x", with: "app: x\n    tier: web"), in: server)
        let second = try server.kubectl("apply", "-f", path)
        #expect(second.stdout == "pod/ap1 configured\n", "\(second.stderr)")
        let third = try server.kubectl("apply", "-f", path)
        #expect(third.stdout == "pod/ap1 unchanged\n", "\(third.stderr)")
        let labels = try server.kubectl("get", "pod", "ap1", "-o", "jsonpath={.metadata.labels.tier}")
        #expect(labels.stdout == "web")
    }

    @Test("get -o wide, yaml, json, label and field selectors")
    func getOutputs() throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let path = try writeManifest(Self.podManifest, in: server)
        _ = try server.kubectl("apply", "-f", path)
        _ = try server.kubectl("run", "other", "--image=busybox", "--labels=app=y")
        let wide = try server.kubectl("get", "pods", "-o", "wide")
        let header = wide.stdout.split(separator: "\n").first.map(String.init) ?? ""
        for column in ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"] {
            #expect(header.contains(column), "missing \(column) in \(header)")
        }
        let row = wide.stdout.split(separator: "\n").first { $0.hasPrefix("ap1 ") }?.split(separator: " ").map(String.init) ?? []
        #expect(Array(row.prefix(4)) == ["ap1", "0/1", "Pending", "0"], "\(wide.stdout)")
        let yaml = try server.kubectl("get", "pod", "ap1", "-o", "yaml")
        #expect(yaml.stdout.contains("kind: Pod"))
        #expect(yaml.stdout.contains("resourceVersion:"))
        let json = try server.kubectl("get", "pods", "-o", "json")
        let parsed = try JSON.parse(json.stdout)
        #expect(parsed["kind"]?.stringValue == "List" || parsed["kind"]?.stringValue == "PodList")
        #expect(parsed["items"]?.arrayValue?.count == 2)
        let selected = try server.kubectl("get", "pods", "-l", "app=x", "-o", "name")
        #expect(selected.stdout == "pod/ap1\n")
        let pending = try server.kubectl("get", "pods", "--field-selector", "status.phase=Pending", "-o", "name")
        #expect(pending.stdout == "pod/ap1\npod/other\n")
        let running = try server.kubectl("get", "pods", "--field-selector", "status.phase=Running")
        #expect(running.stderr.contains("No resources found"))
    }

    @Test("get -w prints a line when another client changes the pod")
    func watchPrintsChanges() throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        _ = try server.kubectl("run", "watched", "--image=busybox")
        let outPath = server.dataDirectory + "/watch.out"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: "/usr/bin/kubectl")
        watcher.arguments = ["--kubeconfig", server.kubeconfigPath, "--cache-dir", server.dataDirectory + "/kubectl-cache", "get", "pods", "-w"]
        watcher.standardOutput = FileHandle(forWritingAtPath: outPath)
        watcher.standardError = FileHandle.nullDevice
        try watcher.run()
        defer { if watcher.isRunning { watcher.terminate() } }
        func lines() -> [String] {
            ((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        var waited = 0
        while lines().count < 2, waited < 300 { usleep(50_000); waited += 1 }
        #expect(lines().count == 2, "header and one row first: \(lines())")
        _ = try server.kubectl("label", "pod", "watched", "changed=yes")
        waited = 0
        while lines().count < 3, waited < 300 { usleep(50_000); waited += 1 }
        #expect(lines().count == 3, "a line for the change: \(lines())")
        #expect(lines().last?.hasPrefix("watched") == true)
    }

    @Test("delete, describe, namespaces, api-resources, explain")
    func otherCommands() throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let path = try writeManifest(Self.podManifest, in: server)
        _ = try server.kubectl("apply", "-f", path)
        let describe = try server.kubectl("describe", "pod", "ap1")
        #expect(describe.status == 0)
        #expect(describe.stdout.contains("Name:         ap1"))
        #expect(describe.stdout.contains("Status:       Pending"))
        #expect(describe.stdout.contains("Port:         80/TCP"))
        let delete = try server.kubectl("delete", "pod", "ap1")
        #expect(delete.stdout == "pod \"ap1\" deleted\n", "\(delete.stderr)")
        let gone = try server.kubectl("get", "pod", "ap1")
        #expect(gone.stderr.contains("NotFound"))
        let created = try server.kubectl("create", "namespace", "t")
        #expect(created.stdout == "namespace/t created\n", "\(created.stderr)")
        let empty = try server.kubectl("-n", "t", "get", "pods")
        #expect(empty.status == 0)
        #expect(empty.stderr.contains("No resources found in t namespace."))
        let resources = try server.kubectl("api-resources")
        for resource in ["pods", "nodes", "namespaces", "events", "leases"] {
            #expect(resources.stdout.contains("\n\(resource) "), "\(resource) missing from api-resources")
        }
        let explain = try server.kubectl("explain", "pod.spec.containers")
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("FIELD: containers <[]Container>"))
        #expect(explain.stdout.contains("image\t<string>"))
        let deleteNamespace = try server.kubectl("delete", "namespace", "t")
        #expect(deleteNamespace.status == 0, "\(deleteNamespace.stderr)")
        let protected = try server.kubectl("delete", "namespace", "default")
        #expect(protected.status != 0)
        #expect(protected.stderr.contains("Forbidden"))
    }

    @Test("nodes print STATUS, ROLES, AGE, VERSION")
    func nodeTable() async throws {
        // No agent heartbeats this node: a long grace period keeps it Ready however slow the machine is.
        let server = try ServerProcess(extraArguments: ["--node-monitor-grace-period", "600", "--pod-eviction-timeout", "900"])
        defer { server.destroy() }
        let node: JSON = [
            "apiVersion": "v1", "kind": "Node",
            "metadata": ["name": "w1", "labels": ["node-role.kubernetes.io/worker": ""]],
            "status": ["capacity": ["cpu": "4"], "nodeInfo": ["kubeletVersion": "v1.32.4-kube9"],
                       "conditions": [["type": "Ready", "status": "True"]]],
        ]
        let reply = try await server.client().request("POST", "/api/v1/nodes", json: node)
        #expect(reply.status == 201, "\(reply.text)")
        let nodes = try server.kubectl("get", "nodes")
        let lines = nodes.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines.first == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"])
        #expect(lines.count == 2)
        if lines.count == 2 {
            #expect(lines[1][0] == "w1")
            #expect(lines[1][1] == "Ready")
            #expect(lines[1][2] == "worker")
            #expect(lines[1][4] == "v1.32.4-kube9")
        }
    }
}
