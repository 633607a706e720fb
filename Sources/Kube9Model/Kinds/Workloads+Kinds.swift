/// apps/v1 ReplicaSet: keeps `spec.replicas` pods of its template running.
public struct ReplicaSetStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "apps", version: "v1", resource: "replicasets", singular: "replicaset", kind: "ReplicaSet",
                                   namespaced: true, shortNames: ["rs"], categories: ["all"], subresources: ["status", "scale"])

    public var mergeKeys: MergeKeys { Workloads.mergeKeys }

    public func prepareForCreate(_ object: inout JSON) {
        if object[path: ["spec", "replicas"]] == nil { object[path: ["spec", "replicas"]] = 1 }
        Workloads.defaultTemplate(&object)
        object["status"] = ["replicas": 0]
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        Workloads.validateCounts(object, into: &causes)
        Workloads.validateSelectorAndTemplate(object, kind: "deployment", into: &causes)
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        if object[path: ["spec", "selector"]] != old[path: ["spec", "selector"]] {
            causes.append(.invalid("spec.selector", object[path: ["spec", "selector"]], "field is immutable"))
        }
        return causes
    }

    public var table: TableDefinition { Workloads.replicatedTable }
    public var schemas: [SchemaDefinition] { WorkloadSchemas.replicaSet }
}

/// core/v1 ReplicationController: a ReplicaSet with a plain label-map selector (defaulted
/// from the template's labels), run by the same controller.
public struct ReplicationControllerStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "", version: "v1", resource: "replicationcontrollers", singular: "replicationcontroller",
                                   kind: "ReplicationController", namespaced: true, shortNames: ["rc"], categories: ["all"],
                                   subresources: ["status", "scale"])

    public var mergeKeys: MergeKeys { Workloads.mergeKeys }

    public func prepareForCreate(_ object: inout JSON) {
        if object[path: ["spec", "replicas"]] == nil { object[path: ["spec", "replicas"]] = 1 }
        let selector = object[path: ["spec", "selector"]]
        if selector == nil || selector?.isNull == true || selector?.objectValue?.isEmpty == true,
           let labels = object[path: ["spec", "template", "metadata", "labels"]], labels.objectValue?.isEmpty == false {
            object[path: ["spec", "selector"]] = labels
        }
        if object[path: ["metadata", "labels"]] == nil, let labels = object[path: ["spec", "template", "metadata", "labels"]] {
            object[path: ["metadata", "labels"]] = labels
        }
        Workloads.defaultTemplate(&object)
        object["status"] = ["replicas": 0]
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        Workloads.validateCounts(object, into: &causes)
        var selector: LabelSelector? = nil
        if let value = object[path: ["spec", "selector"]], !value.isNull {
            if let members = value.objectValue, !members.isEmpty {
                var requirements: [LabelSelector.Requirement] = []
                for (key, label) in members {
                    if let error = NameRules.qualifiedNameError(key) { causes.append(.invalid("spec.selector", .string(key), error)) }
                    guard let text = label.stringValue else { causes.append(.typeInvalid("spec.selector.\(key)", expected: "string", got: label)); continue }
                    if let error = NameRules.labelValueError(text) { causes.append(.invalid("spec.selector", label, error)) }
                    requirements.append(.equals(key, text))
                }
                selector = LabelSelector(requirements: requirements)
            } else if value.objectValue == nil {
                causes.append(.typeInvalid("spec.selector", expected: "map of strings", got: value))
            }
        }
        if selector == nil, !causes.contains(where: { $0.field.hasPrefix("spec.selector") }) { causes.append(.required("spec.selector")) }
        Workloads.validateTemplate(object, selector: selector, into: &causes)
        return causes
    }

    public var table: TableDefinition { Workloads.replicatedTable }
    public var schemas: [SchemaDefinition] { WorkloadSchemas.replicationController }
}

