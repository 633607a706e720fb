import Foundation
@testable import Kube9Controllers
import Kube9Model
import Logging
@testable import Kube9Server
import Testing

/// [K6] The endpoints of large services (EndpointSlices of 100, Endpoints cut at 1,000), slices
/// mirrored from hand-written Endpoints, and the API server's own `kubernetes` service.
@Suite("services: large endpoint sets, mirrored Endpoints, the kubernetes service", .serialized)
struct ServiceEndpointsScaleTests {
    static let slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb"

    /// Polls `path` for up to `seconds` until `check` holds; the last reply either way.
    static func waitFor(_ server: InProcessServer, _ path: String, seconds: Double, _ check: (JSON) -> Bool) async throws -> JSON {
        var last = JSON.null
        let deadline = Date().addingTimeInterval(seconds)
        for _ in 0..<2000 where Date() < deadline {
            last = try await server.call(.get, path).json
            if check(last) { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        return last
    }

    static func sliceSizes(_ list: JSON) -> [Int] {
        (list["items"]?.arrayValue ?? []).map { $0["endpoints"]?.arrayValue?.count ?? 0 }.sorted()
    }

    static func addresses(_ endpoints: JSON) -> Int {
        (endpoints["subsets"]?.arrayValue ?? []).reduce(0) { $0 + ($1["addresses"]?.arrayValue?.count ?? 0) + ($1["notReadyAddresses"]?.arrayValue?.count ?? 0) }
    }

    @Test("1,050 ready pods: EndpointSlices of at most 100 holding all of them, Endpoints cut to 1,000 and marked; down to 150, two slices and no mark")
    func largeService() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            #expect(try await server.call(.post, ServiceAPITests.services, json: ServiceAPITests.service("web")).status == 201)
            for index in 0..<1050 {
                let name = "p\(index)"
                let pod = ServiceAPITests.pod(name, ip: "10.89.\(index / 200).\(index % 200 + 2)", ready: true)
                #expect(try await server.call(.post, ServiceAPITests.pods, json: pod).status == 201)
                let stored = try await server.call(.get, ServiceAPITests.pods + "/\(name)").json
                #expect(try await server.call(.put, ServiceAPITests.pods + "/\(name)/status", json: stored.merging(status: pod["status"] ?? .null)).status == 200)
            }
            let many = try await Self.waitFor(server, Self.slices, seconds: 30) { Self.sliceSizes($0).reduce(0, +) == 1050 }
            let sizes = Self.sliceSizes(many)
            #expect(sizes.reduce(0, +) == 1050 && sizes.count == 11 && sizes.allSatisfy { $0 <= 100 }, "\(sizes)")
            let names = Set((many["items"]?.arrayValue ?? []).map { ObjectMeta.name(of: $0) })
            #expect(names.count == 11)
            let endpoints = try await server.call(.get, "/api/v1/namespaces/default/endpoints/web").json
            #expect(Self.addresses(endpoints) == 1000)
            #expect(endpoints[path: ["metadata", "annotations", "endpoints.kubernetes.io/over-capacity"]] == "truncated")

            for index in 150..<1050 {
                #expect(try await server.call(.delete, ServiceAPITests.pods + "/p\(index)?gracePeriodSeconds=0").status == 200)
            }
            let few = try await Self.waitFor(server, Self.slices, seconds: 30) { Self.sliceSizes($0) == [50, 100] }
            #expect(Self.sliceSizes(few) == [50, 100], "\(Self.sliceSizes(few))")
            let cut = try await Self.waitFor(server, "/api/v1/namespaces/default/endpoints/web", seconds: 10) { Self.addresses($0) == 150 }
            #expect(Self.addresses(cut) == 150)
            #expect(cut[path: ["metadata", "annotations", "endpoints.kubernetes.io/over-capacity"]] == nil, "\(cut.text)")
        }
    }

