/// Typed reads of `metadata` in an API object held as JSON.
public enum ObjectMeta {
    /// `metadata.name`, or "" when absent.
    public static func name(of object: JSON) -> String { object[path: ["metadata", "name"]]?.stringValue ?? "" }
    /// `metadata.namespace`, or "" when absent.
    public static func namespace(of object: JSON) -> String { object[path: ["metadata", "namespace"]]?.stringValue ?? "" }
    /// `metadata.uid`, or "" when absent.
    public static func uid(of object: JSON) -> String { object[path: ["metadata", "uid"]]?.stringValue ?? "" }
    /// `metadata.resourceVersion`, or "" when absent.
    public static func resourceVersion(of object: JSON) -> String { object[path: ["metadata", "resourceVersion"]]?.stringValue ?? "" }
    /// `metadata.deletionTimestamp`, if set.
    public static func deletionTimestamp(of object: JSON) -> String? { object[path: ["metadata", "deletionTimestamp"]]?.stringValue }

    /// `metadata.labels` as a dictionary; non-string values are skipped.
    public static func labels(of object: JSON) -> [String: String] {
        guard let members = object[path: ["metadata", "labels"]]?.objectValue else { return [:] }
        var labels: [String: String] = [:]
        labels.reserveCapacity(members.count)
        for (key, value) in members { if let text = value.stringValue { labels[key] = text } }
        return labels
    }

    /// `metadata.ownerReferences` that name an owner (apiVersion, kind, name and uid all set).
    public static func ownerReferences(of object: JSON) -> [OwnerReference] {
        (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).compactMap(OwnerReference.init)
    }

    /// The owner reference with `controller: true`, if any.
    public static func controllerReference(of object: JSON) -> OwnerReference? {
        ownerReferences(of: object).first { $0.controller }
    }

    /// One annotation's value, if set.
    public static func annotation(_ object: JSON, _ key: String) -> String? {
        object[path: ["metadata", "annotations", key]]?.stringValue
    }

    /// `metadata.finalizers`.
    public static func finalizers(of object: JSON) -> [String] {
        object[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// Checks the shape of `metadata` common to every kind: string maps for labels and
    /// annotations with valid keys and values, string lists for finalizers, an object for metadata.
    public static func validate(_ object: JSON, nameRule: (String) -> String?, namespaced: Bool) -> [FieldCause] {
        var causes: [FieldCause] = []
        guard let metadata = object["metadata"] else {
            return [.required("metadata.name", "name or generateName is required")]
        }
        guard case .object = metadata else { return [.typeInvalid("metadata", expected: "object", got: metadata)] }
        let name = metadata["name"]
        if let name, case .string(let text) = name {
            if text.isEmpty {
                causes.append(.required("metadata.name", "name or generateName is required"))
            } else if let error = nameRule(text) {
                causes.append(.invalid("metadata.name", name, error))
            }
        } else if let name, !name.isNull {
            causes.append(.typeInvalid("metadata.name", expected: "string", got: name))
        } else {
            causes.append(.required("metadata.name", "name or generateName is required"))
        }
        if let namespace = metadata["namespace"], !namespace.isNull {
            if let text = namespace.stringValue {
                if namespaced, !text.isEmpty, let error = NameRules.dns1123LabelError(text) {
                    causes.append(.invalid("metadata.namespace", namespace, error))
                }
            } else {
                causes.append(.typeInvalid("metadata.namespace", expected: "string", got: namespace))
            }
        }
        for field in ["labels", "annotations"] {
            guard let map = metadata[field], !map.isNull else { continue }
            guard let members = map.objectValue else {
                causes.append(.typeInvalid("metadata.\(field)", expected: "map of strings", got: map))
                continue
            }
            var annotationBytes = 0
            for (key, value) in members {
                if let error = NameRules.qualifiedNameError(key) {
                    causes.append(.invalid("metadata.\(field)", .string(key), error))
                }
                guard let text = value.stringValue else {
                    causes.append(.typeInvalid("metadata.\(field).\(key)", expected: "string", got: value))
                    continue
                }
                if field == "labels", let error = NameRules.labelValueError(text) {
                    causes.append(.invalid("metadata.labels", value, error))
                }
                annotationBytes += key.utf8.count + text.utf8.count
            }
            if field == "annotations", annotationBytes > 262_144 {
                causes.append(FieldCause(reason: "FieldValueTooLong", field: "metadata.annotations", message: "Too long: must have at most 262144 bytes"))
            }
        }
        if let finalizers = metadata["finalizers"], !finalizers.isNull {
            if let list = finalizers.arrayValue {
                for (index, finalizer) in list.enumerated() {
                    guard let text = finalizer.stringValue else {
                        causes.append(.typeInvalid("metadata.finalizers[\(index)]", expected: "string", got: finalizer))
                        continue
                    }
                    if let error = NameRules.qualifiedNameError(text) {
                        causes.append(.invalid("metadata.finalizers[\(index)]", finalizer, error))
                    }
                }
            } else {
                causes.append(.typeInvalid("metadata.finalizers", expected: "array of strings", got: finalizers))
            }
        }
        if let owners = metadata["ownerReferences"], !owners.isNull {
            if let list = owners.arrayValue {
                var controllers = 0
                for (index, owner) in list.enumerated() {
                    for required in ["apiVersion", "kind", "name", "uid"] where (owner[required]?.stringValue ?? "").isEmpty {
                        causes.append(.required("metadata.ownerReferences[\(index)].\(required)"))
                    }
                    if owner["controller"]?.boolValue == true { controllers += 1 }
                }
                if controllers > 1 {
                    causes.append(.invalid("metadata.ownerReferences", nil, "Only one reference can have Controller set to true"))
                }
            } else {
                causes.append(.typeInvalid("metadata.ownerReferences", expected: "array", got: owners))
            }
        }
        return causes
    }
}

/// One entry of `metadata.ownerReferences`.
public struct OwnerReference: Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool
    public var blockOwnerDeletion: Bool

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool = false, blockOwnerDeletion: Bool = false) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }

    /// Reads one reference; nil when a required field is missing.
    public init?(_ json: JSON) {
        guard let apiVersion = json["apiVersion"]?.stringValue, !apiVersion.isEmpty, let kind = json["kind"]?.stringValue, !kind.isEmpty,
              let name = json["name"]?.stringValue, !name.isEmpty, let uid = json["uid"]?.stringValue, !uid.isEmpty else { return nil }
        self.init(apiVersion: apiVersion, kind: kind, name: name, uid: uid,
                  controller: json["controller"]?.boolValue ?? false, blockOwnerDeletion: json["blockOwnerDeletion"]?.boolValue ?? false)
    }

    /// The reference a controller puts on what it creates for `owner`.
    public static func controller(of owner: JSON) -> OwnerReference {
        OwnerReference(apiVersion: owner["apiVersion"]?.stringValue ?? "", kind: owner["kind"]?.stringValue ?? "",
                       name: ObjectMeta.name(of: owner), uid: ObjectMeta.uid(of: owner), controller: true, blockOwnerDeletion: true)
    }

    public var json: JSON {
        ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name), "uid": .string(uid),
         "controller": .bool(controller), "blockOwnerDeletion": .bool(blockOwnerDeletion)]
    }
}
