import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime
import Kube9Testing
import Testing

/// [K7] acceptance 3 on Docker: an HPA (made by `kubectl autoscale`) on a Deployment whose pods
/// burn CPU on each request; usage measured by Docker stats through the agent's reports.
@Suite("horizontal pod autoscaling on docker", .serialized)
struct DockerAutoscalerTests {
    static let syncPeriod = 5.0

    /// httpd whose /cgi-bin/burn spins the CPU for a while; requests 200m, limit 500m.
    static func deployment() -> JSON {
        let script = #"""
        mkdir -p /www/cgi-bin && echo ok > /www/index.html
        printf '#!/bin/sh\ni=0\nwhile [ $i -lt 200000 ]; do i=$((i+1)); done\nprintf "Content-Type: text/plain\\r\\n\\r\\nburnt\\n"\n' > /www/cgi-bin/burn
        chmod +x /www/cgi-bin/burn
        exec httpd -f -p 80 -h /www
        """#
        return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "burn"],
                "spec": ["replicas": 1, "selector": ["matchLabels": ["app": "burn"]],
                         "template": ["metadata": ["labels": ["app": "burn"]],
                                      "spec": ["terminationGracePeriodSeconds": 1,
                                               "containers": [["name": "httpd", "image": .string(DockerNodeTests.podImage), "command": ["/bin/sh", "-c", .string(script)],
                                                               "ports": [["name": "http", "containerPort": 80]],
                                                               "resources": ["requests": ["cpu": "200m"], "limits": ["cpu": "500m"]],
                                                               "readinessProbe": ["tcpSocket": ["port": 80], "periodSeconds": 1]]]]]]]
    }

    static func replicas(_ server: ServerProcess) -> Int {
        Int((try? server.connection().request("GET", "/apis/apps/v1/namespaces/default/deployments/burn").json()[path: ["spec", "replicas"]]?.intValue) ?? -1)
    }

    static func utilization(_ server: ServerProcess) -> Int64? {
        let hpa = try? server.connection().request("GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/burn").json()
        return hpa?[path: ["status", "currentMetrics"]]?.arrayValue?.first?[path: ["resource", "current", "averageUtilization"]]?.intValue
    }

    @Test("under load the HPA scales up within two sync periods of the load showing; after it stops, down only after the stabilization window; describe shows the decisions; a swapped Lua policy takes the next decision")
    func autoscaleUnderLoad() throws {
        guard let engine = try DockerNodeTests.engine() else { return }
        DockerNodeTests.cleanUp(engine)
        defer { DockerNodeTests.cleanUp(engine) }
        let server = try DockerServiceTests.cluster(engine, agentArguments: ["--stats-interval", "1"],
                                                    serverArguments: ["--horizontal-pod-autoscaler-sync-period", String(Self.syncPeriod)])
        defer { server.destroy() }
        try DockerServiceTests.create(Self.deployment(), at: "/apis/apps/v1/namespaces/default/deployments", server)
        #expect(try server.kubectl("create", "service", "clusterip", "burn", "--tcp=80:http").status == 0)
        let rolled = try server.kubectl("rollout", "status", "deployment/burn", "--timeout=120s", timeoutSeconds: 130)
        if rolled.status != 0 {
            let pods = (try? server.kubectl("get", "pods", "-o", "wide").stdout) ?? ""
            let events = (try? server.kubectl("get", "events").stdout) ?? ""
            let agent = (try? engine.request("GET", "/containers/kube9-node-w1/logs?stdout=1&stderr=1&tail=40").text) ?? ""
            Issue.record("the burn deployment did not roll out: \(rolled.stdout) \(rolled.stderr)\npods:\n\(pods)\nevents:\n\(events)\nagent:\n\(agent)")
            return
        }
        let autoscale = try server.kubectl("autoscale", "deployment", "burn", "--cpu-percent=50", "--min=1", "--max=4")
        #expect(autoscale.status == 0, "\(autoscale.stderr)")
        let window = 20
        let behavior = #"{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":\#(window)}}}}"#
        #expect(try server.kubectl("patch", "hpa", "burn", "--type=merge", "-p", behavior).status == 0)
        let clusterIP = try #require(try DockerServiceTests.service(server, "burn")[path: ["spec", "clusterIP"]]?.stringValue)
        #expect(waitUntil(seconds: 30) { ServiceClient.get(clusterIP, 80) == "ok" })
        #expect(waitUntil(seconds: 30) { Self.utilization(server) != nil }, "the HPA never measured the pods")
        let top = try server.kubectl("top", "pods")
        #expect(top.status == 0 && top.stdout.contains("burn-"), "\(top.stdout) \(top.stderr)")

        // Load: 3 clients requesting /cgi-bin/burn back to back.
        let load = ServiceLoad(clusterIP, 80, threads: 3, path: "/cgi-bin/burn")
        let loadStarted = Date()
        var loadSeen: Date? = nil
        let scaledUp = waitUntil(seconds: 90) {
            if loadSeen == nil, let value = Self.utilization(server), value > 55 { loadSeen = Date() }
            return Self.replicas(server) > 1
        }
        let upAfter = loadSeen.map { Date().timeIntervalSince($0) } ?? -1
        let sinceStart = Date().timeIntervalSince(loadStarted)
        print("hpa on docker: scaled up to \(Self.replicas(server)) \(sinceStart) s after the load started, \(upAfter) s after the HPA's status showed it (sync period \(Self.syncPeriod) s)")
        #expect(scaledUp, "never scaled up; utilization \(Self.utilization(server) ?? -1)")
        // Two sync periods, plus the usage pipeline: two samples 1 s apart (a rate) and Docker's stats call (up to 2 s).
        #expect(sinceStart <= 2 * Self.syncPeriod + 4, "scaled up \(sinceStart) s after the load started")
        usleep(8_000_000)
        load.stop()
        let peak = Self.replicas(server)
        let stopped = Date()
        let down = waitUntil(seconds: 120) { Self.replicas(server) < peak }
        let downAfter = Date().timeIntervalSince(stopped)
        print("hpa on docker: \(peak) → \(Self.replicas(server)) \(downAfter) s after the load stopped (window \(window) s)")
        #expect(down, "never scaled down from \(peak)")
        #expect(downAfter >= Double(window), "scaled down \(downAfter) s after the load stopped, inside the \(window) s window")
        let described = try server.kubectl("describe", "hpa", "burn")
        print("describe hpa:\n\(described.stdout)")
        #expect(described.stdout.contains("SuccessfulRescale") && described.stdout.contains("policy target-utilization recommends"), "\(described.stdout)")

        // A Lua policy swapped in at runtime (annotation → a Policy object) makes the next decision.
        let policy: JSON = ["apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": ["name": "autoscaler.three"],
                            "spec": ["slot": "autoscaler", "source": #"return { name = "three", api = 1, desired_replicas = function(target, metrics) return 3 end }"#]]
        try DockerServiceTests.create(policy, at: "/apis/kube9.io/v1/policies", server)
        #expect(try server.kubectl("annotate", "hpa", "burn", "kube9.io/autoscaler-policy=three").status == 0)
        let swapped = Date()
        #expect(waitUntil(seconds: 3 * Self.syncPeriod) { Self.replicas(server) == 3 }, "the swapped policy did not decide: \(Self.replicas(server))")
        print("hpa on docker: the swapped policy decided \(Date().timeIntervalSince(swapped)) s after the annotation")
    }
}
