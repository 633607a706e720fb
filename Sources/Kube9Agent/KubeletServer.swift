import Foundation
import Hummingbird
import Kube9Client
import Kube9Model
import Kube9Runtime
import Kube9Threads
import Logging
import NIOCore
import Synchronization

/// The node's kubelet endpoint, which the API server proxies to: container logs (with follow,
/// tail and previous) and the stats summary.
///
/// ```
/// kubectl logs ─▶ API server pods/log ─▶ GET /containerLogs/NS/POD/CONTAINER ─▶ runtime.logs
/// kubectl get --raw /api/v1/nodes/N/proxy/stats/summary ─▶ GET /stats/summary
/// ```
/// Runtime calls block (the Docker Engine API over libcurl, files of the process runtime), so
/// they run on `KubeletServer.workers`, never on the cooperative pool; at most 64 log streams
/// follow at once.
public enum KubeletServer {
    static let workers = WorkerThreads(threads: 4, name: "kube9-kubelet", stackSize: 512 << 10)
    static let maximumStreams = 64
    static let activeStreams = Atomic<Int>(0)

    /// Serves `agent` on host:port (0 picks one) until cancelled; `onListening` gets the port.
    public static func run(agent: NodeAgent, host: String, port: Int, logger: Logger,
                           onListening: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router()
        router.get("/healthz") { _, _ in "ok" }
        router.get("/stats/summary") { _, _ -> Response in
            json(200, await workers.run { () -> JSON in agent.statsSummary() })
        }
        router.get("/containerLogs/:namespace/:pod/:container") { request, context -> Response in
            let namespace = context.parameters.get("namespace") ?? ""
            let pod = context.parameters.get("pod") ?? ""
            let container = context.parameters.get("container") ?? ""
            let query = request.uri.queryParameters
            let follow = ["true", "1"].contains(query.get("follow") ?? "")
            let previous = ["true", "1"].contains(query.get("previous") ?? "")
            let tail = query.get("tailLines").flatMap { Int($0) }
            let found: Result<String, RuntimeError> = await workers.run { () -> Result<String, RuntimeError> in
                do {
                    return .success(try agent.containerID(namespace: namespace, pod: pod, container: container, previous: previous))
                } catch let error as RuntimeError {
                    return .failure(error)
                } catch {
                    return .failure(RuntimeError.notFound(id: "\(error)"))
                }
            }
            let id: String
            switch found {
            case .success(let value): id = value
            case .failure(let error):
                return json(404, ["kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                                  "message": .string("\(error)")])
            }
            let active = activeStreams.wrappingAdd(1, ordering: .relaxed).newValue
            guard active <= maximumStreams else {
                activeStreams.wrappingSubtract(1, ordering: .relaxed)
                return json(429, ["kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "TooManyRequests", "code": 429,
                                  "message": "too many log streams at once on this node"])
            }
            let runtime = agent.runtime
            let body = ResponseBody { writer in
                defer { activeStreams.wrappingSubtract(1, ordering: .relaxed) }
                let chunks = blockingByteStream { sink in
                    do {
                        try runtime.logs(id: id, tailLines: tail, follow: follow, sink: sink)
                    } catch {
                        _ = sink(Array("error reading logs: \(error)\n".utf8))
                    }
                }
                for await chunk in chunks {
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                try await writer.finish(nil)
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain"
            return Response(status: .ok, headers: headers, body: body)
        }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "kube9-agent"),
                              onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
    }

    static func json(_ code: Int, _ object: JSON) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .init(code: code), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: object.serialized())))
    }
}
