/// apps/v1 StatefulSet: pods with stable names (NAME-0, NAME-1, …), stable storage (one claim
/// per volumeClaimTemplate and ordinal, kept across pod deletions), created in order
/// (OrderedReady) or all at once (Parallel), updated from the highest ordinal down to the
/// partition (RollingUpdate) or when deleted (OnDelete).
public struct StatefulSetStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "apps", version: "v1", resource: "statefulsets", singular: "statefulset", kind: "StatefulSet",
                                   namespaced: true, shortNames: ["sts"], categories: ["all"], subresources: ["status", "scale"])

    /// The label naming each pod (a Service can select one pod of the set by it).
    public static let podNameLabel = "statefulset.kubernetes.io/pod-name"
    /// The label carrying each pod's ordinal.
    public static let podIndexLabel = "apps.kubernetes.io/pod-index"
    static let podManagementPolicies = ["OrderedReady", "Parallel"]
    static let retentionPolicies = ["Retain", "Delete"]
    /// Fields of the spec an update may change (Kubernetes' list).
    static let mutableFields = ["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"]

    public var mergeKeys: MergeKeys { Workloads.mergeKeys }

    public func prepareForCreate(_ object: inout JSON) {
        Self.applyDefaults(&object)
        object["status"] = ["replicas": 0, "availableReplicas": 0]
    }

    public func prepareForUpdate(_ object: inout JSON, old: JSON) {
        object["status"] = old["status"]
        Self.applyDefaults(&object)
    }

    static func applyDefaults(_ object: inout JSON) {
        guard case .object = object["spec"] ?? .null else { return }
        if object[path: ["spec", "replicas"]] == nil { object[path: ["spec", "replicas"]] = 1 }
        if object[path: ["spec", "podManagementPolicy"]] == nil { object[path: ["spec", "podManagementPolicy"]] = "OrderedReady" }
        if object[path: ["spec", "revisionHistoryLimit"]] == nil { object[path: ["spec", "revisionHistoryLimit"]] = 10 }
        if object[path: ["spec", "updateStrategy"]] == nil { object[path: ["spec", "updateStrategy"]] = ["type": "RollingUpdate"] }
        if object[path: ["spec", "updateStrategy", "type"]]?.stringValue == "RollingUpdate", case .object = object[path: ["spec", "updateStrategy"]] ?? .null {
            if object[path: ["spec", "updateStrategy", "rollingUpdate"]] == nil { object[path: ["spec", "updateStrategy", "rollingUpdate"]] = .emptyObject }
            if case .object = object[path: ["spec", "updateStrategy", "rollingUpdate"]] ?? .null,
               object[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]] == nil {
                object[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]] = 0
            }
        }
        if object[path: ["spec", "persistentVolumeClaimRetentionPolicy"]] == nil {
            object[path: ["spec", "persistentVolumeClaimRetentionPolicy"]] = ["whenDeleted": "Retain", "whenScaled": "Retain"]
        }
        if let templates = object[path: ["spec", "volumeClaimTemplates"]]?.arrayValue {
            object[path: ["spec", "volumeClaimTemplates"]] = .array(templates.map { template in
                guard case .object = template["spec"] ?? .null, template[path: ["spec", "volumeMode"]] == nil else { return template }
                var defaulted = template
                defaulted[path: ["spec", "volumeMode"]] = "Filesystem"
                return defaulted
            })
        }
        Workloads.defaultTemplate(&object)
    }

    /// The first ordinal (`spec.ordinals.start`, default 0).
    public static func firstOrdinal(_ set: JSON) -> Int {
        Int(min(max(set[path: ["spec", "ordinals", "start"]]?.intValue ?? 0, 0), Workloads.maximumReplicas))
    }

    /// The ordinal of a pod of `set` from its name (NAME-ORDINAL), nil for another name.
    public static func ordinal(of podName: String, set: String) -> Int? {
        guard podName.hasPrefix(set + "-") else { return nil }
        let digits = podName.dropFirst(set.count + 1)
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits == "0" || !digits.hasPrefix("0") else { return nil }
        return Int(digits)
    }

    /// The claim of one volumeClaimTemplate for one pod: TEMPLATE-NAME-ORDINAL.
    public static func claimName(template: String, set: String, ordinal: Int) -> String { "\(template)-\(set)-\(ordinal)" }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123LabelError, namespaced: true)
        Workloads.validateCounts(object, into: &causes)
        CommonSchemas.checkInteger(object[path: ["spec", "revisionHistoryLimit"]], "spec.revisionHistoryLimit", in: 0...Int64(Int32.max), into: &causes)
        CommonSchemas.checkInteger(object[path: ["spec", "ordinals", "start"]], "spec.ordinals.start", in: 0...Int64(Int32.max), into: &causes)
        if let service = object[path: ["spec", "serviceName"]]?.stringValue, !service.isEmpty, let problem = NameRules.dns1123LabelError(service) {
            causes.append(.invalid("spec.serviceName", .string(service), problem))
        }
        if let policy = object[path: ["spec", "podManagementPolicy"]], !Self.podManagementPolicies.contains(policy.stringValue ?? "") {
            causes.append(.notSupported("spec.podManagementPolicy", policy, supported: Self.podManagementPolicies))
        }
        let strategy = object[path: ["spec", "updateStrategy", "type"]]
        if let strategy, !["RollingUpdate", "OnDelete"].contains(strategy.stringValue ?? "") {
            causes.append(.notSupported("spec.updateStrategy.type", strategy, supported: ["OnDelete", "RollingUpdate"]))
        }
        if strategy?.stringValue == "OnDelete", object[path: ["spec", "updateStrategy", "rollingUpdate"]] != nil {
            causes.append(.invalid("spec.updateStrategy.rollingUpdate", object[path: ["spec", "updateStrategy", "rollingUpdate"]], "only allowed for updateStrategy 'RollingUpdate'"))
        }
        CommonSchemas.checkInteger(object[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]], "spec.updateStrategy.rollingUpdate.partition",
                                   in: 0...Int64(Int32.max), into: &causes)
        let unavailableField = "spec.updateStrategy.rollingUpdate.maxUnavailable"
        let unavailable = object[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]]
        let parsed = IntOrPercent.parse(unavailable, field: unavailableField, into: &causes)
        if parsed == .count(0) || parsed == .percent(0) { causes.append(.invalid(unavailableField, unavailable, "must be greater than 0")) }
        if case .percent(let value)? = parsed, value > 100 { causes.append(.invalid(unavailableField, unavailable, "must not be greater than 100%")) }
        for field in ["whenDeleted", "whenScaled"] {
            if let value = object[path: ["spec", "persistentVolumeClaimRetentionPolicy", field]], !Self.retentionPolicies.contains(value.stringValue ?? "") {
                causes.append(.notSupported("spec.persistentVolumeClaimRetentionPolicy.\(field)", value, supported: Self.retentionPolicies))
            }
        }
        validateClaimTemplates(object, into: &causes)
        // The pods get a volume per claim template, so the template's mounts may name them.
        var withClaims = object
        if let templates = object[path: ["spec", "volumeClaimTemplates"]]?.arrayValue, !templates.isEmpty,
           case .object = object[path: ["spec", "template", "spec"]] ?? .null {
            var volumes = object[path: ["spec", "template", "spec", "volumes"]]?.arrayValue ?? []
            for template in templates {
                guard let name = template[path: ["metadata", "name"]]?.stringValue, !volumes.contains(where: { $0["name"]?.stringValue == name }) else { continue }
                volumes.append(["name": .string(name), "persistentVolumeClaim": ["claimName": .string(name)]])
            }
            withClaims[path: ["spec", "template", "spec", "volumes"]] = .array(volumes)
        }
        Workloads.validateSelectorAndTemplate(withClaims, kind: "statefulset", into: &causes)
        return causes
    }

    /// Each volumeClaimTemplate is a claim (name, access modes, size, class) with a unique name.
    func validateClaimTemplates(_ object: JSON, into causes: inout [FieldCause]) {
        guard let value = object[path: ["spec", "volumeClaimTemplates"]], !value.isNull else { return }
        guard let templates = value.arrayValue else {
            causes.append(.typeInvalid("spec.volumeClaimTemplates", expected: "array", got: value))
            return
        }
        var names = Set<String>()
        for (index, template) in templates.enumerated() {
            let field = "spec.volumeClaimTemplates[\(index)]"
            let name = template[path: ["metadata", "name"]]?.stringValue ?? ""
            if !name.isEmpty, !names.insert(name).inserted { causes.append(.duplicate("\(field).metadata.name", .string(name))) }
            var claim = template
            claim[path: ["metadata", "namespace"]] = "default"
            for cause in PersistentVolumeClaimStrategy().validate(claim) {
                var moved = cause
                moved.field = field + "." + cause.field
                causes.append(moved)
            }
            if let problem = name.isEmpty ? nil : NameRules.dns1123LabelError(name) {
                causes.append(.invalid("\(field).metadata.name", .string(name), problem))
            }
        }
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        var proposed = object["spec"] ?? .null
        var previous = old["spec"] ?? .null
        for field in Self.mutableFields {
            proposed[field] = Optional<JSON>.none
            previous[field] = Optional<JSON>.none
        }
        if Workloads.canonical(proposed) != Workloads.canonical(previous) {
            causes.append(.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
        }
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Ready", description: "Number of the pod with ready state"),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("Containers", description: "Names of each container in the template.", priority: 1),
                TableColumn("Images", description: "Images referenced by each container in the template.", priority: 1),
            ],
            cells: { set in
                let containers = Workloads.containerColumns(set)
                return [.string(ObjectMeta.name(of: set)), .string("\(Workloads.count(set[path: ["status", "readyReplicas"]]))/\(Workloads.replicas(set))"),
                        .string(Timestamp.age(of: set[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                        .string(containers.names), .string(containers.images)]
            })
    }

    public var schemas: [SchemaDefinition] {
        let apps = WorkloadSchemas.apps
        return WorkloadSchemas.shared + [
            SchemaDefinition(apps + "StatefulSet", "StatefulSet represents a set of pods with consistent identities.", kind: ("apps", "v1", "StatefulSet"),
                fields: CommonSchemas.topLevel(spec: apps + "StatefulSetSpec", status: apps + "StatefulSetStatus",
                    specDescription: "Spec defines the desired identities of pods in this set.",
                    statusDescription: "Status is the current status of Pods in this StatefulSet.")),
            SchemaDefinition(apps + "StatefulSetSpec", "A StatefulSetSpec is the specification of a StatefulSet.", closed: false, fields: [
                SchemaField("replicas", .integer, "replicas is the desired number of replicas of the given Template. Defaults to 1."),
                SchemaField("selector", .ref(WorkloadSchemas.labelSelector), "selector is a label query over pods that should match the replica count.", required: true),
                SchemaField("template", .ref(WorkloadSchemas.core + "PodTemplateSpec"), "template is the object that describes the pod that will be created if insufficient replicas are detected.", required: true),
                SchemaField("volumeClaimTemplates", .array(.freeform), "volumeClaimTemplates is a list of claims that pods are allowed to reference."),
                SchemaField("serviceName", .string, "serviceName is the name of the service that governs this StatefulSet."),
                SchemaField("podManagementPolicy", .string, "podManagementPolicy controls how pods are created during initial scale up: OrderedReady (default) or Parallel."),
                SchemaField("updateStrategy", .freeform, "updateStrategy indicates the StatefulSetUpdateStrategy that will be employed to update Pods in the StatefulSet when a revision is made to Template."),
                SchemaField("revisionHistoryLimit", .integer, "revisionHistoryLimit is the maximum number of revisions that will be maintained in the StatefulSet's revision history."),
                SchemaField("minReadySeconds", .integer, "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing for it to be considered available."),
                SchemaField("persistentVolumeClaimRetentionPolicy", .freeform, "persistentVolumeClaimRetentionPolicy describes the lifecycle of persistent volume claims created from volumeClaimTemplates."),
                SchemaField("ordinals", .freeform, "ordinals controls the numbering of replica indices in a StatefulSet."),
            ]),
            SchemaDefinition(apps + "StatefulSetStatus", "StatefulSetStatus represents the current state of a StatefulSet.", closed: false, fields: [
                SchemaField("replicas", .integer, "replicas is the number of Pods created by the StatefulSet controller.", required: true),
                SchemaField("readyReplicas", .integer, "readyReplicas is the number of pods created for this StatefulSet with a Ready Condition."),
                SchemaField("currentReplicas", .integer, "currentReplicas is the number of Pods created by the StatefulSet controller from the StatefulSet version indicated by currentRevision."),
                SchemaField("updatedReplicas", .integer, "updatedReplicas is the number of Pods created by the StatefulSet controller from the StatefulSet version indicated by updateRevision."),
                SchemaField("availableReplicas", .integer, "Total number of available pods (ready for at least minReadySeconds) targeted by this statefulset."),
                SchemaField("currentRevision", .string, "currentRevision, if not empty, indicates the version of the StatefulSet used to generate Pods in the sequence [0,currentReplicas)."),
                SchemaField("updateRevision", .string, "updateRevision, if not empty, indicates the version of the StatefulSet used to generate Pods in the sequence [replicas-updatedReplicas,replicas)"),
                SchemaField("observedGeneration", .integer, "observedGeneration is the most recent generation observed for this StatefulSet."),
                SchemaField("collisionCount", .integer, "collisionCount is the count of hash collisions for the StatefulSet."),
            ]),
        ]
    }
}
