import Kube9Model
import Kube9Store
import Logging

/// How strictly unknown fields in a request body are treated (`?fieldValidation=`).
public enum FieldValidation: String, Sendable {
    case strict = "Strict", warn = "Warn", ignore = "Ignore"
}

/// Options shared by writes.
public struct WriteOptions: Sendable {
    public var dryRun = false
    public var fieldValidation = FieldValidation.warn
    public init(dryRun: Bool = false, fieldValidation: FieldValidation = .warn) {
        self.dryRun = dryRun
        self.fieldValidation = fieldValidation
    }
}

/// The result of a write: the object to return, whether it was created, and warnings for the client.
public struct WriteResult: Sendable {
    public var object: JSON
    public var created: Bool
    public var warnings: [String]
}

/// Kubernetes object semantics over a `Store`: metadata management (uid, timestamps,
/// generation, generateName), optimistic concurrency, validation through each kind's
/// strategy, graceful deletion and finalizers, namespaces. The HTTP layer and in-process
/// controllers both write through here.
public final class ObjectRegistry: Sendable {
    public let store: any Store
    public let catalog: ResourceCatalog
    let logger: Logger
    /// Checks that run after a kind's own validation, by storage name (for example the Lua
    /// compile check of Policy objects). They throw `APIError` to refuse the object. They run
    /// before the store's writer sees the write (never inside a store transform), so a slow
    /// check delays only its own request.
    let admission: [String: Admission]

    /// An admission check: async, so that expensive work runs on threads of its own.
    public typealias Admission = @Sendable (JSON) async throws -> Void
    /// A create hook, by storage name: sets server-owned fields of a new object (for example
    /// the Kube-9 id of nodes and pods) after the kind's defaults, before validation.
    public typealias CreateHook = @Sendable (inout JSON, ObjectKey) -> Void
    let createHooks: [String: CreateHook]
    /// Reserves server-allocated values (a Service's cluster IP and node ports) on a new
    /// version of an object, given the stored one on an update; refuses a taken or
    /// out-of-range request by throwing. Returns the release to run once the write has
    /// committed or failed. Writes of these kinds run outside the store's writer.
    public typealias Reserver = @Sendable (inout JSON, JSON?) throws -> (@Sendable () -> Void)
    let reservers: [String: Reserver]

    /// The largest object the store keeps, serialized (the body limit): a patch cannot grow one past it.
    public static let maximumObjectBytes = 3 * 1024 * 1024

    /// Namespaces that exist from the start and may not be deleted.
    public static let systemNamespaces = ["default", "kube-system", "kube-node-lease", "kube-public"]

    public init(store: any Store, catalog: ResourceCatalog = .builtin, logger: Logger = Logger(label: "kube9.registry"),
                admission: [String: Admission] = [:], createHooks: [String: CreateHook] = [:], reservers: [String: Reserver] = [:]) {
        self.store = store
        self.catalog = catalog
        self.logger = logger
        self.admission = admission
        self.createHooks = createHooks
        self.reservers = reservers
    }

    static func key(_ type: ResourceType, namespace: String, name: String) -> ObjectKey {
        ObjectKey(resource: type.storageName, namespace: type.namespaced ? namespace : "", name: name)
    }

    var namespaceType: ResourceType { NamespaceStrategy().type }

