/// Definitions every kind refers to (metadata).
public enum CommonSchemas {
    public static let objectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    public static let ownerReference = "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"

    /// The standard top-level fields of a kind: apiVersion, kind, metadata, and the given spec/status.
    public static func topLevel(spec: String?, status: String?, specDescription: String = "", statusDescription: String = "") -> [SchemaField] {
        var fields = [
            SchemaField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object."),
            SchemaField("kind", .string, "Kind is a string value representing the REST resource this object represents."),
            SchemaField("metadata", .ref(objectMeta), "Standard object's metadata."),
        ]
        if let spec { fields.append(SchemaField("spec", .ref(spec), specDescription)) }
        if let status { fields.append(SchemaField("status", .ref(status), statusDescription)) }
        return fields
    }

    public static let definitions: [SchemaDefinition] = [
        SchemaDefinition(objectMeta, "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.", fields: [
            SchemaField("name", .string, "Name must be unique within a namespace. Cannot be updated."),
            SchemaField("generateName", .string, "GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
            SchemaField("namespace", .string, "Namespace defines the space within which each name must be unique."),
            SchemaField("selfLink", .string, "Deprecated: selfLink is a legacy read-only field that is no longer populated by the system."),
            SchemaField("uid", .string, "UID is the unique in time and space value for this object. Populated by the system. Read-only."),
            SchemaField("resourceVersion", .string, "An opaque value that represents the internal version of this object, used for optimistic concurrency."),
            SchemaField("generation", .integer, "A sequence number representing a specific generation of the desired state. Populated by the system. Read-only."),
            SchemaField("creationTimestamp", .time, "CreationTimestamp is a timestamp representing the server time when this object was created."),
            SchemaField("deletionTimestamp", .time, "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted."),
            SchemaField("deletionGracePeriodSeconds", .integer, "Number of seconds allowed for this object to gracefully terminate before it will be removed from the system."),
            SchemaField("labels", .map(.string), "Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            SchemaField("annotations", .map(.string), "Annotations is an unstructured key value map stored with a resource that may be set by external tools."),
            SchemaField("ownerReferences", .array(.ref(ownerReference)), "List of objects depended by this object.", mergeKey: "uid"),
            SchemaField("finalizers", .array(.string), "Must be empty before the object is deleted from the registry.", mergesAsSet: true),
            SchemaField("managedFields", .array(.freeform), "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow."),
        ]),
        SchemaDefinition(ownerReference, "OwnerReference contains enough information to let you identify an owning object.", fields: [
            SchemaField("apiVersion", .string, "API version of the referent.", required: true),
            SchemaField("kind", .string, "Kind of the referent.", required: true),
            SchemaField("name", .string, "Name of the referent.", required: true),
            SchemaField("uid", .string, "UID of the referent.", required: true),
            SchemaField("controller", .boolean, "If true, this reference points to the managing controller."),
            SchemaField("blockOwnerDeletion", .boolean, "If true, AND if the owner has the \"foregroundDeletion\" finalizer, then the owner cannot be deleted from the key-value store until this reference is removed."),
        ]),
    ]

    /// Validates that `value` at `field`, if present, is of the JSON type `expected` ("string", "integer", "boolean", "object", "array").
    public static func checkType(_ value: JSON?, _ expected: String, _ field: String, into causes: inout [FieldCause]) {
        guard let value, !value.isNull else { return }
        let ok: Bool
        switch expected {
        case "string": ok = value.stringValue != nil
        case "integer": ok = value.intValue != nil
        case "boolean": ok = value.boolValue != nil
        case "object": ok = value.objectValue != nil
        case "array": ok = value.arrayValue != nil
        default: ok = true
        }
        if !ok { causes.append(.typeInvalid(field, expected: expected, got: value)) }
    }
}
