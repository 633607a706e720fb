import Kube9Model

/// What a request URL names, before the verb is considered.
enum RequestTarget {
    case version
    case health(String)
    case apiRoot                                    // /api
    case apisRoot                                   // /apis
    case groupVersion(group: String, version: String) // /api/v1, /apis/g/v
    case group(String)                              // /apis/g
    case openAPIIndex                               // /openapi/v3
    case openAPIDocument(group: String, version: String)
    case openAPIv2
    /// A resource collection or object. `namespace` is nil for cluster-wide lists.
    case resource(ResourceRoute)
    /// `GET /kube9/v1/policies`: installed policies and their call statistics.
    case policyStats
    /// `POST /kube9/v1/policies/{slot}/{name}/{hook}`: call a hook of an installed policy.
    case policyCall(slot: String, name: String, hook: String)
    /// `POST /kube9/v1/nodes/{name}/heartbeat`: a node agent's heartbeat (a memory write).
    case heartbeat(node: String)
    /// `POST /kube9/v1/nodes/{name}/metrics`: a node agent's usage report (a memory write).
    case usageReport(node: String)
    case unknown
}

/// A path into a served resource.
struct ResourceRoute {
    var strategy: any ResourceStrategy
    var namespace: String?
    var name: String?
    var subresource: String?

    var type: ResourceType { strategy.type }
}

enum RequestPath {
    /// Parses a URL path against the catalog. Throws 404 for a resource the catalog does not serve.
    static func parse(_ path: String, catalog: ResourceCatalog) throws(APIError) -> RequestTarget {
        var segments = path.split(separator: "/", omittingEmptySubsequences: true).map { String($0).removingPercentEncoding }
        if path.hasSuffix("/") && segments.isEmpty { segments = [] }
        guard let first = segments.first else { return .unknown }
        switch first {
        case "version": return segments.count == 1 ? .version : .unknown
        case "kube9":
            if segments.count == 5, segments[1] == "v1", segments[2] == "nodes", segments[4] == "heartbeat" {
                return .heartbeat(node: segments[3])
            }
            if segments.count == 5, segments[1] == "v1", segments[2] == "nodes", segments[4] == "metrics" {
                return .usageReport(node: segments[3])
            }
            guard segments.count >= 3, segments[1] == "v1", segments[2] == "policies" else { return .unknown }
            if segments.count == 3 { return .policyStats }
            if segments.count == 6 { return .policyCall(slot: segments[3], name: segments[4], hook: segments[5]) }
            return .unknown
        case "healthz", "readyz", "livez": return .health(segments.joined(separator: "/"))
        case "openapi":
            if segments.count == 2, segments[1] == "v2" { return .openAPIv2 }
            guard segments.count >= 2, segments[1] == "v3" else { return .unknown }
            if segments.count == 2 { return .openAPIIndex }
            if segments.count == 4, segments[2] == "api" { return .openAPIDocument(group: "", version: segments[3]) }
            if segments.count == 5, segments[2] == "apis" { return .openAPIDocument(group: segments[3], version: segments[4]) }
            return .unknown
        case "api":
            if segments.count == 1 { return .apiRoot }
            let version = segments[1]
            guard catalog.groupVersions.contains(where: { $0.group == "" && $0.version == version }) else {
                throw APIError.unknownPath(path)
            }
            if segments.count == 2 { return .groupVersion(group: "", version: version) }
            return try resource(Array(segments.dropFirst(2)), group: "", version: version, catalog: catalog, path: path)
        case "apis":
            if segments.count == 1 { return .apisRoot }
            let group = segments[1]
            guard catalog.groupVersions.contains(where: { $0.group == group }) else { throw APIError.unknownPath(path) }
            if segments.count == 2 { return .group(group) }
            let version = segments[2]
            guard catalog.groupVersions.contains(where: { $0.group == group && $0.version == version }) else {
                throw APIError.unknownPath(path)
            }
            if segments.count == 3 { return .groupVersion(group: group, version: version) }
            return try resource(Array(segments.dropFirst(3)), group: group, version: version, catalog: catalog, path: path)
        default:
            return .unknown
        }
    }

    static func resource(_ parts: [String], group: String, version: String, catalog: ResourceCatalog, path: String) throws(APIError) -> RequestTarget {
        func lookup(_ name: String) -> (any ResourceStrategy)? { catalog.strategy(group: group, version: version, resource: name) }
        // namespaces/{ns}/{resource}[/{name}[/{sub}]]
        if parts.count >= 3, parts[0] == "namespaces", let strategy = lookup(parts[2]), strategy.type.namespaced {
            guard parts.count <= 5 else { throw APIError.unknownPath(path) }
            let route = ResourceRoute(strategy: strategy, namespace: parts[1], name: parts.count > 3 ? parts[3] : nil,
                                      subresource: parts.count > 4 ? parts[4] : nil)
            try checkSubresource(route, path: path)
            return .resource(route)
        }
        guard let strategy = lookup(parts[0]) else { throw APIError.unknownPath(path) }
        guard parts.count <= 3 else { throw APIError.unknownPath(path) }
        if strategy.type.namespaced, parts.count > 1 {
            // A namespaced resource addressed without its namespace.
            throw APIError.unknownPath(path)
        }
        let route = ResourceRoute(strategy: strategy, namespace: nil, name: parts.count > 1 ? parts[1] : nil,
                                  subresource: parts.count > 2 ? parts[2] : nil)
        try checkSubresource(route, path: path)
        return .resource(route)
    }

    static func checkSubresource(_ route: ResourceRoute, path: String) throws(APIError) {
        if let subresource = route.subresource, !route.type.subresources.contains(subresource) {
            throw APIError.unknownPath(path)
        }
    }
}

extension String {
    /// The string with %XX escapes decoded; invalid escapes are kept as they are.
    var removingPercentEncoding: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        let source = Array(utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "%"), index + 2 < source.count,
               let value = UInt8(String(decoding: source[index + 1...index + 2], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
