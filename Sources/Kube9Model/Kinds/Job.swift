/// batch/v1 Job: runs pods of its template until `completions` of them succeed (or, without
/// `completions`, until one succeeds and the rest end), at most `parallelism` at once, giving up
/// after `backoffLimit` failures or `activeDeadlineSeconds`.
public struct JobStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "batch", version: "v1", resource: "jobs", singular: "job", kind: "Job",
                                   namespaced: true, categories: ["all"], subresources: ["status"])

    /// The label (and selector) tying a Job's pods to it.
    public static let controllerUIDLabel = "batch.kubernetes.io/controller-uid"
    public static let jobNameLabel = "batch.kubernetes.io/job-name"
    /// The index of an Indexed Job's pod (label and annotation).
    public static let completionIndexKey = "batch.kubernetes.io/job-completion-index"
    /// Kubernetes' default backoffLimit.
    public static let defaultBackoffLimit: Int64 = 6
    /// The most completions (and parallelism) an Indexed Job may ask for, as Kubernetes.
    public static let maximumIndexed: Int64 = 100_000

    public var mergeKeys: MergeKeys { Workloads.mergeKeys }

    public func prepareForCreate(_ object: inout JSON) {
        if object[path: ["spec", "parallelism"]] == nil { object[path: ["spec", "parallelism"]] = 1 }
        if object[path: ["spec", "completions"]] == nil, object[path: ["spec", "parallelism"]] == .int(1) || object[path: ["spec", "parallelism"]] == nil {
            object[path: ["spec", "completions"]] = 1
        }
        if object[path: ["spec", "backoffLimit"]] == nil { object[path: ["spec", "backoffLimit"]] = .int(Self.defaultBackoffLimit) }
        if object[path: ["spec", "completionMode"]] == nil { object[path: ["spec", "completionMode"]] = "NonIndexed" }
        if object[path: ["spec", "suspend"]] == nil { object[path: ["spec", "suspend"]] = false }
        if object[path: ["spec", "manualSelector"]]?.boolValue != true {
            // The generated selector: the Job's uid, on the selector and on the template's labels.
            let uid = JSON.string(ObjectMeta.uid(of: object))
            let name = JSON.string(ObjectMeta.name(of: object))
            object[path: ["spec", "selector"]] = ["matchLabels": .object([Self.controllerUIDLabel: uid])]
            var labels = object[path: ["spec", "template", "metadata", "labels"]]?.objectValue ?? [:]
            labels[Self.controllerUIDLabel] = uid
            labels[Self.jobNameLabel] = name
            labels["controller-uid"] = uid
            labels["job-name"] = name
            object[path: ["spec", "template", "metadata", "labels"]] = .object(labels)
        }
        Workloads.defaultTemplate(&object)
        object["status"] = .emptyObject
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        let int32 = 0...Int64(Int32.max)
        for field in ["parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"] {
            CommonSchemas.checkInteger(object[path: ["spec", field]], "spec.\(field)", in: int32, into: &causes)
        }
        CommonSchemas.checkInteger(object[path: ["spec", "activeDeadlineSeconds"]], "spec.activeDeadlineSeconds", in: 1...Int64(Int32.max) * 1000, into: &causes)
        CommonSchemas.checkType(object[path: ["spec", "suspend"]], "boolean", "spec.suspend", into: &causes)
        CommonSchemas.checkType(object[path: ["spec", "manualSelector"]], "boolean", "spec.manualSelector", into: &causes)
        let mode = object[path: ["spec", "completionMode"]]
        if let mode, !mode.isNull, !["NonIndexed", "Indexed"].contains(mode.stringValue ?? "") {
            causes.append(.notSupported("spec.completionMode", mode, supported: ["NonIndexed", "Indexed"]))
        }
        if mode?.stringValue == "Indexed" {
            if let completions = object[path: ["spec", "completions"]]?.intValue {
                if completions > Self.maximumIndexed { causes.append(.invalid("spec.completions", .int(completions), "must be less than or equal to \(Self.maximumIndexed) when completion mode is Indexed")) }
            } else {
                causes.append(.required("spec.completions", "when completion mode is Indexed"))
            }
            if let parallelism = object[path: ["spec", "parallelism"]]?.intValue, parallelism > Self.maximumIndexed {
                causes.append(.invalid("spec.parallelism", .int(parallelism), "must be less than or equal to \(Self.maximumIndexed) when completion mode is Indexed"))
            }
        }
        let (selector, selectorCauses) = LabelSelector.fromObject(object[path: ["spec", "selector"]], field: "spec.selector")
        causes += selectorCauses
        if selectorCauses.isEmpty, selector.isEmpty { causes.append(.required("spec.selector")) }
        Workloads.validateTemplate(object, selector: selectorCauses.isEmpty && !selector.isEmpty ? selector : nil,
                                   restartPolicies: ["OnFailure", "Never"], into: &causes)
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        for field in ["selector", "completions", "completionMode", "manualSelector"] where object[path: ["spec", field]] != old[path: ["spec", field]] {
            causes.append(.invalid("spec.\(field)", object[path: ["spec", field]], "field is immutable"))
        }
        // The template may change only while the Job is suspended (as Kubernetes allows for queueing).
        if Workloads.canonical(object[path: ["spec", "template"]] ?? .null) != Workloads.canonical(old[path: ["spec", "template"]] ?? .null),
           old[path: ["spec", "suspend"]]?.boolValue != true {
            causes.append(.invalid("spec.template", nil, "field is immutable"))
        }
        return causes
    }

    /// Complete, Failed, Suspended or Running, as kubectl's STATUS column shows a Job.
    public static func phase(_ job: JSON) -> String {
        if Self.hasCondition(job, "Complete") { return "Complete" }
        if Self.hasCondition(job, "Failed") { return "Failed" }
        if Self.hasCondition(job, "FailureTarget") { return "FailureTarget" }
        if Self.hasCondition(job, "SuccessCriteriaMet") { return "SuccessCriteriaMet" }
        if Self.hasCondition(job, "Suspended") { return "Suspended" }
        return "Running"
    }

    /// Whether the Job has the condition `type` with status True.
    public static func hasCondition(_ job: JSON, _ type: String) -> Bool {
        (job[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"]?.stringValue == type && $0["status"]?.stringValue == "True" }
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Status", description: "Status of the job."),
                TableColumn("Completions", description: "The desired number of successfully finished pods the job should be run with."),
                TableColumn("Duration", description: "Time required to complete the job."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("Containers", description: "Names of each container in the template.", priority: 1),
                TableColumn("Images", description: "Images referenced by each container in the template.", priority: 1),
                TableColumn("Selector", description: "A label query over pods that should match the pod count.", priority: 1),
            ],
            cells: { job in
                let succeeded = Workloads.count(job[path: ["status", "succeeded"]])
                let completions = job[path: ["spec", "completions"]]?.intValue.map { "\(succeeded)/\($0)" }
                    ?? "\(succeeded)/1 of \(job[path: ["spec", "parallelism"]]?.intValue ?? 1)"
                var duration = ""
                if let start = job[path: ["status", "startTime"]]?.stringValue.flatMap(Timestamp.parse) {
                    let end = job[path: ["status", "completionTime"]]?.stringValue.flatMap(Timestamp.parse) ?? Timestamp.nowSeconds()
                    duration = Timestamp.humanDuration(seconds: max(0, end - start))
                }
                let containers = Workloads.containerColumns(job)
                return [.string(ObjectMeta.name(of: job)), .string(Self.phase(job)), .string(completions), .string(duration),
                        .string(Timestamp.age(of: job[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                        .string(containers.names), .string(containers.images), .string(Workloads.selector(job)?.text ?? "")]
            })
    }

    public var schemas: [SchemaDefinition] { BatchSchemas.job }
}
