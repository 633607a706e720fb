import HTTPTypes
import Hummingbird
import Kube9Controllers
import Kube9Model
import Kube9Policy
import Kube9Store
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The Kubernetes REST API over HTTP: routing, content negotiation, bodies, and the mapping
/// of every error to a `Status` response. The semantics live in `ObjectRegistry`.
///
/// ```
/// request ─▶ RequestPath.parse ─▶ verb handler ─▶ ObjectRegistry ─▶ Store
///                                      │                               │
///                                      └── JSON / Table / watch stream ◀┘
/// ```
/// Mutable facts about the running server, shared by all requests.
final class ServerState: Sendable {
    /// host:port the server is bound to (set once listening).
    let address = Mutex("127.0.0.1:6443")
    /// True once the server listens and the store is loaded.
    let ready = Mutex(false)
}

struct APIHandler: HTTPResponder {
    typealias Context = BasicRequestContext

    let registry: ObjectRegistry
    let catalog: ResourceCatalog
    let discovery: Discovery
    let openAPI: OpenAPIDocuments
    let logger: Logger
    let state: ServerState
    let policyHost: PolicyHost
    let heartbeats: HeartbeatService
    /// The agents' usage reports (metrics.k8s.io).
    let metrics: MetricsTable
    let kubeNine: KubeNineV0

    /// The longest a watch may be asked to last (`timeoutSeconds` above it is cut to it): a year.
    static let maximumWatchSeconds: Int64 = 365 * 24 * 3600

    /// Bodies above this many bytes get 413 (Kubernetes' own limit is 3 MiB).
    static let maximumBodyBytes = 3 * 1024 * 1024
    /// A larger body is not read to its end before answering 413.
    static let maximumDrainBytes = 64 * 1024 * 1024

    var store: any Store { registry.store }

