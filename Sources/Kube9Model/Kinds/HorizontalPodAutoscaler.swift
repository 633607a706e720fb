/// autoscaling/v2 HorizontalPodAutoscaler: Resource metrics (cpu, memory) with Utilization or
/// AverageValue targets, min/max replicas and behavior (stabilization windows, rate policies).
/// The replica decision is the Lua `autoscaler` slot's (annotation `kube9.io/autoscaler-policy`).
public struct HorizontalPodAutoscalerStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "autoscaling", version: "v2", resource: "horizontalpodautoscalers", singular: "horizontalpodautoscaler",
                                   kind: "HorizontalPodAutoscaler", namespaced: true, shortNames: ["hpa"], categories: ["all"], subresources: ["status"])

    /// The annotation naming the autoscaler policy of an HPA.
    public static let policyAnnotation = "kube9.io/autoscaler-policy"
    public static let defaultPolicy = "target-utilization"

    public var mergeKeys: MergeKeys { MergeKeys.metadata.merging(MergeKeys(keyed: ["status.conditions": "type"])) }

    public func prepareForCreate(_ object: inout JSON) {
        if object[path: ["spec", "minReplicas"]] == nil { object[path: ["spec", "minReplicas"]] = 1 }
        object["status"] = ["currentReplicas": 0, "desiredReplicas": 0]
    }

    /// One scaling rule, resolved with Kubernetes' defaults.
    public struct Rules: Sendable, Equatable {
        public struct Policy: Sendable, Equatable {
            public var percent: Bool
            public var value: Int
            public var periodSeconds: Int
            public init(percent: Bool, value: Int, periodSeconds: Int) {
                self.percent = percent
                self.value = value
                self.periodSeconds = periodSeconds
            }
        }
        public var stabilizationWindowSeconds: Int
        /// "Max", "Min" or "Disabled".
        public var selectPolicy: String
        public var policies: [Policy]
        public init(stabilizationWindowSeconds: Int, selectPolicy: String, policies: [Policy]) {
            self.stabilizationWindowSeconds = stabilizationWindowSeconds
            self.selectPolicy = selectPolicy
            self.policies = policies
        }
    }

    /// The scale-up and scale-down rules of an HPA (its `spec.behavior` over the defaults:
    /// up: no window, the larger of 100 % or 4 pods per 15 s; down: a 300 s window, 100 % per 15 s).
    public static func rules(_ hpa: JSON) -> (up: Rules, down: Rules) {
        func read(_ value: JSON?, defaults: Rules) -> Rules {
            guard let value, case .object = value else { return defaults }
            var rules = defaults
            if let window = value["stabilizationWindowSeconds"]?.intValue { rules.stabilizationWindowSeconds = Int(min(max(window, 0), 3600)) }
            if let select = value["selectPolicy"]?.stringValue { rules.selectPolicy = select }
            if let list = value["policies"]?.arrayValue {
                rules.policies = list.compactMap { policy in
                    guard let kind = policy["type"]?.stringValue, let amount = policy["value"]?.intValue, let period = policy["periodSeconds"]?.intValue,
                          amount > 0, period > 0 else { return nil }
                    return Rules.Policy(percent: kind == "Percent", value: Int(min(amount, Int64(Int32.max))), periodSeconds: Int(min(period, 1800)))
                }
            }
            return rules
        }
        let up = Rules(stabilizationWindowSeconds: 0, selectPolicy: "Max",
                       policies: [Rules.Policy(percent: true, value: 100, periodSeconds: 15), Rules.Policy(percent: false, value: 4, periodSeconds: 15)])
        let down = Rules(stabilizationWindowSeconds: 300, selectPolicy: "Max", policies: [Rules.Policy(percent: true, value: 100, periodSeconds: 15)])
        return (read(hpa[path: ["spec", "behavior", "scaleUp"]], defaults: up), read(hpa[path: ["spec", "behavior", "scaleDown"]], defaults: down))
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        let reference = object[path: ["spec", "scaleTargetRef"]]
        for field in ["kind", "name"] where (reference?[field]?.stringValue ?? "").isEmpty {
            causes.append(.required("spec.scaleTargetRef.\(field)"))
        }
        CommonSchemas.checkInteger(object[path: ["spec", "minReplicas"]], "spec.minReplicas", in: 1...Workloads.maximumReplicas, into: &causes)
        if object[path: ["spec", "maxReplicas"]] == nil { causes.append(.required("spec.maxReplicas")) }
        CommonSchemas.checkInteger(object[path: ["spec", "maxReplicas"]], "spec.maxReplicas", in: 1...Workloads.maximumReplicas, into: &causes)
        if let low = object[path: ["spec", "minReplicas"]]?.intValue, let high = object[path: ["spec", "maxReplicas"]]?.intValue, high < low {
            causes.append(.invalid("spec.maxReplicas", .int(high), "must be greater than or equal to `minReplicas`"))
        }
        if let metrics = object[path: ["spec", "metrics"]], !metrics.isNull {
            guard let list = metrics.arrayValue else { return causes + [.typeInvalid("spec.metrics", expected: "array", got: metrics)] }
            if list.count > 16 { causes.append(.invalid("spec.metrics", nil, "must have at most 16 entries")) }
            for (index, metric) in list.enumerated() { Self.validateMetric(metric, field: "spec.metrics[\(index)]", into: &causes) }
        }
        for direction in ["scaleUp", "scaleDown"] {
            let field = "spec.behavior.\(direction)"
            guard let rules = object[path: ["spec", "behavior", direction]], !rules.isNull else { continue }
            CommonSchemas.checkInteger(rules["stabilizationWindowSeconds"], "\(field).stabilizationWindowSeconds", in: 0...3600, into: &causes)
            if let select = rules["selectPolicy"], !["Max", "Min", "Disabled"].contains(select.stringValue ?? "") {
                causes.append(.notSupported("\(field).selectPolicy", select, supported: ["Disabled", "Max", "Min"]))
            }
            if let policies = rules["policies"]?.arrayValue, policies.isEmpty, rules["selectPolicy"]?.stringValue != "Disabled" {
                causes.append(.required("\(field).policies", "must specify at least one Policy unless selectPolicy is Disabled"))
            }
            for (index, policy) in (rules["policies"]?.arrayValue ?? []).enumerated() {
                let path = "\(field).policies[\(index)]"
                if !["Pods", "Percent"].contains(policy["type"]?.stringValue ?? "") { causes.append(.notSupported("\(path).type", policy["type"], supported: ["Percent", "Pods"])) }
                if policy["value"] == nil { causes.append(.required("\(path).value")) }
                CommonSchemas.checkInteger(policy["value"], "\(path).value", in: 1...Int64(Int32.max), into: &causes)
                if policy["periodSeconds"] == nil { causes.append(.required("\(path).periodSeconds")) }
                CommonSchemas.checkInteger(policy["periodSeconds"], "\(path).periodSeconds", in: 1...1800, into: &causes)
            }
        }
        if let policy = ObjectMeta.annotation(object, Self.policyAnnotation), NameRules.dns1123SubdomainError(policy) != nil {
            causes.append(.invalid("metadata.annotations[\(Self.policyAnnotation)]", .string(policy), "must name an autoscaler policy"))
        }
        return causes
    }

    static func validateMetric(_ metric: JSON, field: String, into causes: inout [FieldCause]) {
        guard metric["type"]?.stringValue == "Resource" else {
            causes.append(.notSupported("\(field).type", metric["type"], supported: ["Resource"]))
            return
        }
        let name = metric[path: ["resource", "name"]]
        if !["cpu", "memory"].contains(name?.stringValue ?? "") { causes.append(.notSupported("\(field).resource.name", name, supported: ["cpu", "memory"])) }
        let target = metric[path: ["resource", "target"]]
        switch target?["type"]?.stringValue {
        case "Utilization":
            if target?["averageUtilization"] == nil { causes.append(.required("\(field).resource.target.averageUtilization")) }
            CommonSchemas.checkInteger(target?["averageUtilization"], "\(field).resource.target.averageUtilization", in: 1...Int64(Int32.max), into: &causes)
        case "AverageValue":
            switch Quantity.checked(target?["averageValue"]) {
            case .success(let quantity) where quantity.milliValue > 0: break
            case .success: causes.append(.invalid("\(field).resource.target.averageValue", target?["averageValue"], "must be positive"))
            case .failure(let problem): causes.append(.invalid("\(field).resource.target.averageValue", target?["averageValue"], problem.message))
            }
        default:
            causes.append(.notSupported("\(field).resource.target.type", target?["type"], supported: ["AverageValue", "Utilization"]))
        }
    }

    /// "cpu: 40%/50%" per metric, as kubectl prints TARGETS.
    public static func targetsText(_ hpa: JSON) -> String {
        let metrics = hpa[path: ["spec", "metrics"]]?.arrayValue ?? []
        let current = hpa[path: ["status", "currentMetrics"]]?.arrayValue ?? []
        if metrics.isEmpty { return "<none>" }
        return metrics.map { metric in
            let name = metric[path: ["resource", "name"]]?.stringValue ?? "?"
            let now = current.first { $0[path: ["resource", "name"]]?.stringValue == name }
            if metric[path: ["resource", "target", "type"]]?.stringValue == "Utilization" {
                let value = now?[path: ["resource", "current", "averageUtilization"]]?.intValue.map { "\($0)%" } ?? "<unknown>"
                return "\(name): \(value)/\(metric[path: ["resource", "target", "averageUtilization"]]?.intValue ?? 0)%"
            }
            let value = now?[path: ["resource", "current", "averageValue"]]?.stringValue ?? "<unknown>"
            return "\(name): \(value)/\(metric[path: ["resource", "target", "averageValue"]]?.stringValue ?? "?")"
        }.joined(separator: ", ")
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Reference", description: "The target workload of the autoscaler."),
                TableColumn("Targets", description: "Current and target value of each metric."),
                TableColumn("MinPods", description: "The lower limit for the number of replicas."),
                TableColumn("MaxPods", type: "integer", description: "The upper limit for the number of replicas."),
                TableColumn("Replicas", type: "integer", description: "Current number of replicas of pods managed by this autoscaler."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { hpa in
                let reference = hpa[path: ["spec", "scaleTargetRef"]] ?? .emptyObject
                return [.string(ObjectMeta.name(of: hpa)), .string("\(reference["kind"]?.stringValue ?? "")/\(reference["name"]?.stringValue ?? "")"),
                        .string(Self.targetsText(hpa)), .string("\(hpa[path: ["spec", "minReplicas"]]?.intValue ?? 1)"),
                        .int(hpa[path: ["spec", "maxReplicas"]]?.intValue ?? 0), .int(hpa[path: ["status", "currentReplicas"]]?.intValue ?? 0),
                        .string(Timestamp.age(of: hpa[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] {
        let a = "io.k8s.api.autoscaling.v2."
        return [
            SchemaDefinition(a + "HorizontalPodAutoscaler", "HorizontalPodAutoscaler automatically manages the replica count of a workload based on the metrics specified.",
                kind: ("autoscaling", "v2", "HorizontalPodAutoscaler"),
                fields: CommonSchemas.topLevel(spec: a + "HorizontalPodAutoscalerSpec", status: a + "HorizontalPodAutoscalerStatus",
                    specDescription: "The behaviour of the autoscaler.", statusDescription: "The current information about the autoscaler.")),
            SchemaDefinition(a + "HorizontalPodAutoscalerSpec", "HorizontalPodAutoscalerSpec describes the desired functionality of the HorizontalPodAutoscaler.", fields: [
                SchemaField("scaleTargetRef", .ref(a + "CrossVersionObjectReference"), "The target resource to scale (Deployment, ReplicaSet, ReplicationController).", required: true),
                SchemaField("minReplicas", .integer, "The lower limit for the number of replicas. Defaults to 1."),
                SchemaField("maxReplicas", .integer, "The upper limit for the number of replicas. It cannot be less that minReplicas.", required: true),
                SchemaField("metrics", .array(.freeform), "The specifications for which to use to calculate the desired replica count (kube9: Resource metrics cpu and memory)."),
                SchemaField("behavior", .freeform, "The scaling behavior of the target in both Up and Down directions."),
            ]),
            SchemaDefinition(a + "CrossVersionObjectReference", "CrossVersionObjectReference contains enough information to let you identify the referred resource.", fields: [
                SchemaField("kind", .string, "Kind of the referent.", required: true),
                SchemaField("name", .string, "Name of the referent.", required: true),
                SchemaField("apiVersion", .string, "API version of the referent."),
            ]),
            SchemaDefinition(a + "HorizontalPodAutoscalerStatus", "HorizontalPodAutoscalerStatus describes the current status of a horizontal pod autoscaler.", closed: false, fields: [
                SchemaField("observedGeneration", .integer, "The most recent generation observed by this autoscaler."),
                SchemaField("lastScaleTime", .time, "The last time the HorizontalPodAutoscaler scaled the number of pods."),
                SchemaField("currentReplicas", .integer, "The current number of replicas of pods managed by this autoscaler."),
                SchemaField("desiredReplicas", .integer, "The desired number of replicas of pods managed by this autoscaler."),
                SchemaField("currentMetrics", .array(.freeform), "The last read state of the metrics used by this autoscaler."),
                SchemaField("conditions", .array(.freeform), "The conditions required for this autoscaler to scale its target.", mergeKey: "type"),
            ]),
        ]
    }
}

/// autoscaling/v1 HorizontalPodAutoscaler (what `kubectl autoscale` sends), converted to and
/// from the stored autoscaling/v2 form: targetCPUUtilizationPercentage is a cpu Utilization metric.
public enum HorizontalPodAutoscalerV1 {
    /// A v1 object in the v2 form (status dropped; the controller writes it).
    public static func toV2(_ object: JSON) -> JSON {
        var result = object
        result["apiVersion"] = "autoscaling/v2"
        result["status"] = Optional<JSON>.none
        var spec = object["spec"] ?? .emptyObject
        if case .object = spec {
            if let percent = spec["targetCPUUtilizationPercentage"] {
                spec["metrics"] = [["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": percent]]]]
            }
            spec["targetCPUUtilizationPercentage"] = Optional<JSON>.none
            result["spec"] = spec
        }
        return result
    }

    /// A stored v2 object as v1 shows it.
    public static func fromV2(_ object: JSON) -> JSON {
        var result = object
        result["apiVersion"] = "autoscaling/v1"
        var spec = object["spec"] ?? .emptyObject
        let metrics = spec["metrics"]?.arrayValue ?? []
        let cpu = metrics.first { $0[path: ["resource", "name"]] == "cpu" && $0[path: ["resource", "target", "type"]] == "Utilization" }
        spec["metrics"] = Optional<JSON>.none
        spec["behavior"] = Optional<JSON>.none
        if let percent = cpu?[path: ["resource", "target", "averageUtilization"]] { spec["targetCPUUtilizationPercentage"] = percent }
        result["spec"] = spec
        var status: JSON = .emptyObject
        for field in ["observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas"] { status[field] = object[path: ["status", field]] }
        let current = (object[path: ["status", "currentMetrics"]]?.arrayValue ?? []).first { $0[path: ["resource", "name"]] == "cpu" }
        if let utilization = current?[path: ["resource", "current", "averageUtilization"]] { status["currentCPUUtilizationPercentage"] = utilization }
        result["status"] = status
        return result
    }
}
