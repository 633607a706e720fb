import Kube9Model

/// OpenAPI v3 documents generated from the catalog: an index at `/openapi/v3` and one
/// document per group-version with every operation (tagged with its group-version-kind and
/// the `fieldValidation` parameter kubectl looks for) and the schemas of its kinds.
struct OpenAPIDocuments: Sendable {
    let index: JSON
    /// "api/v1" or "apis/group/version" → (document bytes, hash).
    let documents: [String: (bytes: [UInt8], hash: String)]

    init(catalog: ResourceCatalog) {
        var documents: [String: (bytes: [UInt8], hash: String)] = [:]
        var paths: [(String, JSON)] = []
        for (group, version) in catalog.groupVersions {
            let key = group.isEmpty ? "api/\(version)" : "apis/\(group)/\(version)"
            let document = Self.document(catalog: catalog, group: group, version: version)
            let bytes = document.serialized()
            let hash = Self.hash(bytes)
            documents[key] = (bytes, hash)
            paths.append((key, ["serverRelativeURL": .string("/openapi/v3/\(key)?hash=\(hash)")]))
        }
        var pathsJSON = JSON.emptyObject
        for (key, value) in paths { pathsJSON[key] = value }
        self.index = ["paths": pathsJSON]
        self.documents = documents
    }

