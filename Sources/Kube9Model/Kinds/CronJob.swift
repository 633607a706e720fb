import Foundation

/// batch/v1 CronJob: creates a Job from `jobTemplate` at each time of `schedule` (in `timeZone`,
/// else the server's), with a concurrency policy, a starting deadline and history limits.
public struct CronJobStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "batch", version: "v1", resource: "cronjobs", singular: "cronjob", kind: "CronJob",
                                   namespaced: true, shortNames: ["cj"], categories: ["all"], subresources: ["status"])

    /// The scheduled time of a Job a CronJob made (RFC 3339).
    public static let scheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"
    /// The longest CronJob name: its Jobs append "-" and up to 10 digits.
    public static let maximumNameLength = 52

    public var mergeKeys: MergeKeys { Workloads.mergeKeys }

    public func prepareForCreate(_ object: inout JSON) {
        Self.applyDefaults(&object)
        object["status"] = .emptyObject
    }

    public func prepareForUpdate(_ object: inout JSON, old: JSON) {
        Self.applyDefaults(&object)
        object["status"] = old["status"]
    }

    static func applyDefaults(_ object: inout JSON) {
        let defaults: [(String, JSON)] = [("concurrencyPolicy", "Allow"), ("suspend", false), ("successfulJobsHistoryLimit", 3), ("failedJobsHistoryLimit", 1)]
        for (field, value) in defaults where object[path: ["spec", field]] == nil { object[path: ["spec", field]] = value }
        if let spec = object[path: ["spec", "jobTemplate", "spec", "template", "spec"]] {
            object[path: ["spec", "jobTemplate", "spec", "template", "spec"]] = PodStrategy.defaultedSpec(spec)
        }
    }

    /// The time zone a CronJob's schedule is read in: its `timeZone`, else the server's.
    public static func timeZone(_ cronJob: JSON) -> TimeZone? {
        guard let name = cronJob[path: ["spec", "timeZone"]]?.stringValue else { return TimeZone.current }
        return TimeZone(identifier: name)
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        let name = ObjectMeta.name(of: object)
        if name.utf8.count > Self.maximumNameLength {
            causes.append(.invalid("metadata.name", .string(name), "must be no more than \(Self.maximumNameLength) characters"))
        }
        let schedule = object[path: ["spec", "schedule"]]
        if let text = schedule?.stringValue, !text.isEmpty {
            if case .failure(let error) = CronSchedule.parse(text) { causes.append(.invalid("spec.schedule", schedule, error.description)) }
        } else {
            causes.append(.required("spec.schedule"))
        }
        if let zone = object[path: ["spec", "timeZone"]], !zone.isNull {
            if let text = zone.stringValue, !text.isEmpty, text.utf8.count <= 256, !text.contains(".."), TimeZone(identifier: text) != nil {} else {
                causes.append(.invalid("spec.timeZone", zone, "unknown time zone"))
            }
        }
        let policy = object[path: ["spec", "concurrencyPolicy"]]
        if let policy, !policy.isNull, !["Allow", "Forbid", "Replace"].contains(policy.stringValue ?? "") {
            causes.append(.notSupported("spec.concurrencyPolicy", policy, supported: ["Allow", "Forbid", "Replace"]))
        }
        for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
            CommonSchemas.checkInteger(object[path: ["spec", field]], "spec.\(field)", in: 0...Int64(Int32.max), into: &causes)
        }
        CommonSchemas.checkInteger(object[path: ["spec", "startingDeadlineSeconds"]], "spec.startingDeadlineSeconds", in: 0...Int64(Int32.max) * 1000, into: &causes)
        CommonSchemas.checkType(object[path: ["spec", "suspend"]], "boolean", "spec.suspend", into: &causes)
        // The Job template is checked as the Job it will make, its fields under spec.jobTemplate.
        guard let template = object[path: ["spec", "jobTemplate"]], case .object = template else {
            causes.append(.required("spec.jobTemplate"))
            return causes
        }
        var job: JSON = ["apiVersion": "batch/v1", "kind": "Job",
                         "metadata": ["name": .string(name.isEmpty ? "job" : String(name.prefix(Self.maximumNameLength))), "namespace": "default", "uid": "template"],
                         "spec": template["spec"] ?? .emptyObject]
        JobStrategy().prepareForCreate(&job)
        for cause in JobStrategy().validate(job) where cause.field.hasPrefix("spec") {
            var moved = cause
            moved.field = "spec.jobTemplate." + cause.field
            causes.append(moved)
        }
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Schedule", description: "The schedule in Cron format."),
                TableColumn("Timezone", description: "The time zone name for the given schedule."),
                TableColumn("Suspend", type: "boolean", description: "This flag tells the controller to suspend subsequent executions."),
                TableColumn("Active", type: "integer", description: "A list of pointers to currently running jobs."),
                TableColumn("Last Schedule", description: "Information when was the last time the job was successfully scheduled."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("Containers", description: "Names of each container in the template.", priority: 1),
                TableColumn("Images", description: "Images referenced by each container in the template.", priority: 1),
                TableColumn("Selector", description: "A label query over pods.", priority: 1),
            ],
            cells: { cronJob in
                let template: JSON = ["spec": cronJob[path: ["spec", "jobTemplate", "spec"]] ?? .emptyObject]
                let containers = Workloads.containerColumns(template)
                let last = cronJob[path: ["status", "lastScheduleTime"]]?.stringValue
                return [.string(ObjectMeta.name(of: cronJob)), .string(cronJob[path: ["spec", "schedule"]]?.stringValue ?? ""),
                        .string(cronJob[path: ["spec", "timeZone"]]?.stringValue ?? "<none>"),
                        .bool(cronJob[path: ["spec", "suspend"]]?.boolValue ?? false),
                        .int(Int64(cronJob[path: ["status", "active"]]?.arrayValue?.count ?? 0)),
                        .string(last.map { Timestamp.age(of: $0) } ?? "<none>"),
                        .string(Timestamp.age(of: cronJob[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                        .string(containers.names), .string(containers.images), .string("<none>")]
            })
    }

    public var schemas: [SchemaDefinition] { BatchSchemas.cronJob }
}
