import Kube9Controllers
import Kube9Model
import Kube9Policy
import Kube9Store
import Logging

/// The Kube-9 v0 API (the Python project kube9 succeeds), served exactly as Kube-9 serves it
/// (shared/kube9-v0-wire.md) and mapped onto real Node and Pod objects: Kube-9's clients and
/// its dashboard work unchanged, and everything they create is visible to kubectl.
///
/// ```
/// request ─▶ V0Wire.route ─▶ handler ─▶ V0Index (ids, usage: no scans) ─▶ ObjectRegistry
///                               │           V0Nodes (health state machine, heartbeats)
///                               │           V0Pods (create waits for the binding; runs v0 nodes' pods)
///                               └─▶ Kube-9's JSON shapes, status codes and HTML pages
/// ```
final class KubeNineV0: Sendable {
    let registry: ObjectRegistry
    let index: V0Index
    let nodes: V0Nodes
    let pods: V0Pods
    let logger: Logger

    static let nodeType = NodeStrategy().type
    static let podType = PodStrategy().type

    init(registry: ObjectRegistry, index: V0Index, nodes: V0Nodes, pods: V0Pods, logger: Logger) {
        self.registry = registry
        self.index = index
        self.nodes = nodes
        self.pods = pods
        self.logger = logger
    }

    /// The parts of a request a v0 handler reads.
    struct Request: Sendable {
        var method: String
        var route: V0Wire.Route
        var contentType: String?
        var host: String?
        var query: String?
        var body: @Sendable () async throws -> [UInt8]
    }

    /// Answers a v0 request.
    func handle(_ request: Request) async -> V0Wire.Reply {
        let route = request.route
        if case .notFound = route { return .notFound }
        let method = request.method == "HEAD" ? "GET" : request.method
        if case .redirect(let path) = route {
            let host = request.host ?? "127.0.0.1"
            let query = request.query.map { $0.isEmpty ? "" : "?\($0)" } ?? ""
            return .redirect(to: "http://\(host)\(path)\(query)")
        }
        if request.method == "OPTIONS" {
            // Flask answers OPTIONS itself, with the route's methods.
            return V0Wire.Reply(status: 200, contentType: "text/html; charset=utf-8", body: [],
                                headers: [("Allow", (route.methods + ["OPTIONS"]).sorted().joined(separator: ", "))])
        }
        guard route.methods.contains(request.method) else { return .methodNotAllowed(route.methods) }
        do {
            switch (route, method) {
            case (.root, _): return .text("Kube_9 API is running!")
            case (.testDatabase, _): return .text("Database Connected!")
            case (.nodes, "GET"): return .json(200, .array(allNodes().map(nodeItem)))
            case (.nodes, "POST"): return try await createNode(request)
            case (.nodesHealth, _): return .json(200, .array(allNodes().map(healthItem)))
            case (.node(let id), "GET"):
                guard let node = node(id) else { return .notFound }
                return .json(200, nodeDetail(node))
            case (.node(let id), "DELETE"): return try await deleteNode(id)
            case (.heartbeat(let id), _): return try await heartbeat(id, request)
            case (.simulateFailure(let id), _):
                guard let node = node(id) else { return .error(500, "Error simulating failure: \(V0Wire.notFoundText)") }
                let name = ObjectMeta.name(of: node)
                try await nodes.setState(name, health: "failed")
                return .json(200, ["message": .string("Node \(name) failure simulated")])
            case (.deregister(let id), _):
                guard let node = node(id) else { return .error(404, "Node not found") }
                let name = ObjectMeta.name(of: node)
                try await nodes.setState(name, health: "permanently_failed")
                return .json(200, ["message": .string("Node \(name) deregistered; its pods are being rescheduled")])
            case (.forceCleanup(let id), _):
                guard let node = node(id) else { return .error(500, "Error during force cleanup: \(V0Wire.notFoundText)") }
                guard V0Nodes.health(node) == "permanently_failed" else {
                    return .error(400, "Node \(ObjectMeta.name(of: node)) is not permanently failed; only permanently failed nodes can be cleaned up")
                }
                return .json(200, ["message": .string("Node \(ObjectMeta.name(of: node)) has no container left to remove: already cleaned up")])
            case (.pods, "GET"):
                let pods = registry.store.list(resource: "pods", namespace: nil).objects.map(\.object)
                    .sorted { (V0Index.annotatedID($0) ?? .max) < (V0Index.annotatedID($1) ?? .max) }
                return .json(200, .array(pods.map { podItem($0, detail: false) }))
            case (.pods, "POST"): return try await createPod(request)
            case (.pod(let id), "GET"):
                guard let pod = pod(id) else { return .notFound }
                return .json(200, podItem(pod, detail: true))
            case (.pod(let id), "DELETE"): return try await deletePod(id)
            case (.podHealth(let id), _):
                guard let pod = pod(id) else { return .notFound }
                return podHealth(pod)
            default:
                return .methodNotAllowed(route.methods)
            }
        } catch {
            let apiError = APIHandler.apiError(from: error)
            return .error(500, "Internal error: \(apiError.message)")
        }
    }

