import Foundation
import Hummingbird
import HTTPTypes
import Kube9Client
import Kube9Model
import NIOCore

/// Requests the API server passes on to a node's kubelet endpoint (the agent): pod logs and
/// `nodes/NAME/proxy/...`. The endpoint is the node's InternalIP and
/// `status.daemonEndpoints.kubeletEndpoint.Port`, as the agent registered them.
///
/// ```
/// GET pods/P/log?container=C&follow&tailLines&previous ─▶ http://IP:PORT/containerLogs/NS/P/C
/// GET nodes/N/proxy/PATH                               ─▶ http://IP:PORT/PATH
/// ```
struct NodeProxy {
    let registry: ObjectRegistry

    /// The base URL of the kubelet endpoint of `node`; a Status error when it has none.
    func endpoint(node: String) throws -> String {
        let object = try registry.get(NodeStrategy().type, namespace: "", name: node).object
        let addresses = object[path: ["status", "addresses"]]?.arrayValue ?? []
        let address = addresses.first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue
        guard let address, let port = object[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]]?.intValue, port > 0 else {
            throw APIError.badRequest("node \(node) serves no kubelet endpoint (its agent registered no daemonEndpoints.kubeletEndpoint.Port)")
        }
        return address.contains(":") ? "http://[\(address)]:\(port)" : "http://\(address):\(port)"
    }

    /// `pods/NAME/log`: the container's output through the node's agent; streamed when following.
    func logs(pod: JSON, query: [String: String]) throws -> Response {
        let name = ObjectMeta.name(of: pod)
        let namespace = ObjectMeta.namespace(of: pod)
        guard let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty else {
            throw APIError.badRequest("pod \(name) does not have a host assigned")
        }
        let names = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let container: String
        if let requested = query["container"], !requested.isEmpty {
            guard names.contains(requested) else {
                throw APIError.badRequest("container \(requested) is not valid for pod \(name)")
            }
            container = requested
        } else if names.count == 1 {
            container = names[0]
        } else {
            throw APIError.badRequest("a container name must be specified for pod \(name), choose one of: [\(names.joined(separator: " "))]")
        }
        var parameters: [String] = []
        if let tail = query["tailLines"], !tail.isEmpty {
            guard let lines = Int(tail), lines >= 0 else { throw APIError.badRequest("tailLines must be a non-negative integer, got \"\(tail)\"") }
            parameters.append("tailLines=\(lines)")
        }
        let previous = APIHandler.isTrue(query["previous"])
        if previous { parameters.append("previous=true") }
        let base = try endpoint(node: node)
        let path = "/containerLogs/\(namespace)/\(name)/\(container)"
        let follow = APIHandler.isTrue(query["follow"])
        // A plain request first: it answers non-following reads and checks the container exists.
        let probeQuery = follow ? parameters.filter { !$0.hasPrefix("tailLines") } + ["tailLines=0"] : parameters
        let first = try fetch(base, path + "?" + probeQuery.joined(separator: "&"))
        guard first.status == 200 else { return relay(first) }
        guard follow else { return relay(first) }
        let url = path + "?" + (parameters + ["follow=true"]).joined(separator: "&")
        return stream(base, url)
    }

    /// `nodes/NAME/proxy/PATH` (GET): the agent's reply as it is.
    func proxy(node: String, path: String, rawQuery: String?) throws -> Response {
        let base = try endpoint(node: node)
        let target = (path.isEmpty ? "/" : path) + (rawQuery.map { $0.isEmpty ? "" : "?\($0)" } ?? "")
        return relay(try fetch(base, target))
    }

    func fetch(_ base: String, _ path: String) throws -> HTTPReply {
        do {
            let connection = try HTTPConnection(baseURL: base)
            connection.timeoutSeconds = 30
            return try connection.request("GET", path, accept: "*/*")
        } catch {
            throw APIError.unavailable("the node's agent at \(base) did not answer: \(error)")
        }
    }

    func relay(_ reply: HTTPReply) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = reply.headers["content-type"] ?? "text/plain"
        return Response(status: .init(code: reply.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    func stream(_ base: String, _ path: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain"
        let body = ResponseBody { writer in
            let chunks = blockingByteStream { sink in
                guard let connection = try? HTTPConnection(baseURL: base) else { return }
                _ = try? connection.streamChunks("GET", path) { chunk in sink(Array(chunk)) }
            }
            for await chunk in chunks {
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
