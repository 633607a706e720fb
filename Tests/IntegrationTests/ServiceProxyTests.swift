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

    /// Process pods outlive their agent (by design): delete them before the server goes.
    static func deleteAllPods(_ server: ServerProcess) {
        _ = try? server.kubectl(arguments: ["delete", "pods", "--all", "--grace-period=1"], timeoutSeconds: 30)
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
        // A client that half-closes after its request (busybox nc when its input ends) still gets the
        // whole reply and the end of the stream (the relay used to drop writes still pending at close).
        let started = Date()
        let halfClosed = try runCommand("/bin/sh", ["-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc \(clusterIP) 80"], timeoutSeconds: 5)
        #expect(!halfClosed.timedOut && halfClosed.stdout.contains("pod-"), "\(halfClosed.stdout) \(halfClosed.stderr)")
        #expect(Date().timeIntervalSince(started) < 3)
        let viaNodePort = Self.counts("http://127.0.0.1:\(nodePort)", 20)
        #expect(viaNodePort["failed"] == nil && viaNodePort.values.reduce(0, +) == 20, "\(viaNodePort)")
        // A policy swap needs no restart: the annotation names ip-hash; one client then sees one pod.
        let annotated = try server.kubectl("annotate", "service", "web", "kube9.io/lb-policy=ip-hash")
        #expect(annotated.status == 0, "\(annotated.stderr)")
        let sticky = waitUntil(seconds: 10) { Self.counts("http://\(clusterIP):80", 10).count == 1 }
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
        Self.deleteAllPods(server)
    }

    /// A UDP echo server on 127.0.0.1 (a thread; stopped when the socket closes).
    final class UDPEcho: @unchecked Sendable {
        let descriptor: Int32
        let port: Int
        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            descriptor = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0 else { throw ClientError("bind failed") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            port = Int(UInt16(bigEndian: address.sin_port))
            Thread {
                var buffer = [UInt8](repeating: 0, count: 2048)
                while true {
                    var peer = sockaddr_in()
                    var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
                    let count = withUnsafeMutablePointer(to: &peer) { pointer in
                        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &peerLength) }
                    }
                    if count <= 0 { return }
                    let reply = Array("echo:".utf8) + buffer.prefix(count)
                    _ = withUnsafePointer(to: &peer) { pointer in
                        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, reply, reply.count, 0, $0, peerLength) }
                    }
                }
            }.start()
        }
        func stop() {
            shutdown(descriptor, Int32(SHUT_RDWR))
            close(descriptor)
        }
    }

    /// Sends one datagram to ip:port and returns the reply (2 s timeout).
    static func udpExchange(_ ip: String, _ port: Int, _ text: String) -> String? {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(ip)
        address.sin_port = UInt16(port).bigEndian
        let bytes = Array(text.utf8)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : nil
    }

    /// An A query for `name` over TCP (2-byte length prefix) to `ip`:53; the reply, or nil.
    static func tcpDNSQuery(_ ip: String, _ name: String) -> [UInt8]? {
        var query: [UInt8] = [0x4B, 0x39, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") { query += [UInt8(label.utf8.count)] + Array(label.utf8) }
        query += [0, 0, 1, 0, 1]
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var remote = ServiceClient.address(ip, 53)
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { return nil }
        let framed = [UInt8(query.count >> 8), UInt8(query.count & 0xff)] + query
        guard send(descriptor, framed, framed.count, 0) == framed.count else { return nil }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while reply.count < 2 || reply.count < 2 + (Int(reply[0]) << 8 | Int(reply[1])) {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            reply += buffer.prefix(count)
        }
        return Array(reply.dropFirst(2))
    }

    @Test("UDP through a cluster IP, the cluster DNS from the host (busybox nslookup), service variables in a new pod, and a failing Lua policy falls back with a LoadBalancerPolicyFailed event")
    func udpDNSEnvironmentAndFallback() throws {
        let server = try ServerProcess(extraArguments: Self.timing, scheduler: true)
        defer { server.destroy() }
        let agent = try AgentProcess(server: server, name: "svc2", cpus: "4", timing: Self.timing,
                                     extraArguments: ["--runtime", "process", "--data-dir", server.dataDirectory + "/agent"])
        defer { agent.kill9() }
        let echo = try UDPEcho()
        defer { echo.stop() }
        let connection = try server.connection()
        // A service without a selector, its endpoint written by hand (as users do for outside backends).
        let service: JSON = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "echo"],
                             "spec": ["ports": [["name": "echo", "port": 5300, "protocol": "UDP"]]]]
        let created = try connection.request("POST", "/api/v1/namespaces/default/services", body: service.serialized())
        #expect(created.status == 201, "\(created.text)")
        let clusterIP = try #require(try created.json()[path: ["spec", "clusterIP"]]?.stringValue)
        let slice: JSON = ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                           "metadata": ["name": "echo-manual", "labels": ["kubernetes.io/service-name": "echo"]],
                           "addressType": "IPv4", "endpoints": [["addresses": ["127.0.0.1"], "conditions": ["ready": true]]],
                           "ports": [["name": "echo", "port": .int(Int64(echo.port)), "protocol": "UDP"]]]
        let sliced = try connection.request("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", body: slice.serialized())
        #expect(sliced.status == 201, "\(sliced.text)")
        var reply: String? = nil
        #expect(waitUntil(seconds: 10) {
            reply = Self.udpExchange(clusterIP, 5300, "ping")
            return reply != nil
        }, "\(agent.log())")
        #expect(reply == "echo:ping")
        #expect((0..<20).allSatisfy { Self.udpExchange(clusterIP, 5300, "n\($0)") == "echo:n\($0)" })

        // DNS from the host with a real resolver client.
        var lookup: CommandResult? = nil
        #expect(waitUntil(seconds: 10) {
            lookup = try? runCommand("/bin/busybox", ["nslookup", "echo.default.svc.cluster.local", "10.96.0.10"], timeoutSeconds: 10)
            return lookup?.stdout.contains(clusterIP) == true
        }, "nslookup: \(lookup?.stdout ?? "") \(lookup?.stderr ?? "")")
        // The same over TCP (what resolvers do after a truncated answer): the cluster IP's four bytes at the end.
        let overTCP = Self.tcpDNSQuery("10.96.0.10", "echo.default.svc.cluster.local")
        #expect(overTCP.map { Array($0.suffix(4)) } == clusterIP.split(separator: ".").compactMap { UInt8($0) }, "\(overTCP ?? [])")
        let unknown = try runCommand("/bin/busybox", ["nslookup", "nope.default.svc.cluster.local", "10.96.0.10"], timeoutSeconds: 10)
        #expect((unknown.stdout + unknown.stderr).contains("NXDOMAIN"), "\(unknown.stdout) \(unknown.stderr)")

        // A pod created after the service sees its variables.
        let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "env"],
                         "spec": ["containers": [["name": "c", "image": "host",
                                                  "command": ["/bin/busybox", "sh", "-c", "echo host=$ECHO_SERVICE_HOST port=$ECHO_SERVICE_PORT api=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; exec sleep 600"]]]]]
        #expect(try connection.request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized()).status == 201)
        var logs = ""
        #expect(waitUntil(seconds: 20) {
            logs = (try? server.kubectl("logs", "env").stdout) ?? ""
            return logs.contains("host=")
        })
        #expect(logs.contains("host=\(clusterIP) port=5300 api=10.96.0.1:443"), "\(logs)")

        // The kubernetes service: the server through its cluster IP; deleted, it comes back.
        let api = try connection.request("GET", "/api/v1/namespaces/default/services/kubernetes").json()
        #expect(api[path: ["spec", "clusterIP"]] == "10.96.0.1", "\(api)")
        #expect(waitUntil(seconds: 10) { ServiceClient.get("10.96.0.1", 443, path: "/version")?.contains("gitVersion") == true })
        #expect(try server.kubectl("delete", "service", "kubernetes").status == 0)
        #expect(waitUntil(seconds: 15) { (try? connection.request("GET", "/api/v1/namespaces/default/services/kubernetes").status) == 200 })

        // A policy that fails at run time: round robin serves, and the service gets the event.
        let broken: JSON = ["apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": ["name": "loadbalancer.broken"],
                            "spec": ["slot": "loadbalancer", "source": "return { name = 'broken', api = 1, pick = function() error('boom') end }"]]
        let applied = try connection.request("POST", "/apis/kube9.io/v1/policies", body: broken.serialized())
        #expect(applied.status == 201, "\(applied.text)")
        usleep(500_000)
        #expect(try server.kubectl("annotate", "service", "echo", "kube9.io/lb-policy=broken").status == 0)
        usleep(500_000)
        #expect((0..<10).allSatisfy { Self.udpExchange(clusterIP, 5300, "f\($0)") == "echo:f\($0)" })
        var events = ""
        #expect(waitUntil(seconds: 10) {
            events = (try? server.kubectl("get", "events", "--field-selector", "involvedObject.name=echo").stdout) ?? ""
            return events.contains("LoadBalancerPolicyFailed")
        }, "\(events)")
        #expect(events.contains("boom"), "\(events)")
        Self.deleteAllPods(server)
    }
}
