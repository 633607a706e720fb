import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K7] Deployments through stock kubectl against the real binary, on sim nodes: create (a
/// protobuf body), rollout status/history/undo/pause/resume/restart, scale, set image, and
/// `kubectl delete` with each cascade (K7 acceptance 2).
@Suite("deployments with kubectl", .serialized)
struct DeploymentKubectlTests {
    static let timing = SchedulingTests.timing

    static func cluster() throws -> (ServerProcess, AgentProcess) {
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        let agent = try AgentProcess(server: server, name: "sim", cpus: "8", timing: Array(timing.prefix(2)),
                                     extraArguments: ["--runtime", "sim", "--count", "3"])
        #expect(waitUntil(seconds: 20) { (try? server.kubectl("get", "nodes", "-o", "name").stdout.split(separator: "\n").count) == 3 })
        return (server, agent)
    }

    static func ok(_ result: CommandResult, _ what: String) -> Bool {
        if result.status != 0 { Issue.record("\(what): exit \(result.status): \(result.stdout) \(result.stderr)") }
        return result.status == 0
    }

    static func lines(_ server: ServerProcess, _ arguments: String...) -> [String] {
        ((try? server.kubectl(arguments: arguments).stdout) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("create, set image, rollout status/history/undo (same pod-template-hash), scale, pause, resume, restart")
    func rollout() throws {
        let (server, agent) = try Self.cluster()
        defer { agent.kill9(); server.destroy() }
        #expect(Self.ok(try server.kubectl("create", "deployment", "web", "--image=busybox", "--replicas=4", "--", "sleep", "3600"), "create deployment"))
        #expect(Self.ok(try server.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeoutSeconds: 70), "rollout status"))
        let firstHash = Self.lines(server, "get", "rs", "-o", "jsonpath={.items[0].metadata.labels.pod-template-hash}").first ?? "?"
        #expect(Self.ok(try server.kubectl("set", "image", "deployment/web", "busybox=busybox:1.36"), "set image"))
        let status = try server.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeoutSeconds: 70)
        #expect(Self.ok(status, "rollout status") && status.stdout.contains("successfully rolled out"), "\(status.stdout)")
        let history = try server.kubectl("rollout", "history", "deployment/web")
        #expect(history.stdout.contains("1 ") && history.stdout.contains("2 "), "\(history.stdout)")
        #expect(Self.ok(try server.kubectl("rollout", "undo", "deployment/web"), "rollout undo"))
        #expect(Self.ok(try server.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeoutSeconds: 70), "rollout status after undo"))
        let images = Self.lines(server, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
        #expect(images == ["busybox"], "\(images)")
        var hashes: Set<String> = []
        // Pods of the undone template may still be terminating; the live ones count.
        #expect(waitUntil(seconds: 10) {
            hashes = Set(DockerDeploymentTests.livePods(server).compactMap { ObjectMeta.labels(of: $0)["pod-template-hash"] })
            return hashes == [firstHash]
        }, "undo made pods of \(hashes), not \(firstHash)")
        #expect(Self.lines(server, "get", "rs", "-o", "name").count == 2)
        let afterUndo = try server.kubectl("rollout", "history", "deployment/web")
        #expect(afterUndo.stdout.contains("2 ") && afterUndo.stdout.contains("3 ") && !afterUndo.stdout.contains("\n1 "), "\(afterUndo.stdout)")
        let revision = try server.kubectl("rollout", "history", "deployment/web", "--revision=2")
        #expect(revision.stdout.contains("busybox:1.36"), "\(revision.stdout)")

        #expect(Self.ok(try server.kubectl("scale", "deployment", "web", "--replicas=6"), "scale"))
        #expect(waitUntil(seconds: 30) { Self.lines(server, "get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}") == ["6"] })
        let table = try server.kubectl("get", "deployment", "web")
        #expect(table.stdout.contains("6/6") && table.stdout.contains("UP-TO-DATE"), "\(table.stdout)")

        #expect(Self.ok(try server.kubectl("rollout", "pause", "deployment/web"), "pause"))
        #expect(Self.ok(try server.kubectl("set", "image", "deployment/web", "busybox=busybox:1.37"), "set image while paused"))
        usleep(1_000_000)
        #expect(Self.lines(server, "get", "rs", "-o", "name").count == 2, "a paused deployment rolled out")
        #expect(Self.ok(try server.kubectl("rollout", "resume", "deployment/web"), "resume"))
        #expect(Self.ok(try server.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeoutSeconds: 70), "rollout status after resume"))
        #expect(Self.lines(server, "get", "rs", "-o", "name").count == 3)
        #expect(Self.ok(try server.kubectl("rollout", "restart", "deployment/web"), "restart"))
        #expect(Self.ok(try server.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeoutSeconds: 70), "rollout status after restart"))
        #expect(Self.lines(server, "get", "rs", "-o", "name").count == 4)
        let described = try server.kubectl("describe", "deployment", "web")
        #expect(described.stdout.contains("NewReplicaSetAvailable") && described.stdout.contains("ScalingReplicaSet"), "\(described.stdout)")
    }

    @Test("kubectl delete deployment removes its ReplicaSets and pods; --cascade=orphan leaves the pods; --cascade=foreground removes the pods before the Deployment")
    func cascades() throws {
        let (server, agent) = try Self.cluster()
        defer { agent.kill9(); server.destroy() }
        func pods(_ app: String) -> Int { Self.lines(server, "get", "pods", "-l", "app=\(app)", "-o", "name").count }
        for name in ["bg", "orphan"] {
            #expect(Self.ok(try server.kubectl("create", "deployment", name, "--image=busybox", "--replicas=3", "--", "sleep", "3600"), "create \(name)"))
        }
        // fg's pods carry a finalizer (copied from the template, as Kubernetes does), so their deletion waits for the test.
        let manifest = server.dataDirectory + "/fg.json"
        let fg: JSON = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "fg"],
                        "spec": ["replicas": 3, "selector": ["matchLabels": ["app": "fg"]],
                                 "template": ["metadata": ["labels": ["app": "fg"], "finalizers": ["example.com/hold"]],
                                              "spec": ["containers": [["name": "c", "image": "busybox", "command": ["sleep", "3600"]]]]]]]
        try Data(fg.serialized()).write(to: URL(fileURLWithPath: manifest))
        #expect(Self.ok(try server.kubectl("apply", "-f", manifest), "apply fg"))
        #expect(waitUntil(seconds: 30) { pods("bg") == 3 && pods("orphan") == 3 && pods("fg") == 3 })

        #expect(Self.ok(try server.kubectl("delete", "deployment", "bg"), "delete"))
        #expect(waitUntil(seconds: 30) { pods("bg") == 0 && Self.lines(server, "get", "rs", "-l", "app=bg", "-o", "name").isEmpty })

        #expect(Self.ok(try server.kubectl("delete", "deployment", "orphan", "--cascade=orphan"), "delete --cascade=orphan"))
        usleep(1_500_000)
        #expect(pods("orphan") == 3 && Self.lines(server, "get", "rs", "-l", "app=orphan", "-o", "name").count == 1)
        #expect(Self.lines(server, "get", "deployment", "-o", "name").allSatisfy { !$0.hasSuffix("/orphan") })

        // Foreground: sample (deployment present?, pods left) until both are gone; the Deployment never goes first.
        #expect(Self.ok(try server.kubectl("delete", "deployment", "fg", "--cascade=foreground", "--wait=false"), "delete --cascade=foreground"))
        var samples: [(Bool, Int)] = []
        func sample() -> (Bool, Int) {
            let present = Self.lines(server, "get", "deployment", "-o", "name").contains("deployment.apps/fg")
            let next = (present, pods("fg"))
            samples.append(next)
            return next
        }
        // The pods are terminating and held: the Deployment waits (foregroundDeletion).
        #expect(waitUntil(seconds: 20) {
            Self.lines(server, "get", "pods", "-l", "app=fg", "-o", "jsonpath={range .items[*]}{.metadata.deletionTimestamp}{\"\\n\"}{end}").filter { !$0.isEmpty }.count == 3
        })
        for _ in 0..<10 { _ = sample(); usleep(100_000) }
        let finalizers = Self.lines(server, "get", "deployment", "fg", "-o", "jsonpath={.metadata.finalizers}")
        #expect(finalizers.first?.contains("foregroundDeletion") == true, "\(finalizers)")
        for pod in Self.lines(server, "get", "pods", "-l", "app=fg", "-o", "name") {
            #expect(Self.ok(try server.kubectl("patch", pod, "--type=merge", "-p", #"{"metadata":{"finalizers":null}}"#), "release \(pod)"))
            _ = sample()
        }
        let gone = waitUntil(seconds: 30) {
            let (present, left) = sample()
            return !present && left == 0
        }
        #expect(gone, "\(samples.suffix(5))")
        #expect(!samples.contains { !$0.0 && $0.1 > 0 }, "the Deployment was gone while \(samples.first { !$0.0 && $0.1 > 0 }?.1 ?? 0) pods remained")
        #expect(samples.contains { $0.0 }, "never saw the Deployment waiting for its pods")
    }
}
