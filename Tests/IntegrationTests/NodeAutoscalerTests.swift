import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K7] acceptance 4: node autoscaling on sim nodes through the real binary, `kube9 node add`
/// and `kube9 node remove` as the provider, the built-in Lua policy deciding.
@Suite("node autoscaling on sim nodes", .serialized)
struct NodeAutoscalerTests {
    /// Stops the agents of the nodes the autoscaler made (their records are in the data directory).
    static func stopAgents(_ server: ServerProcess) {
        let directory = server.dataDirectory + "/nodes"
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: directory + "/" + file), let record = try? JSON.parse(Array(data)),
                  let pid = record["pid"]?.intValue, pid > 1, pid <= Int64(Int32.max) else { continue }
            kill(pid_t(pid), SIGKILL)
        }
    }

    static func managedNodes(_ server: ServerProcess) -> [JSON] {
        let nodes = (try? server.connection().request("GET", "/api/v1/nodes?labelSelector=kube9.io%2Fnode-group%3Dautoscaler").json()["items"]?.arrayValue) ?? nil
        return nodes ?? []
    }

    @Test("50 pending pods that fit nowhere make nodes appear until all are bound; without the load the extra nodes are drained and removed, down to the minimum")
    func scaleNodes() throws {
        let configuration = FileManager.default.temporaryDirectory.appendingPathComponent("kube9-na-\(UUID().uuidString).json").path
        let settings: JSON = ["provider": "sim", "minNodes": 1, "maxNodes": 10, "intervalSeconds": 1, "scaleDownUnneededSeconds": 3,
                              "shapes": [["name": "small", "cpus": 4, "memory": "8Gi", "pods": 110]],
                              "agentArgs": "--heartbeat-interval 0.5 --sim-start-delay 0"]
        try Data(settings.serialized()).write(to: URL(fileURLWithPath: configuration))
        defer { try? FileManager.default.removeItem(atPath: configuration) }
        let server = try ServerProcess(extraArguments: SchedulingTests.timing + ["--node-autoscaler", configuration], scheduler: true)
        defer { Self.stopAgents(server); server.destroy() }
        #expect(waitUntil(seconds: 30) { Self.managedNodes(server).count == 1 }, "the minimum node never came")
        let deployment: JSON = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "load"],
                                "spec": ["replicas": 50, "selector": ["matchLabels": ["app": "load"]],
                                         "template": ["metadata": ["labels": ["app": "load"]],
                                                      "spec": ["containers": [["name": "c", "image": "busybox", "resources": ["requests": ["cpu": "500m"]]]]]]]]
        let created = try server.connection().request("POST", "/apis/apps/v1/namespaces/default/deployments", body: deployment.serialized())
        #expect(created.status == 201, "\(created.text)")
        let started = Date()
        var bound = 0
        let allBound = waitUntil(seconds: 90) {
            let pods = (try? server.connection().request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dload").json()["items"]?.arrayValue) ?? nil
            bound = (pods ?? []).filter { !($0[path: ["spec", "nodeName"]]?.stringValue ?? "").isEmpty }.count
            return bound == 50
        }
        let nodes = Self.managedNodes(server).count
        print("node autoscaling: \(bound) of 50 pods bound on \(nodes) autoscaled nodes after \(Date().timeIntervalSince(started)) s")
        #expect(allBound, "\(bound) of 50 bound")
        // 50 × 500m on 4-cpu nodes: at least 7 nodes, at most the 10 allowed.
        #expect(nodes >= 7 && nodes <= 10, "\(nodes) nodes")
        let triggered = try server.kubectl("get", "events", "--field-selector", "reason=TriggeredScaleUp", "-o", "name")
        #expect(!triggered.stdout.isEmpty, "no TriggeredScaleUp events")

        // No load: idle nodes are removed one per decision, never below the minimum of 1.
        #expect(try server.kubectl("scale", "deployment", "load", "--replicas=0").status == 0)
        var fewest = Int.max
        let shrunk = waitUntil(seconds: 120) {
            let count = Self.managedNodes(server).count
            fewest = min(fewest, count)
            return count == 1
        }
        #expect(shrunk, "still \(Self.managedNodes(server).count) nodes")
        usleep(5_000_000)
        fewest = min(fewest, Self.managedNodes(server).count)
        #expect(fewest == 1 && Self.managedNodes(server).count == 1, "went to \(fewest) nodes")
        let scaledDown = try server.kubectl("get", "events", "--field-selector", "reason=ScaleDown", "-o", "name")
        #expect(scaledDown.stdout.split(separator: "\n").count >= nodes - 1, "\(scaledDown.stdout)")
        let all = (try? server.connection().request("GET", "/api/v1/nodes").json()["items"]?.arrayValue?.count) ?? nil
        #expect(all == 1, "nodes left: \(all ?? -1)")
    }
}
