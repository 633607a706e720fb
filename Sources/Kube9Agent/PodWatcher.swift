import Foundation
import Kube9Client
import Kube9Model
import Logging
import Synchronization

/// A cache of pods bound to nodes, kept by a list and then a watch (relisting when the watch
/// ends or expires). One watcher can serve many simulated nodes: pods are kept per node.
///
/// ```
/// GET pods?fieldSelector=…  ─▶ cache ─▶ onChange(node)
/// GET pods?watch=1&resourceVersion=RV ─▶ ADDED/MODIFIED/DELETED ─▶ cache ─▶ onChange(node)
/// ```
public final class PodWatcher: Sendable {
    let serverURL: String
    /// The field selector of the list and watch (e.g. spec.nodeName=n1), or nil for all pods.
    let fieldSelector: String?
    let logger: Logger
    private let pods = Mutex<[String: [String: JSON]]>([:])
    private let synced = Atomic<Bool>(false)
    private let running = Atomic<Bool>(true)
    private let onChange: @Sendable (String) -> Void

    public init(serverURL: String, fieldSelector: String?, logger: Logger, onChange: @escaping @Sendable (String) -> Void) {
        self.serverURL = serverURL
        self.fieldSelector = fieldSelector
        self.logger = logger
        self.onChange = onChange
    }

    /// True once the first list arrived (before that, no container may be called an orphan).
    public var hasSynced: Bool { synced.load(ordering: .acquiring) }

    /// The pods bound to `node`, by uid.
    public func pods(on node: String) -> [String: JSON] { pods.withLock { $0[node] ?? [:] } }

    /// The pod of that namespace and name on `node`.
    public func pod(on node: String, namespace: String, name: String) -> JSON? {
        pods(on: node).values.first { ObjectMeta.namespace(of: $0) == namespace && ObjectMeta.name(of: $0) == name }
    }

    public func stop() { running.store(false, ordering: .releasing) }

    /// Starts the list-and-watch loop on a thread of its own.
    public func start() {
        let thread = Thread { [self] in loop() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    func query(_ extra: String) -> String {
        var parts = [extra]
        if let fieldSelector { parts.append("fieldSelector=" + (fieldSelector.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? fieldSelector)) }
        return "/api/v1/pods?" + parts.filter { !$0.isEmpty }.joined(separator: "&")
    }

    func loop() {
        while running.load(ordering: .acquiring) {
            do {
                let connection = try HTTPConnection(baseURL: serverURL)
                let revision = try list(connection)
                try watch(connection, from: revision)
            } catch {
                logger.warning("pod watch interrupted", metadata: ["error": "\(error)"])
            }
            if running.load(ordering: .acquiring) { usleep(500_000) }
        }
    }

    func list(_ connection: HTTPConnection) throws -> String {
        let reply = try connection.request("GET", query(""))
        guard reply.status == 200 else { throw ClientError("listing pods: HTTP \(reply.status) \(reply.text)") }
        let body = try reply.json()
        var fresh: [String: [String: JSON]] = [:]
        for pod in body["items"]?.arrayValue ?? [] {
            guard let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty else { continue }
            fresh[node, default: [:]][ObjectMeta.uid(of: pod)] = pod
        }
        let changed = pods.withLock { current -> Set<String> in
            let nodes = Set(current.keys).union(fresh.keys)
            current = fresh
            return nodes
        }
        synced.store(true, ordering: .releasing)
        for node in changed { onChange(node) }
        return body[path: ["metadata", "resourceVersion"]]?.stringValue ?? "0"
    }

    func watch(_ connection: HTTPConnection, from revision: String) throws {
        try connection.stream(query("watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=\(revision)")) { [self] line in
            guard running.load(ordering: .acquiring) else { return false }
            guard let event = try? JSON.parse(Array(line)), let type = event["type"]?.stringValue, let pod = event["object"] else { return true }
            switch type {
            case "ADDED", "MODIFIED", "DELETED":
                apply(type, pod)
                return true
            case "ERROR":
                return false
            default:
                return true
            }
        }
    }

    func apply(_ type: String, _ pod: JSON) {
        let uid = ObjectMeta.uid(of: pod)
        let node = pod[path: ["spec", "nodeName"]]?.stringValue ?? ""
        pods.withLock { all in
            if type == "DELETED" || node.isEmpty {
                for key in all.keys { all[key]?.removeValue(forKey: uid) }
            } else {
                all[node, default: [:]][uid] = pod
            }
        }
        if !node.isEmpty { onChange(node) }
    }
}
