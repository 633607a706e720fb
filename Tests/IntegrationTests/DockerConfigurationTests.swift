import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime
import Kube9Testing
import Testing

/// [K8] acceptance 1 on Docker: a Deployment whose pods read a ConfigMap through env and a
/// mounted file and a Secret through a mounted file; a ConfigMap update reaches the mounted file
/// of the running pods; the Secret's value is not in the database file.
@Suite("configuration on docker", .serialized)
struct DockerConfigurationTests {
    @Test("ConfigMap through env and a mounted file, Secret through a mounted file; an update reaches the file within a minute; no secret value in the database")
    func deploymentReadsConfiguration() throws {
        guard let engine = try DockerNodeTests.engine() else { return }
        DockerNodeTests.cleanUp(engine)
        defer { DockerNodeTests.cleanUp(engine) }
        let server = try DockerServiceTests.cluster(engine)
        defer { server.destroy() }
        let marker = "docker-secret-\(UUID().uuidString.prefix(8))"
        #expect(try server.kubectl("create", "configmap", "settings", "--from-literal=GREETING=hello", "--from-literal=app.conf=version-1").status == 0)
        #expect(try server.kubectl("create", "secret", "generic", "creds", "--from-literal=password=\(marker)").status == 0)
        let script = #"""
        echo "env greeting=$GREETING"
        echo "secret $(cat /etc/creds/password)"
        touch /etc/settings/x 2>/dev/null && echo "settings writable" || echo "settings read-only"
        while true; do echo "file $(cat /etc/settings/app.conf)"; sleep 2; done
        """#
        let deployment: JSON = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "reader"],
            "spec": ["replicas": 2, "selector": ["matchLabels": ["app": "reader"]],
                     "template": ["metadata": ["labels": ["app": "reader"]],
                                  "spec": ["terminationGracePeriodSeconds": 1,
                                           "volumes": [["name": "settings", "configMap": ["name": "settings"]],
                                                       ["name": "creds", "secret": ["secretName": "creds", "defaultMode": 0o400]]],
                                           "containers": [["name": "main", "image": .string(DockerNodeTests.podImage), "command": ["/bin/sh", "-c", .string(script)],
                                                           "env": [["name": "GREETING", "valueFrom": ["configMapKeyRef": ["name": "settings", "key": "GREETING"]]]],
                                                           "volumeMounts": [["name": "settings", "mountPath": "/etc/settings"],
                                                                            ["name": "creds", "mountPath": "/etc/creds", "readOnly": true]]]]]]]]
        try DockerServiceTests.create(deployment, at: "/apis/apps/v1/namespaces/default/deployments", server)
        let status = try server.kubectl("rollout", "status", "deployment/reader", "--timeout=120s", timeoutSeconds: 130)
        #expect(status.status == 0, "\(status.stdout) \(status.stderr)")
        let pods = (try server.connection().request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dreader").json()["items"]?.arrayValue ?? [])
            .map { ObjectMeta.name(of: $0) }
        #expect(pods.count == 2)
        func logs(_ pod: String) -> String { (try? server.kubectl("logs", pod).stdout) ?? "" }
        for pod in pods {
            var text = ""
            #expect(waitUntil(seconds: 30) {
                text = logs(pod)
                return text.contains("file version-1")
            }, "\(pod): \(text)")
            #expect(text.contains("env greeting=hello") && text.contains("secret \(marker)") && text.contains("settings read-only"), "\(pod): \(text)")
        }
        let updated = Date()
        #expect(try server.kubectl("patch", "configmap", "settings", "-p", #"{"data":{"app.conf":"version-2"}}"#).status == 0)
        for pod in pods {
            #expect(waitUntil(seconds: 60) { logs(pod).contains("file version-2") }, "\(pod) never saw the update: \(logs(pod).suffix(200))")
        }
        print("docker: the ConfigMap update reached both pods' files after \(String(format: "%.1f", Date().timeIntervalSince(updated))) s")
        let database = server.dataDirectory + "/kube9.db"
        let raw = ["", "-wal", "-shm"].reduce(into: Data()) { $0.append(FileManager.default.contents(atPath: database + $1) ?? Data()) }
        let grep = try runCommand("/bin/grep", ["-c", marker, database, database + "-wal"], timeoutSeconds: 10)
        print("grep -c \(marker) kube9.db kube9.db-wal: \(grep.stdout.split(separator: "\n").joined(separator: ", "))")
        #expect(raw.count > 0 && raw.range(of: Data(marker.utf8)) == nil && raw.range(of: Data(Base64.encode(Array(marker.utf8)).utf8)) == nil)
    }
}
