import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K6] acceptance 1–4 on Docker: a node container (host network, NET_ADMIN) runs the agent and
/// its service proxy; busybox httpd pods on the kube9 bridge are the backends; clients are the
/// host (raw sockets, any source address on lo) and a busybox pod that resolves the service
/// through its own resolv.conf. Needs a Docker daemon, as DockerNodeTests.
@Suite("services on docker", .serialized)
struct DockerServiceTests {
    static let podImage = DockerNodeTests.podImage

    /// A busybox httpd pod labelled app=web answering `pod-N` on / and, after `cgiDelay`
    /// seconds, on /cgi-bin/who. With `drainSeconds`, SIGTERM lets httpd serve
    /// that long before it stops, as a real backend drains (busybox httpd itself stops at once, and
    /// a request it had accepted would fail in any orchestrator; Kubernetes' answer is a preStop sleep).
    static func webPod(_ index: Int, cgiDelay: String = "0", drainSeconds: Int = 0) -> JSON {
        let serve = drainSeconds > 0
            ? "httpd -f -p 80 -h /www &\ntrap 'sleep \(drainSeconds); kill $!' TERM\nwait"
            : "exec httpd -f -p 80 -h /www"
        let script = #"""
        mkdir -p /www/cgi-bin && echo pod-\#(index) > /www/index.html
        echo '#!/bin/sh' > /www/cgi-bin/who
        echo 'sleep \#(cgiDelay)' >> /www/cgi-bin/who
        echo 'printf "Content-Type: text/plain\r\n\r\npod-\#(index)\n"' >> /www/cgi-bin/who
        chmod +x /www/cgi-bin/who
        \#(serve)
        """#
        return ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string("web-\(index)"), "labels": ["app": "web"]],
                "spec": ["terminationGracePeriodSeconds": .int(drainSeconds > 0 ? Int64(drainSeconds + 2) : 1),
                         "containers": [["name": "httpd", "image": .string(podImage), "command": ["/bin/sh", "-c", .string(script)],
                                         "ports": [["name": "http", "containerPort": 80]],
                                         "readinessProbe": ["tcpSocket": ["port": 80], "periodSeconds": 1]]]]]
    }

    /// A server with a scheduler and one docker node container, w1.
    static func cluster(_ engine: DockerEngine, agentArguments: [String] = [], serverArguments: [String] = []) throws -> ServerProcess {
        let built = try runCommand(kube9BinaryPath(), ["node", "image", "build"], timeoutSeconds: 300)
        #expect(built.status == 0, "\(built.stdout) \(built.stderr)")
        let server = try ServerProcess(extraArguments: DockerNodeTests.timing + serverArguments, scheduler: true)
        let agentArgs = (DockerNodeTests.timing.prefix(2) + agentArguments).joined(separator: " ")
        let added = try DockerNodeTests().kube9(["node", "add", "w1", "--cpus", "2", "--runtime", "docker", "--wait", "15",
                                                 "--agent-args=" + agentArgs], server: server)
        guard added.status == 0 else {
            server.destroy()
            throw ClientError("kube9 node add failed: \(added.stdout) \(added.stderr)")
        }
        return server
    }

    static func create(_ object: JSON, at path: String, _ server: ServerProcess) throws {
        let reply = try server.connection().request("POST", path, body: object.serialized())
        #expect(reply.status == 201, "\(reply.text)")
    }

    static func readyAddresses(_ server: ServerProcess, _ service: String) -> [String] {
        let endpoints = (try? server.connection().request("GET", "/api/v1/namespaces/default/endpoints/\(service)").json()) ?? .null
        return (endpoints["subsets"]?.arrayValue ?? []).flatMap { ($0["addresses"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue } }
    }

    static func service(_ server: ServerProcess, _ name: String) throws -> JSON {
        try server.connection().request("GET", "/api/v1/namespaces/default/services/\(name)").json()
    }

    static func isReady(_ pod: JSON) -> Bool {
        pod[path: ["status", "conditions"]]?.arrayValue?.contains { $0["type"] == "Ready" && $0["status"] == "True" } == true
    }

    @Test("1,000 requests from the host and 1,000 from a pod that finds web.default.svc.cluster.local through its resolv.conf split 500/500; least_connections sends fewer to a slow backend; NodePort and LoadBalancer answer")
    func roundRobinFromHostAndPod() throws {
        guard let engine = try DockerNodeTests.engine() else { return }
        DockerNodeTests.cleanUp(engine)
        defer { DockerNodeTests.cleanUp(engine) }
        // Outside names go from the pod through Docker's resolver and the cluster DNS to this upstream.
        let upstream = try FakeUpstreamDNS(address: IPv4Address(192, 0, 2, 7))
        defer { upstream.stop() }
        let server = try Self.cluster(engine, agentArguments: ["--dns-upstream", "127.0.0.1:\(upstream.port)"])
        defer { server.destroy() }
        try Self.create(Self.webPod(0), at: "/api/v1/namespaces/default/pods", server)
        try Self.create(Self.webPod(1, cgiDelay: "0.3"), at: "/api/v1/namespaces/default/pods", server)
        let exposed = try server.kubectl("create", "service", "clusterip", "web", "--tcp=80:http")
        #expect(exposed.status == 0, "\(exposed.stderr)")
        #expect(waitUntil(seconds: 60) { Self.readyAddresses(server, "web").count == 2 }, "endpoints never had both pods")
        let clusterIP = try #require(try Self.service(server, "web")[path: ["spec", "clusterIP"]]?.stringValue)
        #expect(waitUntil(seconds: 10) { ServiceClient.get(clusterIP, 80) != nil }, "the cluster IP never answered")

        // From the host: new connections, taking turns.
        let fromHost = ServiceClient.counts(clusterIP, 80, 1000)
        print("docker round_robin from the host: \(fromHost)")
        // 500 ± 1 each, the acceptance line: a connect refused under load is retried on the other
        // endpoint and its turn is given back, so retries do not tilt the split (random would
        // miss ± 1 almost always: σ ≈ 16).
        #expect(fromHost["failed"] == nil && (499...501).contains(fromHost["pod-0"] ?? 0) && (499...501).contains(fromHost["pod-1"] ?? 0), "\(fromHost)")

        // From a pod: the name through its own resolv.conf (Docker's resolver forwards the cluster
        // domain to kube9's DNS), then busybox nc to the address it found, 1,000 times.
        let script = #"""
        cat /etc/resolv.conf | sed 's/^/resolv: /'
        echo "env $WEB_SERVICE_HOST:$WEB_SERVICE_PORT"
        ip=$(nslookup web.default.svc.cluster.local | awk '/^Name:/ {found=1} found && /^Address/ {print $NF; exit}')
        echo "resolved $ip"
        echo "outside $(nslookup outside.example.org | awk '/^Name:/ {found=1} found && /^Address/ {print $NF; exit}')"
        i=0
        while [ $i -lt 1000 ]; do
          printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 "$ip" 80 | tail -n 1
          i=$((i+1))
        done > /tmp/replies
        echo "split pod-0=$(grep -c '^pod-0' /tmp/replies) pod-1=$(grep -c '^pod-1' /tmp/replies) lines=$(wc -l < /tmp/replies)"
        exec sleep 600
        """#
        try Self.create(["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "client"],
                         "spec": ["terminationGracePeriodSeconds": 1,
                                  "containers": [["name": "c", "image": .string(Self.podImage), "command": ["/bin/sh", "-c", .string(script)]]]]],
                        at: "/api/v1/namespaces/default/pods", server)
        // dnsPolicy None takes dnsConfig alone; Default keeps the node's resolv.conf (no cluster DNS).
        let printResolv: JSON = ["/bin/sh", "-c", "sed 's/^/resolv: /' /etc/resolv.conf; exec sleep 600"]
        try Self.create(["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "custom-dns"],
                         "spec": ["terminationGracePeriodSeconds": 1, "dnsPolicy": "None",
                                  "dnsConfig": ["nameservers": ["192.0.2.53"], "searches": ["example.test"], "options": [["name": "ndots", "value": "2"]]],
                                  "containers": [["name": "c", "image": .string(Self.podImage), "command": printResolv]]]],
                        at: "/api/v1/namespaces/default/pods", server)
        try Self.create(["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "node-dns"],
                         "spec": ["terminationGracePeriodSeconds": 1, "dnsPolicy": "Default",
                                  "containers": [["name": "c", "image": .string(Self.podImage), "command": printResolv]]]],
                        at: "/api/v1/namespaces/default/pods", server)
        var logs = ""
        #expect(waitUntil(seconds: 120) {
            logs = (try? server.kubectl("logs", "client").stdout) ?? ""
            return logs.contains("split ")
        }, "client pod: \(logs)")
        var custom = ""
        var node = ""
        #expect(waitUntil(seconds: 30) {
            custom = (try? server.kubectl("logs", "custom-dns").stdout) ?? ""
            node = (try? server.kubectl("logs", "node-dns").stdout) ?? ""
            return custom.contains("resolv: ") && node.contains("resolv: ")
        }, "custom-dns: \(custom) node-dns: \(node)")
        // On Docker's network the file names Docker's resolver (127.0.0.11), which forwards to the pod's servers.
        #expect(custom.contains("resolv: search example.test") && custom.contains("ndots:2") && !custom.contains("cluster.local"), "\(custom)")
        #expect(!node.contains("cluster.local") && !node.contains("ndots:5"), "\(node)")
        let filter = #"{"label":["kube9.io/pod-name=custom-dns","kube9.io/container=POD"]}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let sandboxes = try engine.call("GET", "/containers/json?filters=\(filter)").json().arrayValue ?? []
        let sandboxID = sandboxes.first?["Id"]?.stringValue ?? "-"
        let inspected = try engine.call("GET", "/containers/\(sandboxID)/json").json()
        #expect(inspected[path: ["HostConfig", "Dns"]] == ["192.0.2.53"], "\(inspected[path: ["HostConfig"]]?.text ?? "no sandbox")")
        #expect(logs.contains("resolv: search default.svc.cluster.local svc.cluster.local cluster.local"), "\(logs)")
        #expect(logs.contains("resolved \(clusterIP)\n"), "\(logs)")
        #expect(logs.contains("env \(clusterIP):80"), "\(logs)")
        #expect(logs.contains("outside 192.0.2.7\n"), "\(logs) upstream was asked \(upstream.asked.value)")
        let split = logs.components(separatedBy: "split ").last?.components(separatedBy: "\n").first ?? ""
        print("docker round_robin from a pod by name: \(split)")
        let fields = Dictionary(split.split(separator: " ").compactMap { field -> (String, Int)? in
            let parts = field.split(separator: "=")
            guard parts.count == 2, let value = Int(parts[1]) else { return nil }
            return (String(parts[0]), value)
        }, uniquingKeysWith: { first, _ in first })
        #expect(fields["lines"] == 1000 && (fields["pod-0"] ?? 0) + (fields["pod-1"] ?? 0) == 1000, "\(split)")
        #expect((499...501).contains(fields["pod-0"] ?? 0) && (499...501).contains(fields["pod-1"] ?? 0), "\(split)")

        // least_connections: pod-1 answers /cgi-bin/who 0.3 s late, so it holds its connections longer.
        #expect(try server.kubectl("annotate", "service", "web", "kube9.io/lb-policy=least-connections").status == 0)
        usleep(1_000_000)
        let tally = Shared<[String: Int]>([:])
        DispatchQueue.concurrentPerform(iterations: 12) { _ in
            let counts = ServiceClient.counts(clusterIP, 80, 20, path: "/cgi-bin/who")
            tally.update { $0.merge(counts, uniquingKeysWith: +) }
        }
        let slow = tally.value
        print("least_connections with pod-1 slow: \(slow)")
        #expect(slow["failed"] == nil && (slow["pod-0"] ?? 0) + (slow["pod-1"] ?? 0) == 240, "\(slow)")
        #expect((slow["pod-1"] ?? 0) * 3 < (slow["pod-0"] ?? 0), "the slow backend got as many: \(slow)")

        // NodePort on 127.0.0.1 and a LoadBalancer address from the pool, both from the host.
        let balancer: JSON = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web-lb"],
                              "spec": ["type": "LoadBalancer", "selector": ["app": "web"], "ports": [["port": 8080, "targetPort": "http"]]]]
        try Self.create(balancer, at: "/api/v1/namespaces/default/services", server)
        let created = try Self.service(server, "web-lb")
        let nodePort = try #require(created[path: ["spec", "ports"]]?.arrayValue?.first?["nodePort"]?.intValue)
        let ingress = try #require(created[path: ["status", "loadBalancer", "ingress"]]?.arrayValue?.first?["ip"]?.stringValue)
        #expect(ingress.hasPrefix("10.200.0."), "\(ingress)")
        #expect(waitUntil(seconds: 15) { ServiceClient.get("127.0.0.1", Int(nodePort)) != nil }, "node port \(nodePort)")
        let viaNodePort = ServiceClient.counts("127.0.0.1", Int(nodePort), 20)
        #expect(viaNodePort["failed"] == nil, "\(viaNodePort)")
        #expect(waitUntil(seconds: 10) { ServiceClient.get(ingress, 8080) != nil }, "load balancer \(ingress):8080")
        let viaBalancer = ServiceClient.counts(ingress, 8080, 20)
        #expect(viaBalancer["failed"] == nil, "\(viaBalancer)")
        _ = try server.kubectl(arguments: ["delete", "pods", "--all", "--grace-period=1"], timeoutSeconds: 60)
    }

    @Test("a new ready pod gets traffic within 1 s; a policy swap under load drops nothing; ip_hash keeps clients and remaps only a removed backend's; a deleted pod gets nothing once its endpoint goes, and no request fails")
    func scalingSwapAndRemap() throws {
        guard let engine = try DockerNodeTests.engine() else { return }
        DockerNodeTests.cleanUp(engine)
        defer { DockerNodeTests.cleanUp(engine) }
        let server = try Self.cluster(engine)
        defer { server.destroy() }
        let pods = "/api/v1/namespaces/default/pods"
        try Self.create(Self.webPod(0), at: pods, server)
        try Self.create(Self.webPod(1), at: pods, server)
        #expect(try server.kubectl("create", "service", "clusterip", "web", "--tcp=80:80").status == 0)
        #expect(waitUntil(seconds: 60) { Self.readyAddresses(server, "web").count == 2 }, "endpoints never had both pods")
        let clusterIP = try #require(try Self.service(server, "web")[path: ["spec", "clusterIP"]]?.stringValue)
        #expect(waitUntil(seconds: 10) { ServiceClient.get(clusterIP, 80) != nil }, "the cluster IP never answered")

        // Scaling up under round robin: the new pod answers within 1 s of the API showing it Ready.
        let load = ServiceLoad(clusterIP, 80)
        try Self.create(Self.webPod(2, drainSeconds: 2), at: pods, server)
        var readyAt: Date? = nil
        #expect(waitUntil(seconds: 60) {
            guard let pod = try? server.connection().request("GET", pods + "/web-2").json(), Self.isReady(pod) else { return false }
            readyAt = Date()
            return true
        })
        #expect(waitUntil(seconds: 5) { load.replies.contains { $0.body == "pod-2" } })
        // A request still on the wire can arrive a moment before the poll above saw Ready.
        if let readyAt, let first = load.replies.first(where: { $0.body == "pod-2" })?.at {
            let delay = first.timeIntervalSince(readyAt)
            print("new ready pod: first reply \(delay) s after the API showed it Ready")
            #expect(delay <= 1.0, "the new pod got its first request \(delay) s after it became Ready")
        }

        // The policy swapped under load (round robin → ip_hash by annotation, then a new version of
        // the ip_hash policy itself): no request fails, and a connection open across both finishes.
        let heldOpen = Shared<String?>(nil)
        let held = Thread {
            let body = ServiceClient.get(clusterIP, 80) { usleep(2_500_000) }
            heldOpen.update { $0 = body }
        }
        held.start()
        usleep(200_000)
        #expect(try server.kubectl("annotate", "service", "web", "kube9.io/lb-policy=ip-hash").status == 0)
        usleep(700_000)
        let source = try String(contentsOfFile: repositoryPath("policies/loadbalancer/ip_hash.lua"), encoding: .utf8)
        let policy: JSON = ["apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": ["name": "loadbalancer.ip-hash"],
                            "spec": ["slot": "loadbalancer", "source": .string(source + "\n-- version 2\n")]]
        try Self.create(policy, at: "/apis/kube9.io/v1/policies", server)
        usleep(2_000_000)
        load.stop()
        #expect(waitUntil(seconds: 5) { heldOpen.value != nil }, "the connection held open across the swap got no reply")
        let swapped = load.replies
        print("policy swap under load: \(swapped.filter { $0.body != nil }.count) of \(swapped.count) requests answered")
        #expect(swapped.count > 50 && swapped.allSatisfy { $0.body != nil }, "\(swapped.filter { $0.body == nil }.count) of \(swapped.count) failed")

        // ip_hash: 30 clients (source addresses on lo), each on one backend.
        let clients = (10..<40).map { "127.0.0.\($0)" }
        func mapping() -> [String: String] {
            var result: [String: String] = [:]
            for client in clients {
                let seen = Set((0..<3).map { _ in ServiceClient.get(clusterIP, 80, from: client) ?? "failed" })
                result[client] = seen.count == 1 ? seen.first : "split \(seen.sorted())"
            }
            return result
        }
        let before = mapping()
        #expect(before.values.allSatisfy { ["pod-0", "pod-1", "pod-2"].contains($0) }, "\(before)")
        #expect(Set(before.values).count == 3, "30 clients should reach all three: \(before)")

        // web-2 deleted while every client keeps sending: none fails; once the endpoint is gone,
        // pod-2 gets nothing; only its clients move.
        let removal = ServiceLoad(clusterIP, 80, threads: 3, sources: clients)
        usleep(500_000)
        _ = try server.kubectl(arguments: ["delete", "pod", "web-2", "--wait=false"])
        #expect(waitUntil(seconds: 20) { Self.readyAddresses(server, "web").count == 2 })
        let endpointGone = Date()
        usleep(1_500_000)
        removal.stop()
        let during = removal.replies
        print("removal of web-2 under load: \(during.filter { $0.body != nil }.count) of \(during.count) answered; clients before \(Dictionary(grouping: before.values, by: { $0 }).mapValues(\.count))")
        #expect(during.allSatisfy { $0.body != nil }, "\(during.filter { $0.body == nil }.count) of \(during.count) failed during the removal")
        // The proxy follows the endpoints within a moment (its watch), 0.3 s allowed.
        let late = during.filter { $0.body == "pod-2" && $0.at > endpointGone.addingTimeInterval(0.3) }
        #expect(late.isEmpty, "\(late.count) replies from pod-2 after its endpoint went")
        let after = mapping()
        for client in clients {
            if before[client] == "pod-2" {
                #expect(after[client] == "pod-0" || after[client] == "pod-1", "\(client): \(after[client] ?? "-")")
            } else {
                #expect(after[client] == before[client], "\(client) moved from \(before[client] ?? "-") to \(after[client] ?? "-")")
            }
        }
        _ = try server.kubectl(arguments: ["delete", "pods", "--all", "--grace-period=1"], timeoutSeconds: 60)
    }
}
