import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// Init containers through the real binary, kubectl and the process runtime.
@Suite("init containers", .serialized)
struct InitContainerTests {
    @Test("init containers run in order to completion before the app; a failing one is retried with back-off (Init:N/M and Init:Error in kubectl's STATUS); under restartPolicy Never it fails the pod; sidecars are refused")
    func initContainers() throws {
        let timing = ProcessAgentTests.timing
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        defer { server.destroy() }
        let agent = try AgentProcess(server: server, name: "init1", cpus: "4", timing: timing,
                                     extraArguments: ["--runtime", "process", "--restart-backoff", "1", "--data-dir", server.dataDirectory + "/agent"])
        defer { agent.kill9() }
        let file = server.dataDirectory + "/init.yaml"
        // first appends "one"; second fails once (no marker yet), then appends "two"; the app prints what the inits left.
        try #"""
            apiVersion: v1
            kind: Pod
            metadata: {name: ordered}
            spec:
              volumes: [{name: work, emptyDir: {}}]
              initContainers:
              - {name: first, image: host, command: ["/bin/sh", "-c", "sleep 1; echo one >> \"$KUBE9_VOLUME_WORK/steps\""], volumeMounts: [{name: work, mountPath: /work}]}
              - {name: second, image: host, command: ["/bin/sh", "-c", "if [ ! -e \"$KUBE9_VOLUME_WORK/marker\" ]; then touch \"$KUBE9_VOLUME_WORK/marker\"; exit 7; fi; echo two >> \"$KUBE9_VOLUME_WORK/steps\""], volumeMounts: [{name: work, mountPath: /work}]}
              containers:
              - {name: app, image: host, command: ["/bin/sh", "-c", "echo \"app saw $(cat \"$KUBE9_VOLUME_WORK/steps\" | tr '\\n' ' ')\"; exec sleep 600"], volumeMounts: [{name: work, mountPath: /work}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: doomed}
            spec:
              restartPolicy: Never
              initContainers: [{name: broken, image: host, command: ["/bin/sh", "-c", "exit 3"]}]
              containers: [{name: app, image: host, command: ["/bin/sh", "-c", "echo never"]}]
            """#.write(toFile: file, atomically: true, encoding: .utf8)
        let applied = try server.kubectl("apply", "-f", file)
        #expect(applied.status == 0, "\(applied.stderr)")
        // The STATUS column walks through Init:0/2 … before Running.
        var seen: [String] = []
        let connection = try server.connection()
        func pod(_ name: String) -> JSON? {
            guard let reply = try? connection.request("GET", "/api/v1/namespaces/default/pods/\(name)"), reply.status == 200 else { return nil }
            return try? reply.json()
        }
        #expect(waitUntil(seconds: 40) {
            if let line = try? server.kubectl("get", "pod", "ordered", "--no-headers").stdout,
               let status = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first.map(String.init), seen.last != status {
                seen.append(status)
            }
            return pod("ordered")?[path: ["status", "phase"]] == "Running"
        }, "statuses \(seen): \(String(describing: pod("ordered")?["status"]))")
        print("kubectl STATUS of ordered: \(seen)")
        #expect(seen.contains("Init:0/2"), "\(seen)")
        #expect(seen.contains { $0 == "Init:1/2" || $0 == "Init:Error" || $0 == "Init:CrashLoopBackOff" }, "\(seen)")
        let logs = try server.kubectl("logs", "ordered", "-c", "app")
        #expect(logs.stdout.contains("app saw one two"), "\(logs.stdout)")
        let inits = pod("ordered")?[path: ["status", "initContainerStatuses"]]?.arrayValue ?? []
        #expect(inits.count == 2 && inits.allSatisfy { $0[path: ["state", "terminated", "exitCode"]] == 0 && $0["ready"] == true })
        #expect(inits.last?["restartCount"] == 1, "\(inits)")
        #expect((pod("ordered")?[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Initialized" && $0["status"] == "True" })
        // restartPolicy Never: the failed init container fails the pod; the app never starts.
        #expect(waitUntil(seconds: 20) { pod("doomed")?[path: ["status", "phase"]] == "Failed" })
        let doomed = try server.kubectl("get", "pod", "doomed", "--no-headers")
        #expect(doomed.stdout.contains("Init:Error"), "\(doomed.stdout)")
        #expect(pod("doomed")?[path: ["status", "containerStatuses"]]?.arrayValue?.first?[path: ["state", "waiting", "reason"]] == "PodInitializing")
        // Sidecar init containers are refused with a Status naming the field.
        let sidecar: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "sidecar"],
                             "spec": ["initContainers": [["name": "s", "image": "host", "restartPolicy": "Always"]], "containers": [["name": "a", "image": "host"]]]]
        let refused = try connection.request("POST", "/api/v1/namespaces/default/pods", body: sidecar.serialized())
        #expect(refused.status == 422 && refused.text.contains("spec.initContainers[0].restartPolicy"), "\(refused.text)")
    }
}
