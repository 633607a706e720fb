/// Definitions every kind refers to (metadata).
public enum CommonSchemas {
    public static let objectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    public static let ownerReference = "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"
    static let meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
    public static let listMeta = meta + "ListMeta"
    public static let deleteOptions = meta + "DeleteOptions"
    public static let status = meta + "Status"
    public static let watchEvent = meta + "WatchEvent"
    public static let binding = "io.k8s.api.core.v1.Binding"

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
        SchemaDefinition(listMeta, "ListMeta describes metadata that synthetic resources must have, including lists.", fields: [
            SchemaField("resourceVersion", .string, "String that identifies the server's internal version of this object."),
            SchemaField("continue", .string, "continue may be set if the user set a limit on the number of items returned."),
            SchemaField("remainingItemCount", .integer, "The number of subsequent items in the list which are not included in this list response."),
            SchemaField("selfLink", .string, "Deprecated: selfLink is a legacy read-only field that is no longer populated by the system."),
        ]),
        SchemaDefinition(deleteOptions, "DeleteOptions may be provided when deleting an API object.", fields: [
            SchemaField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object."),
            SchemaField("kind", .string, "Kind is a string value representing the REST resource this object represents."),
            SchemaField("gracePeriodSeconds", .integer, "The duration in seconds before the object should be deleted (0 to 2147483647)."),
            SchemaField("preconditions", .ref(meta + "Preconditions"), "Must be fulfilled before a deletion is carried out."),
            SchemaField("propagationPolicy", .string, "Whether and how garbage collection will be performed: Orphan, Background or Foreground."),
            SchemaField("orphanDependents", .boolean, "Deprecated: use propagationPolicy."),
            SchemaField("dryRun", .array(.string), "When present, indicates that modifications should not be persisted. The only valid value is All."),
        ]),
        SchemaDefinition(meta + "Preconditions", "Preconditions must be fulfilled before an operation (update, delete, etc.) is carried out.", fields: [
            SchemaField("resourceVersion", .string, "Specifies the target ResourceVersion"),
            SchemaField("uid", .string, "Specifies the target UID."),
        ]),
        SchemaDefinition(status, "Status is a return value for calls that don't return other objects.", fields: [
            SchemaField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object."),
            SchemaField("kind", .string, "Kind is a string value representing the REST resource this object represents."),
            SchemaField("metadata", .ref(listMeta), "Standard list metadata."),
            SchemaField("status", .string, "Status of the operation. One of: \"Success\" or \"Failure\"."),
            SchemaField("message", .string, "A human-readable description of the status of this operation."),
            SchemaField("reason", .string, "A machine-readable description of why this operation is in the \"Failure\" status."),
            SchemaField("details", .ref(meta + "StatusDetails"), "Extended data associated with the reason."),
            SchemaField("code", .integer, "Suggested HTTP return code for this status, 0 if not set."),
        ]),
        SchemaDefinition(meta + "StatusDetails", "StatusDetails is a set of additional properties that MAY be set by the server to provide additional information about a response.", fields: [
            SchemaField("name", .string, "The name attribute of the resource associated with the status StatusReason."),
            SchemaField("group", .string, "The group attribute of the resource associated with the status StatusReason."),
            SchemaField("kind", .string, "The kind attribute of the resource associated with the status StatusReason."),
            SchemaField("uid", .string, "UID of the resource."),
            SchemaField("causes", .array(.ref(meta + "StatusCause")), "The Causes array includes more details associated with the StatusReason failure."),
            SchemaField("retryAfterSeconds", .integer, "If specified, the time in seconds before the operation should be retried."),
        ]),
        SchemaDefinition(meta + "StatusCause", "StatusCause provides more information about an api.Status failure.", fields: [
            SchemaField("reason", .string, "A machine-readable description of the cause of the error."),
            SchemaField("message", .string, "A human-readable description of the cause of the error."),
            SchemaField("field", .string, "The field of the resource that has caused this error, as named by its JSON serialization."),
        ]),
        SchemaDefinition(watchEvent, "Event represents a single event to a watched resource.", fields: [
            SchemaField("type", .string, "ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.", required: true),
            SchemaField("object", .freeform, "The object that changed (for ERROR, a Status; for BOOKMARK, an object with only its resourceVersion).", required: true),
        ]),
        SchemaDefinition(binding, "Binding ties one object to another; for example, a pod is bound to a node by a scheduler.", fields: [
            SchemaField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object."),
            SchemaField("kind", .string, "Kind is a string value representing the REST resource this object represents."),
            SchemaField("metadata", .ref(objectMeta), "Standard object's metadata."),
            SchemaField("target", .ref("io.k8s.api.core.v1.ObjectReference"), "The target object that you want to bind to the standard object.", required: true),
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

    /// Validates that `value` at `field`, if present, is an integer within `range` (a bound that
    /// also keeps the arithmetic done with it in range).
    public static func checkInteger(_ value: JSON?, _ field: String, in range: ClosedRange<Int64>, into causes: inout [FieldCause]) {
        guard let value, !value.isNull else { return }
        guard let number = value.intValue else {
            causes.append(.typeInvalid(field, expected: "integer", got: value))
            return
        }
        if !range.contains(number) {
            causes.append(.invalid(field, value, "must be between \(range.lowerBound) and \(range.upperBound), inclusive"))
        }
    }
}
