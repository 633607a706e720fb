import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K8] acceptance 4 through the real binary and kubectl, on sim nodes.
@Suite("daemonsets through kubectl", .serialized)
struct DaemonSetTests {
    @Test("one pod on each of 3 nodes and on a fourth added later; a node the selector leaves out gets none; a template change rolls out (rollout status); deleting the DaemonSet removes its pods")
    func daemonSet() throws {
        let timing = ProcessAgentTests.timing
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        defer { server.destroy() }
        let fleet = try AgentProcess(server: server, name: "ds", cpus: "2", timing: timing, extraArguments: ["--runtime", "sim", "--count", "3"])
        defer { fleet.kill9() }
        let connection = try server.connection()
        #expect(waitUntil(seconds: 20) { ((try? connection.request("GET", "/api/v1/nodes").json()["items"]?.arrayValue?.count) ?? 0) == 3 })
        // A cordoned node still runs daemons (they tolerate node.kubernetes.io/unschedulable).
        #expect(try server.kubectl("cordon", "ds-0002").status == 0)
        let manifest = server.dataDirectory + "/ds.yaml"
        try """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent}
            spec:
              selector: {matchLabels: {app: agent}}
              template:
                metadata: {labels: {app: agent}}
                spec:
                  nodeSelector: {role: worker}
                  containers: [{name: a, image: busybox, env: [{name: V, value: "1"}]}]
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        for node in ["ds-0001", "ds-0002", "ds-0003"] { #expect(try server.kubectl("label", "node", node, "role=worker").status == 0) }
        #expect(try server.kubectl("apply", "-f", manifest).status == 0)
        func podNodes() -> [String] {
            ((try? connection.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dagent").json()["items"]?.arrayValue) ?? [])
                .filter { ObjectMeta.deletionTimestamp(of: $0) == nil }.compactMap { $0[path: ["spec", "nodeName"]]?.stringValue }.sorted()
        }
        #expect(waitUntil(seconds: 20) { podNodes() == ["ds-0001", "ds-0002", "ds-0003"] }, "\(podNodes())")
        let status = try server.kubectl("rollout", "status", "daemonset/agent", "--timeout=30s", timeoutSeconds: 40)
        #expect(status.status == 0, "\(status.stdout) \(status.stderr)")
        // A fourth node joins: it gets one; a fifth without the label gets none.
        let fourth = try AgentProcess(server: server, name: "late", cpus: "2", timing: timing, extraArguments: ["--runtime", "sim", "--labels", "role=worker"])
        defer { fourth.kill9() }
        let fifth = try AgentProcess(server: server, name: "other", cpus: "2", timing: timing, extraArguments: ["--runtime", "sim"])
        defer { fifth.kill9() }
        #expect(waitUntil(seconds: 20) { podNodes() == ["ds-0001", "ds-0002", "ds-0003", "late"] }, "\(podNodes())")
        usleep(1_000_000)
        #expect(!podNodes().contains("other"))
        let listed = try server.kubectl("get", "ds")
        print("kubectl get ds:\n\(listed.stdout)")
        #expect(listed.stdout.contains("agent") && listed.stdout.contains("role=worker"), "\(listed.stdout)")
        // A template change replaces every pod, one node at a time (maxUnavailable 1).
        #expect(try server.kubectl("set", "env", "daemonset/agent", "V=2").status == 0)
        let rolled = try server.kubectl("rollout", "status", "daemonset/agent", "--timeout=60s", timeoutSeconds: 70)
        #expect(rolled.status == 0, "\(rolled.stdout) \(rolled.stderr)")
        let pods = ((try? connection.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dagent").json()["items"]?.arrayValue) ?? [])
            .filter { ObjectMeta.deletionTimestamp(of: $0) == nil }
        #expect(pods.count == 4 && pods.allSatisfy { $0[path: ["spec", "containers"]]?.arrayValue?.first?["env"]?.arrayValue?.first?["value"] == "2" })
        // Removing the label from a node removes its daemon.
        #expect(try server.kubectl("label", "node", "ds-0003", "role-").status == 0)
        #expect(waitUntil(seconds: 20) { podNodes() == ["ds-0001", "ds-0002", "late"] }, "\(podNodes())")
        _ = try server.kubectl("delete", "daemonset", "agent")
        #expect(waitUntil(seconds: 20) { podNodes().isEmpty }, "\(podNodes())")
    }
}
