/// What the storage kinds, the volume controller, the scheduler and the agents share: the
/// annotations and finalizer Kubernetes uses, access modes, sizes, and which claims a pod uses.
public enum Storage {
    /// The StorageClass annotation that makes it the default for claims without a class.
    public static let defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
    /// The built-in dynamic provisioner: a directory on the node for each claim.
    public static let localPathProvisioner = "kube9.io/local-path"
    /// The name of the default StorageClass kube9 creates at start (k3s names its own so too).
    public static let localPathClass = "local-path"
    /// Set on a claim of a WaitForFirstConsumer class by the scheduler: the node its first pod goes to.
    public static let selectedNodeAnnotation = "volume.kubernetes.io/selected-node"
    /// A node's directory for local-path volumes, advertised by its agent.
    public static let localPathRootAnnotation = "kube9.io/local-path-root"
    /// The provisioner that made a volume.
    public static let provisionedByAnnotation = "pv.kubernetes.io/provisioned-by"
    /// On a claim whose binding the controller completed.
    public static let bindCompletedAnnotation = "pv.kubernetes.io/bind-completed"
    /// Keeps a claim while a pod uses it (Kubernetes' storage-object-in-use protection).
    public static let protectionFinalizer = "kubernetes.io/pvc-protection"

    public static let accessModes = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
    static let shortModes = ["ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"]

    /// The claim names a pod's volumes refer to, in order.
    public static func claimNames(of pod: JSON) -> [String] {
        (pod[path: ["spec", "volumes"]]?.arrayValue ?? []).compactMap { $0[path: ["persistentVolumeClaim", "claimName"]]?.stringValue }
    }

    /// The bytes a claim requests (`spec.resources.requests.storage`), nil when it is not a quantity.
    public static func requestedBytes(_ claim: JSON) -> Int64? {
        guard case .success(let quantity) = Quantity.checked(claim[path: ["spec", "resources", "requests", "storage"]]) else { return nil }
        return quantity.value
    }

    /// The bytes a volume offers (`spec.capacity.storage`), nil when it is not a quantity.
    public static func capacityBytes(_ volume: JSON) -> Int64? {
        guard case .success(let quantity) = Quantity.checked(volume[path: ["spec", "capacity", "storage"]]) else { return nil }
        return quantity.value
    }

