import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime
import Kube9Testing
import Testing

/// [K8] acceptance 2 on Docker: a StatefulSet of 3 busybox pods with a volumeClaimTemplate.
@Suite("storage on docker", .serialized)
struct DockerStorageTests {
    @Test("web-0..2 start in order, each writes to its own local-path volume (a real bind mount); a deleted web-1 comes back with the same data")
    func statefulSetKeepsData() throws {
        guard let engine = try DockerNodeTests.engine() else { return }
        DockerNodeTests.cleanUp(engine)
        defer { DockerNodeTests.cleanUp(engine) }
        let server = try DockerServiceTests.cluster(engine)
        defer { server.destroy() }
        let script = #"echo "$(hostname) $(date +%s)" >> /data/log; cat /data/log; exec sleep 3600"#
        let set: JSON = [
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": ["name": "web"],
            "spec": ["replicas": 3, "serviceName": "web", "selector": ["matchLabels": ["app": "web"]],
                     "template": ["metadata": ["labels": ["app": "web"]],
                                  "spec": ["terminationGracePeriodSeconds": 1,
                                           "containers": [["name": "main", "image": .string(DockerNodeTests.podImage), "command": ["/bin/sh", "-c", .string(script)],
                                                           "volumeMounts": [["name": "data", "mountPath": "/data"]]]]]],
                     "volumeClaimTemplates": [["metadata": ["name": "data"],
                                               "spec": ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "64Mi"]]]]]]]
        try DockerServiceTests.create(set, at: "/apis/apps/v1/namespaces/default/statefulsets", server)
        let status = try server.kubectl("rollout", "status", "statefulset/web", "--timeout=180s", timeoutSeconds: 190)
        #expect(status.status == 0, "\(status.stdout) \(status.stderr)")
        let connection = try server.connection()
        func pod(_ name: String) -> JSON? {
            guard let reply = try? connection.request("GET", "/api/v1/namespaces/default/pods/\(name)"), reply.status == 200 else { return nil }
            return try? reply.json()
        }
        func logs(_ name: String) -> String { (try? server.kubectl("logs", name).stdout) ?? "" }
        // OrderedReady: each pod was created only after the one before it ran.
        let pods = (0..<3).compactMap { pod("web-\($0)") }
        #expect(pods.count == 3)
        let created = pods.map { $0[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "" }
        let started = pods.map { $0[path: ["status", "containerStatuses"]]?.arrayValue?.first?[path: ["state", "running", "startedAt"]]?.stringValue ?? "" }
        print("docker statefulset: created \(created), started \(started)")
        #expect(!started.contains("") && created[1] >= started[0] && created[2] >= started[1], "created \(created) started \(started)")
        for ordinal in 0..<3 {
            #expect(waitUntil(seconds: 20) { logs("web-\(ordinal)").hasPrefix("web-\(ordinal) ") }, "web-\(ordinal): \(logs("web-\(ordinal)"))")
        }
        // The volume is a directory on the host (the node's storage root) bound into the container.
        let claim = try connection.request("GET", "/api/v1/namespaces/default/persistentvolumeclaims/data-web-1").json()
        let volume = try connection.request("GET", "/api/v1/persistentvolumes/\(claim[path: ["spec", "volumeName"]]?.stringValue ?? "")").json()
        let path = PersistentVolumeStrategy.path(of: volume) ?? ""
        let onHost = (try? String(contentsOfFile: path + "/log", encoding: .utf8)) ?? ""
        #expect(onHost.hasPrefix("web-1 "), "\(path): \(onHost)")
        let uid = pod("web-1").map(ObjectMeta.uid(of:))
        #expect(try server.kubectl("delete", "pod", "web-1").status == 0)
        var text = ""
        #expect(waitUntil(seconds: 90) {
            text = logs("web-1")
            return pod("web-1").map(ObjectMeta.uid(of:)) != uid && text.split(separator: "\n").count == 2
        }, "web-1 after deletion: \(text)")
        let lines = text.split(separator: "\n")
        print("docker: web-1 came back with its data: \(lines)")
        #expect(lines.count == 2 && lines.allSatisfy { $0.hasPrefix("web-1 ") })
        let listed = try server.kubectl("get", "sts,pvc")
        print(listed.stdout)
        #expect(listed.stdout.contains("3/3") && listed.stdout.contains("data-web-2"))
    }
}
