import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K8] ConfigMaps and Secrets through the real binary and kubectl: created from literals and
/// files, read by a pod's env (process runtime), encrypted in the database file.
@Suite("configuration through kubectl", .serialized)
struct ConfigurationTests {
    @Test("kubectl create configmap|secret (literals, files, tls, docker-registry), get -o yaml; env from them in a pod; CreateContainerConfigError until a ConfigMap exists; no secret value in the database")
    func configMapsAndSecrets() throws {
        let timing = ProcessAgentTests.timing
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        defer { server.destroy() }
        let files = server.dataDirectory + "/inputs"
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        try "listen=8080\nmode=fast\n".write(toFile: files + "/app.conf", atomically: true, encoding: .utf8)
        let marker = "pw-\(UUID().uuidString.prefix(8))"
        for arguments in [["create", "configmap", "app", "--from-literal=GREETING=hello", "--from-file=\(files)/app.conf"],
                          ["create", "secret", "generic", "db", "--from-literal=PASSWORD=\(marker)", "--from-literal=USER=admin"],
                          ["create", "secret", "docker-registry", "reg", "--docker-server=r.example", "--docker-username=u", "--docker-password=p"]] {
            let result = try server.kubectl(arguments: arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
        let yaml = try server.kubectl("get", "secret", "db", "-o", "yaml")
        #expect(yaml.stdout.contains("PASSWORD: \(Base64.encode(Array(marker.utf8)))") && yaml.stdout.contains("type: Opaque"), "\(yaml.stdout)")
        let listed = try server.kubectl("get", "configmaps,secrets")
        #expect(listed.stdout.contains("configmap/app") && listed.stdout.contains("2 ") && listed.stdout.contains("kubernetes.io/dockerconfigjson"), "\(listed.stdout)")
        let bad = try server.kubectl("create", "secret", "generic", "t", "--type=kubernetes.io/tls")
        #expect(bad.status != 0 && bad.stderr.contains("data[tls.crt]"), "\(bad.stderr)")
        // Immutable: data cannot change.
        _ = try server.kubectl("create", "configmap", "frozen", "--from-literal=a=1")
        #expect(try server.kubectl("patch", "configmap", "frozen", "-p", #"{"immutable":true}"#).status == 0)
        let thawed = try server.kubectl("patch", "configmap", "frozen", "-p", #"{"data":{"a":"2"}}"#)
        #expect(thawed.status != 0 && thawed.stderr.contains("field is immutable when `immutable` is set"), "\(thawed.stderr)")

        let agent = try AgentProcess(server: server, name: "cfg1", cpus: "2", timing: timing,
                                     extraArguments: ["--runtime", "process", "--data-dir", server.dataDirectory + "/agent"])
        defer { agent.kill9() }
        let script = "echo \"greeting=$GREETING conf=$CONF user=$USER pass=$PASS node=$NODE pod=$POD_NAME url=$URL prefixed=$CFG_GREETING late=$LATE\"; exec sleep 600"
        let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "reader"],
                         "spec": ["terminationGracePeriodSeconds": 0, "containers": [[
                             "name": "main", "image": "host", "command": ["/bin/sh", "-c", .string(script)],
                             "envFrom": [["secretRef": ["name": "db"]], ["configMapRef": ["name": "app"], "prefix": "CFG_"]],
                             "env": [["name": "GREETING", "valueFrom": ["configMapKeyRef": ["name": "app", "key": "GREETING"]]],
                                     ["name": "CONF", "valueFrom": ["configMapKeyRef": ["name": "app", "key": "app.conf"]]],
                                     ["name": "PASS", "valueFrom": ["secretKeyRef": ["name": "db", "key": "PASSWORD"]]],
                                     ["name": "NODE", "valueFrom": ["fieldRef": ["fieldPath": "spec.nodeName"]]],
                                     ["name": "POD_NAME", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]],
                                     ["name": "URL", "value": "db://$(USER)@$(POD_NAME)"],
                                     ["name": "LATE", "valueFrom": ["configMapKeyRef": ["name": "later", "key": "k"]]]]]]]]
        let connection = try server.connection()
        #expect(try connection.request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized()).status == 201)
        // The ConfigMap "later" does not exist yet: the container waits with CreateContainerConfigError.
        var reason = ""
        #expect(waitUntil(seconds: 20) {
            let status = try? connection.request("GET", "/api/v1/namespaces/default/pods/reader").json()
            reason = status?[path: ["status", "containerStatuses"]]?.arrayValue?.first?[path: ["state", "waiting", "reason"]]?.stringValue ?? ""
            return reason == "CreateContainerConfigError"
        }, "waiting reason: \(reason)")
        let waiting = try server.kubectl("get", "pod", "reader")
        #expect(waiting.stdout.contains("CreateContainerConfigError"), "\(waiting.stdout)")
        _ = try server.kubectl("create", "configmap", "later", "--from-literal=k=arrived")
        var logs = ""
        #expect(waitUntil(seconds: 30) {
            logs = (try? server.kubectl("logs", "reader").stdout) ?? ""
            return logs.contains("greeting=")
        }, "logs: \(logs)")
        print("pod environment: \(logs.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(logs.contains("greeting=hello conf=listen=8080\nmode=fast\n user=admin pass=\(marker) node=cfg1 pod=reader url=db://admin@reader prefixed=hello late=arrived"), "\(logs)")

        // The database file, its WAL and shared memory hold no secret value, plain or base64.
        let database = server.dataDirectory + "/kube9.db"
        let raw = ["", "-wal", "-shm"].reduce(into: Data()) { $0.append(FileManager.default.contents(atPath: database + $1) ?? Data()) }
        #expect(raw.count > 0)
        #expect(raw.range(of: Data(marker.utf8)) == nil && raw.range(of: Data(Base64.encode(Array(marker.utf8)).utf8)) == nil,
                "the secret's value is in the database file")
        #expect(raw.range(of: Data("k8s:enc:aesgcm:v1:".utf8)) != nil)
        #expect(raw.range(of: Data("listen=8080".utf8)) != nil, "ConfigMaps are stored as they are")
    }

    @Test("volumes on the process runtime: configMap (items, mode), secret (defaultMode), downwardAPI, emptyDir; a ConfigMap update reaches the running pod's file")
    func volumes() throws {
        let timing = ProcessAgentTests.timing
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        defer { server.destroy() }
        _ = try server.kubectl("create", "configmap", "conf", "--from-literal=app.conf=version-1", "--from-literal=other=x")
        _ = try server.kubectl("create", "secret", "generic", "token", "--from-literal=token=tk-123")
        let agent = try AgentProcess(server: server, name: "vol1", cpus: "2", timing: timing,
                                     extraArguments: ["--runtime", "process", "--data-dir", server.dataDirectory + "/agent"])
        defer { agent.kill9() }
        let script = """
            stat -L -c 'secret-mode=%a' "$KUBE9_VOLUME_TOKEN/token"
            stat -L -c 'conf-mode=%a' "$KUBE9_VOLUME_CONF/settings/app.conf"
            echo "secret=$(cat $KUBE9_VOLUME_TOKEN/token) labels=$(cat $KUBE9_VOLUME_INFO/labels | tr '\n' ',') name=$(cat $KUBE9_VOLUME_INFO/name)"
            echo shared > "$KUBE9_VOLUME_SCRATCH/file" && echo "scratch=$(cat $KUBE9_VOLUME_SCRATCH/file)"
            ls "$KUBE9_VOLUME_CONF" | tr '\n' ' ' | sed 's/^/listing=/'; echo
            while true; do echo "conf=$(cat $KUBE9_VOLUME_CONF/settings/app.conf)"; sleep 1; done
            """
        let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "mounts", "labels": ["app": "vol", "tier": "web"]],
                         "spec": ["terminationGracePeriodSeconds": 0,
                                  "volumes": [["name": "conf", "configMap": ["name": "conf", "items": [["key": "app.conf", "path": "settings/app.conf", "mode": 0o600]]]],
                                              ["name": "token", "secret": ["secretName": "token", "defaultMode": 0o400]],
                                              ["name": "info", "downwardAPI": ["items": [["path": "labels", "fieldRef": ["fieldPath": "metadata.labels"]],
                                                                                         ["path": "name", "fieldRef": ["fieldPath": "metadata.name"]]]]],
                                              ["name": "scratch", "emptyDir": [:]]],
                                  "containers": [["name": "main", "image": "host", "command": ["/bin/sh", "-c", .string(script)],
                                                  "volumeMounts": [["name": "conf", "mountPath": "/etc/conf"], ["name": "token", "mountPath": "/etc/token"],
                                                                   ["name": "info", "mountPath": "/etc/info"], ["name": "scratch", "mountPath": "/scratch"]]]]]]
        let connection = try server.connection()
        let created = try connection.request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized())
        #expect(created.status == 201, "\(created.text)")
        var logs = ""
        #expect(waitUntil(seconds: 30) {
            logs = (try? server.kubectl("logs", "mounts").stdout) ?? ""
            return logs.contains("conf=version-1")
        }, "logs: \(logs)")
        #expect(logs.contains("secret-mode=400") && logs.contains("conf-mode=600"), "\(logs)")
        #expect(logs.contains("secret=tk-123 labels=app=\"vol\",tier=\"web\" name=mounts"), "\(logs)")
        #expect(logs.contains("scratch=shared") && logs.contains("listing=settings "), "\(logs)")
        let updated = Date()
        #expect(try server.kubectl("patch", "configmap", "conf", "-p", #"{"data":{"app.conf":"version-2"}}"#).status == 0)
        #expect(waitUntil(seconds: 60) {
            logs = (try? server.kubectl("logs", "mounts").stdout) ?? ""
            return logs.contains("conf=version-2")
        }, "the update never reached the file: \(logs.suffix(300))")
        print("configMap update reached the mounted file after \(String(format: "%.1f", Date().timeIntervalSince(updated))) s")
        // Bad volumes are refused, naming the field.
        var bad = pod
        bad[path: ["metadata", "name"]] = "bad"
        bad[path: ["spec", "volumes"]] = [["name": "conf", "configMap": ["name": "conf", "items": [["key": "k", "path": "../escape"]]], "secret": ["secretName": "s"]],
                                          ["name": "x", "hostPath": ["path": "relative"]]]
        let refused = try connection.request("POST", "/api/v1/namespaces/default/pods", body: bad.serialized())
        #expect(refused.status == 422 && refused.text.contains("spec.volumes[0]") && refused.text.contains("spec.volumes[1].hostPath.path")
                && refused.text.contains("spec.containers[0].volumeMounts[1].name"), "\(refused.text)")
        // Deleting the pod removes its volume directories.
        let volumesRoot = server.dataDirectory + "/agent/nodes/vol1/pods"
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: volumesRoot)) ?? []).count == 1)
        _ = try server.kubectl("delete", "pod", "mounts", "--wait=true", "--timeout=30s")
        #expect(waitUntil(seconds: 15) { ((try? FileManager.default.contentsOfDirectory(atPath: volumesRoot)) ?? []).isEmpty })
    }
}