    // MARK: Lookups

    func node(_ text: String) -> JSON? {
        switch V0Wire.reference(text) {
        case .id(let id):
            // The index, never a scan: a lookup costs the same whatever the cluster's size.
            guard let key = index.key(.node, id: id) else { return nil }
            return registry.store.get(key)?.object
        case .name(let name):
            return try? registry.get(Self.nodeType, namespace: "", name: name).object
        case .invalid:
            return nil
        }
    }

    func pod(_ text: String) -> JSON? {
        switch V0Wire.reference(text) {
        case .id(let id):
            guard let key = index.key(.pod, id: id) else { return nil }
            return registry.store.get(key)?.object
        case .name(let name):
            return try? registry.get(Self.podType, namespace: "default", name: name).object
        case .invalid:
            return nil
        }
    }

    func allNodes() -> [JSON] {
        registry.store.list(resource: "nodes", namespace: nil).objects.map(\.object)
            .sorted { (V0Index.annotatedID($0) ?? .max) < (V0Index.annotatedID($1) ?? .max) }
    }

    static func id(_ object: JSON) -> JSON { V0Index.annotatedID(object).map(JSON.int) ?? .null }

    // MARK: Node shapes

    func nodeType(_ node: JSON) -> String { ObjectMeta.labels(of: node)[NodeStrategy.nodeTypeLabel] ?? "worker" }

    func cpu(_ node: JSON) -> (total: Int64, available: Int64, podIDs: [Int64]) {
        let total = SchedulerViews.allocatable(of: node).cpuMillis
        let usage = index.usage(of: ObjectMeta.name(of: node))
        return (total, total.saturatingSubtract(usage.cpuMillis), usage.podIDs)
    }

    func nodeItem(_ node: JSON) -> JSON {
        let (total, available, podIDs) = cpu(node)
        return [
            "id": Self.id(node), "name": .string(ObjectMeta.name(of: node)), "node_type": .string(nodeType(node)),
            "cpu_cores_total": V0Wire.cores(total), "cpu_cores_avail": V0Wire.cores(available),
            "health_status": .string(V0Nodes.health(node)), "hosted_pods": .int(Int64(podIDs.count)),
            "components": V0Nodes.components(node, includeMaster: true),
        ]
    }

    func healthItem(_ node: JSON) -> JSON {
        [
            "node_id": Self.id(node), "node_name": .string(ObjectMeta.name(of: node)), "node_type": .string(nodeType(node)),
            "health_status": .string(V0Nodes.health(node)), "pods_count": .int(Int64(cpu(node).podIDs.count)),
            "component_status": V0Nodes.components(node, includeMaster: true, controllerKey: "controller_manager"),
        ]
    }

    func address(_ node: JSON) -> String? {
        (node[path: ["status", "addresses"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue
    }

    func nodeDetail(_ node: JSON) -> JSON {
        let (total, available, podIDs) = cpu(node)
        let port = node[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]]?.intValue ?? 0
        let runtime = node[path: ["status", "nodeInfo", "containerRuntimeVersion"]]?.stringValue ?? ""
        let container: JSON = [
            "id": .null, "status": .string(runtime.hasPrefix("docker") && SchedulerViews.isReady(node) ? "running" : "unknown"),
            "ip": address(node).map(JSON.string) ?? .null, "port": .int(port),
        ]
        return [
            "id": Self.id(node), "name": .string(ObjectMeta.name(of: node)), "node_type": .string(nodeType(node)),
            "cpu_cores_total": V0Wire.cores(total), "cpu_cores_avail": V0Wire.cores(available),
            "health_status": .string(V0Nodes.health(node)), "last_heartbeat": nodes.lastHeartbeat(ObjectMeta.name(of: node)),
            "container": container, "pod_ids": .array(podIDs.map(JSON.int)),
            "components": V0Nodes.components(node, includeMaster: false),
        ]
    }
}
