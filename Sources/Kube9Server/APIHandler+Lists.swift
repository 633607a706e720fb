import HTTPTypes
import Hummingbird
import Kube9Model
import Kube9Policy
import Kube9Store
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Lists, tables, collection deletes and watches.
extension APIHandler {
    // MARK: Lists and tables

    func selectors(_ type: ResourceType, _ query: [String: String]) throws(APIError) -> (LabelSelector, FieldSelector) {
        let labels = try LabelSelector.parse(query["labelSelector"] ?? "")
        let fields = try FieldSelector.parse(query["fieldSelector"] ?? "", supportedFields: type.selectableFields, kind: type.kind)
        return (labels, fields)
    }

    static func parseResourceVersion(_ value: String?) throws(APIError) -> Int64? {
        guard let value, !value.isEmpty else { return nil }
        guard let revision = Int64(value), revision >= 0 else {
            throw APIError.badRequest("invalid resource version \"\(value)\": must be a non-negative integer")
        }
        return revision
    }

    static func wantsTable(_ accept: String) -> Bool { accept.contains("as=Table") }

    func list(_ route: ResourceRoute, query: [String: String], accept: String) throws -> Response {
        let type = route.type
        let (labels, fields) = try selectors(type, query)
        _ = try Self.parseResourceVersion(query["resourceVersion"])
        var limit: Int? = nil
        if let text = query["limit"], !text.isEmpty {
            guard let value = Int(text), value >= 0 else { throw APIError.badRequest("limit must be a non-negative integer, got \"\(text)\"") }
            limit = value
        }
        let (objects, revision, next) = try registry.list(type, namespace: route.namespace, labels: labels, fields: fields,
                                                          limit: limit, continueToken: query["continue"])
        if Self.wantsTable(accept) {
            return Self.jsonResponse(200, table(type: route.strategy, objects: objects, revision: revision, continueToken: next, query: query))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(objects.reduce(128) { $0 + $1.bytes.count + 1 })
        bytes.append(contentsOf: "{\"kind\":\"\(type.listKind)\",\"apiVersion\":\"\(type.apiVersion)\",\"metadata\":{\"resourceVersion\":\"\(revision)\"".utf8)
        if let next { bytes.append(contentsOf: ",\"continue\":".utf8); JSON.writeString(next, to: &bytes) }
        bytes.append(contentsOf: "},\"items\":[".utf8)
        for (index, object) in objects.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: object.bytes)
        }
        bytes.append(contentsOf: "]}".utf8)
        return Self.jsonResponse(200, bytes)
    }

    func table(type strategy: any ResourceStrategy, objects: [StoredObject], revision: Int64, continueToken: String?, query: [String: String]) -> JSON {
        let definition = strategy.table
        let include = query["includeObject"] ?? "Metadata"
        var metadata: JSON = ["resourceVersion": .string(String(revision))]
        if let continueToken { metadata["continue"] = .string(continueToken) }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
                "columnDefinitions": definition.columnDefinitionsJSON,
                "rows": .array(objects.map { definition.row(for: $0.object, includeObject: include) })]
    }

    func deleteCollection(_ route: ResourceRoute, request: Request, query: [String: String]) async throws -> Response {
        let type = route.type
        guard type.verbs.contains("deletecollection") else {
            throw APIError.methodNotAllowed("the server does not allow deletecollection on \(type.resource)")
        }
        let (labels, fields) = try selectors(type, query)
        let options = try await deleteOptions(request, query: query)
        let (objects, _, _) = try registry.list(type, namespace: route.namespace, labels: labels, fields: fields)
        var deleted: [JSON] = []
        for object in objects {
            do {
                let result = try await registry.delete(route.strategy, namespace: object.key.namespace, name: object.key.name, options: options)
                deleted.append(result.object)
            } catch let error as APIError {
                if case .notFound = error { continue }
                throw error
            }
        }
        return Self.jsonResponse(200, ["kind": .string(type.listKind), "apiVersion": .string(type.apiVersion),
                                       "metadata": ["resourceVersion": .string(String(store.currentRevision))], "items": .array(deleted)])
    }

    // MARK: Watch

    func watch(_ route: ResourceRoute, query: [String: String], accept: String) throws -> Response {
        let type = route.type
        let (labels, fields) = try selectors(type, query)
        var revision = try Self.parseResourceVersion(query["resourceVersion"])
        if revision == 0 { revision = nil }
        let timeout: Int
        if let text = query["timeoutSeconds"], !text.isEmpty {
            guard let value = Int64(text), value >= 0 else { throw APIError.badRequest("timeoutSeconds must be a non-negative integer, got \"\(text)\"") }
            // A watch ends after a year at the latest (the clock arithmetic stays in range).
            timeout = Int(min(value, Self.maximumWatchSeconds))
        } else {
            timeout = Int.random(in: 1800...3600)
        }
        let wantsBookmarks = Self.isTrue(query["allowWatchBookmarks"])
        let selecting = !labels.isEmpty || !fields.isEmpty
        let matches: @Sendable (StoredObject?) -> Bool = { object in
            guard let object else { return false }
            return labels.matches(object: object.object) && fields.matches(object: object.object)
        }
        var predicate: (@Sendable (StoreEvent) -> Bool)? = nil
        if selecting {
            predicate = { (event: StoreEvent) -> Bool in matches(event.object) || matches(event.previous) }
        }
        let filter = WatchFilter(resource: type.storageName, namespace: type.namespaced ? route.namespace : nil,
                                 predicate: predicate, wantsBookmarks: wantsBookmarks)
        let subscription = try store.watch(filter, fromRevision: revision)
        let asTable = Self.wantsTable(accept)
        let strategy = route.strategy
        let include = query["includeObject"] ?? "Metadata"
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let body = ResponseBody { writer in
            let timer = Task {
                try? await Task.sleep(for: .seconds(timeout))
                subscription.cancel()
            }
            defer {
                timer.cancel()
                subscription.cancel()
            }
            try await withGracefulShutdownHandler {
                for await event in subscription.events {
                    guard let line = Self.watchLine(event, type: type, strategy: strategy, selecting: selecting, matches: matches,
                                                    asTable: asTable, include: include) else { continue }
                    try await writer.write(ByteBuffer(bytes: line))
                }
            } onGracefulShutdown: {
                subscription.cancel()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    static func watchLine(_ event: StoreEvent, type: ResourceType, strategy: any ResourceStrategy, selecting: Bool,
                          matches: (StoredObject?) -> Bool, asTable: Bool, include: String) -> [UInt8]? {
        let eventType: String
        switch event.kind {
        case .bookmark:
            let object: JSON = ["kind": .string(type.kind), "apiVersion": .string(type.apiVersion),
                                "metadata": ["resourceVersion": .string(String(event.revision))]]
            return Array("{\"type\":\"BOOKMARK\",\"object\":".utf8) + object.serialized() + Array("}\n".utf8)
        case .added:
            eventType = "ADDED"
        case .deleted:
            eventType = "DELETED"
        case .modified:
            if selecting {
                let now = matches(event.object)
                let before = matches(event.previous)
                if now && before { eventType = "MODIFIED" } else if now { eventType = "ADDED" } else if before { eventType = "DELETED" } else { return nil }
            } else {
                eventType = "MODIFIED"
            }
        }
        guard let object = event.object else { return nil }
        var line = Array("{\"type\":\"\(eventType)\",\"object\":".utf8)
        if asTable {
            let definition = strategy.table
            let table: JSON = ["kind": "Table", "apiVersion": "meta.k8s.io/v1",
                               "metadata": ["resourceVersion": .string(String(object.revision))],
                               "columnDefinitions": definition.columnDefinitionsJSON,
                               "rows": [definition.row(for: object.object, includeObject: include)]]
            table.write(to: &line)
        } else {
            line.append(contentsOf: object.bytes)
        }
        line.append(contentsOf: "}\n".utf8)
        return line
    }
}
