/// The rules ConfigMaps and Secrets share: key names, the 1 MiB limit, `immutable`.
public enum ConfigurationData {
    /// The most bytes of values one ConfigMap or Secret may hold (Kubernetes' limit).
    public static let maximumBytes = 1 << 20

    /// Why `key` cannot name an entry of `data` (Kubernetes' IsConfigMapKey): at most 253
    /// characters of `-`, `_`, `.` and alphanumerics, not `.` or `..`, not starting with `..`.
    public static func keyError(_ key: String) -> String? {
        if key.isEmpty { return "a valid config key must consist of alphanumeric characters, '-', '_' or '.'" }
        if key.utf8.count > 253 { return "must be no more than 253 characters" }
        for byte in key.utf8 where !(NameRules.isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")) {
            return "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        }
        if key == "." || key == ".." { return "must not be '\(key)'" }
        if key.hasPrefix("..") { return "must not start with '..'" }
        return nil
    }

    /// Checks one map of entries (`data`, `binaryData`, `stringData`): an object whose keys are
    /// config keys and whose values are strings, base64 when `base64`. Adds each value's size
    /// (decoded for base64) to `total`.
    static func checkEntries(_ value: JSON?, _ field: String, base64: Bool, total: inout Int, into causes: inout [FieldCause]) {
        guard let value, !value.isNull else { return }
        guard let members = value.objectValue else {
            causes.append(.typeInvalid(field, expected: "object", got: value))
            return
        }
        for (key, member) in members {
            if let error = keyError(key) { causes.append(.invalid(field, .string(key), error)) }
            guard let text = member.stringValue else {
                causes.append(.typeInvalid("\(field)[\(key)]", expected: "string", got: member))
                continue
            }
            if base64 {
                guard let bytes = Base64.decode(text) else {
                    causes.append(.invalid("\(field)[\(key)]", .string("<contents redacted>"), "must be base64 (standard alphabet, padded)"))
                    continue
                }
                total = total > Int.max - bytes.count ? Int.max : total + bytes.count
            } else {
                total = total > Int.max - text.utf8.count ? Int.max : total + text.utf8.count
            }
        }
    }

    static func checkSize(_ total: Int, _ field: String, into causes: inout [FieldCause]) {
        if total > maximumBytes {
            causes.append(FieldCause(reason: "FieldValueTooLong", field: field, message: "Too long: must have at most \(maximumBytes) bytes"))
        }
    }

    /// Once `immutable` is true, the listed fields and `immutable` itself stay as they are.
    static func checkImmutable(_ object: JSON, old: JSON, fields: [String], into causes: inout [FieldCause]) {
        guard old["immutable"]?.boolValue == true else { return }
        if object["immutable"]?.boolValue != true {
            causes.append(.forbidden("immutable", "field is immutable when `immutable` is set"))
        }
        for field in fields where (object[field] ?? .null) != (old[field] ?? .null) {
            causes.append(.forbidden(field, "field is immutable when `immutable` is set"))
        }
    }

    /// The number of entries, as kubectl's DATA column shows it.
    static func count(_ object: JSON, _ fields: [String]) -> Int {
        fields.reduce(0) { $0 + (object[$1]?.objectValue?.count ?? 0) }
    }
}

/// core/v1 ConfigMap: string `data` and base64 `binaryData`, keys unique across both.
public struct ConfigMapStrategy: ResourceStrategy {
    public init() {}

