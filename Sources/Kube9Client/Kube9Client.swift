import Dispatch
import Foundation
import Kube9Model
import Synchronization

/// A thread-safe API client: a pool of keep-alive connections, each request run on a
/// background thread so async callers never block the cooperative pool.
public final class Kube9Client: Sendable {
    /// Scheme, host and port of the API server.
    public let baseURL: String
    private let idle = Mutex<[HTTPConnection]>([])
    private static let queue = DispatchQueue(label: "kube9.client", attributes: .concurrent)

    public init(baseURL: String) {
        self.baseURL = baseURL
    }

    /// Reads the `server:` of the current cluster from a kubeconfig written by `kube9 server`.
    public static func serverURL(kubeconfigPath: String) throws -> String {
        guard let text = try? String(contentsOfFile: kubeconfigPath, encoding: .utf8) else {
            throw ClientError("cannot read kubeconfig \(kubeconfigPath)")
        }
        for line in text.split(separator: "\n") {
            let trimmed = String(line).trimmingSpaces
            if trimmed.hasPrefix("server:") { return String(trimmed.dropFirst("server:".count)).trimmingSpaces }
        }
        throw ClientError("kubeconfig \(kubeconfigPath) names no server")
    }

    /// Idle connections kept for reuse; more are closed when they come back.
    public static let maximumIdle = 16

    /// Runs `body` with a pooled connection on the calling thread (blocking).
    public func withConnection<T>(_ body: (HTTPConnection) throws -> T) throws -> T {
        let connection = try idle.withLock { $0.popLast() } ?? HTTPConnection(baseURL: baseURL)
        defer {
            let extra: HTTPConnection? = idle.withLock { pool in
                if pool.count < Self.maximumIdle { pool.append(connection); return nil }
                return connection
            }
            _ = extra  // released here, outside the lock
        }
        return try body(connection)
    }

    /// Sends a request on a background thread.
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
                        accept: String = "application/json") async throws -> HTTPReply {
        try await withCheckedThrowingContinuation { continuation in
            Self.queue.async {
                continuation.resume(with: Result {
                    try self.withConnection { try $0.request(method, path, body: body, contentType: contentType, accept: accept) }
                })
            }
        }
    }

    /// Sends a JSON body.
    public func request(_ method: String, _ path: String, json: JSON, contentType: String = "application/json") async throws -> HTTPReply {
        try await request(method, path, body: json.serialized(), contentType: contentType)
    }
}
