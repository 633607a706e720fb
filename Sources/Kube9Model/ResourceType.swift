/// The facts about one served resource that discovery, routing and storage need:
/// its group/version/kind, names, scope, verbs and subresources.
public struct ResourceType: Sendable, Hashable {
    /// API group ("" for the core group).
    public let group: String
    /// API version within the group ("v1").
    public let version: String
    /// Plural resource name used in URLs ("pods").
    public let resource: String
    /// Singular name ("pod").
    public let singular: String
    /// Kind ("Pod").
    public let kind: String
    /// True when objects live in a namespace.
    public let namespaced: Bool
    /// kubectl short names ("po").
    public let shortNames: [String]
    /// Categories ("all").
    public let categories: [String]
    /// Verbs on the collection and the object.
    public let verbs: [String]
    /// Subresources served ("status", "binding", "log").
    public let subresources: [String]
    /// Field paths that field selectors may use.
    public let selectableFields: Set<String>

    public init(
        group: String, version: String, resource: String, singular: String, kind: String, namespaced: Bool,
        shortNames: [String] = [], categories: [String] = [],
        verbs: [String] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        subresources: [String] = [], selectableFields: Set<String> = []
    ) {
        self.group = group
        self.version = version
        self.resource = resource
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.categories = categories
        self.verbs = verbs
        self.subresources = subresources
        var fields = selectableFields
        fields.insert("metadata.name")
        if namespaced { fields.insert("metadata.namespace") }
        self.selectableFields = fields
    }

    /// "v1" or "group/version".
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// The key the store files objects under: "pods", or "leases.coordination.k8s.io".
    public var storageName: String { group.isEmpty ? resource : "\(resource).\(group)" }

    /// The `kind` of the list type ("PodList").
    public var listKind: String { kind + "List" }

    /// The URL prefix of this resource's group-version: "/api/v1" or "/apis/group/version".
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }
}

/// What a kind does beyond storage: defaults, validation, update rules, table columns and
/// strategic-merge keys. Every method is pure: it reads JSON and returns JSON or causes.
public protocol ResourceStrategy: Sendable {
    /// The resource this strategy governs.
    var type: ResourceType { get }
    /// True when `status` is owned by the status subresource (main-resource writes keep the old status).
    var hasStatusSubresource: Bool { get }
    /// Sets defaults and resets server-owned fields on a new object (metadata is handled by the registry).
    func prepareForCreate(_ object: inout JSON)
    /// Applies update rules to a new version of an existing object (for example, keep the old status).
    func prepareForUpdate(_ object: inout JSON, old: JSON)
    /// Applies rules to a status write (the object with its new status), e.g. filling fields clients require.
    func prepareForStatusUpdate(_ object: inout JSON, old: JSON)
    /// Validates a complete object; returns one cause per problem.
    func validate(_ object: JSON) -> [FieldCause]
    /// Validates a change; by default the new object is validated on its own.
    func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause]
    /// The table kubectl prints for this kind.
    var table: TableDefinition { get }
    /// Strategic-merge keys for PATCH.
    var mergeKeys: MergeKeys { get }
    /// The OpenAPI schema of the kind and the types it refers to.
    var schemas: [SchemaDefinition] { get }
    /// Whether a change of this field path in an update bumps `metadata.generation` (default: spec changes).
    func specChanged(_ object: JSON, old: JSON) -> Bool
}

extension ResourceStrategy {
    public var hasStatusSubresource: Bool { type.subresources.contains("status") }
    public func prepareForCreate(_ object: inout JSON) {}
    public func prepareForUpdate(_ object: inout JSON, old: JSON) {
        if hasStatusSubresource { object["status"] = old["status"] }
    }
    public func prepareForStatusUpdate(_ object: inout JSON, old: JSON) {}
    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] { validate(object) }
    public var mergeKeys: MergeKeys { .metadata }
    public func specChanged(_ object: JSON, old: JSON) -> Bool { object["spec"] != old["spec"] }
    public var table: TableDefinition { .nameAndAge }
}