    public let type = ResourceType(group: "", version: "v1", resource: "configmaps", singular: "configmap", kind: "ConfigMap",
                                   namespaced: true, shortNames: ["cm"])

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        var total = 0
        ConfigurationData.checkEntries(object["data"], "data", base64: false, total: &total, into: &causes)
        ConfigurationData.checkEntries(object["binaryData"], "binaryData", base64: true, total: &total, into: &causes)
        for key in (object["data"]?.objectValue?.keys).map(Array.init) ?? [] where object["binaryData"]?[key] != nil {
            causes.append(.invalid("data[\(key)]", .string(key), "duplicate of key present in binaryData"))
        }
        ConfigurationData.checkSize(total, "data", into: &causes)
        CommonSchemas.checkType(object["immutable"], "boolean", "immutable", into: &causes)
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        ConfigurationData.checkImmutable(object, old: old, fields: ["data", "binaryData"], into: &causes)
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Data", type: "integer", description: "Number of entries in data and binaryData."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { map in
                [.string(ObjectMeta.name(of: map)), .int(Int64(ConfigurationData.count(map, ["data", "binaryData"]))),
                 .string(Timestamp.age(of: map[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] {
        [SchemaDefinition("io.k8s.api.core.v1.ConfigMap", "ConfigMap holds configuration data for pods to consume.", kind: ("", "v1", "ConfigMap"),
                          fields: CommonSchemas.topLevel(spec: nil, status: nil) + [
                              SchemaField("data", .map(.string), "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'."),
                              SchemaField("binaryData", .map(.string), "BinaryData contains the binary data (base64). Keys must not overlap with those in data."),
                              SchemaField("immutable", .boolean, "Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only object metadata can be modified)."),
                          ])]
    }
}

/// core/v1 Secret: base64 `data`, write-only `stringData` folded into it, a `type` with its
/// required keys. The store encrypts Secrets at rest (Kube9Store's value transformer).
public struct SecretStrategy: ResourceStrategy {
    public init() {}

    public let type = ResourceType(group: "", version: "v1", resource: "secrets", singular: "secret", kind: "Secret",
                                   namespaced: true, selectableFields: ["type"])

    /// Keys a Secret of each built-in type must have (at least one of each inner list).
    static let requiredKeys: [String: [[String]]] = [
        "kubernetes.io/tls": [["tls.crt"], ["tls.key"]],
        "kubernetes.io/dockerconfigjson": [[".dockerconfigjson"]],
        "kubernetes.io/dockercfg": [[".dockercfg"]],
        "kubernetes.io/ssh-auth": [["ssh-privatekey"]],
        "kubernetes.io/basic-auth": [["username", "password"]],
    ]

    public func prepareForCreate(_ object: inout JSON) {
        if object["type"] == nil || object["type"] == .string("") { object["type"] = "Opaque" }
        Self.foldStringData(&object)
    }

    public func prepareForUpdate(_ object: inout JSON, old: JSON) {
        if object["type"] == nil || object["type"] == .string("") { object["type"] = old["type"] ?? "Opaque" }
        Self.foldStringData(&object)
    }

    /// `stringData` entries replace `data` entries of the same key, base64-encoded, and the field
    /// goes (it is write-only, as in Kubernetes). A malformed `stringData` stays for validation to name.
    static func foldStringData(_ object: inout JSON) {
        guard let strings = object["stringData"] else { return }
        if strings.isNull {
            object["stringData"] = Optional<JSON>.none
            return
        }
        guard let members = strings.objectValue, members.values.allSatisfy({ $0.stringValue != nil }) else { return }
        var data = object["data"]?.objectValue ?? [:]
        if let existing = object["data"], !existing.isNull, existing.objectValue == nil { return }
        for (key, value) in members { data[key] = .string(Base64.encode(Array((value.stringValue ?? "").utf8))) }
        object["data"] = .object(data)
        object["stringData"] = Optional<JSON>.none
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        var total = 0
        ConfigurationData.checkEntries(object["data"], "data", base64: true, total: &total, into: &causes)
        ConfigurationData.checkEntries(object["stringData"], "stringData", base64: false, total: &total, into: &causes)
        ConfigurationData.checkSize(total, "data", into: &causes)
        CommonSchemas.checkType(object["immutable"], "boolean", "immutable", into: &causes)
        let type = object["type"]
        guard let typeName = type?.stringValue else {
            if let type, !type.isNull { causes.append(.typeInvalid("type", expected: "string", got: type)) }
            return causes
        }
        if typeName.utf8.count > 253 { causes.append(.invalid("type", type, "must be no more than 253 characters")) }
        let data = object["data"]?.objectValue ?? [:]
        for alternatives in Self.requiredKeys[typeName] ?? [] where !alternatives.contains(where: { data[$0] != nil }) {
            causes.append(.required("data[\(alternatives.joined(separator: "] or data["))]", "a \(typeName) Secret needs it"))
        }
        for key in [".dockerconfigjson", ".dockercfg"] where Self.requiredKeys[typeName]?.contains([key]) == true {
            if let encoded = data[key]?.stringValue, let bytes = Base64.decode(encoded), (try? JSON.parse(bytes)) == nil {
                causes.append(.invalid("data[\(key)]", .string("<secret contents redacted>"), "must be valid JSON"))
            }
        }
        if typeName == "kubernetes.io/service-account-token",
           ObjectMeta.annotation(object, "kubernetes.io/service-account.name")?.isEmpty ?? true {
            causes.append(.required("metadata.annotations[kubernetes.io/service-account.name]", "a service-account-token Secret names its ServiceAccount"))
        }
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        if let oldType = old["type"], object["type"] != oldType {
            causes.append(.invalid("type", object["type"], "field is immutable"))
        }
        ConfigurationData.checkImmutable(object, old: old, fields: ["data"], into: &causes)
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Type", description: "Used to facilitate programmatic handling of secret data."),
                TableColumn("Data", type: "integer", description: "Number of entries in data."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { secret in
                [.string(ObjectMeta.name(of: secret)), .string(secret["type"]?.stringValue ?? "Opaque"),
                 .int(Int64(ConfigurationData.count(secret, ["data"]))),
                 .string(Timestamp.age(of: secret[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] {
        [SchemaDefinition("io.k8s.api.core.v1.Secret", "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.",
                          kind: ("", "v1", "Secret"),
                          fields: CommonSchemas.topLevel(spec: nil, status: nil) + [
                              SchemaField("data", .map(.string), "Data contains the secret data (base64). Each key must consist of alphanumeric characters, '-', '_' or '.'."),
                              SchemaField("stringData", .map(.string), "stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience."),
                              SchemaField("type", .string, "Used to facilitate programmatic handling of secret data."),
                              SchemaField("immutable", .boolean, "Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object metadata can be modified)."),
                          ])]
    }
}
