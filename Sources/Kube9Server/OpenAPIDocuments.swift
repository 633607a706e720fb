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

    static func document(catalog: ResourceCatalog, group: String, version: String) -> JSON {
        var paths = JSON.emptyObject
        var schemaNames: [String] = []
        for strategy in catalog.strategies where strategy.type.group == group && strategy.type.version == version {
            let type = strategy.type
            guard let definition = catalog.definitionName(of: type) else { continue }
            for name in catalog.schemas.closure(of: definition) where !schemaNames.contains(name) { schemaNames.append(name) }
            let gvk: JSON = ["group": .string(group), "version": .string(version), "kind": .string(type.kind)]
            let ref: JSON = ["$ref": .string("#/components/schemas/\(definition)")]
            let body: JSON = ["content": ["application/json": ["schema": ref]], "required": true]
            let patchBody: JSON = ["content": [
                "application/json-patch+json": ["schema": ["type": "object"]],
                "application/merge-patch+json": ["schema": ["type": "object"]],
                "application/strategic-merge-patch+json": ["schema": ["type": "object"]],
            ], "required": true]
            let okResponse: JSON = ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]]
            func operation(_ action: String, _ summary: String, parameters: [JSON], requestBody: JSON? = nil) -> JSON {
                var op: JSON = ["description": .string(summary), "operationId": .string("\(action)\(type.kind)"),
                                "x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": gvk,
                                "parameters": .array(parameters), "responses": okResponse]
                if let requestBody { op["requestBody"] = requestBody }
                return op
            }
            let base = type.groupVersionPath.dropFirst()  // "api/v1"
            let scope = type.namespaced ? "/\(base)/namespaces/{namespace}/\(type.resource)" : "/\(base)/\(type.resource)"
            let nameParameter = parameter("name", "path", "name of the \(type.kind)", required: true)
            var scopeParameters: [JSON] = [nameParameter]
            if type.namespaced { scopeParameters.append(parameter("namespace", "path", "object name and auth scope, such as for teams and projects", required: true)) }
            let writeParameters = [dryRun, fieldManager, fieldValidation]
            paths[scope] = [
                "get": operation("list", "list or watch objects of kind \(type.kind)", parameters: Array(scopeParameters.dropFirst())),
                "post": operation("post", "create a \(type.kind)", parameters: Array(scopeParameters.dropFirst()) + writeParameters, requestBody: body),
            ]
            paths["\(scope)/{name}"] = [
                "get": operation("get", "read the specified \(type.kind)", parameters: scopeParameters),
                "put": operation("put", "replace the specified \(type.kind)", parameters: scopeParameters + writeParameters, requestBody: body),
                "patch": operation("patch", "partially update the specified \(type.kind)", parameters: scopeParameters + writeParameters + [parameter("force", "query", "Force is going to \"force\" Apply requests.", type: "boolean")], requestBody: patchBody),
                "delete": operation("delete", "delete a \(type.kind)", parameters: scopeParameters + [dryRun]),
            ]
            if type.subresources.contains("status") {
                paths["\(scope)/{name}/status"] = [
                    "get": operation("get", "read status of the specified \(type.kind)", parameters: scopeParameters),
                    "put": operation("put", "replace status of the specified \(type.kind)", parameters: scopeParameters + writeParameters, requestBody: body),
                    "patch": operation("patch", "partially update status of the specified \(type.kind)", parameters: scopeParameters + writeParameters, requestBody: patchBody),
                ]
            }
        }
        var schemas = JSON.emptyObject
        for name in schemaNames.sorted() { schemas[name] = catalog.schemas.definitions[name]!.openAPI }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.4"], "paths": paths, "components": ["schemas": schemas]]
    }
}
