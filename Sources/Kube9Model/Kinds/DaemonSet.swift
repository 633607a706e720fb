/// apps/v1 DaemonSet: one pod of its template on every node that its node selector, required
/// node affinity and tolerations admit; RollingUpdate (maxUnavailable) or OnDelete updates.
public struct DaemonSetStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "apps", version: "v1", resource: "daemonsets", singular: "daemonset", kind: "DaemonSet",
                                   namespaced: true, shortNames: ["ds"], categories: ["all"], subresources: ["status"])

    /// The template revision a daemon pod was made from (Kubernetes' ControllerRevision hash).
    public static let revisionLabel = "controller-revision-hash"
    /// Tolerations every daemon pod gets, as Kubernetes adds them: daemons run on nodes that are
    /// not ready, unreachable, cordoned or under pressure.
    public static let implicitTolerations: [JSON] = [
        ["key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"],
        ["key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"],
        ["key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"],
    ]

    public var mergeKeys: MergeKeys { Workloads.mergeKeys }

    public func prepareForCreate(_ object: inout JSON) {
        Self.applyDefaults(&object)
        object["status"] = ["currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0]
    }

    public func prepareForUpdate(_ object: inout JSON, old: JSON) {
        object["status"] = old["status"]
        Self.applyDefaults(&object)
    }

    static func applyDefaults(_ object: inout JSON) {
        guard case .object = object["spec"] ?? .null else { return }
        if object[path: ["spec", "revisionHistoryLimit"]] == nil { object[path: ["spec", "revisionHistoryLimit"]] = 10 }
        if object[path: ["spec", "updateStrategy"]] == nil { object[path: ["spec", "updateStrategy"]] = ["type": "RollingUpdate"] }
        if object[path: ["spec", "updateStrategy", "type"]]?.stringValue == "RollingUpdate", case .object = object[path: ["spec", "updateStrategy"]] ?? .null {
            if object[path: ["spec", "updateStrategy", "rollingUpdate"]] == nil { object[path: ["spec", "updateStrategy", "rollingUpdate"]] = .emptyObject }
            if object[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]] == nil { object[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]] = 1 }
            if object[path: ["spec", "updateStrategy", "rollingUpdate", "maxSurge"]] == nil { object[path: ["spec", "updateStrategy", "rollingUpdate", "maxSurge"]] = 0 }
        }
        Workloads.defaultTemplate(&object)
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        CommonSchemas.checkInteger(object[path: ["spec", "minReadySeconds"]], "spec.minReadySeconds", in: 0...Int64(Int32.max), into: &causes)
        CommonSchemas.checkInteger(object[path: ["spec", "revisionHistoryLimit"]], "spec.revisionHistoryLimit", in: 0...Int64(Int32.max), into: &causes)
        let strategy = object[path: ["spec", "updateStrategy", "type"]]
        if let strategy, !["RollingUpdate", "OnDelete"].contains(strategy.stringValue ?? "") {
            causes.append(.notSupported("spec.updateStrategy.type", strategy, supported: ["OnDelete", "RollingUpdate"]))
        }
        if strategy?.stringValue == "RollingUpdate" {
            let field = "spec.updateStrategy.rollingUpdate.maxUnavailable"
            let parsed = IntOrPercent.parse(object[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]], field: field, into: &causes)
            if parsed == .count(0) || parsed == .percent(0) { causes.append(.invalid(field, object[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]], "may not be 0")) }
            if case .percent(let value)? = parsed, value > 100 { causes.append(.invalid(field, .string("\(value)%"), "must not be greater than 100%")) }
        }
        Workloads.validateSelectorAndTemplate(object, kind: "daemonset", into: &causes)
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        if object[path: ["spec", "selector"]] != old[path: ["spec", "selector"]] {
            causes.append(.invalid("spec.selector", object[path: ["spec", "selector"]], "field is immutable"))
        }
        return causes
    }

    /// Whether `node` should run the DaemonSet's pod: node selector, required affinity, and its
    /// NoSchedule/NoExecute taints tolerated (with the implicit tolerations).
    public static func wants(_ daemonSet: JSON, node: JSON) -> Bool {
        let template: JSON = ["spec": daemonSet[path: ["spec", "template", "spec"]] ?? .emptyObject]
        let labels = ObjectMeta.labels(of: node)
        for (key, value) in template[path: ["spec", "nodeSelector"]]?.objectValue ?? [:] where labels[key] != value.stringValue { return false }
        if !NodeAffinity.matches(pod: template, node: node) { return false }
        let tolerations = (template[path: ["spec", "tolerations"]]?.arrayValue ?? []) + implicitTolerations
        return Taints.untolerated(node: node, tolerations: tolerations) == nil
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Desired", type: "integer", description: "The total number of nodes that should be running the daemon pod."),
                TableColumn("Current", type: "integer", description: "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
                TableColumn("Ready", type: "integer", description: "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
                TableColumn("Up-to-date", type: "integer", description: "The total number of nodes that are running updated daemon pod."),
                TableColumn("Available", type: "integer", description: "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
                TableColumn("Node Selector", description: "NodeSelector is a selector which must be true for the pod to fit on a node."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("Containers", description: "Names of each container in the template.", priority: 1),
                TableColumn("Images", description: "Images referenced by each container in the template.", priority: 1),
                TableColumn("Selector", description: "A label query over pods that are managed by the daemon set.", priority: 1),
            ],
            cells: { daemonSet in
                func number(_ field: String) -> JSON { .int(Workloads.count(daemonSet[path: ["status", field]])) }
                let selector = (daemonSet[path: ["spec", "template", "spec", "nodeSelector"]]?.objectValue ?? [:])
                    .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")
                let containers = Workloads.containerColumns(daemonSet)
                return [.string(ObjectMeta.name(of: daemonSet)), number("desiredNumberScheduled"), number("currentNumberScheduled"), number("numberReady"),
                        number("updatedNumberScheduled"), number("numberAvailable"), .string(selector.isEmpty ? "<none>" : selector),
                        .string(Timestamp.age(of: daemonSet[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                        .string(containers.names), .string(containers.images), .string(Workloads.selector(daemonSet)?.text ?? "")]
            })
    }

    public var schemas: [SchemaDefinition] {
        let apps = WorkloadSchemas.apps
        return WorkloadSchemas.shared + [
            SchemaDefinition(apps + "DaemonSet", "DaemonSet represents the configuration of a daemon set.", kind: ("apps", "v1", "DaemonSet"),
                fields: CommonSchemas.topLevel(spec: apps + "DaemonSetSpec", status: apps + "DaemonSetStatus",
                    specDescription: "The desired behavior of this daemon set.", statusDescription: "The current status of this daemon set.")),
            SchemaDefinition(apps + "DaemonSetSpec", "DaemonSetSpec is the specification of a daemon set.", closed: false, fields: [
                SchemaField("selector", .ref(WorkloadSchemas.labelSelector), "A label query over pods that are managed by the daemon set.", required: true),
                SchemaField("template", .ref(WorkloadSchemas.core + "PodTemplateSpec"), "An object that describes the pod that will be created.", required: true),
                SchemaField("updateStrategy", .freeform, "An update strategy to replace existing DaemonSet pods with new pods."),
                SchemaField("minReadySeconds", .integer, "The minimum number of seconds for which a newly created DaemonSet pod should be ready without any of its container crashing."),
                SchemaField("revisionHistoryLimit", .integer, "The number of old history to retain to allow rollback."),
            ]),
            SchemaDefinition(apps + "DaemonSetStatus", "DaemonSetStatus represents the current status of a daemon set.", closed: false, fields: [
                SchemaField("currentNumberScheduled", .integer, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", required: true),
                SchemaField("desiredNumberScheduled", .integer, "The total number of nodes that should be running the daemon pod.", required: true),
                SchemaField("numberMisscheduled", .integer, "The number of nodes that are running the daemon pod, but are not supposed to run the daemon pod.", required: true),
                SchemaField("numberReady", .integer, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.", required: true),
                SchemaField("numberAvailable", .integer, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
                SchemaField("numberUnavailable", .integer, "The number of nodes that should be running the daemon pod and have none of the daemon pod running and available."),
                SchemaField("updatedNumberScheduled", .integer, "The total number of nodes that are running updated daemon pod."),
                SchemaField("observedGeneration", .integer, "The most recent generation observed by the daemon set controller."),
            ]),
        ]
    }
}
