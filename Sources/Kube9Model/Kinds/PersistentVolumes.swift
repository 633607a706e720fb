/// core/v1 PersistentVolume: a piece of storage (a hostPath or local directory on kube9) with
/// its capacity, access modes, class, reclaim policy and, for local volumes, the nodes that
/// reach it. `status.phase` is kept by the volume controller: Pending, Available, Bound,
/// Released, Failed.
public struct PersistentVolumeStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "", version: "v1", resource: "persistentvolumes", singular: "persistentvolume",
                                   kind: "PersistentVolume", namespaced: false, shortNames: ["pv"], subresources: ["status"])

    /// The volume sources Kubernetes knows; kube9 serves `hostPath` and `local`.
    static let knownSources = ["awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc", "flexVolume", "flocker",
                               "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local", "nfs", "photonPersistentDisk", "portworxVolume",
                               "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume"]
    public static let servedSources = ["hostPath", "local"]

    /// The directory a served volume is (its hostPath or local path), nil for other sources.
    public static func path(of volume: JSON) -> String? {
        volume[path: ["spec", "local", "path"]]?.stringValue ?? volume[path: ["spec", "hostPath", "path"]]?.stringValue
    }

    /// The volume's required node affinity terms (empty when any node reaches it).
    public static func nodeTerms(of volume: JSON) -> [JSON] {
        volume[path: ["spec", "nodeAffinity", "required", "nodeSelectorTerms"]]?.arrayValue ?? []
    }

    public func prepareForCreate(_ object: inout JSON) {
        if case .object = object["spec"] ?? .null {
            if object[path: ["spec", "persistentVolumeReclaimPolicy"]] == nil { object[path: ["spec", "persistentVolumeReclaimPolicy"]] = "Retain" }
            if object[path: ["spec", "volumeMode"]] == nil { object[path: ["spec", "volumeMode"]] = "Filesystem" }
        }
        object["status"] = ["phase": "Pending"]
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: false)
        guard case .object(let spec) = object["spec"] ?? .null else {
            causes.append(.required("spec"))
            return causes
        }
        Storage.validateSize(object, path: ["spec", "capacity", "storage"], field: "spec.capacity[storage]", into: &causes)
        Storage.validateAccessModes(object, into: &causes)
        Storage.validateVolumeMode(object, into: &causes)
        if let policy = spec["persistentVolumeReclaimPolicy"], !StorageClassStrategy.reclaimPolicies.contains(policy.stringValue ?? "") {
            causes.append(.notSupported("spec.persistentVolumeReclaimPolicy", policy, supported: StorageClassStrategy.reclaimPolicies))
        }
        let sources = Self.knownSources.filter { spec[$0] != nil && spec[$0]?.isNull == false }
        if sources.isEmpty { causes.append(.required("spec", "must specify a volume type")) }
        for extra in sources.dropFirst() { causes.append(.forbidden("spec.\(extra)", "may not specify more than 1 volume type")) }
        for source in sources where !Self.servedSources.contains(source) {
            causes.append(.forbidden("spec.\(source)", "kube9 serves hostPath and local volumes only"))
        }
        for source in Self.servedSources where sources.contains(source) {
            let path = object[path: ["spec", source, "path"]]
            if path?.stringValue?.hasPrefix("/") != true { causes.append(.invalid("spec.\(source).path", path, "must be an absolute path")) }
            if let text = path?.stringValue, text.split(separator: "/").contains("..") {
                causes.append(.invalid("spec.\(source).path", path, "must not contain '..'"))
            }
        }
        if let affinity = spec["nodeAffinity"], !affinity.isNull {
            let terms = affinity[path: ["required", "nodeSelectorTerms"]]
            if let list = terms?.arrayValue, !list.isEmpty {
                causes += NodeAffinity.validate(terms: list, field: "spec.nodeAffinity.required.nodeSelectorTerms")
            } else {
                causes.append(.required("spec.nodeAffinity.required.nodeSelectorTerms", "must have at least one node selector term"))
            }
        } else if sources.contains("local") {
            causes.append(.required("spec.nodeAffinity", "Local volume requires node affinity"))
        }
        if let name = spec["storageClassName"]?.stringValue, !name.isEmpty, let problem = NameRules.dns1123SubdomainError(name) {
            causes.append(.invalid("spec.storageClassName", .string(name), problem))
        }
        if let claim = spec["claimRef"], !claim.isNull {
            if claim.objectValue == nil {
                causes.append(.typeInvalid("spec.claimRef", expected: "object", got: claim))
            } else if (claim["name"]?.stringValue ?? "").isEmpty {
                causes.append(.required("spec.claimRef.name"))
            }
        }
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        for source in Self.knownSources where object[path: ["spec", source]] != old[path: ["spec", source]] {
            causes.append(.forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"))
            break
        }
        if old[path: ["spec", "nodeAffinity"]] != nil, object[path: ["spec", "nodeAffinity"]] != old[path: ["spec", "nodeAffinity"]] {
            causes.append(.invalid("spec.nodeAffinity", object[path: ["spec", "nodeAffinity"]], "field is immutable"))
        }
        if object[path: ["spec", "volumeMode"]] != old[path: ["spec", "volumeMode"]] {
            causes.append(.invalid("spec.volumeMode", object[path: ["spec", "volumeMode"]], "field is immutable"))
        }
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Capacity", description: "capacity is the description of the persistent volume's resources and capacity."),
                TableColumn("Access Modes", description: "accessModes contains all ways the volume can be mounted."),
                TableColumn("Reclaim Policy", description: "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
                TableColumn("Status", description: "phase indicates if a volume is available, bound to a claim, or released by a claim."),
                TableColumn("Claim", description: "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
                TableColumn("StorageClass", description: "storageClassName is the name of StorageClass to which this persistent volume belongs."),
                TableColumn("VolumeAttributesClass", description: "Name of VolumeAttributesClass to which this persistent volume belongs."),
                TableColumn("Reason", description: "reason is a brief CamelCase string that describes any failure."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("VolumeMode", description: "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.", priority: 1),
            ],
            cells: { volume in
                let claim = volume[path: ["spec", "claimRef"]]
                let claimText = claim.map { "\($0["namespace"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? "")" } ?? ""
                let className = Storage.className(volume)
                return [.string(ObjectMeta.name(of: volume)), .string(volume[path: ["spec", "capacity", "storage"]]?.stringValue ?? ""),
                        .string(Storage.modesText(volume[path: ["spec", "accessModes"]]?.arrayValue)),
                        .string(volume[path: ["spec", "persistentVolumeReclaimPolicy"]]?.stringValue ?? ""),
                        .string(volume[path: ["status", "phase"]]?.stringValue ?? ""), .string(claimText),
                        .string(className), .string("<unset>"), .string(volume[path: ["status", "reason"]]?.stringValue ?? ""),
                        .string(Timestamp.age(of: volume[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                        .string(volume[path: ["spec", "volumeMode"]]?.stringValue ?? "Filesystem")]
            })
    }

    public var schemas: [SchemaDefinition] { StorageSchemas.persistentVolume }
}

/// core/v1 PersistentVolumeClaim: a request for storage (size, access modes, class), bound by
/// the volume controller to a PersistentVolume it finds or provisions. `status.phase`:
/// Pending, Bound, Lost.
public struct PersistentVolumeClaimStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "", version: "v1", resource: "persistentvolumeclaims", singular: "persistentvolumeclaim",
                                   kind: "PersistentVolumeClaim", namespaced: true, shortNames: ["pvc"], subresources: ["status"])

    public func prepareForCreate(_ object: inout JSON) {
        if case .object = object["spec"] ?? .null, object[path: ["spec", "volumeMode"]] == nil {
            object[path: ["spec", "volumeMode"]] = "Filesystem"
        }
        object["status"] = ["phase": "Pending"]
        var finalizers = ObjectMeta.finalizers(of: object)
        if !finalizers.contains(Storage.protectionFinalizer) {
            finalizers.append(Storage.protectionFinalizer)
            object[path: ["metadata", "finalizers"]] = .array(finalizers.map { .string($0) })
        }
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        guard case .object(let spec) = object["spec"] ?? .null else {
            causes.append(.required("spec"))
            return causes
        }
        Storage.validateAccessModes(object, into: &causes)
        Storage.validateSize(object, path: ["spec", "resources", "requests", "storage"], field: "spec.resources[storage]", into: &causes)
        Storage.validateVolumeMode(object, into: &causes)
        for field in ["storageClassName", "volumeName"] {
            if let name = spec[field]?.stringValue, !name.isEmpty, let problem = NameRules.dns1123SubdomainError(name) {
                causes.append(.invalid("spec.\(field)", .string(name), problem))
            } else if let value = spec[field], !value.isNull, value.stringValue == nil {
                causes.append(.typeInvalid("spec.\(field)", expected: "string", got: value))
            }
        }
        if let selector = spec["selector"], !selector.isNull {
            causes += LabelSelector.fromObject(selector, field: "spec.selector").1
        }
        for field in ["dataSource", "dataSourceRef"] where spec[field] != nil && spec[field]?.isNull == false {
            causes.append(.forbidden("spec.\(field)", "volume populators, clones and snapshots are not served by kube9"))
        }
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        // A class may be given to a claim that had none (the controller assigns the default one
        // retroactively) and a volume to a claim not yet bound; the rest of the spec stays.
        var proposed = object["spec"] ?? .null
        var previous = old["spec"] ?? .null
        if old[path: ["spec", "storageClassName"]] == nil || old[path: ["spec", "storageClassName"]]?.isNull == true {
            proposed["storageClassName"] = Optional<JSON>.none
            previous["storageClassName"] = Optional<JSON>.none
        }
        if (old[path: ["spec", "volumeName"]]?.stringValue ?? "").isEmpty {
            proposed["volumeName"] = Optional<JSON>.none
            previous["volumeName"] = Optional<JSON>.none
        }
        if Workloads.canonical(proposed) != Workloads.canonical(previous) {
            causes.append(.forbidden("spec", "spec is immutable after creation (kube9 does not expand volumes)"))
        }
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Status", description: "phase represents the current phase of PersistentVolumeClaim."),
                TableColumn("Volume", description: "volumeName is the binding reference to the PersistentVolume backing this claim."),
                TableColumn("Capacity", description: "capacity represents the actual resources of the underlying volume."),
                TableColumn("Access Modes", description: "accessModes contains the actual access modes the volume backing the PVC has."),
                TableColumn("StorageClass", description: "storageClassName is the name of the StorageClass required by the claim."),
                TableColumn("VolumeAttributesClass", description: "volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("VolumeMode", description: "volumeMode defines what type of volume is required by the claim.", priority: 1),
            ],
            cells: { claim in
                [.string(ObjectMeta.name(of: claim)), .string(claim[path: ["status", "phase"]]?.stringValue ?? ""),
                 .string(claim[path: ["spec", "volumeName"]]?.stringValue ?? ""),
                 .string(claim[path: ["status", "capacity", "storage"]]?.stringValue ?? ""),
                 .string(Storage.modesText(claim[path: ["status", "accessModes"]]?.arrayValue)),
                 .string(Storage.className(claim)), .string("<unset>"),
                 .string(Timestamp.age(of: claim[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                 .string(claim[path: ["spec", "volumeMode"]]?.stringValue ?? "Filesystem")]
            })
    }

    public var schemas: [SchemaDefinition] { StorageSchemas.persistentVolumeClaim }
}
