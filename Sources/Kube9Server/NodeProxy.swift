import Foundation
import Hummingbird
import HTTPTypes
import Kube9Client
import Kube9Model
import Kube9Threads
import NIOCore
import Synchronization

/// Requests the API server passes on to a node's kubelet endpoint (the agent): pod logs and
/// `nodes/NAME/proxy/...`. The endpoint is the node's InternalIP and
/// `status.daemonEndpoints.kubeletEndpoint.Port`, as the agent registered them.
///
/// ```
/// GET pods/P/log?container=C&follow&tailLines&previous ─▶ http://IP:PORT/containerLogs/NS/P/C
/// GET nodes/N/proxy/PATH                               ─▶ http://IP:PORT/PATH
/// ```
/// libcurl blocks, so every upstream request runs on `NodeProxy.threads` (16), never on the
/// cooperative pool: an agent that never answers holds one of those threads until its
/// timeout and delays nobody else. Every request kube9 sends carries `hopHeader`, and a
/// request that arrives with it is not proxied again, so a node whose endpoint is the server
/// itself cannot make the server call itself in a loop. Replies are capped at 16 MiB; at
/// most 64 log streams follow at once.
struct NodeProxy {
    let registry: ObjectRegistry

    /// Threads for upstream requests (each bounded by `timeoutSeconds`).
    static let threads = WorkerThreads(threads: 16, name: "kube9-proxy", stackSize: 512 << 10)
    /// The header marking a request the server sent to an agent.
    static let hopHeader = "X-Kube9-Proxied"
    /// The longest a non-streaming upstream request may take.
    static let timeoutSeconds = 30
    /// The largest reply relayed.
    static let maximumReplyBytes = 16 << 20
    /// Log streams that may follow at once.
    static let maximumStreams = 64
    static let activeStreams = Atomic<Int>(0)

    /// Refuses a request that came through a kube9 proxy already (a proxy loop).
    static func refuseLoop(_ request: Request) throws(APIError) {
        if let name = HTTPField.Name(hopHeader), request.headers[name] != nil {
            throw APIError.badRequest("proxy loop: this request was already proxied by a kube9 server; the node's kubelet endpoint points back at the API server")
        }
    }

    /// The base URL of the kubelet endpoint of `node`; a Status error when it has none.
    func endpoint(node: String) throws -> String {
        let object = try registry.get(NodeStrategy().type, namespace: "", name: node).object
        let addresses = object[path: ["status", "addresses"]]?.arrayValue ?? []
        let address = addresses.first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue
        guard let address, let port = object[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]]?.intValue, (1...65535).contains(port) else {
            throw APIError.badRequest("node \(node) serves no kubelet endpoint (its agent registered no daemonEndpoints.kubeletEndpoint.Port)")
        }
        guard !address.isEmpty, address.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "@") && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }) else {
            throw APIError.badRequest("node \(node) has an unusable InternalIP \(JSON.string(address).text)")
        }
        return address.contains(":") ? "http://[\(address)]:\(port)" : "http://\(address):\(port)"
    }

    /// `pods/NAME/log`: the container's output through the node's agent; streamed when following.
    func logs(pod: JSON, query: [String: String]) async throws -> Response {
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
        } else if names.count == 1, let only = names.first {
            container = only
        } else {
            throw APIError.badRequest("a container name must be specified for pod \(name), choose one of: [\(names.joined(separator: " "))]")
        }
        var parameters: [String] = []
        if let tail = query["tailLines"], !tail.isEmpty {
            guard let lines = Int64(tail), lines >= 0 else { throw APIError.badRequest("tailLines must be a non-negative integer, got \"\(tail)\"") }
            parameters.append("tailLines=\(lines)")
        }
        let previous = APIHandler.isTrue(query["previous"])
        if previous { parameters.append("previous=true") }
        let base = try endpoint(node: node)
        let path = "/containerLogs/\(Self.escape(namespace))/\(Self.escape(name))/\(Self.escape(container))"
        let follow = APIHandler.isTrue(query["follow"])
        // A plain request first: it answers non-following reads and checks the container exists.
        let probeQuery = follow ? parameters.filter { !$0.hasPrefix("tailLines") } + ["tailLines=0"] : parameters
        let first = try await fetch(base, path + "?" + probeQuery.joined(separator: "&"))
        guard first.status == 200 else { return relay(first) }
        guard follow else { return relay(first) }
        let url = path + "?" + (parameters + ["follow=true"]).joined(separator: "&")
        return try stream(base, url)
    }

    /// `nodes/NAME/proxy/PATH` (GET): the agent's reply as it is.
    func proxy(node: String, path: String, rawQuery: String?) async throws -> Response {
        let base = try endpoint(node: node)
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }),
              (rawQuery ?? "").utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            throw APIError.badRequest("the proxied path may hold only printable ASCII without spaces")
        }
        let target = (path.isEmpty ? "/" : path) + (rawQuery.map { $0.isEmpty ? "" : "?\($0)" } ?? "")
        return relay(try await fetch(base, target))
    }

    /// A path segment with everything but unreserved characters percent-encoded.
    static func escape(_ segment: String) -> String {
        var output = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.append(Character(Unicode.Scalar(byte)))
            default:
                output += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return output
    }

    /// One upstream GET on the proxy threads.
    func fetch(_ base: String, _ path: String) async throws -> HTTPReply {
        let result: Result<HTTPReply, APIError> = await Self.threads.run { () -> Result<HTTPReply, APIError> in
            do {
                let connection = try HTTPConnection(baseURL: base)
                connection.timeoutSeconds = Self.timeoutSeconds
                connection.maximumReplyBytes = Self.maximumReplyBytes
                return .success(try connection.request("GET", path, accept: "*/*", extraHeaders: ["\(Self.hopHeader): 1"]))
            } catch {
                return .failure(APIError.unavailable("the node's agent at \(base) did not answer: \(error)"))
            }
        }
        return try result.get()
    }

    func relay(_ reply: HTTPReply) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = reply.headers["content-type"] ?? "text/plain"
        let status = (100...599).contains(reply.status) ? reply.status : 502
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    func stream(_ base: String, _ path: String) throws -> Response {
        let active = Self.activeStreams.wrappingAdd(1, ordering: .relaxed).newValue
        guard active <= Self.maximumStreams else {
            Self.activeStreams.wrappingSubtract(1, ordering: .relaxed)
            throw APIError.tooManyRequests("too many log streams are following at once (at most \(Self.maximumStreams)); try again later")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain"
        let body = ResponseBody { writer in
            defer { Self.activeStreams.wrappingSubtract(1, ordering: .relaxed) }
            let chunks = blockingByteStream { sink in
                guard let connection = try? HTTPConnection(baseURL: base) else { return }
                _ = try? connection.streamChunks("GET", path, extraHeaders: ["\(Self.hopHeader): 1"]) { chunk in sink(Array(chunk)) }
            }
            for await chunk in chunks {
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