/// apps/v1 Deployment: declarative updates of ReplicaSets (rolling or recreate), with history.
public struct DeploymentStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "apps", version: "v1", resource: "deployments", singular: "deployment", kind: "Deployment",
                                   namespaced: true, shortNames: ["deploy"], categories: ["all"], subresources: ["status", "scale"])

    public var mergeKeys: MergeKeys { Workloads.mergeKeys }

    public func prepareForCreate(_ object: inout JSON) {
        Self.applyDefaults(&object)
        object["status"] = .emptyObject
    }

    public func prepareForUpdate(_ object: inout JSON, old: JSON) {
        object["status"] = old["status"]
        Self.applyDefaults(&object)
    }

    static func applyDefaults(_ object: inout JSON) {
        guard case .object = object["spec"] ?? .null else { return }
        if object[path: ["spec", "replicas"]] == nil { object[path: ["spec", "replicas"]] = 1 }
        if object[path: ["spec", "revisionHistoryLimit"]] == nil { object[path: ["spec", "revisionHistoryLimit"]] = 10 }
        if object[path: ["spec", "progressDeadlineSeconds"]] == nil { object[path: ["spec", "progressDeadlineSeconds"]] = 600 }
        if object[path: ["spec", "strategy"]] == nil || object[path: ["spec", "strategy"]]?.isNull == true { object[path: ["spec", "strategy"]] = .emptyObject }
        if case .object = object[path: ["spec", "strategy"]] ?? .null {
            if object[path: ["spec", "strategy", "type"]] == nil { object[path: ["spec", "strategy", "type"]] = "RollingUpdate" }
            if object[path: ["spec", "strategy", "type"]]?.stringValue == "RollingUpdate" {
                if object[path: ["spec", "strategy", "rollingUpdate"]] == nil { object[path: ["spec", "strategy", "rollingUpdate"]] = .emptyObject }
                if case .object = object[path: ["spec", "strategy", "rollingUpdate"]] ?? .null {
                    if object[path: ["spec", "strategy", "rollingUpdate", "maxSurge"]] == nil { object[path: ["spec", "strategy", "rollingUpdate", "maxSurge"]] = "25%" }
                    if object[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]] == nil { object[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]] = "25%" }
                }
            }
        }
        Workloads.defaultTemplate(&object)
    }

    /// maxSurge and maxUnavailable resolved for `replicas`, as Kubernetes does: surge rounds up,
    /// unavailable rounds down, and when both come to 0 one pod may be unavailable.
    public static func rollingLimits(_ deployment: JSON, replicas: Int) -> (maxSurge: Int, maxUnavailable: Int) {
        var ignored: [FieldCause] = []
        let surge = IntOrPercent.parse(deployment[path: ["spec", "strategy", "rollingUpdate", "maxSurge"]], field: "", into: &ignored) ?? .percent(25)
        let unavailable = IntOrPercent.parse(deployment[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]], field: "", into: &ignored) ?? .percent(25)
        let maxSurge = surge.resolve(total: replicas, roundUp: true)
        var maxUnavailable = unavailable.resolve(total: replicas, roundUp: false)
        if maxSurge == 0, maxUnavailable == 0 { maxUnavailable = 1 }
        return (maxSurge, min(maxUnavailable, replicas))
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        Workloads.validateCounts(object, into: &causes)
        CommonSchemas.checkInteger(object[path: ["spec", "revisionHistoryLimit"]], "spec.revisionHistoryLimit", in: 0...Int64(Int32.max), into: &causes)
        CommonSchemas.checkInteger(object[path: ["spec", "progressDeadlineSeconds"]], "spec.progressDeadlineSeconds", in: 1...Int64(Int32.max), into: &causes)
        if let deadline = object[path: ["spec", "progressDeadlineSeconds"]]?.intValue, let minReady = object[path: ["spec", "minReadySeconds"]]?.intValue, deadline <= minReady {
            causes.append(.invalid("spec.progressDeadlineSeconds", .int(deadline), "must be greater than minReadySeconds"))
        }
        if let paused = object[path: ["spec", "paused"]], !paused.isNull, paused.boolValue == nil {
            causes.append(.typeInvalid("spec.paused", expected: "boolean", got: paused))
        }
        Workloads.validateSelectorAndTemplate(object, kind: "deployment", into: &causes)
        let strategyType = object[path: ["spec", "strategy", "type"]]
        switch strategyType?.stringValue {
        case "RollingUpdate":
            let surge = IntOrPercent.parse(object[path: ["spec", "strategy", "rollingUpdate", "maxSurge"]], field: "spec.strategy.rollingUpdate.maxSurge", into: &causes)
            let unavailable = IntOrPercent.parse(object[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]], field: "spec.strategy.rollingUpdate.maxUnavailable", into: &causes)
            if case .percent(let percent)? = unavailable, percent > 100 {
                causes.append(.invalid("spec.strategy.rollingUpdate.maxUnavailable", object[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]], "must not be greater than 100%"))
            }
            if let surge, let unavailable, surge.resolve(total: 100, roundUp: true) == 0, unavailable.resolve(total: 100, roundUp: true) == 0 {
                causes.append(.invalid("spec.strategy.rollingUpdate.maxUnavailable", object[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]], "may not be 0 when `maxSurge` is 0"))
            }
        case "Recreate":
            if let rolling = object[path: ["spec", "strategy", "rollingUpdate"]], !rolling.isNull {
                causes.append(.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
            }
        case nil: break
        default:
            causes.append(.notSupported("spec.strategy.type", strategyType, supported: ["Recreate", "RollingUpdate"]))
        }
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        if object[path: ["spec", "selector"]] != old[path: ["spec", "selector"]] {
            causes.append(.invalid("spec.selector", object[path: ["spec", "selector"]], "field is immutable"))
        }
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Ready", description: "Number of the pod with ready state"),
                TableColumn("Up-to-date", type: "integer", description: "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
                TableColumn("Available", type: "integer", description: "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("Containers", description: "Names of each container in the template.", priority: 1),
                TableColumn("Images", description: "Images referenced by each container in the template.", priority: 1),
                TableColumn("Selector", description: "Label selector for pods.", priority: 1),
            ],
            cells: { deployment in
                let (names, images) = Workloads.containerColumns(deployment)
                let status = deployment["status"] ?? .emptyObject
                return [.string(ObjectMeta.name(of: deployment)),
                        .string("\(status["readyReplicas"]?.intValue ?? 0)/\(Workloads.replicas(deployment))"),
                        .int(status["updatedReplicas"]?.intValue ?? 0), .int(status["availableReplicas"]?.intValue ?? 0),
                        .string(Timestamp.age(of: deployment[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                        .string(names), .string(images), .string(Workloads.selector(deployment)?.text ?? "<none>")]
            })
    }

    public var schemas: [SchemaDefinition] { WorkloadSchemas.deployment }
}

extension Workloads {
    /// Strategic-merge keys of a kind with a pod template: metadata, the template's pod spec, status conditions.
    static let mergeKeys = MergeKeys.metadata.merging(PodStrategy.podSpecMergeKeys, under: "spec.template.spec")
        .merging(MergeKeys(keyed: ["status.conditions": "type"]))

    /// NAME DESIRED CURRENT READY AGE (+ CONTAINERS IMAGES SELECTOR), for ReplicaSets and ReplicationControllers.
    static let replicatedTable = TableDefinition(
        columns: [
            TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
            TableColumn("Desired", type: "integer", description: "Replicas is the number of desired replicas."),
            TableColumn("Current", type: "integer", description: "Replicas is the most recently observed number of replicas."),
            TableColumn("Ready", type: "integer", description: "The number of ready replicas for this replica set."),
            TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            TableColumn("Containers", description: "Names of each container in the template.", priority: 1),
            TableColumn("Images", description: "Images referenced by each container in the template.", priority: 1),
            TableColumn("Selector", description: "Selector is a label query over pods that should match the replica count.", priority: 1),
        ],
        cells: { object in
            let (names, images) = containerColumns(object)
            return [.string(ObjectMeta.name(of: object)), .int(Int64(replicas(object))),
                    .int(object[path: ["status", "replicas"]]?.intValue ?? 0), .int(object[path: ["status", "readyReplicas"]]?.intValue ?? 0),
                    .string(Timestamp.age(of: object[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                    .string(names), .string(images), .string(selector(object)?.text ?? "<none>")]
        })
}