    @Test("Endpoints truncation: terminating pods are not counted; ready endpoints are kept first across every port group")
    func truncation() {
        func endpoints(_ count: Int, ready: Bool, terminating: Bool = false, base: Int) -> [EndpointsBuilder.Endpoint] {
            (0..<count).map { EndpointsBuilder.Endpoint(ip: "10.\(base).\($0 / 250).\($0 % 250 + 1)", ready: ready, serving: ready, terminating: terminating,
                                                        nodeName: "", podName: "p\(base)-\($0)", podUID: "", weight: nil) }
        }
        let notCut = EndpointsBuilder.truncatedForEndpoints([EndpointsBuilder.Group(ports: [], endpoints: endpoints(980, ready: true, base: 1) + endpoints(30, ready: false, terminating: true, base: 2))])
        #expect(!notCut.1 && notCut.0.first?.endpoints.count == 980)
        let first = EndpointsBuilder.Group(ports: [["port": 80]], endpoints: endpoints(600, ready: false, base: 3) + endpoints(10, ready: false, terminating: true, base: 4))
        let second = EndpointsBuilder.Group(ports: [["port": 81]], endpoints: endpoints(500, ready: true, base: 5))
        let (kept, cut) = EndpointsBuilder.truncatedForEndpoints([first, second])
        #expect(cut)
        #expect(kept.map { $0.endpoints.count } == [500, 500])
        #expect(kept[1].endpoints.allSatisfy(\.ready) && !kept[0].endpoints.contains(where: \.terminating))
    }