    /// FNV-1a 64 over the document, in upper-case hex (stable across restarts of the same build).
    static func hash(_ bytes: [UInt8]) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
        return String(value, radix: 16, uppercase: true)
    }

    static func parameter(_ name: String, _ location: String, _ description: String, type: String = "string", required: Bool = false) -> JSON {
        var parameter: JSON = ["name": .string(name), "in": .string(location), "description": .string(description),
                               "schema": ["type": .string(type), "uniqueItems": true]]
        if required { parameter["required"] = true }
        return parameter
    }

    static let fieldValidation = parameter("fieldValidation", "query",
        "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict.")
    static let dryRun = parameter("dryRun", "query", "When present, indicates that modifications should not be persisted. The only valid value is All.")
    static let fieldManager = parameter("fieldManager", "query", "fieldManager is a name associated with the actor or entity that is making these changes.")
    static let pretty = parameter("pretty", "query", "If 'true', then the output is pretty printed.")
    static let labelSelector = parameter("labelSelector", "query", "A selector to restrict the list of returned objects by their labels. Defaults to everything.")
    static let fieldSelector = parameter("fieldSelector", "query", "A selector to restrict the list of returned objects by their fields. Defaults to everything.")
    static let limit = parameter("limit", "query", "The most objects to return; the list then carries a continue token.", type: "integer")
    static let continueToken = parameter("continue", "query", "The continue token of a previous list call, to get the next page.")
    static let resourceVersion = parameter("resourceVersion", "query", "For a watch: the resourceVersion to start after (410 Gone when compacted). For a list: accepted, the list is always current.")
    static let resourceVersionMatch = parameter("resourceVersionMatch", "query", "How resourceVersion is applied to list calls (accepted; kube9 always lists the current state).")
    static let timeoutSeconds = parameter("timeoutSeconds", "query", "Timeout for the list/watch call, in seconds (a watch ends after at most a year).", type: "integer")
    static let watch = parameter("watch", "query", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", type: "boolean")
    static let allowWatchBookmarks = parameter("allowWatchBookmarks", "query", "requests watch events with type \"BOOKMARK\".", type: "boolean")
    static let sendInitialEvents = parameter("sendInitialEvents", "query", "Accepted; kube9 replays from resourceVersion instead.", type: "boolean")
    static let gracePeriodSeconds = parameter("gracePeriodSeconds", "query", "The duration in seconds before the object should be deleted (0 to 2147483647).", type: "integer")
    static let propagationPolicy = parameter("propagationPolicy", "query", "Whether and how garbage collection will be performed: Orphan, Background or Foreground.")
    static let orphanDependents = parameter("orphanDependents", "query", "Deprecated: use propagationPolicy.", type: "boolean")
    static let force = parameter("force", "query", "Force is going to \"force\" Apply requests.", type: "boolean")

    static let listParameters = [allowWatchBookmarks, continueToken, fieldSelector, labelSelector, limit, pretty, resourceVersion,
                                 resourceVersionMatch, sendInitialEvents, timeoutSeconds, watch]
    static let deleteParameters = [dryRun, gracePeriodSeconds, orphanDependents, propagationPolicy, pretty]
    static let deleteCollectionParameters = deleteParameters + [continueToken, fieldSelector, labelSelector, limit, resourceVersion,
                                                                resourceVersionMatch, sendInitialEvents, timeoutSeconds]

    static func ref(_ name: String) -> JSON { ["$ref": .string("#/components/schemas/\(name)")] }

    static func body(_ schema: String, required: Bool = true) -> JSON {
        var body: JSON = ["content": ["application/json": ["schema": ref(schema)]]]
        if required { body["required"] = true }
        return body
    }

    static func responses(_ schema: String, codes: [String] = ["200"], contentTypes: [String] = ["application/json"]) -> JSON {
        var result = JSON.emptyObject
        for code in codes {
            var content = JSON.emptyObject
            for type in contentTypes { content[type] = ["schema": ref(schema)] }
            result[code] = ["description": code == "201" ? "Created" : code == "202" ? "Accepted" : "OK", "content": content]
        }
        result["401"] = ["description": "Unauthorized"]
        return result
    }

    static func document(catalog: ResourceCatalog, group: String, version: String) -> JSON {
        var paths = JSON.emptyObject
        var schemaNames: [String] = []
        var listSchemas: [(String, JSON)] = []
        func include(_ root: String) {
            for name in catalog.schemas.closure(of: root) where !schemaNames.contains(name) { schemaNames.append(name) }
        }
        for common in [CommonSchemas.status, CommonSchemas.deleteOptions, CommonSchemas.watchEvent] { include(common) }
        for strategy in catalog.strategies where strategy.type.group == group && strategy.type.version == version {
            let type = strategy.type
            guard let definition = catalog.definitionName(of: type) else { continue }
            include(definition)
            let listDefinition = definition + "List"
            listSchemas.append((listDefinition, [
                "description": .string("\(type.listKind) is a list of \(type.kind) objects."), "type": "object",
                "required": ["items"],
                "properties": [
                    "apiVersion": ["type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."],
                    "kind": ["type": "string", "description": "Kind is a string value representing the REST resource this object represents."],
                    "metadata": ["allOf": [ref(CommonSchemas.listMeta)], "description": "Standard list metadata."],
                    "items": ["type": "array", "items": ref(definition), "description": .string("List of \(type.resource).")],
                ],
                "x-kubernetes-group-version-kind": [["group": .string(group), "kind": .string(type.listKind), "version": .string(version)]],
            ]))
            let gvk: JSON = ["group": .string(group), "version": .string(version), "kind": .string(type.kind)]
            let patchBody: JSON = ["content": [
                "application/json-patch+json": ["schema": ["type": "object"]],
                "application/merge-patch+json": ["schema": ["type": "object"]],
                "application/strategic-merge-patch+json": ["schema": ["type": "object"]],
            ], "required": true]
            func operation(_ action: String, _ id: String, _ summary: String, parameters: [JSON], requestBody: JSON? = nil,
                           responses: JSON, kind: JSON? = nil) -> JSON {
                var op: JSON = ["description": .string(summary), "operationId": .string(id),
                                "x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": kind ?? gvk,
                                "parameters": .array(parameters), "responses": responses]
                if let requestBody { op["requestBody"] = requestBody }
                return op
            }
            let base = type.groupVersionPath.dropFirst()  // "api/v1"
            let scope = type.namespaced ? "/\(base)/namespaces/{namespace}/\(type.resource)" : "/\(base)/\(type.resource)"
            let nameParameter = parameter("name", "path", "name of the \(type.kind)", required: true)
            let namespaceParameter = parameter("namespace", "path", "object name and auth scope, such as for teams and projects", required: true)
            let scopeParameters: [JSON] = type.namespaced ? [namespaceParameter] : []
            let objectParameters = [nameParameter] + scopeParameters
            let writeParameters = [dryRun, fieldManager, fieldValidation, pretty]
            let suffix = type.namespaced ? "Namespaced\(type.kind)" : type.kind
            let listTypes = ["application/json", "application/json;stream=watch"]
            var collection: JSON = [
                "get": operation("list", "list\(suffix)", "list or watch objects of kind \(type.kind)",
                                 parameters: scopeParameters + listParameters, responses: responses(listDefinition, contentTypes: listTypes)),
                "post": operation("post", "create\(suffix)", "create a \(type.kind)", parameters: scopeParameters + writeParameters,
                                  requestBody: body(definition), responses: responses(definition, codes: ["200", "201", "202"])),
            ]
            if type.verbs.contains("deletecollection") {
                collection["delete"] = operation("deletecollection", "deleteCollection\(suffix)", "delete collection of \(type.kind)",
                                                 parameters: scopeParameters + deleteCollectionParameters,
                                                 requestBody: body(CommonSchemas.deleteOptions, required: false),
                                                 responses: responses(CommonSchemas.status))
            }
            paths[scope] = collection
            if type.namespaced {
                paths["/\(base)/\(type.resource)"] = [
                    "get": operation("list", "list\(type.kind)ForAllNamespaces", "list or watch objects of kind \(type.kind) in every namespace",
                                     parameters: listParameters, responses: responses(listDefinition, contentTypes: listTypes)),
                ]
            }
            paths["\(scope)/{name}"] = [
                "get": operation("get", "read\(suffix)", "read the specified \(type.kind)", parameters: objectParameters + [pretty],
                                 responses: responses(definition)),
                "put": operation("put", "replace\(suffix)", "replace the specified \(type.kind)", parameters: objectParameters + writeParameters,
                                 requestBody: body(definition), responses: responses(definition, codes: ["200", "201"])),
                "patch": operation("patch", "patch\(suffix)", "partially update the specified \(type.kind)",
                                   parameters: objectParameters + writeParameters + [force], requestBody: patchBody,
                                   responses: responses(definition, codes: ["200", "201"])),
                "delete": operation("delete", "delete\(suffix)", "delete a \(type.kind)", parameters: objectParameters + deleteParameters,
                                    requestBody: body(CommonSchemas.deleteOptions, required: false),
                                    responses: responses(CommonSchemas.status, codes: ["200", "202"])),
            ]
            if type.subresources.contains("status") {
                paths["\(scope)/{name}/status"] = [
                    "get": operation("get", "read\(suffix)Status", "read status of the specified \(type.kind)", parameters: objectParameters + [pretty],
                                     responses: responses(definition)),
                    "put": operation("put", "replace\(suffix)Status", "replace status of the specified \(type.kind)", parameters: objectParameters + writeParameters,
                                     requestBody: body(definition), responses: responses(definition, codes: ["200", "201"])),
                    "patch": operation("patch", "patch\(suffix)Status", "partially update status of the specified \(type.kind)",
                                       parameters: objectParameters + writeParameters + [force], requestBody: patchBody, responses: responses(definition)),
                ]
            }
            if type.subresources.contains("binding") {
                include(CommonSchemas.binding)
                paths["\(scope)/{name}/binding"] = [
                    "post": operation("post", "create\(suffix)Binding", "create binding of a \(type.kind): assigns it to a node",
                                      parameters: objectParameters + [dryRun, fieldManager, pretty], requestBody: body(CommonSchemas.binding),
                                      responses: responses(CommonSchemas.status, codes: ["201"]),
                                      kind: ["group": "", "version": "v1", "kind": "Binding"]),
                ]
            }
            if type.subresources.contains("log") {
                let text: JSON = ["200": ["description": "OK", "content": ["text/plain": ["schema": ["type": "string"]]]]]
                paths["\(scope)/{name}/log"] = [
                    "get": operation("get", "read\(suffix)Log", "read log of the specified \(type.kind) (through its node's agent)",
                                     parameters: objectParameters + [
                                        parameter("container", "query", "The container for which to stream logs. Defaults to the only container."),
                                        parameter("follow", "query", "Follow the log stream of the pod.", type: "boolean"),
                                        parameter("previous", "query", "Return the previous terminated container's logs.", type: "boolean"),
                                        parameter("tailLines", "query", "The number of lines from the end of the logs to show.", type: "integer"),
                                     ], responses: text),
                ]
            }
            if type.kind == "Node" {
                let text: JSON = ["200": ["description": "OK", "content": ["*/*": ["schema": ["type": "string"]]]]]
                let proxyParameters = [nameParameter]
                paths["/\(base)/nodes/{name}/proxy"] = [
                    "get": operation("connect", "connectGetNodeProxy", "GET to the node's agent (its kubelet endpoint)", parameters: proxyParameters,
                                     responses: text, kind: ["group": "", "version": "v1", "kind": "NodeProxyOptions"]),
                ]
                paths["/\(base)/nodes/{name}/proxy/{path}"] = [
                    "get": operation("connect", "connectGetNodeProxyWithPath", "GET a path of the node's agent (its kubelet endpoint)",
                                     parameters: proxyParameters + [parameter("path", "path", "path to the resource", required: true)],
                                     responses: text, kind: ["group": "", "version": "v1", "kind": "NodeProxyOptions"]),
                ]
            }
        }
        var schemas = JSON.emptyObject
        for name in schemaNames.sorted() { if let definition = catalog.schemas.definitions[name] { schemas[name] = definition.openAPI } }
        for (name, schema) in listSchemas { schemas[name] = schema }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.4"], "paths": paths, "components": ["schemas": schemas]]
    }
}
