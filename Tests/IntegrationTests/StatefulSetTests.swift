import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K8] acceptance 2 through the real binary, kubectl and the process runtime (the Docker
/// variant with busybox is DockerStorageTests).
@Suite("statefulsets and volumes through kubectl", .serialized)
struct StatefulSetTests {
    static func manifest(replicas: Int) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: web}
        spec:
          serviceName: web
          replicas: \(replicas)
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: w
                image: host
                env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
                command: ["/bin/sh", "-c", "echo \\"$POD_NAME $(date +%s%N)\\" >> \\"$KUBE9_VOLUME_DATA/log\\"; exec sleep 600"]
                volumeMounts: [{name: data, mountPath: /data}]
          volumeClaimTemplates:
          - metadata: {name: data}
            spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Mi}}}
        """
    }

    @Test("a StatefulSet of 3 starts web-0..2 in order, each with its own local-path claim; a deleted web-1 comes back with the same data on the same node; scale down keeps claims; a deleted claim's volume and directory go (reclaim Delete); a hand-made local volume pins its pod to its node and is kept Released (Retain) after its protected claim goes; bad claims are refused")
    func statefulSet() throws {
        let timing = ProcessAgentTests.timing
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        defer { server.destroy() }
        var agents: [AgentProcess] = []
        defer { agents.forEach { $0.kill9() } }
        for name in ["sts-a", "sts-b"] {
            agents.append(try AgentProcess(server: server, name: name, cpus: "4", timing: timing,
                                           extraArguments: ["--runtime", "process", "--data-dir", server.dataDirectory + "/\(name)"]))
        }
        let connection = try server.connection()
        #expect(waitUntil(seconds: 20) { ((try? connection.request("GET", "/api/v1/nodes").json()["items"]?.arrayValue?.count) ?? 0) == 2 })
        // The default class exists: local-path, WaitForFirstConsumer.
        #expect(waitUntil(seconds: 10) { (try? server.kubectl("get", "storageclass").stdout.contains("local-path (default)")) == true })
        let file = server.dataDirectory + "/web.yaml"
        try Self.manifest(replicas: 3).write(toFile: file, atomically: true, encoding: .utf8)
        let applied = try server.kubectl("apply", "-f", file)
        #expect(applied.status == 0, "\(applied.stderr)")
        func pod(_ name: String) -> JSON? {
            guard let reply = try? connection.request("GET", "/api/v1/namespaces/default/pods/\(name)"), reply.status == 200 else { return nil }
            return try? reply.json()
        }
        func running(_ name: String) -> Bool { pod(name)?[path: ["status", "phase"]] == "Running" }
        #expect(waitUntil(seconds: 60) { running("web-0") && running("web-1") && running("web-2") },
                "\((0..<3).map { String(describing: pod("web-\($0)")?["status"]) })")
        let status = try server.kubectl("rollout", "status", "statefulset/web", "--timeout=30s", timeoutSeconds: 40)
        #expect(status.status == 0, "\(status.stdout) \(status.stderr)")
        print("kubectl rollout status: \(status.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        // Each pod wrote into its own volume; the first lines' times show the order.
        func volumePath(_ ordinal: Int) -> String? {
            guard let claim = try? connection.request("GET", "/api/v1/namespaces/default/persistentvolumeclaims/data-web-\(ordinal)").json(),
                  claim[path: ["status", "phase"]] == "Bound", let volumeName = claim[path: ["spec", "volumeName"]]?.stringValue,
                  let volume = try? connection.request("GET", "/api/v1/persistentvolumes/\(volumeName)").json() else { return nil }
            return PersistentVolumeStrategy.path(of: volume)
        }
        func lines(_ ordinal: Int) -> [String] {
            guard let path = volumePath(ordinal), let text = try? String(contentsOfFile: path + "/log", encoding: .utf8) else { return [] }
            return text.split(separator: "\n").map(String.init)
        }
        #expect(waitUntil(seconds: 10) { (0..<3).allSatisfy { lines($0).count == 1 } }, "\((0..<3).map(lines))")
        let starts = (0..<3).compactMap { lines($0).first?.split(separator: " ").last.flatMap { Int64($0) } }
        print("statefulset start times (ns): \(starts)")
        #expect(starts.count == 3 && starts[0] < starts[1] && starts[1] < starts[2], "\(starts)")
        #expect((0..<3).allSatisfy { lines($0).first?.hasPrefix("web-\($0) ") == true })
        let claims = try server.kubectl("get", "pvc")
        print("kubectl get pvc:\n\(claims.stdout)")
        #expect(claims.stdout.contains("data-web-1") && claims.stdout.contains("Bound") && claims.stdout.contains("local-path") && claims.stdout.contains("RWO"))
        let sets = try server.kubectl("get", "sts")
        #expect(sets.stdout.contains("3/3"), "\(sets.stdout)")
        // Each volume is pinned to the node of its first pod.
        let nodeOfWeb1 = pod("web-1")?[path: ["spec", "nodeName"]]?.stringValue
        let uid = pod("web-1").map(ObjectMeta.uid(of:))
        #expect(try server.kubectl("delete", "pod", "web-1", "--wait=false").status == 0)
        #expect(waitUntil(seconds: 40) { pod("web-1").map(ObjectMeta.uid(of:)) != uid && running("web-1") && lines(1).count == 2 }, "\(lines(1))")
        print("web-1 after deletion: node \(pod("web-1")?[path: ["spec", "nodeName"]]?.stringValue ?? "") (was \(nodeOfWeb1 ?? "")), log \(lines(1))")
        #expect(pod("web-1")?[path: ["spec", "nodeName"]]?.stringValue == nodeOfWeb1)
        #expect(lines(1).allSatisfy { $0.hasPrefix("web-1 ") })

        // Scale down: web-2 goes, its claim stays (whenScaled: Retain).
        #expect(try server.kubectl("scale", "statefulset/web", "--replicas=2").status == 0)
        #expect(waitUntil(seconds: 30) { pod("web-2") == nil },
                "\(String(describing: pod("web-2"))) \(String(describing: try? server.kubectl("get", "sts", "web", "-o", "yaml").stdout))")
        let retainedPath = volumePath(2)
        #expect(retainedPath != nil)
        // Deleting the claim deletes its volume (reclaim Delete); the agent removes the directory.
        #expect(try server.kubectl("delete", "pvc", "data-web-2", "--wait=false").status == 0)
        #expect(waitUntil(seconds: 60) {
            let volumes = (try? connection.request("GET", "/api/v1/persistentvolumes").json()["items"]?.arrayValue) ?? []
            return volumes.filter { ObjectMeta.name(of: $0).hasPrefix("pvc-") }.count == 2 && retainedPath.map { !FileManager.default.fileExists(atPath: $0) } == true
        }, "volumes: \(String(describing: try? server.kubectl("get", "pv").stdout))")

        // A volume made by hand, local to sts-b, Retain: a claim bound to it by name pins its
        // pod to sts-b although best-fit would pack it beside the others on sts-a.
        let localDirectory = server.dataDirectory + "/manual-volume"
        try FileManager.default.createDirectory(atPath: localDirectory, withIntermediateDirectories: true)
        let manual = server.dataDirectory + "/manual.yaml"
        try """
            apiVersion: v1
            kind: PersistentVolume
            metadata: {name: manual, labels: {tier: manual}}
            spec:
              capacity: {storage: 1Gi}
              accessModes: [ReadWriteOnce]
              storageClassName: ""
              local: {path: \(localDirectory)}
              nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [sts-b]}]}]}}
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: {name: manual}
            spec: {storageClassName: "", accessModes: [ReadWriteOnce], resources: {requests: {storage: 500Mi}}, selector: {matchLabels: {tier: manual}}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: pinned}
            spec:
              containers: [{name: w, image: host, command: ["/bin/sh", "-c", "echo pinned > \\"$KUBE9_VOLUME_DATA/out\\"; exec sleep 600"], volumeMounts: [{name: data, mountPath: /data}]}]
              volumes: [{name: data, persistentVolumeClaim: {claimName: manual}}]
            """.write(toFile: manual, atomically: true, encoding: .utf8)
        let manualApplied = try server.kubectl("apply", "-f", manual)
        #expect(manualApplied.status == 0, "\(manualApplied.stderr)")
        #expect(waitUntil(seconds: 30) { running("pinned") && FileManager.default.fileExists(atPath: localDirectory + "/out") },
                "\(String(describing: pod("pinned")?["status"]))")
        #expect(pod("pinned")?[path: ["spec", "nodeName"]] == "sts-b")
        // Deleting the claim waits for its pod (pvc-protection); then the volume is Released and kept (Retain).
        #expect(try server.kubectl("delete", "pvc", "manual", "--wait=false").status == 0)
        usleep(1_500_000)
        let protected = try connection.request("GET", "/api/v1/namespaces/default/persistentvolumeclaims/manual")
        #expect(protected.status == 200, "the claim went while its pod runs")
        #expect(try server.kubectl("delete", "pod", "pinned", "--grace-period=1").status == 0)
        #expect(waitUntil(seconds: 30) {
            (try? connection.request("GET", "/api/v1/persistentvolumes/manual").json()[path: ["status", "phase"]]) == "Released"
        })
        #expect(FileManager.default.fileExists(atPath: localDirectory + "/out"))

        // Bad claims: a Status naming the field.
        let bad = try connection.request("POST", "/api/v1/namespaces/default/persistentvolumeclaims",
                                         body: (["apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": ["name": "bad"],
                                                 "spec": ["resources": ["requests": ["storage": "-1Gi"]]]] as JSON).serialized())
        #expect(bad.status == 422, "\(bad.text)")
        #expect(bad.text.contains("spec.accessModes") && bad.text.contains("spec.resources[storage]"), "\(bad.text)")
    }
}
