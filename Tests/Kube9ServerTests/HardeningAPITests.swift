import Foundation
import HTTPTypes
import Kube9Model
@testable import Kube9Server
import Testing

/// K5: requests that used to crash or stall the server, each a named regression test run
/// in-process. Every one gets a 4xx naming what is wrong, and the server keeps serving.
@Suite("hardening: hostile requests get 4xx", .serialized)
struct HardeningAPITests {
    static let pods = "/api/v1/namespaces/default/pods"

    @Test("a Pod whose image is ':' is created (the defaulting force-unwrapped its tag)")
    func imageColon() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let reply = try await server.call(.post, Self.pods, json: podJSON("colon", image: ":"))
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.json[path: ["spec", "containers"]]?.arrayValue?.first?["imagePullPolicy"] == "Always")
            for image in [":", "a:", ":b", "x/:", "host:5000/", "busybox:1.36", "a/b:c@sha256:x"] {
                let named = try await server.call(.post, Self.pods, json: podJSON("i\(abs(image.hashValue) % 100000)", image: image))
                #expect(named.status == 201, "\(image): \(named.text)")
            }
            #expect(try await server.call(.get, "/healthz").status == 200)
        }
    }

    @Test("quantities too large to hold are 422 naming the field", arguments: [
        JSON.string("1e300"), .string("10000000000000000"), .double(1e300), .int(9_223_372_036_854_775_807), .string("9e30"), .string("1Ei"),
    ])
    func hugeQuantities(_ quantity: JSON) async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let reply = try await server.call(.post, Self.pods, json: podJSON("q", resources: ["requests": ["cpu": quantity]]))
            #expect(reply.status == 422, "\(reply.text)")
            #expect(reply.json[path: ["details", "causes"]]?.arrayValue?.first?["field"] == "spec.containers[0].resources.requests[cpu]")
            let node: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "n"], "status": ["capacity": ["memory": quantity]]]
            let nodeReply = try await server.call(.post, "/api/v1/nodes", json: node)
            #expect(nodeReply.status == 422, "\(nodeReply.text)")
        }
    }

    @Test("requests summed over many containers saturate instead of trapping (scheduler, tables, v0 listings)")
    func summedRequests() async throws {
        try await InProcessServer.with(scheduler: true) { server in
            let node: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "big"],
                              "status": ["capacity": ["cpu": "9e15", "memory": "1Pi", "pods": "110"], "conditions": [["type": "Ready", "status": "True"]]]]
            #expect(try await server.call(.post, "/api/v1/nodes", json: node).status == 201)
            var containers: [JSON] = []
            for index in 0..<40 {
                containers.append(["name": .string("c\(index)"), "image": "busybox", "resources": ["requests": ["cpu": "9e15", "memory": "7Pi"]]])
            }
            let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "sum"], "spec": ["containers": .array(containers)]]
            #expect(try await server.call(.post, Self.pods, json: pod).status == 201)
            var restarts = podJSON("restarts")
            restarts["status"] = ["containerStatuses": [["name": "a", "image": "b", "imageID": "", "ready": true, "restartCount": .int(.max)],
                                                        ["name": "c", "image": "b", "imageID": "", "ready": true, "restartCount": .int(.max)]]]
            #expect(try await server.call(.post, Self.pods, json: restarts).status == 201)
            _ = try await server.call(.put, "\(Self.pods)/restarts/status", json: restarts)
            try await Task.sleep(for: .milliseconds(300))
            let table = try await server.call(.get, Self.pods, headers: [("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")])
            #expect(table.status == 200)
            #expect(try await server.call(.get, "/nodes/").status == 200)
            #expect(try await server.call(.get, "/pods/").status == 200)
            #expect(try await server.call(.get, "/healthz").status == 200)
        }
    }

    @Test("a grace period near Int64.max is 400 (delete) or 422 (spec), not an overflow")
    func hugeGracePeriod() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            var pod = podJSON("g")
            pod[path: ["spec", "nodeName"]] = "somewhere"
            #expect(try await server.call(.post, Self.pods, json: pod).status == 201)
            let query = try await server.call(.delete, "\(Self.pods)/g?gracePeriodSeconds=9223372036854775807")
            #expect(query.status == 400, "\(query.text)")
            #expect(query.text.contains("gracePeriodSeconds"))
            let body = try await server.call(.delete, "\(Self.pods)/g", json: ["gracePeriodSeconds": .int(.max)])
            #expect(body.status == 400, "\(body.text)")
            let negative = try await server.call(.delete, "\(Self.pods)/g?gracePeriodSeconds=-9223372036854775808")
            #expect(negative.status == 400)
            var spec = podJSON("s")
            spec[path: ["spec", "terminationGracePeriodSeconds"]] = .int(.max)
            let created = try await server.call(.post, Self.pods, json: spec)
            #expect(created.status == 422)
            #expect(created.json[path: ["details", "causes"]]?.arrayValue?.first?["field"] == "spec.terminationGracePeriodSeconds")
            let ok = try await server.call(.delete, "\(Self.pods)/g?gracePeriodSeconds=2147483647")
            #expect(ok.status == 200, "\(ok.text)")
        }
    }

    @Test("protobuf bodies with long or lying varints are 400 naming the problem", arguments: [
        ([UInt8](repeating: 0xFF, count: 11) + [0x01], "longer than 10 bytes"),
        ([0x0A] + [UInt8](repeating: 0xFF, count: 9) + [0x01], "length exceeds message"),                       // a length of 2^64 - 1
        ([0x0A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "length exceeds message"),      // 2^63
        ([0x0A, 0x7F], "length exceeds message"),
        ([0x0F], "unsupported wire type 7"), ([0x0B], "unsupported wire type 3"), ([0x00, 0x00], "invalid field number"),
        ([0x08], "truncated varint"),
    ])
    func protobufVarints(_ payload: [UInt8], _ message: String) async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let reply = try await server.call(.post, "/api/v1/namespaces", [0x6B, 0x38, 0x73, 0x00] + payload,
                                              contentType: "application/vnd.kubernetes.protobuf")
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.text.contains(message), "\(reply.text)")
            #expect(try await server.call(.get, "/healthz").status == 200)
        }
    }

    @Test("a patch cannot make an object the server could not load again; restarts load every object")
    func unloadableObjects() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kube9-reload-\(UUID().uuidString)").path
        try await InProcessServer.with(dataDirectory: directory, scheduler: false) { server in
            #expect(try await server.call(.post, Self.pods, json: podJSON("deep")).status == 201)
            // The body nests 100 deep (the parser's limit); copying a value into itself makes the object deeper.
            let nested = String(repeating: "[", count: 97) + String(repeating: "]", count: 97)
            let patch = #"[{"op":"add","path":"/spec/x","value":{"y":\#(nested)}},{"op":"copy","from":"/spec/x","path":"/spec/x/z"}]"#
            let reply = try await server.call(.patch, "\(Self.pods)/deep", text: patch, contentType: "application/json-patch+json")
            #expect(reply.status == 422, "\(reply.text)")
            let merge = "{\"spec\":{\"a\":" + String(repeating: "{\"a\":", count: 97) + "1" + String(repeating: "}", count: 99)
            let merged = try await server.call(.patch, "\(Self.pods)/deep", text: merge, contentType: "application/merge-patch+json")
            #expect(merged.status == 422 || merged.status == 400, "\(merged.text)")
        }
        // The same data directory starts again with every object.
        try await InProcessServer.with(dataDirectory: directory, scheduler: false) { server in
            let reloaded = try await server.call(.get, "\(Self.pods)/deep")
            #expect(reloaded.status == 200)
        }
    }

    @Test("JSON patch copies cannot multiply memory; too many operations are refused")
    func patchCopies() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            var pod = podJSON("copies")
            pod[path: ["metadata", "annotations"]] = ["a": .string(String(repeating: "x", count: 100_000))]
            #expect(try await server.call(.post, Self.pods, json: pod).status == 201)
            // Each copy of the 100 kB annotation into the spec (which keeps unknown fields) adds 100 kB:
            // the 84th passes the 8 MiB a patch may add.
            let operations = (0..<100).map { index -> JSON in ["op": "copy", "from": "/metadata/annotations/a", "path": .string("/spec/x\(index)")] }
            let reply = try await server.call(.patch, "\(Self.pods)/copies", JSON.array(operations).serialized(), contentType: "application/json-patch+json")
            #expect(reply.status == 422, "\(reply.text.prefix(300))")
            #expect(reply.text.contains("json patch operations may add at most"), "\(reply.text.prefix(300))")
            let fewer: [JSON] = [["op": "copy", "from": "/metadata/annotations/a", "path": "/metadata/annotations/b"]]
            let accepted = try await server.call(.patch, "\(Self.pods)/copies", JSON.array(fewer).serialized(), contentType: "application/json-patch+json")
            #expect(accepted.status == 200, "one copy is fine: \(accepted.text.prefix(300))")
            let many = JSON.array((0..<10_001).map { _ in ["op": "test", "path": "/kind", "value": "Pod"] })
            let tooMany = try await server.call(.patch, "\(Self.pods)/copies", many.serialized(), contentType: "application/json-patch+json")
            #expect(tooMany.status == 422, "\(tooMany.text.prefix(300))")
            #expect(tooMany.text.contains("must have at most 10000 items"), "\(tooMany.text.prefix(300))")
            let limit = JSON.array((0..<10_000).map { _ in ["op": "test", "path": "/kind", "value": "Pod"] })
            #expect(try await server.call(.patch, "\(Self.pods)/copies", limit.serialized(), contentType: "application/json-patch+json").status == 200)
            #expect(try await server.call(.get, "/healthz").status == 200)
        }
    }

    @Test("strategic merge lists of 50,000 elements merge in linear time")
    func largeStrategicMerge() async throws {
        let elements = (0..<50_000).map { JSON.object(["name": .string("e\($0)"), "value": .int(Int64($0))]) }
        let order = (0..<50_000).reversed().map { JSON.object(["name": .string("e\($0)")]) }
        let target: JSON = ["spec": ["containers": .array(elements)]]
        let patch: JSON = ["spec": ["containers": .array(elements.map { var element = $0; element["value"] = 0; return element }),
                                    "$setElementOrder/containers": .array(order)]]
        let start = ContinuousClock.now
        let merged = try Patcher.strategicMerge(target, patch, mergeKeys: PodStrategy().mergeKeys)
        #expect(merged[path: ["spec", "containers"]]?.arrayValue?.first?["name"] == "e49999")
        #expect(ContinuousClock.now - start < .seconds(20), "quadratic merging took minutes before")
    }

    @Test("Status details list name, group, kind in Kubernetes' order")
    func statusDetailsOrder() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            let reply = try await server.call(.get, "/apis/coordination.k8s.io/v1/namespaces/default/leases/missing")
            #expect(reply.status == 404)
            #expect(reply.text.contains(#""details":{"name":"missing","group":"coordination.k8s.io","kind":"leases"}"#), "\(reply.text)")
            let invalid = try await server.call(.post, "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                                                json: ["metadata": ["name": "l"], "spec": ["leaseDurationSeconds": -1]])
            #expect(invalid.text.contains(#""details":{"name":"l","group":"coordination.k8s.io","kind":"Lease","causes":"#), "\(invalid.text)")
        }
    }

    @Test("fields of the wrong JSON type are 422 naming them; nodeInfo is filled as clients require")
    func typedFields() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            var pod = podJSON("typed")
            pod[path: ["spec", "containers"]] = [["name": "c", "image": "x", "ports": [["containerPort": "eighty"]]]]
            let reply = try await server.call(.post, Self.pods, json: pod)
            #expect(reply.status == 422)
            var status = podJSON("status-typed")
            #expect(try await server.call(.post, Self.pods, json: status).status == 201)
            status["status"] = ["containerStatuses": [["name": "c", "ready": "yes"]]]
            let written = try await server.call(.put, "\(Self.pods)/status-typed/status", json: status)
            #expect(written.status == 422, "\(written.text)")
            let fields = Set(written.json[path: ["details", "causes"]]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? [])
            #expect(fields.isSuperset(of: ["status.containerStatuses[0].ready", "status.containerStatuses[0].image", "status.containerStatuses[0].restartCount"]))
            let node: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "info"],
                              "status": ["nodeInfo": ["kubeletVersion": "v1"], "daemonEndpoints": ["kubeletEndpoint": .emptyObject]]]
            let created = try await server.call(.post, "/api/v1/nodes", json: node)
            #expect(created.status == 201, "\(created.text)")
            for field in NodeStrategy.nodeInfoFields { #expect(created.json[path: ["status", "nodeInfo", field]]?.stringValue != nil, "\(field)") }
            #expect(created.json[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]] == 0)
        }
    }

    @Test("watch timeoutSeconds: negative or past Int64 is 400; the cut to a year is the documented constant")
    func hugeWatchTimeout() async throws {
        #expect(APIHandler.maximumWatchSeconds == 365 * 24 * 3600)
        try await InProcessServer.with(scheduler: false) { server in
            let bad = try await server.call(.get, "\(Self.pods)?watch=1&timeoutSeconds=-1")
            #expect(bad.status == 400)
            let overflow = try await server.call(.get, "\(Self.pods)?watch=1&timeoutSeconds=99999999999999999999")
            #expect(overflow.status == 400)
        }
    }

    @Test("GET /api/v1/nodes/proxy is the node named proxy (the proxy route built a reversed range and trapped)")
    func nodeNamedProxy() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            for method in [HTTPRequest.Method.get, .delete, .put] {
                let reply = try await server.call(method, "/api/v1/nodes/proxy")
                #expect(reply.status == 404 || reply.status == 400, "\(method): \(reply.text)")
            }
            #expect(try await server.call(.get, "/api/v1/nodes/proxy/proxy").status == 404, "the node proxy is not found")
            #expect(try await server.call(.get, "/healthz").status == 200)
        }
    }

    @Test("a quantity exponent of Int.min is a 422, not an overflow", arguments: ["1e-9223372036854775808", "1e9223372036854775807", "1e+999", "1e-99999"])
    func quantityExponents(_ text: String) async throws {
        #expect(Quantity.parse(text) == nil)
        try await InProcessServer.with(scheduler: false) { server in
            let reply = try await server.call(.post, Self.pods, json: podJSON("e", resources: ["requests": ["cpu": .string(text)]]))
            #expect(reply.status == 422, "\(reply.text)")
        }
    }

    @Test("JSON patch copies that double the depth each time are refused before the document grows deep")
    func patchDepthDoubling() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            #expect(try await server.call(.post, "/api/v1/namespaces", json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "deep"]]).status == 201)
            // Each copy puts /x at its own deepest point: its depth doubles (1, 2, 4 … 2^18).
            var operations: [JSON] = [["op": "add", "path": "/x", "value": .emptyObject]]
            var depth = 1
            for _ in 0..<18 {
                operations.append(["op": "copy", "from": "/x", "path": .string("/x" + String(repeating: "/a", count: depth))])
                depth *= 2
            }
            let reply = try await server.call(.patch, "/api/v1/namespaces/deep", JSON.array(operations).serialized(), contentType: "application/json-patch+json")
            #expect(reply.status == 422, "\(reply.text.prefix(300))")
            // Refused by the depth check of the copy's result, not later by the length of a pointer.
            #expect(reply.text.contains("would nest deeper"), "\(reply.text.prefix(300))")
            #expect(try await server.call(.get, "/healthz").status == 200)
        }
    }
}
