import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// Kubernetes object semantics through the real server: subresources, deletion, dry runs, bookmarks.
@Suite("API semantics")
struct APISemanticsTests {
    let pods = "/api/v1/namespaces/default/pods"

    @Test("status writes change only status; main writes keep status; generation follows the spec")
    func statusSubresource() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        let created = try await client.request("POST", pods, json: podBody("s"))
        #expect(try created.json()[path: ["metadata", "generation"]] == 1)
        let statusPatch: JSON = ["status": ["phase": "Running", "podIP": "10.0.0.5"], "metadata": ["labels": ["sneaky": "yes"]]]
        let patched = try await client.request("PATCH", pods + "/s/status", json: statusPatch, contentType: "application/merge-patch+json")
        #expect(patched.status == 200, "\(patched.text)")
        let afterStatus = try patched.json()
        #expect(afterStatus[path: ["status", "phase"]] == "Running")
        #expect(afterStatus[path: ["metadata", "labels", "sneaky"]] == nil)
        let mainPatch: JSON = ["status": ["phase": "Failed"], "metadata": ["labels": ["kept": "yes"]]]
        let main = try await client.request("PATCH", pods + "/s", json: mainPatch, contentType: "application/merge-patch+json")
        let afterMain = try main.json()
        #expect(afterMain[path: ["status", "phase"]] == "Running")
        #expect(afterMain[path: ["metadata", "labels", "kept"]] == "yes")
        #expect(afterMain[path: ["metadata", "generation"]] == 1)
        let image: JSON = ["spec": ["containers": [["name": "c", "image": "busybox:1.36"]]]]
        let imaged = try await client.request("PATCH", pods + "/s", json: image, contentType: "application/strategic-merge-patch+json")
        #expect(try imaged.json()[path: ["metadata", "generation"]] == 2)
        let noop = try await client.request("PATCH", pods + "/s", json: image, contentType: "application/strategic-merge-patch+json")
        #expect(ObjectMeta.resourceVersion(of: try noop.json()) == ObjectMeta.resourceVersion(of: try imaged.json()), "a no-op write makes no revision")
    }

    @Test("binding assigns a node once; a bound pod is deleted gracefully")
    func bindingAndGracefulDelete() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        _ = try await client.request("POST", pods, json: podBody("b"))
        let binding: JSON = ["apiVersion": "v1", "kind": "Binding", "metadata": ["name": "b"], "target": ["kind": "Node", "name": "n1"]]
        let bound = try await client.request("POST", pods + "/b/binding", json: binding)
        #expect(bound.status == 201, "\(bound.text)")
        let again = try await client.request("POST", pods + "/b/binding", json: binding)
        #expect(again.status == 409)
        let pod = try await client.request("GET", pods + "/b").json()
        #expect(pod[path: ["spec", "nodeName"]] == "n1")
        let conditions = pod[path: ["status", "conditions"]]?.arrayValue ?? []
        #expect(conditions.contains { $0["type"] == "PodScheduled" && $0["status"] == "True" })
        let deleting = try await client.request("DELETE", pods + "/b")
        #expect(deleting.status == 200)
        let marked = try deleting.json()
        #expect(marked[path: ["metadata", "deletionTimestamp"]]?.stringValue != nil)
        #expect(marked[path: ["metadata", "deletionGracePeriodSeconds"]] == 30)
        #expect(try await client.request("GET", pods + "/b").status == 200, "a bound pod waits for its node")
        let table = try server.kubectl("get", "pod", "b")
        #expect(table.stdout.contains("Terminating"))
        let forced = try await client.request("DELETE", pods + "/b?gracePeriodSeconds=0")
        #expect(forced.status == 200)
        #expect(try await client.request("GET", pods + "/b").status == 404)
    }

    @Test("finalizers hold a delete until they are removed")
    func finalizers() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        var body = podBody("f")
        body[path: ["metadata", "finalizers"]] = ["example.com/hold"]
        _ = try await client.request("POST", pods, json: body)
        let deleting = try await client.request("DELETE", pods + "/f")
        #expect(try deleting.json()[path: ["metadata", "deletionTimestamp"]]?.stringValue != nil)
        #expect(try await client.request("GET", pods + "/f").status == 200)
        let added = try await client.request("PATCH", pods + "/f", json: ["metadata": ["finalizers": ["example.com/hold", "example.com/more"]]],
                                             contentType: "application/merge-patch+json")
        #expect(added.status == 422, "no new finalizers while deleting")
        let released = try await client.request("PATCH", pods + "/f", json: ["metadata": ["finalizers": nil]], contentType: "application/merge-patch+json")
        #expect(released.status == 200, "\(released.text)")
        #expect(try await client.request("GET", pods + "/f").status == 404)
    }

    @Test("dry runs validate and answer without storing")
    func dryRun() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        let before = try await client.request("GET", pods).json()[path: ["metadata", "resourceVersion"]]
        let created = try await client.request("POST", pods + "?dryRun=All", json: podBody("dry"))
        #expect(created.status == 201)
        #expect(try created.json()[path: ["metadata", "uid"]]?.stringValue != nil)
        #expect(try await client.request("GET", pods + "/dry").status == 404)
        let after = try await client.request("GET", pods).json()[path: ["metadata", "resourceVersion"]]
        #expect(before == after)
    }

    @Test("deletecollection removes what the selector picks")
    func deleteCollection() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        for (name, app) in [("a", "x"), ("b", "x"), ("c", "y")] {
            _ = try await client.request("POST", pods, json: podBody(name, labels: ["app": .string(app)]))
        }
        let deleted = try await client.request("DELETE", pods + "?labelSelector=app%3Dx")
        #expect(deleted.status == 200)
        #expect(try deleted.json()["items"]?.arrayValue?.count == 2)
        let left = try await client.request("GET", pods).json()["items"]?.arrayValue?.map { ObjectMeta.name(of: $0) }
        #expect(left == ["c"])
    }

    @Test("watches that ask for bookmarks get them")
    func bookmarks() throws {
        let server = try ServerProcess(extraArguments: ["--bookmark-interval", "1"])
        defer { server.destroy() }
        var types: [String] = []
        let status = try server.connection().stream(pods + "?watch=1&allowWatchBookmarks=true&resourceVersion=1&timeoutSeconds=5") { line in
            let event = try? JSON.parse(line)
            if let type = event?["type"]?.stringValue { types.append(type) }
            return !types.contains("BOOKMARK")
        }
        #expect(status == 200)
        #expect(types.contains("BOOKMARK"))
    }

    @Test("events and leases are served; events select by involvedObject")
    func eventsAndLeases() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        let event: JSON = ["apiVersion": "v1", "kind": "Event", "metadata": ["name": "e1"],
                           "involvedObject": ["kind": "Pod", "name": "p1", "namespace": "default"],
                           "reason": "Scheduled", "message": "assigned", "type": "Normal"]
        #expect(try await client.request("POST", "/api/v1/namespaces/default/events", json: event).status == 201)
        let selected = try await client.request("GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dp1")
        #expect(try selected.json()["items"]?.arrayValue?.count == 1)
        let lease: JSON = ["apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": ["name": "n1"],
                           "spec": ["holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": .string(Timestamp.now())]]
        let createdLease = try await client.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", json: lease)
        #expect(createdLease.status == 201, "\(createdLease.text)")
        let leases = try server.kubectl("get", "leases", "-n", "kube-node-lease")
        #expect(leases.stdout.contains("n1     n1"))
    }

    /// Regression: Hummingbird kept HTTP/1.0 connections open after the response, so a client
    /// reading to the end of the stream (the kubernetes service test through the proxy) hung.
    @Test("an HTTP/1.0 request without keep-alive gets its reply and the end of the stream; with keep-alive the connection stays")
    func http10() throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let address = try #require(URL(string: server.url))
        let port = try #require(address.port)
        let started = Date()
        #expect(ServiceClient.get("127.0.0.1", port, path: "/version")?.contains("gitVersion") == true)
        #expect(Date().timeIntervalSince(started) < 2, "the server did not close the HTTP/1.0 connection")
        // Keep-alive asked for: two requests on one connection.
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var remote = ServiceClient.address("127.0.0.1", port)
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(connected == 0)
        var replies = 0
        for _ in 0..<2 {
            let request = Array("GET /version HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n".utf8)
            #expect(send(descriptor, request, request.count, 0) == request.count)
            // One reply: read until its JSON body has ended (it may come in several segments).
            var reply = ""
            var buffer = [UInt8](repeating: 0, count: 4096)
            for _ in 0..<20 where !(reply.contains("200 OK") && reply.hasSuffix("}")) {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count <= 0 { break }
                reply += String(decoding: buffer.prefix(count), as: UTF8.self)
            }
            if reply.contains("200 OK") && reply.hasSuffix("}") { replies += 1 }
        }
        #expect(replies == 2)
    }

    @Test("--log-format json writes one JSON object per line with request fields at debug")
    func jsonLogs() async throws {
        let server = try ServerProcess(extraArguments: ["--log-format", "json", "--log-level", "debug"])
        defer { server.destroy() }
        _ = try await server.client().request("GET", "/api/v1/namespaces")
        usleep(100_000)
        let lines = server.log().split(separator: "\n")
        let requests = lines.compactMap { try? JSON.parse(String($0)) }.filter { $0["msg"] == "request" }
        #expect(!requests.isEmpty)
        let line = requests.first { $0["path"] == "/api/v1/namespaces" }
        #expect(line?["method"] == "GET")
        #expect(line?["status"] == "200")
        #expect(line?["durationMs"] != nil)
    }
}