    init(registry: ObjectRegistry, policyHost: PolicyHost, heartbeats: HeartbeatService, kubeNine: KubeNineV0, metrics: MetricsTable = MetricsTable(), logger: Logger) {
        self.metrics = metrics
        self.registry = registry
        self.policyHost = policyHost
        self.heartbeats = heartbeats
        self.kubeNine = kubeNine
        self.catalog = registry.catalog
        self.discovery = Discovery(catalog: registry.catalog)
        self.openAPI = OpenAPIDocuments(catalog: registry.catalog)
        self.logger = logger
        self.state = ServerState()
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await route(request)
        } catch {
            response = Self.errorResponse(Self.apiError(from: error))
        }
        if logger.logLevel <= .debug {
            let elapsed = ContinuousClock.now - start
            let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
            logger.debug("request", metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.string)",
                "status": "\(response.status.code)", "durationMs": "\(Double(Int(milliseconds * 1000)) / 1000)",
            ])
        }
        return response
    }

    /// Maps any thrown error to the API error it stands for. The one place errors become HTTP.
    static func apiError(from error: any Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as StoreError:
            switch error {
            case .compacted(let requested, let oldest): return .expired("too old resource version: \(requested) (\(oldest))")
            case .closed: return .unavailable("the server is shutting down")
            case .database(let message): return .internalError("storage: \(message)")
            }
        case let error as JSONParseError:
            return .badRequest("the body of the request is not valid JSON: \(error)")
        default:
            return .internalError(String(describing: error))
        }
    }

    // MARK: Responses

    static func jsonResponse(_ code: Int, _ bytes: [UInt8], warnings: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        // At most 20 Warning headers; the rest are summarised in one.
        var shown = Array(warnings.prefix(20))
        if warnings.count > 20 { shown.append("\(warnings.count - 20) more warnings not shown") }
        for warning in shown {
            if let name = HTTPField.Name("Warning") { headers.append(HTTPField(name: name, value: "299 - \(JSON.string(warning).text)")) }
        }
        return Response(status: .init(code: code), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func jsonResponse(_ code: Int, _ json: JSON, warnings: [String] = []) -> Response {
        jsonResponse(code, json.serialized(), warnings: warnings)
    }

    static func errorResponse(_ error: APIError) -> Response { jsonResponse(error.code, error.status) }

    static func textResponse(_ code: Int, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .init(code: code), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func successStatus(_ code: Int = 200, details: JSON? = nil) -> JSON {
        var status: JSON = ["kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Success"]
        if let details { status["details"] = details }
        status["code"] = .int(Int64(code))
        return status
    }

    // MARK: Routing

    func route(_ request: Request) async throws -> Response {
        let path = request.uri.path
        let query = Self.query(request)
        let accept = request.headers[values: .accept].joined(separator: ",")
        if let v0 = V0Wire.route(path) {
            let reply = await kubeNine.handle(KubeNineV0.Request(
                method: request.method.rawValue, route: v0, contentType: request.headers[.contentType],
                host: request.head.authority, query: request.uri.query,
                body: { try await readBytes(request) }))
            var headers = HTTPFields()
            headers[.contentType] = reply.contentType
            for (name, value) in reply.headers { if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) } }
            return Response(status: .init(code: reply.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body)))
        }
        // nodes/NAME/proxy[/PATH]: split after the prefix, so "/api/v1/nodes/proxy" is just a node named proxy.
        let nodesPrefix = "/api/v1/nodes/"
        if path.hasPrefix(nodesPrefix) {
            let afterPrefix = path.dropFirst(nodesPrefix.count)
            let parts = afterPrefix.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count >= 2, parts[1] == "proxy", !parts[0].isEmpty {
                let node = String(parts[0])
                let rest = parts.count == 3 ? "/" + parts[2] : ""
                guard request.method == .get else { throw APIError.methodNotAllowed("only GET is proxied to nodes") }
                try NodeProxy.refuseLoop(request)
                return try await NodeProxy(registry: registry).proxy(node: node.removingPercentEncoding, path: rest, rawQuery: request.uri.query)
            }
        }
        if path == Self.autoscalingV1Prefix || path.hasPrefix(Self.autoscalingV1Prefix + "/") {
            return try await autoscalingV1(request, path: path, query: Self.query(request))
        }
        let target = try RequestPath.parse(path, catalog: catalog)
        let method = request.method
        switch target {
        case .version:
            try requireGet(method, path)
            return Self.jsonResponse(200, Self.versionInfo)
        case .health(let check):
            if check.hasPrefix("readyz"), !state.ready.withLock({ $0 }) { return Self.textResponse(503, "[-]store not ready\nreadyz check failed") }
            return Self.textResponse(200, "ok")
        case .apiRoot:
            try requireGet(method, path)
            if let version = Discovery.aggregatedVersion(accept: accept) {
                return aggregatedResponse(discovery.aggregated(core: true, version: version), version: version)
            }
            return Self.jsonResponse(200, discovery.legacyAPIVersions(serverAddress: state.address.withLock { $0 }))
        case .apisRoot:
            try requireGet(method, path)
            if let version = Discovery.aggregatedVersion(accept: accept) {
                return aggregatedResponse(discovery.aggregated(core: false, version: version), version: version)
            }
            return Self.jsonResponse(200, discovery.legacyGroupList)
        case .group(let group):
            try requireGet(method, path)
            return Self.jsonResponse(200, discovery.legacyGroupDocument(group))
        case .groupVersion(let group, let version):
            try requireGet(method, path)
            return Self.jsonResponse(200, discovery.resourceList(group: group, version: version))
        case .openAPIIndex:
            try requireGet(method, path)
            return Self.jsonResponse(200, openAPI.index)
        case .openAPIDocument(let group, let version):
            try requireGet(method, path)
            let key = group.isEmpty ? "api/\(version)" : "apis/\(group)/\(version)"
            guard let document = openAPI.documents[key] else { throw APIError.unknownPath(path) }
            return Self.jsonResponse(200, document.bytes)
        case .openAPIv2:
            // kubectl asks for v2 only in protobuf, and only as a fallback; v3 serves it fully.
            throw APIError.unknownPath(path)
        case .policyStats:
            try requireGet(method, path)
            return Self.jsonResponse(200, ["kind": "PolicyStatsList", "apiVersion": "kube9.io/v1", "items": PolicyObjects.stats(host: policyHost)])
        case .policyCall(let slot, let name, let hook):
            guard method == .post else { throw APIError.methodNotAllowed("policy hooks are called with POST") }
            let body = try await readBody(request)
            return Self.jsonResponse(200, try await PolicyObjects.call(host: policyHost, slot: slot, name: name, hook: hook, body: body))
        case .heartbeat(let node):
            guard method == .post else { throw APIError.methodNotAllowed("heartbeats are sent with POST") }
            try await heartbeats.beat(node: node)
            return Self.jsonResponse(200, Self.successStatus())
        case .usageReport(let node):
            guard method == .post else { throw APIError.methodNotAllowed("usage reports are sent with POST") }
            _ = try registry.get(NodeStrategy().type, namespace: "", name: node)
            metrics.record(node: node, report: try UsageReport.parse(try await readBody(request)))
            return Self.jsonResponse(200, Self.successStatus())
        case .unknown:
            throw APIError.unknownPath(path)
        case .resource(let route):
            return try await resource(route, request: request, query: query, accept: accept)
        }
    }

    static let versionInfo: JSON = [
        "major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "kube9", "gitTreeState": "clean",
        "buildDate": "2026-11-27T00:00:00Z", "goVersion": "swift6", "compiler": "swiftc", "platform": "linux/amd64",
        "kube9Version": .string(Kube9Build.version),
    ]

    func aggregatedResponse(_ document: JSON, version: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = version == "v2beta1" ? Discovery.aggregatedV2Beta1 : Discovery.aggregatedV2
        headers[.vary] = "Accept"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: document.serialized())))
    }

    func requireGet(_ method: HTTPRequest.Method, _ path: String) throws(APIError) {
        if method != .get && method != .head { throw APIError.methodNotAllowed("the server does not allow this method on \(path)") }
    }

    static func query(_ request: Request) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let name = String(key).removingPercentEncoding
            if result[name] == nil { result[name] = String(value) }
        }
        return result
    }

    /// Query booleans as Go's strconv.ParseBool reads them (the Python client sends "True").
    static func isTrue(_ value: String?) -> Bool { ["1", "t", "T", "true", "TRUE", "True"].contains(value ?? "") }

    func resource(_ route: ResourceRoute, request: Request, query: [String: String], accept: String) async throws -> Response {
        let strategy = route.strategy
        let type = route.type
        let namespace = route.namespace ?? ""
        if type.group == "metrics.k8s.io" {
            guard request.method == .get, route.subresource == nil, !Self.isTrue(query["watch"]) else {
                throw APIError.methodNotAllowed("metrics are read-only: get and list only")
            }
            let answer = try MetricsAPI.answer(route, query: query, table: metrics, registry: registry)
            if Self.wantsTable(accept) {
                let rows = answer["items"]?.arrayValue ?? [answer]
                return Self.jsonResponse(200, ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": .emptyObject,
                                               "columnDefinitions": strategy.table.columnDefinitionsJSON, "rows": .array(rows.map { strategy.table.row(for: $0) })])
            }
            return Self.jsonResponse(200, answer)
        }
        switch (request.method, route.name, route.subresource) {
        case (.get, nil, nil):
            if Self.isTrue(query["watch"]) { return try watch(route, query: query, accept: accept) }
            return try list(route, query: query, accept: accept)
        case (.post, nil, nil):
            guard route.namespace != nil || !type.namespaced else {
                throw APIError.methodNotAllowed("create of \(type.resource) needs a namespace in the path")
            }
            let body = try await readBody(request)
            let result = try await registry.create(strategy, namespace: namespace, body: body, options: writeOptions(query))
            return Self.jsonResponse(201, result.object, warnings: result.warnings)
        case (.delete, nil, nil):
            return try await deleteCollection(route, request: request, query: query)
        case (.get, let name?, nil):
            let object = try registry.get(type, namespace: namespace, name: name)
            if Self.wantsTable(accept) { return Self.jsonResponse(200, table(type: strategy, objects: [object], revision: object.revision, continueToken: nil, query: query)) }
            return Self.jsonResponse(200, object.bytes)
        case (.put, let name?, nil):
            let body = try await readBody(request)
            let result = try await registry.update(strategy, namespace: namespace, name: name, body: body, options: writeOptions(query))
            return Self.jsonResponse(200, result.object, warnings: result.warnings)
        case (.patch, let name?, nil), (.patch, let name?, "status"):
            let (patchType, body) = try await readPatch(request)
            let part: ObjectRegistry.Part = route.subresource == "status" ? .status : .main
            let result = try await registry.patch(strategy, namespace: namespace, name: name, patchType: patchType, patch: body, part: part, options: writeOptions(query))
            return Self.jsonResponse(200, result.object, warnings: result.warnings)
        case (.delete, let name?, nil):
            let options = try await deleteOptions(request, query: query)
            let result = try await registry.delete(strategy, namespace: namespace, name: name, options: options)
            return Self.jsonResponse(200, result.object)
        case (.get, let name?, "status"):
            return Self.jsonResponse(200, try registry.get(type, namespace: namespace, name: name).bytes)
        case (.put, let name?, "status"):
            let body = try await readBody(request)
            let result = try await registry.update(strategy, namespace: namespace, name: name, body: body, part: .status, options: writeOptions(query))
            return Self.jsonResponse(200, result.object, warnings: result.warnings)
        case (.get, let name?, "scale"):
            return Self.jsonResponse(200, try registry.scale(strategy, namespace: namespace, name: name))
        case (.put, let name?, "scale"):
            let body = try await readBody(request)
            return Self.jsonResponse(200, try await registry.updateScale(strategy, namespace: namespace, name: name, body: body, options: writeOptions(query)))
        case (.patch, let name?, "scale"):
            let (patchType, body) = try await readPatch(request)
            return Self.jsonResponse(200, try await registry.patchScale(strategy, namespace: namespace, name: name, patchType: patchType, patch: body, options: writeOptions(query)))
        case (.post, let name?, "binding"):
            let body = try await readBody(request)
            try await registry.bind(namespace: namespace, podName: name, body: body)
            return Self.jsonResponse(201, Self.successStatus(201))
        case (.get, let name?, "log"):
            try NodeProxy.refuseLoop(request)
            let pod = try registry.get(type, namespace: namespace, name: name)
            return try await NodeProxy(registry: registry).logs(pod: pod.object, query: query)
        default:
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource (\(request.method.rawValue) \(type.resource)\(route.subresource.map { "/\($0)" } ?? ""))")
        }
    }

    func writeOptions(_ query: [String: String]) throws(APIError) -> WriteOptions {
        var options = WriteOptions()
        if let dryRun = query["dryRun"] {
            guard dryRun == "All" else { throw APIError.badRequest("dryRun: Unsupported value: \"\(dryRun)\": supported values: \"All\"") }
            options.dryRun = true
        }
        if let validation = query["fieldValidation"], !validation.isEmpty {
            guard let value = FieldValidation(rawValue: validation) else {
                throw APIError.badRequest("fieldValidation: Unsupported value: \"\(validation)\": supported values: \"Ignore\", \"Strict\", \"Warn\"")
            }
            options.fieldValidation = value
        }
        return options
    }
}
