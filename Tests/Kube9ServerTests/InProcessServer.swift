import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Kube9Model
@testable import Kube9Server
import Logging
import NIOCore

/// A whole control plane in the test process (store in a temporary directory, built-in
/// policies, controllers, scheduler), driven through Hummingbird's router test client: API
/// semantics tested in-process, fast, with no socket.
struct InProcessServer {
    let client: any TestClientProtocol
    let stack: ServerStack

    /// A reply: status, headers, body.
    struct Reply {
        var status: Int
        var headers: HTTPFields
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSON { (try? JSON.parse(body)) ?? .null }
    }

    static var policiesDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("policies").path
    }

    /// Runs `body` against a fresh server (or one on `dataDirectory`, to test a restart).
    static func with<T>(dataDirectory: String? = nil, scheduler: Bool = true, timing: ClusterTiming = .defaults,
                        recoveryInterval: Duration = .seconds(15), serviceRanges: ServiceAllocator.Ranges = .defaults,
                        autoscalerSyncPeriod: Duration = .seconds(15),
                        _ body: @Sendable (InProcessServer) async throws -> T) async throws -> T {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("kube9-test-\(UUID().uuidString)").path
        var configuration = ServerConfiguration(dataDirectory: directory, policyDirectories: [policiesDirectory])
        configuration.runScheduler = scheduler
        configuration.timing = timing
        configuration.v0RecoveryInterval = recoveryInterval
        configuration.serviceRanges = serviceRanges
        configuration.autoscalerSyncPeriod = autoscalerSyncPeriod
        var logger = Logger(label: "kube9.test")
        logger.logLevel = .error
        let stack = try await ServerStack.start(configuration: configuration, logger: logger)
        let app = Application(responder: stack.handler)
        do {
            let result = try await app.test(.router) { client in try await body(InProcessServer(client: client, stack: stack)) }
            await stack.shutdown()
            return result
        } catch {
            await stack.shutdown()
            throw error
        }
    }

    /// One request.
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, _ body: [UInt8]? = nil, contentType: String = "application/json",
              headers extra: [(String, String)] = []) async throws -> Reply {
        var headers = HTTPFields()
        if body != nil { headers[.contentType] = contentType }
        for (name, value) in extra { if let field = HTTPField.Name(name) { headers[field] = value } }
        return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }) { response in
            Reply(status: Int(response.status.code), headers: response.headers, body: Array(buffer: response.body))
        }
    }

    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, json: JSON, contentType: String = "application/json") async throws -> Reply {
        try await call(method, path, json.serialized(), contentType: contentType)
    }

    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, text: String, contentType: String = "application/json") async throws -> Reply {
        try await call(method, path, Array(text.utf8), contentType: contentType)
    }
}

/// A minimal valid pod.
func podJSON(_ name: String, image: String = "busybox:1.36", resources: JSON? = nil) -> JSON {
    var container: JSON = ["name": "c", "image": .string(image)]
    if let resources { container["resources"] = resources }
    return ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name)], "spec": ["containers": [container]]]
}