    /// The access modes of an object's spec, as strings.
    public static func modes(_ object: JSON) -> [String] {
        (object[path: ["spec", "accessModes"]]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    /// kubectl's ACCESS MODES column: "RWO,ROX".
    static func modesText(_ modes: [JSON]?) -> String {
        (modes ?? []).compactMap { $0.stringValue.map { shortModes[$0] ?? $0 } }.joined(separator: ",")
    }

    /// Whether a StorageClass carries the default-class annotation.
    public static func isDefault(_ storageClass: JSON) -> Bool {
        storageClass[path: ["metadata", "annotations", defaultClassAnnotation]]?.stringValue == "true"
    }

    /// The class a claim or volume names ("" when none).
    public static func className(_ object: JSON) -> String {
        object[path: ["spec", "storageClassName"]]?.stringValue ?? ""
    }

    /// Validates `spec.accessModes`: at least one known mode, ReadWriteOncePod alone.
    static func validateAccessModes(_ object: JSON, into causes: inout [FieldCause]) {
        let value = object[path: ["spec", "accessModes"]]
        guard let modes = value?.arrayValue, !modes.isEmpty else {
            causes.append(.required("spec.accessModes", "at least 1 access mode is required"))
            return
        }
        for (index, mode) in modes.enumerated() where !accessModes.contains(mode.stringValue ?? "") {
            causes.append(.notSupported("spec.accessModes[\(index)]", mode, supported: accessModes))
        }
        if modes.count > 1, modes.contains(.string("ReadWriteOncePod")) {
            causes.append(.forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes"))
        }
    }

    /// Validates a storage quantity at `path` (required, greater than zero).
    static func validateSize(_ object: JSON, path: [String], field: String, into causes: inout [FieldCause]) {
        let value = object[path: path]
        guard let value, !value.isNull else {
            causes.append(.required(field))
            return
        }
        switch Quantity.checked(value) {
        case .failure(let problem): causes.append(.invalid(field, value, problem.message))
        case .success(let quantity) where quantity.milliValue <= 0: causes.append(.invalid(field, value, "must be greater than zero"))
        default: break
        }
    }

    /// Validates `spec.volumeMode` (Filesystem or Block; kube9's volumes are directories).
    static func validateVolumeMode(_ object: JSON, into causes: inout [FieldCause]) {
        guard let mode = object[path: ["spec", "volumeMode"]], !mode.isNull else { return }
        if mode.stringValue == "Block" {
            causes.append(.forbidden("spec.volumeMode", "Block volumes are not served by kube9: its volumes are directories (Filesystem)"))
        } else if mode.stringValue != "Filesystem" {
            causes.append(.notSupported("spec.volumeMode", mode, supported: ["Block", "Filesystem"]))
        }
    }
}

/// storage.k8s.io/v1 StorageClass: a provisioner with its parameters, the reclaim policy of
/// the volumes it makes, and when claims bind (Immediate, or WaitForFirstConsumer: once a pod
/// that uses the claim is scheduled).
public struct StorageClassStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "storage.k8s.io", version: "v1", resource: "storageclasses", singular: "storageclass",
                                   kind: "StorageClass", namespaced: false, shortNames: ["sc"])

    public static let reclaimPolicies = ["Delete", "Retain"]
    public static let bindingModes = ["Immediate", "WaitForFirstConsumer"]

    public func prepareForCreate(_ object: inout JSON) {
        if object["reclaimPolicy"] == nil { object["reclaimPolicy"] = "Delete" }
        if object["volumeBindingMode"] == nil { object["volumeBindingMode"] = "Immediate" }
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: false)
        if let provisioner = object["provisioner"]?.stringValue, !provisioner.isEmpty {
            if provisioner.utf8.count > 63 { causes.append(.invalid("provisioner", .string(provisioner), "must be no more than 63 characters")) }
        } else {
            causes.append(.required("provisioner"))
        }
        if let policy = object["reclaimPolicy"], !Self.reclaimPolicies.contains(policy.stringValue ?? "") {
            causes.append(.notSupported("reclaimPolicy", policy, supported: Self.reclaimPolicies))
        }
        if let mode = object["volumeBindingMode"], !Self.bindingModes.contains(mode.stringValue ?? "") {
            causes.append(.notSupported("volumeBindingMode", mode, supported: Self.bindingModes))
        }
        if let parameters = object["parameters"], !parameters.isNull {
            if let members = parameters.objectValue {
                if members.count > 512 { causes.append(FieldCause(reason: "FieldValueTooMany", field: "parameters", message: "Too many: must have at most 512 items")) }
                for (key, value) in members where value.stringValue == nil { causes.append(.typeInvalid("parameters[\(key)]", expected: "string", got: value)) }
            } else {
                causes.append(.typeInvalid("parameters", expected: "object", got: parameters))
            }
        }
        CommonSchemas.checkType(object["allowVolumeExpansion"], "boolean", "allowVolumeExpansion", into: &causes)
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        for field in ["provisioner", "parameters", "reclaimPolicy"] where (object[field] ?? .null) != (old[field] ?? .null) {
            causes.append(.forbidden(field, "updates to \(field) are forbidden."))
        }
        if (object["volumeBindingMode"] ?? .null) != (old["volumeBindingMode"] ?? .null) {
            causes.append(.invalid("volumeBindingMode", object["volumeBindingMode"], "field is immutable"))
        }
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Provisioner", description: "provisioner indicates the type of the provisioner."),
                TableColumn("ReclaimPolicy", description: "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class."),
                TableColumn("VolumeBindingMode", description: "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound."),
                TableColumn("AllowVolumeExpansion", description: "allowVolumeExpansion shows whether the storage class allow volume expand."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { storageClass in
                let name = ObjectMeta.name(of: storageClass)
                return [.string(Storage.isDefault(storageClass) ? "\(name) (default)" : name),
                        .string(storageClass["provisioner"]?.stringValue ?? ""),
                        .string(storageClass["reclaimPolicy"]?.stringValue ?? "Delete"),
                        .string(storageClass["volumeBindingMode"]?.stringValue ?? "Immediate"),
                        .string(storageClass["allowVolumeExpansion"]?.boolValue == true ? "true" : "false"),
                        .string(Timestamp.age(of: storageClass[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] { StorageSchemas.storageClass }
}

/// Whether a PersistentVolume can serve a claim: Kubernetes' matching rules.
public enum VolumeMatch {
    /// Why `volume` cannot be bound to `claim`, or nil when it can: the same class, every
    /// requested access mode, at least the requested size, the claim's selector, the same
    /// volume mode, and a source kube9 serves.
    public static func problem(claim: JSON, volume: JSON) -> String? {
        if Storage.className(claim) != Storage.className(volume) {
            return "storage class \"\(Storage.className(volume))\" is not the claim's \"\(Storage.className(claim))\""
        }
        let offered = Set(Storage.modes(volume))
        if let missing = Storage.modes(claim).first(where: { !offered.contains($0) }) { return "access mode \(missing) is not offered" }
        guard let requested = Storage.requestedBytes(claim), let capacity = Storage.capacityBytes(volume) else { return "size unreadable" }
        if capacity < requested { return "capacity \(volume[path: ["spec", "capacity", "storage"]]?.stringValue ?? "") is smaller than the request" }
        if let selector = claim[path: ["spec", "selector"]], !selector.isNull {
            let (parsed, causes) = LabelSelector.fromObject(selector, field: "spec.selector")
            if !causes.isEmpty || !parsed.matches(ObjectMeta.labels(of: volume)) { return "the claim's selector does not match the volume's labels" }
        }
        if (claim[path: ["spec", "volumeMode"]]?.stringValue ?? "Filesystem") != (volume[path: ["spec", "volumeMode"]]?.stringValue ?? "Filesystem") {
            return "volume mode differs"
        }
        if PersistentVolumeStrategy.path(of: volume) == nil { return "the volume's source is not served by kube9" }
        return nil
    }
}

/// The `kube9.io/local-path` provisioner's volumes: a directory per claim under the node's
/// advertised root, named as k3s's local-path names them, pinned to the node.
public enum LocalPath {
    /// The node a local-path volume lives on.
    public static let nodeAnnotation = "kube9.io/local-path-node"

    /// The directory name of a claim's volume: pvc-UID_NAMESPACE_NAME.
    public static func directoryName(for claim: JSON) -> String {
        "pvc-\(ObjectMeta.uid(of: claim))_\(ObjectMeta.namespace(of: claim))_\(ObjectMeta.name(of: claim))"
    }

    /// The PersistentVolume for `claim` on `node`, its directory under `root`.
    public static func volume(for claim: JSON, storageClass: JSON, node: String, root: String) -> JSON {
        let trimmed = root.hasSuffix("/") ? String(root.dropLast()) : root
        var volume: JSON = [
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": ["name": .string("pvc-\(ObjectMeta.uid(of: claim))")],
            "spec": [
                "capacity": ["storage": claim[path: ["spec", "resources", "requests", "storage"]] ?? "0"],
                "accessModes": claim[path: ["spec", "accessModes"]] ?? .array([]),
                "persistentVolumeReclaimPolicy": storageClass["reclaimPolicy"] ?? "Delete",
                "storageClassName": .string(ObjectMeta.name(of: storageClass)),
                "volumeMode": "Filesystem",
                "local": ["path": .string("\(trimmed)/\(directoryName(for: claim))")],
                "nodeAffinity": ["required": ["nodeSelectorTerms": [["matchExpressions": [
                    ["key": "kubernetes.io/hostname", "operator": "In", "values": [.string(node)]]]]]]],
                "claimRef": ["kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": .string(ObjectMeta.namespace(of: claim)),
                             "name": .string(ObjectMeta.name(of: claim)), "uid": .string(ObjectMeta.uid(of: claim))],
            ],
        ]
        volume[path: ["metadata", "annotations", Storage.provisionedByAnnotation]] = .string(Storage.localPathProvisioner)
        volume[path: ["metadata", "annotations", nodeAnnotation]] = .string(node)
        return volume
    }
}