    @Test("a selector-less service's hand-written Endpoints are mirrored into slices, follow their edits, stop at skip-mirror, and go with the service")
    func mirroring() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let service: JSON = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                                 "spec": ["ports": [["name": "http", "port": 80, "targetPort": 8080]]]]
            #expect(try await server.call(.post, ServiceAPITests.services, json: service).status == 201)
            var endpoints: JSON = ["apiVersion": "v1", "kind": "Endpoints", "metadata": ["name": "web", "labels": ["team": "a"]],
                                   "subsets": [["addresses": [["ip": "192.0.2.10"], ["ip": "192.0.2.11", "nodeName": "n1"]],
                                                "notReadyAddresses": [["ip": "192.0.2.12"]],
                                                "ports": [["name": "http", "port": 8080, "protocol": "TCP"]]]]]
            let created = try await server.call(.post, "/api/v1/namespaces/default/endpoints", json: endpoints)
            #expect(created.status == 201, "\(created.text)")
            let mirrored = try await Self.waitFor(server, Self.slices, seconds: 10) { Self.sliceSizes($0) == [3] }
            let slice = mirrored["items"]?.arrayValue?.first ?? .null
            #expect(slice[path: ["metadata", "labels", "endpointslice.kubernetes.io/managed-by"]] == "endpointslicemirroring-controller.k8s.io", "\(mirrored.text)")
            #expect(slice[path: ["metadata", "labels", "team"]] == "a")
            #expect(slice["ports"] == [["name": "http", "port": 8080, "protocol": "TCP"]])
            let ready = (slice["endpoints"]?.arrayValue ?? []).map { ($0["addresses"]?.arrayValue?.first?.stringValue ?? "", $0[path: ["conditions", "ready"]]?.boolValue ?? true) }
            #expect(ready.map(\.0) == ["192.0.2.10", "192.0.2.11", "192.0.2.12"] && ready.map(\.1) == [true, true, false], "\(slice.text)")
            // The controller did not rewrite the owner's Endpoints.
            let stored = try await server.call(.get, "/api/v1/namespaces/default/endpoints/web").json
            #expect(Self.addresses(stored) == 3 && ObjectMeta.labels(of: stored)["team"] == "a")

            endpoints = stored
            endpoints["subsets"] = [["addresses": [["ip": "192.0.2.20"]], "ports": [["name": "http", "port": 9090, "protocol": "TCP"]]]]
            #expect(try await server.call(.put, "/api/v1/namespaces/default/endpoints/web", json: endpoints).status == 200)
            let edited = try await Self.waitFor(server, Self.slices, seconds: 10) {
                $0["items"]?.arrayValue?.first?["ports"] == [["name": "http", "port": 9090, "protocol": "TCP"]]
            }
            #expect(Self.sliceSizes(edited) == [1], "\(edited.text)")

            let optOut: JSON = ["metadata": ["labels": ["endpointslice.kubernetes.io/skip-mirror": "true"]]]
            #expect(try await server.call(.patch, "/api/v1/namespaces/default/endpoints/web", json: optOut, contentType: "application/merge-patch+json").status == 200)
            let skipped = try await Self.waitFor(server, Self.slices, seconds: 10) { $0["items"]?.arrayValue?.isEmpty == true }
            #expect(skipped["items"]?.arrayValue?.isEmpty == true, "\(skipped.text)")

            let back: JSON = ["metadata": ["labels": ["endpointslice.kubernetes.io/skip-mirror": nil]]]
            #expect(try await server.call(.patch, "/api/v1/namespaces/default/endpoints/web", json: back, contentType: "application/merge-patch+json").status == 200)
            _ = try await Self.waitFor(server, Self.slices, seconds: 10) { Self.sliceSizes($0) == [1] }
            #expect(try await server.call(.delete, ServiceAPITests.services + "/web").status == 200)
            let gone = try await Self.waitFor(server, Self.slices, seconds: 10) { $0["items"]?.arrayValue?.isEmpty == true }
            #expect(gone["items"]?.arrayValue?.isEmpty == true, "\(gone.text)")
        }
    }

    @Test("the kubernetes service: 10.96.0.1:443 towards the server's address and port, left alone by the endpoints controller, put back when changed")
    func kubernetesService() async throws {
        // The wildcard: an address other hosts can dial (this machine has one besides loopback).
        let wildcard = KubernetesService.endpointAddress(listeningOn: "0.0.0.0")
        #expect(wildcard != nil && wildcard == KubernetesService.firstHostAddress() && wildcard.map { $0.value >> 24 != 127 } == true, "\(String(describing: wildcard))")
        #expect(KubernetesService.endpointAddress(listeningOn: "localhost") == IPv4Address(127, 0, 0, 1))
        #expect(KubernetesService.endpointAddress(listeningOn: "10.1.2.3") == IPv4Address(10, 1, 2, 3))
        #expect(KubernetesService.endpointAddress(listeningOn: "::1") == nil)
        try await InProcessServer.with(scheduler: false) { server in
            let logger = Logger(label: "test")
            let address = try #require(IPv4Address("127.0.0.1"))
            await KubernetesService.ensure(client: server.stack.cluster, clusterIP: IPv4Address("10.96.0.1"), address: address, port: 6443, logger: logger)
            let service = try await server.call(.get, ServiceAPITests.services + "/kubernetes").json
            #expect(service[path: ["spec", "clusterIP"]] == "10.96.0.1", "\(service.text)")
            #expect(service[path: ["spec", "ports"]] == [["name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443]], "\(service.text)")
            let endpoints = try await server.call(.get, "/api/v1/namespaces/default/endpoints/kubernetes").json
            #expect(endpoints["subsets"] == [["addresses": [["ip": "127.0.0.1"]], "ports": [["name": "https", "port": 6443, "protocol": "TCP"]]]], "\(endpoints.text)")
            let slicePath = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
            let slice = try await server.call(.get, slicePath + "/kubernetes")
            #expect(slice.status == 200, "\(slice.text)")
            #expect(slice.json[path: ["metadata", "labels", "endpointslice.kubernetes.io/managed-by"]] == "kube9-apiserver")
            #expect(slice.json["ports"] == [["name": "https", "port": 6443, "protocol": "TCP"]])

            // The endpoints controller writes nothing for it (the service has no selector).
            try await Task.sleep(for: .milliseconds(300))
            let all = try await server.call(.get, slicePath).json
            #expect((all["items"]?.arrayValue ?? []).map { ObjectMeta.name(of: $0) } == ["kubernetes"], "\(all.text)")

            // Changed by hand, or the server moved: the next ensure puts it right.
            var edited = endpoints
            edited["subsets"] = [["addresses": [["ip": "10.9.9.9"]], "ports": [["port": 1, "protocol": "TCP"]]]]
            #expect(try await server.call(.put, "/api/v1/namespaces/default/endpoints/kubernetes", json: edited).status == 200)
            await KubernetesService.ensure(client: server.stack.cluster, clusterIP: IPv4Address("10.96.0.1"), address: address, port: 7443, logger: logger)
            let moved = try await server.call(.get, "/api/v1/namespaces/default/endpoints/kubernetes").json
            #expect(moved["subsets"] == [["addresses": [["ip": "127.0.0.1"]], "ports": [["name": "https", "port": 7443, "protocol": "TCP"]]]], "\(moved.text)")
            let movedSlice = try await server.call(.get, slicePath + "/kubernetes").json
            #expect(movedSlice["ports"] == [["name": "https", "port": 7443, "protocol": "TCP"]])
            let movedService = try await server.call(.get, ServiceAPITests.services + "/kubernetes").json
            #expect(movedService[path: ["spec", "ports"]]?.arrayValue?.first?["targetPort"] == 7443, "\(movedService.text)")
        }
    }
}
