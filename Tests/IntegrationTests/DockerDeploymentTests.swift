import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime
import Kube9Testing
import Testing

/// [K7] acceptance 1 on Docker: a 4-replica busybox httpd Deployment behind a Service, with a
/// readiness probe; a client sends requests through the cluster IP all through `kubectl set env`,
/// `kubectl rollout undo` and a rollout to a missing image.
@Suite("deployments on docker", .serialized)
struct DockerDeploymentTests {
    static let podImage = DockerNodeTests.podImage

    /// httpd answering $VERSION; on SIGTERM it keeps serving 2 s (the endpoint goes meanwhile), then stops.
    static func deployment() -> JSON {
        let script = #"""
        mkdir -p /www && echo "$VERSION" > /www/index.html
        httpd -f -p 80 -h /www & pid=$!
        trap 'sleep 2; kill $pid' TERM
        wait $pid
        wait $pid
        """#
        return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
                "spec": ["replicas": 4, "selector": ["matchLabels": ["app": "web"]],
                         "strategy": ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": 1, "maxUnavailable": 1]],
                         "template": ["metadata": ["labels": ["app": "web"]],
                                      "spec": ["terminationGracePeriodSeconds": 5,
                                               "containers": [["name": "httpd", "image": .string(podImage), "command": ["/bin/sh", "-c", .string(script)],
                                                               "env": [["name": "VERSION", "value": "v1"]],
                                                               "ports": [["name": "http", "containerPort": 80]],
                                                               "readinessProbe": ["tcpSocket": ["port": 80], "periodSeconds": 1]]]]]]]
    }

    static func lines(_ server: ServerProcess, _ arguments: String...) -> [String] {
        ((try? server.kubectl(arguments: arguments).stdout) ?? "").split(separator: "\n").map(String.init)
    }

    /// The web pods not being deleted.
    static func livePods(_ server: ServerProcess) -> [JSON] {
        let pods = (try? server.connection().request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb").json()["items"]?.arrayValue) ?? nil
        return (pods ?? []).filter { ObjectMeta.deletionTimestamp(of: $0) == nil }
    }

    static func readyPods(_ server: ServerProcess) -> Int { livePods(server).filter(DockerServiceTests.isReady).count }

    @Test("rolling update under load: zero failed requests, rollout status succeeds, undo restores the first pod-template-hash, a missing image stalls at maxUnavailable with ProgressDeadlineExceeded")
    func rollingUpdateUnderLoad() throws {
        guard let engine = try DockerNodeTests.engine() else { return }
        DockerNodeTests.cleanUp(engine)
        defer { DockerNodeTests.cleanUp(engine) }
        let server = try DockerServiceTests.cluster(engine)
        defer { server.destroy() }
        try DockerServiceTests.create(Self.deployment(), at: "/apis/apps/v1/namespaces/default/deployments", server)
        #expect(try server.kubectl("create", "service", "clusterip", "web", "--tcp=80:http").status == 0)
        let status = try server.kubectl("rollout", "status", "deployment/web", "--timeout=120s", timeoutSeconds: 130)
        #expect(status.status == 0, "\(status.stdout) \(status.stderr)")
        #expect(waitUntil(seconds: 30) { DockerServiceTests.readyAddresses(server, "web").count == 4 })
        let clusterIP = try #require(try DockerServiceTests.service(server, "web")[path: ["spec", "clusterIP"]]?.stringValue)
        #expect(waitUntil(seconds: 10) { ServiceClient.get(clusterIP, 80) == "v1" })
        let firstHash = Self.livePods(server).first.flatMap { ObjectMeta.labels(of: $0)["pod-template-hash"] } ?? "?"

        // set env → a new template, rolled out while the client keeps sending.
        let load = ServiceLoad(clusterIP, 80, threads: 2)
        #expect(try server.kubectl("set", "env", "deployment/web", "VERSION=v2").status == 0)
        let rolled = try server.kubectl("rollout", "status", "deployment/web", "--timeout=180s", timeoutSeconds: 190)
        #expect(rolled.status == 0 && rolled.stdout.contains("successfully rolled out"), "\(rolled.stdout) \(rolled.stderr)")
        #expect(waitUntil(seconds: 10) { load.replies.suffix(20).allSatisfy { $0.body == "v2" } })
        load.stop()
        let replies = load.replies
        let failed = replies.filter { $0.body == nil }.count
        print("docker rolling update under load: \(replies.count) requests, \(failed) failed, v1 \(replies.filter { $0.body == "v1" }.count), v2 \(replies.filter { $0.body == "v2" }.count)")
        #expect(failed == 0 && replies.count > 50, "\(failed) of \(replies.count) requests failed during the rollout")

        // undo → the first template again (same pod-template-hash); history shows both revisions.
        #expect(try server.kubectl("rollout", "undo", "deployment/web").status == 0)
        let undone = try server.kubectl("rollout", "status", "deployment/web", "--timeout=180s", timeoutSeconds: 190)
        #expect(undone.status == 0, "\(undone.stdout) \(undone.stderr)")
        // Pods of the undone template may still be terminating (5 s grace): the live ones count.
        let hashes = Set(Self.livePods(server).compactMap { ObjectMeta.labels(of: $0)["pod-template-hash"] })
        #expect(hashes == [firstHash], "\(hashes) after undo, first was \(firstHash)")
        let history = try server.kubectl("rollout", "history", "deployment/web")
        print("rollout history after undo:\n\(history.stdout)")
        #expect(history.stdout.contains("2 ") && history.stdout.contains("3 "), "\(history.stdout)")
        #expect(waitUntil(seconds: 10) { ServiceClient.get(clusterIP, 80) == "v1" })

        // A missing image: never ready, so the rollout stalls with 3 (replicas − maxUnavailable) ready and times out.
        #expect(try server.kubectl("patch", "deployment", "web", "-p", #"{"spec":{"progressDeadlineSeconds":15}}"#).status == 0)
        #expect(try server.kubectl("set", "image", "deployment/web", "httpd=kube9-test/missing:1").status == 0)
        var fewestReady = Int.max
        let exceeded = waitUntil(seconds: 60) {
            fewestReady = min(fewestReady, Self.readyPods(server))
            return Self.lines(server, "get", "deployment", "web", "-o", "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}") == ["ProgressDeadlineExceeded"]
        }
        #expect(exceeded, "\((try? server.kubectl("get", "deployment", "web", "-o", "yaml").stdout) ?? "")")
        print("missing image rollout: fewest ready pods \(fewestReady)")
        #expect(fewestReady >= 3, "ready pods fell to \(fewestReady)")
        let stalled = try server.kubectl("rollout", "status", "deployment/web", "--timeout=20s", timeoutSeconds: 30)
        #expect(stalled.status != 0 && stalled.stderr.contains("exceeded its progress deadline"), "\(stalled.stdout) \(stalled.stderr)")
        #expect(ServiceClient.get(clusterIP, 80) == "v1")
    }
}
