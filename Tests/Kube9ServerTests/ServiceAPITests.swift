import Foundation
import Kube9Model
@testable import Kube9Server
import Testing

/// [K6] Services through the API in-process: address allocation (cluster IPs, node ports,
/// load-balancer ingress), validation, and the endpoints controller.
@Suite("services: allocation, validation, endpoints", .serialized)
struct ServiceAPITests {
    static let services = "/api/v1/namespaces/default/services"
    static let pods = "/api/v1/namespaces/default/pods"

    static func service(_ name: String, type: String = "ClusterIP", clusterIP: String? = nil, ports: [JSON] = [["port": 80]],
                        selector: JSON = ["app": "web"]) -> JSON {
        var spec: JSON = ["type": .string(type), "selector": selector, "ports": .array(ports)]
        if let clusterIP { spec["clusterIP"] = .string(clusterIP) }
        return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": spec]
    }

    static func cause(_ reply: InProcessServer.Reply) -> String? {
        reply.json[path: ["details", "causes"]]?.arrayValue?.first?["field"]?.stringValue
    }

    @Test("50 concurrent creates get 50 distinct cluster IPs in the range; a restart hands none of them out again")
    func distinctClusterIPs() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kube9-svc-\(UUID().uuidString)").path
        let range = try #require(IPv4Range("10.96.0.0/12"))
        let first = try await InProcessServer.with(dataDirectory: directory, scheduler: false) { server in
            try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        let reply = try await server.call(.post, Self.services, json: Self.service("s\(index)"))
                        #expect(reply.status == 201, "\(reply.text)")
                        return reply.json[path: ["spec", "clusterIP"]]?.stringValue ?? ""
                    }
                }
                var ips: [String] = []
                for try await ip in group { ips.append(ip) }
                return ips
            }
        }
        #expect(Set(first).count == 50)
        #expect(first.allSatisfy { IPv4Address($0).map(range.contains) == true })
        let second = try await InProcessServer.with(dataDirectory: directory, scheduler: false) { server in
            var ips: [String] = []
            for index in 0..<20 {
                let reply = try await server.call(.post, Self.services, json: Self.service("t\(index)"))
                ips.append(reply.json[path: ["spec", "clusterIP"]]?.stringValue ?? "")
            }
            let kept = try await server.call(.get, Self.services + "/s0")
            #expect(first.contains(kept.json[path: ["spec", "clusterIP"]]?.stringValue ?? "-"), "s0 kept its address across the restart")
            return ips
        }
        #expect(Set(first).isDisjoint(with: second))
        #expect(Set(second).count == 20)
    }

    @Test("a requested cluster IP is honoured; taken, outside the range, or changed later is a 422 naming spec.clusterIP")
    func requestedClusterIP() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let made = try await server.call(.post, Self.services, json: Self.service("a", clusterIP: "10.96.5.5"))
            #expect(made.status == 201)
            #expect(made.json[path: ["spec", "clusterIP"]] == "10.96.5.5")
            #expect(made.json[path: ["spec", "clusterIPs"]] == ["10.96.5.5"])
            for (ip, message) in [("10.96.5.5", "already allocated"), ("192.168.1.1", "not in the valid range"), ("10.96.0.0", "not in the valid range"),
                                  ("10.96.0.10", "reserved for the cluster DNS"), ("10.96.0.1", "reserved for the kubernetes service"),
                                  ("10.96.5.256", "valid IPv4"), ("01.2.3.4", "valid IPv4")] {
                let reply = try await server.call(.post, Self.services, json: Self.service("b", clusterIP: ip))
                #expect(reply.status == 422, "\(ip): \(reply.text)")
                #expect(Self.cause(reply) == "spec.clusterIP", "\(reply.text)")
                #expect(reply.text.contains(message), "\(ip): \(reply.text)")
            }
            // The first address is the kubernetes service's alone.
            var kubernetes = Self.service("kubernetes", clusterIP: "10.96.0.1")
            kubernetes[path: ["metadata", "namespace"]] = "default"
            #expect(try await server.call(.post, Self.services, json: kubernetes).status == 201)
            var changed = made.json
            changed[path: ["spec", "clusterIP"]] = "10.96.5.6"
            changed[path: ["spec", "clusterIPs"]] = ["10.96.5.6"]
            let update = try await server.call(.put, Self.services + "/a", json: changed)
            #expect(update.status == 422)
            #expect(update.text.contains("immutable"), "\(update.text)")
            // A replace that leaves the allocated IP out keeps it.
            var replaced = Self.service("a", ports: [["port": 81]])
            replaced[path: ["metadata", "resourceVersion"]] = made.json[path: ["metadata", "resourceVersion"]]
            let kept = try await server.call(.put, Self.services + "/a", json: replaced)
            #expect(kept.status == 200, "\(kept.text)")
            #expect(kept.json[path: ["spec", "clusterIP"]] == "10.96.5.5")
        }
    }

    @Test("a full service range is a clear 422, and deleting a service frees its address")
    func fullRange() async throws {
        let ranges = ServiceAllocator.Ranges(services: try #require(IPv4Range("10.0.0.0/30")), nodePorts: 30000...30001,
                                             loadBalancers: try #require(IPv4Range("10.1.0.0/30")))
        try await InProcessServer.with(scheduler: false, serviceRanges: ranges) { server in
            // A /30 has two usable addresses: .1 is kept for the kubernetes service, .2 is left.
            let one = try await server.call(.post, Self.services, json: Self.service("one"))
            #expect(one.status == 201 && one.json[path: ["spec", "clusterIP"]] == "10.0.0.2", "\(one.text)")
            let full = try await server.call(.post, Self.services, json: Self.service("three"))
            #expect(full.status == 422)
            #expect(Self.cause(full) == "spec.clusterIP")
            #expect(full.text.contains("10.0.0.0/30 is full"), "\(full.text)")
            #expect(try await server.call(.delete, Self.services + "/one").status == 200)
            #expect(try await server.call(.post, Self.services, json: Self.service("three")).status == 201)
            // Node ports: two in the range; a third NodePort service is refused naming the port.
            #expect(try await server.call(.post, Self.services, json: Self.service("np1", type: "NodePort", clusterIP: "None")).status == 422)
            _ = try await server.call(.delete, Self.services + "/three")
            let twoPorts = Self.service("np1", type: "NodePort", ports: [["name": "a", "port": 80], ["name": "b", "port": 81]])
            let allocated = try await server.call(.post, Self.services, json: twoPorts)
            #expect(allocated.status == 201, "\(allocated.text)")
            let nodePorts = Set((allocated.json[path: ["spec", "ports"]]?.arrayValue ?? []).compactMap { $0["nodePort"]?.intValue })
            #expect(nodePorts == [30000, 30001])
            let none = try await server.call(.post, Self.services, json: Self.service("np2", type: "NodePort"))
            #expect(none.status == 422)
            #expect(Self.cause(none) == "spec.ports[0].nodePort" || Self.cause(none) == "spec.clusterIP", "\(none.text)")
        }
    }

    @Test("node ports: allocated in 30000-32767, a taken or out-of-range request is a 422 naming the port, an update keeps them")
    func nodePorts() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let made = try await server.call(.post, Self.services, json: Self.service("np", type: "NodePort", ports: [["port": 80, "nodePort": 30080]]))
            #expect(made.status == 201, "\(made.text)")
            #expect(made.json[path: ["spec", "ports"]]?.arrayValue?.first?["nodePort"] == 30080)
            let auto = try await server.call(.post, Self.services, json: Self.service("auto", type: "LoadBalancer"))
            #expect(auto.status == 201)
            let port = auto.json[path: ["spec", "ports"]]?.arrayValue?.first?["nodePort"]?.intValue ?? 0
            #expect((30000...32767).contains(port))
            let ingress = auto.json[path: ["status", "loadBalancer", "ingress"]]?.arrayValue?.first?["ip"]?.stringValue ?? ""
            #expect(IPv4Address(ingress).map { IPv4Range("10.200.0.0/24")!.contains($0) } == true, "\(auto.text)")
            for (nodePort, message) in [(30080, "already allocated"), (80, "not in the valid range"), (70000, "between 1 and 65535")] {
                let reply = try await server.call(.post, Self.services, json: Self.service("x", type: "NodePort", ports: [["port": 80, "nodePort": .int(Int64(nodePort))]]))
                #expect(reply.status == 422)
                #expect(Self.cause(reply) == "spec.ports[0].nodePort", "\(reply.text)")
                #expect(reply.text.contains(message), "\(reply.text)")
            }
            let onClusterIP = try await server.call(.post, Self.services, json: Self.service("y", ports: [["port": 80, "nodePort": 30099]]))
            #expect(onClusterIP.status == 422)
            var replaced = Self.service("np", type: "NodePort", ports: [["port": 80]])
            replaced[path: ["metadata", "resourceVersion"]] = made.json[path: ["metadata", "resourceVersion"]]
            let kept = try await server.call(.put, Self.services + "/np", json: replaced)
            #expect(kept.json[path: ["spec", "ports"]]?.arrayValue?.first?["nodePort"] == 30080, "\(kept.text)")
        }
    }

    @Test("bad services are 422 naming the field", arguments: [
        ("metadata.name", ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "1web"], "spec": ["ports": [["port": 80]]]] as JSON),
        ("spec.ports[0].port", ServiceAPITests.service("p", ports: [["port": 0]])),
        ("spec.ports[0].port", ServiceAPITests.service("p", ports: [["port": "80"]])),
        ("spec.ports[0].protocol", ServiceAPITests.service("p", ports: [["port": 80, "protocol": "SCTP"]])),
        ("spec.ports[1].name", ServiceAPITests.service("p", ports: [["name": "a", "port": 80], ["port": 81]])),
        ("spec.ports[0].targetPort", ServiceAPITests.service("p", ports: [["port": 80, "targetPort": "No_Such--name"]])),
        ("spec.ports[0].targetPort", ServiceAPITests.service("p", ports: [["port": 80, "targetPort": 70000]])),
        ("spec.type", ServiceAPITests.service("p", type: "Magic")),
        ("spec.selector", ServiceAPITests.service("p", selector: ["bad key!": "x"])),
        ("spec.ports", ServiceAPITests.service("p", ports: [])),
    ])
    func invalid(_ field: String, _ body: JSON) async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let reply = try await server.call(.post, Self.services, json: body)
            #expect(reply.status == 422, "\(reply.text)")
            #expect(reply.json[path: ["details", "causes"]]?.arrayValue?.contains { $0["field"]?.stringValue == field } == true, "\(reply.text)")
        }
    }

    static func pod(_ name: String, ip: String, ready: Bool, labels: JSON = ["app": "web"]) -> JSON {
        ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name), "labels": labels],
         "spec": ["nodeName": "n1", "containers": [["name": "c", "image": "busybox", "ports": [["name": "http", "containerPort": 8080]]]]],
         "status": ["phase": "Running", "podIP": .string(ip), "conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]]]]
    }

    static func waitFor(_ server: InProcessServer, _ path: String, _ check: (JSON) -> Bool) async throws -> JSON {
        var last = JSON.null
        for _ in 0..<100 {
            last = try await server.call(.get, path).json
            if check(last) { return last }
            try await Task.sleep(for: .milliseconds(20))
        }
        return last
    }

    @Test("the endpoints controller follows pod readiness, labels and named ports into Endpoints and EndpointSlices")
    func endpoints() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let service = Self.service("web", ports: [["name": "http", "port": 80, "targetPort": "http"], ["name": "raw", "port": 81, "targetPort": 9000]])
            #expect(try await server.call(.post, Self.services, json: service).status == 201)
            for (name, ip, ready) in [("a", "10.89.0.2", true), ("b", "10.89.0.3", false)] {
                let pod = Self.pod(name, ip: ip, ready: ready)
                #expect(try await server.call(.post, Self.pods, json: pod).status == 201)
                #expect(try await server.call(.put, Self.pods + "/\(name)/status", json: try await server.call(.get, Self.pods + "/\(name)").json.merging(status: pod["status"]!)).status == 200)
            }
            let endpoints = try await Self.waitFor(server, "/api/v1/namespaces/default/endpoints/web") {
                $0["subsets"]?.arrayValue?.first?["notReadyAddresses"] != nil && $0["subsets"]?.arrayValue?.first?["addresses"] != nil
            }
            let subset = endpoints["subsets"]?.arrayValue?.first
            #expect(subset?["addresses"]?.arrayValue?.map { $0["ip"] } == ["10.89.0.2"], "\(endpoints.text)")
            #expect(subset?["notReadyAddresses"]?.arrayValue?.map { $0["ip"] } == ["10.89.0.3"])
            #expect(subset?["ports"] == [["name": "http", "port": 8080, "protocol": "TCP"], ["name": "raw", "port": 9000, "protocol": "TCP"]], "\(endpoints.text)")
            let slices = try await Self.waitFor(server, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb") {
                ($0["items"]?.arrayValue?.first?["endpoints"]?.arrayValue?.count ?? 0) == 2
            }
            let slice = slices["items"]?.arrayValue?.first
            #expect(slice?["addressType"] == "IPv4")
            let conditions = (slice?["endpoints"]?.arrayValue ?? []).map { ($0["addresses"]?.arrayValue?.first?.stringValue ?? "", $0[path: ["conditions", "ready"]]?.boolValue ?? false) }
            #expect(conditions.map(\.0) == ["10.89.0.2", "10.89.0.3"] && conditions.map(\.1) == [true, false], "\(slices.text)")
            // A pod whose labels stop matching leaves; a deleted service takes its endpoints along.
            let relabel: JSON = ["metadata": ["labels": ["app": "other"]]]
            #expect(try await server.call(.patch, Self.pods + "/a", json: relabel, contentType: "application/merge-patch+json").status == 200)
            let after = try await Self.waitFor(server, "/api/v1/namespaces/default/endpoints/web") { $0["subsets"]?.arrayValue?.first?["addresses"] == nil }
            #expect(after["subsets"]?.arrayValue?.first?["addresses"] == nil, "\(after.text)")
            #expect(try await server.call(.delete, Self.services + "/web").status == 200)
            let gone = try await Self.waitFor(server, "/api/v1/namespaces/default/endpoints/web") { $0["code"] == 404 }
            #expect(gone["code"] == 404)
            let noSlices = try await Self.waitFor(server, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices") { $0["items"]?.arrayValue?.isEmpty == true }
            #expect(noSlices["items"]?.arrayValue?.isEmpty == true)
        }
    }
}

extension JSON {
    /// This object with its status replaced.
    func merging(status: JSON) -> JSON {
        var copy = self
        copy["status"] = status
        return copy
    }
}