    /// Creates default, kube-system, kube-node-lease and kube-public when missing.
    public func ensureSystemNamespaces() async throws {
        for name in Self.systemNamespaces where store.get(Self.key(namespaceType, namespace: "", name: name)) == nil {
            _ = try await create(NamespaceStrategy(), namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
        }
    }

    // MARK: Reads

    /// One object, or 404.
    public func get(_ type: ResourceType, namespace: String, name: String) throws(APIError) -> StoredObject {
        guard let object = store.get(Self.key(type, namespace: namespace, name: name)) else {
            throw APIError.notFound(resource: type.resource, group: type.group, name: name)
        }
        return object
    }

    /// Objects matching the selectors, in key order, with paging by `limit`/`continue`.
    public func list(_ type: ResourceType, namespace: String?, labels: LabelSelector, fields: FieldSelector,
                     limit: Int? = nil, continueToken: String? = nil) throws(APIError) -> (objects: [StoredObject], revision: Int64, continueToken: String?) {
        let (all, revision) = store.list(resource: type.storageName, namespace: type.namespaced ? namespace : nil)
        var start = 0
        if let continueToken, !continueToken.isEmpty {
            guard let decoded = ContinueToken.decode(continueToken) else {
                throw APIError.badRequest("continue key is not valid: \(continueToken)")
            }
            if decoded.revision < store.compactedRevision {
                throw APIError.expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            }
            start = all.firstIndex { ($0.key.namespace, $0.key.name) > (decoded.namespace, decoded.name) } ?? all.count
        }
        var result: [StoredObject] = []
        var next: String? = nil
        var index = start
        while index < all.count {
            let object = all[index]
            index += 1
            if !labels.isEmpty, !labels.matches(object: object.object) { continue }
            if !fields.isEmpty, !fields.matches(object: object.object) { continue }
            result.append(object)
            if let limit, limit > 0, result.count >= limit, index < all.count {
                next = ContinueToken.encode(revision: revision, namespace: object.key.namespace, name: object.key.name)
                break
            }
        }
        return (result, revision, next)
    }

    // MARK: Create

    /// Creates an object from a request body. `namespace` is the URL's namespace ("" for cluster kinds).
    public func create(_ strategy: any ResourceStrategy, namespace: String, body: JSON, options: WriteOptions = WriteOptions()) async throws -> WriteResult {
        let type = strategy.type
        var object = try checkBody(body, type: type, namespace: namespace)
        let warnings = try fieldWarnings(object, type: type, validation: options.fieldValidation)
        if type.namespaced { try requireActiveNamespace(namespace) }
        if object[path: ["metadata", "resourceVersion"]]?.stringValue.map({ !$0.isEmpty }) == true {
            throw APIError.badRequest("resourceVersion should not be set on objects to be created")
        }
        var metadata = object["metadata"] ?? .emptyObject
        if type.namespaced { metadata["namespace"] = .string(namespace) } else { metadata["namespace"] = nil }
        metadata["uid"] = .string(NameRules.newUID())
        metadata["creationTimestamp"] = .string(Timestamp.now())
        metadata["generation"] = 1
        metadata["deletionTimestamp"] = nil
        metadata["deletionGracePeriodSeconds"] = nil
        metadata["selfLink"] = nil
        metadata["resourceVersion"] = nil
        let generateName = metadata["generateName"]?.stringValue ?? ""
        let explicitName = metadata["name"]?.stringValue ?? ""
        if explicitName.isEmpty, !generateName.isEmpty {
            metadata["name"] = .string(generateName + NameRules.randomSuffix())
        }
        object["metadata"] = metadata
        strategy.prepareForCreate(&object)
        createHooks[type.storageName]?(&object, Self.key(type, namespace: namespace, name: ObjectMeta.name(of: object)))
        var causes = Self.withTypeCheck(strategy.validate(object), object, type: type)
        if explicitName.isEmpty, !generateName.isEmpty, let error = type.kind == "Namespace" ? NameRules.dns1123LabelError(generateName + "x") : NameRules.dns1123SubdomainError(generateName + "x") {
            causes.removeAll { $0.field == "metadata.name" }
            causes.append(.invalid("metadata.generateName", .string(generateName), error))
        }
        if !causes.isEmpty {
            throw APIError.invalid(kind: type.kind, group: type.group, name: ObjectMeta.name(of: object), causes: causes)
        }
        try await admission[type.storageName]?(object)
        let release = try reservers[type.storageName]?(&object, nil)
        defer { release?() }
        for attempt in 0..<8 {
            if attempt > 0 {
                object[path: ["metadata", "name"]] = .string(generateName + NameRules.randomSuffix())
            }
            let name = ObjectMeta.name(of: object)
            let key = Self.key(type, namespace: namespace, name: name)
            let candidate = object
            do {
                let result = try await commit(key, dryRun: options.dryRun, type: type) { current in
                    if current != nil { throw APIError.alreadyExists(resource: type.resource, group: type.group, name: name) }
                    return .put(candidate)
                }
                return WriteResult(object: result.object?.object ?? candidate, created: true, warnings: warnings)
            } catch let error as APIError {
                if case .alreadyExists = error, explicitName.isEmpty, !generateName.isEmpty { continue }
                throw error
            }
        }
        throw APIError.alreadyExists(resource: type.resource, group: type.group, name: ObjectMeta.name(of: object))
    }

    /// Checks apiVersion/kind, the namespace and the shape of a body; returns it as an object.
    func checkBody(_ body: JSON, type: ResourceType, namespace: String) throws(APIError) -> JSON {
        guard case .object = body else {
            throw APIError.badRequest("the body of the request must be a JSON object, got \(body.typeName)")
        }
        var object = body
        if let apiVersion = body["apiVersion"], !apiVersion.isNull {
            guard apiVersion.stringValue == type.apiVersion else {
                throw APIError.badRequest("the API version in the data (\(apiVersion.stringValue ?? apiVersion.text)) does not match the expected API version (\(type.apiVersion))")
            }
        }
        if let kind = body["kind"], !kind.isNull {
            guard kind.stringValue == type.kind else {
                throw APIError.badRequest("\(kind.stringValue ?? kind.text) in version \"\(type.version)\" cannot be handled as a \(type.kind): the kind in the data does not match the resource in the URL")
            }
        }
        object["apiVersion"] = .string(type.apiVersion)
        object["kind"] = .string(type.kind)
        // Keep apiVersion and kind first, as Kubernetes prints them.
        if var members = object.objectValue {
            members.removeValue(forKey: "apiVersion")
            members.removeValue(forKey: "kind")
            members.updateValue(.string(type.kind), forKey: "kind", insertingAt: 0)
            members.updateValue(.string(type.apiVersion), forKey: "apiVersion", insertingAt: 0)
            object = .object(members)
        }
        if let metadata = object["metadata"], !metadata.isNull, metadata.objectValue == nil {
            throw APIError.badRequest("metadata must be an object, got \(metadata.typeName)")
        }
        if type.namespaced, let bodyNamespace = object[path: ["metadata", "namespace"]]?.stringValue, !bodyNamespace.isEmpty, bodyNamespace != namespace {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        return object
    }

    func fieldWarnings(_ object: JSON, type: ResourceType, validation: FieldValidation) throws(APIError) -> [String] {
        guard validation != .ignore, let definition = catalog.definitionName(of: type) else { return [] }
        let unknown = catalog.schemas.unknownFields(in: object, definition: definition)
        if unknown.isEmpty { return [] }
        if validation == .strict {
            throw APIError.badRequest("strict decoding error: " + unknown.map { "unknown field \"\($0)\"" }.joined(separator: ", "))
        }
        return unknown.map { "unknown field \"\($0)\"" }
    }

    func requireActiveNamespace(_ namespace: String) throws(APIError) {
        guard !namespace.isEmpty else { throw APIError.badRequest("a namespace is required for this resource") }
        guard let stored = store.get(Self.key(namespaceType, namespace: "", name: namespace)) else {
            throw APIError.notFound(resource: "namespaces", group: "", name: namespace)
        }
        if stored.object[path: ["status", "phase"]]?.stringValue == "Terminating" {
            throw APIError.forbidden(resource: "namespaces", group: "", name: namespace,
                                     message: "unable to create new content in namespace \(namespace) because it is being terminated")
        }
    }

    /// The kind's own causes plus those of the API type check (`APITypes`): a field of the wrong
    /// JSON type or a required field missing. A field the kind already reported is not repeated.
    static func withTypeCheck(_ causes: [FieldCause], _ object: JSON, type: ResourceType) -> [FieldCause] {
        guard type.group.isEmpty || type.group == "coordination.k8s.io" || type.group == "discovery.k8s.io" || type.group == "apps" || type.group == "autoscaling" || type.group == "batch" || type.group == "storage.k8s.io", APITypes.isTyped(kind: type.kind) else { return causes }
        var result = causes
        var reported = Set(causes.map(\.field))
        for cause in APITypes.check(object, kind: type.kind) where reported.insert(cause.field).inserted {
            result.append(cause)
        }
        return result
    }

    /// What every stored object must satisfy so that the server can always read it back at
    /// start: the parser's nesting limit and the size limit. Checked on every write.
    static func checkStorable(_ object: JSON, type: ResourceType) throws(APIError) {
        if object.depth(limit: JSON.maximumDepth) > JSON.maximumDepth {
            throw APIError.invalid(kind: type.kind, group: type.group, name: ObjectMeta.name(of: object), causes: [
                FieldCause(reason: "FieldValueInvalid", field: "", message: "Invalid value: the object nests deeper than \(JSON.maximumDepth) levels")
            ])
        }
        if object.serializedSize(limit: maximumObjectBytes) == nil {
            throw APIError.tooLarge(limit: maximumObjectBytes)
        }
    }

    /// Runs a transform through the store, or for a dry run against the current cache only.
    /// Every object written is checked with `checkStorable` first.
    func commit(_ key: ObjectKey, dryRun: Bool, type: ResourceType, _ transform: @escaping @Sendable (StoredObject?) throws -> Mutation) async throws -> MutationResult {
        let checked: @Sendable (StoredObject?) throws -> Mutation = { current in
            let mutation = try transform(current)
            if case .put(let object) = mutation { try Self.checkStorable(object, type: type) }
            return mutation
        }
        if !dryRun { return try await store.mutate(key, checked) }
        let current = store.get(key)
        switch try checked(current) {
        case .put(let object):
            let preview = StoredObject(key: key, revision: current?.revision ?? 0, object: object, bytes: object.serialized())
            return MutationResult(outcome: current == nil ? .created : .updated, object: preview, previous: current)
        case .delete: return MutationResult(outcome: .deleted, object: current, previous: current)
        case .none: return MutationResult(outcome: .unchanged, object: current, previous: current)
        }
    }
}

/// The opaque `continue` token of a paged list: the revision and the last key returned.
enum ContinueToken {
    static func encode(revision: Int64, namespace: String, name: String) -> String {
        let json: JSON = ["v": .int(revision), "ns": .string(namespace), "n": .string(name)]
        return Base64.encodeURLSafe(json.serialized())
    }

    static func decode(_ token: String) -> (revision: Int64, namespace: String, name: String)? {
        guard let bytes = Base64.decodeURLSafe(token), let json = try? JSON.parse(bytes),
              let revision = json["v"]?.intValue, let namespace = json["ns"]?.stringValue, let name = json["n"]?.stringValue
        else { return nil }
        return (revision, namespace, name)
    }
}
