import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K6] the service data path through the real binary: two process pods (host network, a port
/// each, one named container port) behind a ClusterIP service; the agent's proxy carries
/// connections to the cluster IP and the node port, picking with the Lua policy the service names.
@Suite("service proxy on the process runtime", .serialized)
struct ServiceProxyTests {
    static let timing = ["--heartbeat-interval", "0.5", "--node-monitor-grace-period", "3", "--pod-eviction-timeout", "3"]

    /// One request on a new connection; the body, or nil when it failed.
    static func get(_ url: String) -> String? {
        guard let connection = try? HTTPConnection(baseURL: url) else { return nil }
        connection.timeoutSeconds = 3
        guard let reply = try? connection.request("GET", "/", accept: "*/*"), reply.status == 200 else { return nil }
        return reply.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Ready addresses over all subsets (pods whose named port resolves differently are in different subsets).
    static func readyAddresses(_ endpoints: JSON) -> Int {
        (endpoints["subsets"]?.arrayValue ?? []).reduce(0) { $0 + ($1["addresses"]?.arrayValue?.count ?? 0) }
    }

    static func counts(_ url: String, _ requests: Int) -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<requests { counts[get(url) ?? "failed", default: 0] += 1 }
        return counts
    }

    @Test("1,000 requests to the cluster IP split 500/500 by round_robin; the node port answers on 127.0.0.1; ip_hash swapped in by annotation keeps a client on one pod")
    func roundRobinAndSwap() throws {
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let dataDirectory = server.dataDirectory + "/agent"
        let agent = try AgentProcess(server: server, name: "svc1", cpus: "4", timing: Self.timing,
                                     extraArguments: ["--runtime", "process", "--data-dir", dataDirectory])
        defer { agent.kill9() }
        let ports = [freePort(), freePort()]
        for (index, port) in ports.enumerated() {
            let web = server.dataDirectory + "/www\(index)"
            try FileManager.default.createDirectory(atPath: web, withIntermediateDirectories: true)
            try "pod-\(index)\n".write(toFile: web + "/index.html", atomically: true, encoding: .utf8)
            let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string("web-\(index)"), "labels": ["app": "web"]],
                             "spec": ["containers": [["name": "c", "image": "host",
                                                      "command": ["/bin/busybox", "httpd", "-f", "-p", .string(String(port)), "-h", .string(web)],
                                                      "ports": [["name": "http", "containerPort": .int(Int64(port))]],
                                                      "readinessProbe": ["tcpSocket": ["port": .int(Int64(port))], "periodSeconds": 1]]]]]
            let reply = try server.connection().request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized())
            #expect(reply.status == 201, "\(reply.text)")
        }
        let exposed = try server.kubectl("create", "service", "nodeport", "web", "--tcp=80:http")
        #expect(exposed.status == 0, "\(exposed.stderr)")
        let connection = try server.connection()
        var service = JSON.null
        let ready = try waitUntil(seconds: 30) {
            service = try connection.request("GET", "/api/v1/namespaces/default/services/web").json()
            let endpoints = try connection.request("GET", "/api/v1/namespaces/default/endpoints/web").json()
            return Self.readyAddresses(endpoints) == 2
        }
        #expect(ready, "endpoints never had both pods")
        let clusterIP = try #require(service[path: ["spec", "clusterIP"]]?.stringValue)
        let nodePort = try #require(service[path: ["spec", "ports"]]?.arrayValue?.first?["nodePort"]?.intValue)
        // The proxy follows the endpoints within a moment of them changing.
        #expect(waitUntil(seconds: 10) { Self.get("http://\(clusterIP):80") != nil }, "\(agent.log())")
        let split = Self.counts("http://\(clusterIP):80", 1000)
        let first = split["pod-0"] ?? 0
        let second = split["pod-1"] ?? 0
        #expect(split["failed"] == nil, "\(split)")
        // Requests sent while waiting above took turns too, so the split is exact to one.
        #expect(abs(first - second) <= 1 && first + second == 1000, "\(split)")
        let viaNodePort = Self.counts("http://127.0.0.1:\(nodePort)", 20)
        #expect(viaNodePort["failed"] == nil && viaNodePort.values.reduce(0, +) == 20, "\(viaNodePort)")
        // A policy swap needs no restart: the annotation names ip-hash; one client then sees one pod.
        let annotated = try server.kubectl("annotate", "service", "web", "kube9.io/lb-policy=ip-hash")
        #expect(annotated.status == 0, "\(annotated.stderr)")
        let sticky = try waitUntil(seconds: 10) { Self.counts("http://\(clusterIP):80", 10).count == 1 }
        #expect(sticky, "ip_hash did not keep the client on one pod")
        let hashed = Self.counts("http://\(clusterIP):80", 100)
        #expect(hashed.count == 1 && hashed["failed"] == nil, "\(hashed)")
        // Deleting a pod: its endpoint goes, and no request fails while the other is up.
        _ = try server.kubectl(arguments: ["delete", "pod", "web-0", "--wait=false"])
        #expect(waitUntil(seconds: 15) {
            Self.readyAddresses((try? connection.request("GET", "/api/v1/namespaces/default/endpoints/web").json()) ?? .null) == 1
        })
        usleep(300_000)
        let after = Self.counts("http://\(clusterIP):80", 50)
        #expect(after == ["pod-1": 50], "\(after)")
        #expect(!agent.log().contains("error"), "\(agent.log())")
    }
}
