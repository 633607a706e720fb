import Foundation
import Kube9Model
import Logging

/// Runs batch/v1 CronJobs: at each scheduled time a Job named CRONJOB-<minutes since 1970>
/// from `jobTemplate` (concurrencyPolicy Allow, Forbid or Replace; a time missed by more than
/// `startingDeadlineSeconds` is skipped; suspend), then finished Jobs beyond the history limits
/// are deleted, oldest first.
///
/// ```
/// watch cronjobs, jobs ─▶ WorkQueue ─▶ sync ─┬─ most recent due time since lastScheduleTime
///                                            ├─ concurrency policy ─▶ create the Job
///                                            ├─ status: active, lastScheduleTime, lastSuccessfulTime
///                                            ├─ history limits (successful 3, failed 1 by default)
///                                            └─ requeue at the next scheduled time
/// ```
public final class CronJobController: Sendable {
    static let component = "cronjob-controller"
    static let cronJobs = CronJobStrategy().type
    static let jobs = JobStrategy().type
    /// Missed times counted before the controller gives up counting (as Kubernetes: 100).
    static let maximumMissed = 100

    let client: any ClusterClient
    let logger: Logger
    let owners = OwnerIndex()
    let queue = WorkQueue()

    public init(client: any ClusterClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.follow(Self.cronJobs) }
            group.addTask { await self.follow(Self.jobs) }
            group.addTask { await self.queue.run(concurrency: 2) { key in await self.sync(key) } }
            await group.waitForAll()
        }
    }

    func follow(_ type: ResourceType) async {
        await OwnerIndex.follow(type, client: client, logger: logger, component: Self.component) { objects in
            if type == Self.cronJobs { queue.add(owners.reset(objects)) }
        } changed: { change in
            if let key = type == Self.cronJobs ? owners.apply(change) : owners.owner(of: change.object, kind: "CronJob") { queue.add(key) }
        }
    }

    func sync(_ key: String) async {
        await OwnerIndex.sync(key, type: Self.cronJobs, client: client, queue: queue, logger: logger, component: Self.component) { cronJob in
            try await sync(cronJob, key: key, now: Date())
        }
    }

    static func finished(_ job: JSON) -> Bool { JobStrategy.hasCondition(job, "Complete") || JobStrategy.hasCondition(job, "Failed") }

    /// The most recent scheduled time in (`since`, `now`], and the next one after `now`.
    static func due(_ schedule: CronSchedule, since: Date, now: Date, timeZone: TimeZone) -> (latest: Date?, next: Date?, missed: Int) {
        var latest: Date? = nil
        var missed = 0
        var cursor = since
        while let time = schedule.next(after: cursor, in: timeZone), time <= now {
            latest = time
            missed += 1
            cursor = time
            if missed > maximumMissed {
                // Too many to count one by one: jump to the last minute before now.
                cursor = now.addingTimeInterval(-61)
                if cursor <= time { break }
            }
        }
        return (latest, schedule.next(after: now, in: timeZone), missed)
    }

    func sync(_ cronJob: JSON, key: String, now: Date) async throws {
        guard ObjectMeta.deletionTimestamp(of: cronJob) == nil else { return }
        let namespace = ObjectMeta.namespace(of: cronJob)
        let uid = ObjectMeta.uid(of: cronJob)
        let spec = cronJob["spec"] ?? .emptyObject
        guard case .success(let schedule) = CronSchedule.parse(spec["schedule"]?.stringValue ?? ""),
              let timeZone = CronJobStrategy.timeZone(cronJob) else {
            await client.event(about: cronJob, type: "Warning", reason: "UnparseableSchedule", message: "unparseable schedule or time zone", component: Self.component)
            return
        }
        var jobs = client.list(Self.jobs, namespace: namespace).filter { ObjectMeta.controllerReference(of: $0)?.uid == uid }
        var active = jobs.filter { !Self.finished($0) && ObjectMeta.deletionTimestamp(of: $0) == nil }
        let created = cronJob[path: ["metadata", "creationTimestamp"]]?.stringValue.flatMap(Timestamp.parse) ?? Int64(now.timeIntervalSince1970)
        let last = cronJob[path: ["status", "lastScheduleTime"]]?.stringValue.flatMap(Timestamp.parse) ?? created
        let due = Self.due(schedule, since: Date(timeIntervalSince1970: TimeInterval(last)), now: now, timeZone: timeZone)
        var scheduled: Date? = nil
        if spec["suspend"]?.boolValue != true, let time = due.latest {
            let deadline = spec["startingDeadlineSeconds"]?.intValue
            let late = now.timeIntervalSince(time)
            let policy = spec["concurrencyPolicy"]?.stringValue ?? "Allow"
            if let deadline, late > TimeInterval(deadline) {
                await client.event(about: cronJob, type: "Warning", reason: "MissSchedule",
                                   message: "Missed scheduled time to start a job: \(Timestamp.format(Int64(time.timeIntervalSince1970)))", component: Self.component)
                scheduled = time
            } else if policy == "Forbid", !active.isEmpty {
                // Waits; the time is tried again while it is within the deadline.
                await client.event(about: cronJob, type: "Normal", reason: "JobAlreadyActive", message: "Not starting job because prior execution is running and concurrency policy is Forbid", component: Self.component)
            } else {
                if policy == "Replace" {
                    for job in active {
                        try? await client.delete(Self.jobs, namespace: namespace, name: ObjectMeta.name(of: job), uid: ObjectMeta.uid(of: job), propagation: "Background")
                        await client.event(about: cronJob, type: "Normal", reason: "SuccessfulDelete", message: "Deleted job \(ObjectMeta.name(of: job))", component: Self.component)
                    }
                    active = []
                }
                let job = Self.job(from: cronJob, scheduled: time)
                do {
                    let made = try await client.create(Self.jobs, namespace: namespace, object: job)
                    active.append(made)
                    jobs.append(made)
                    await client.event(about: cronJob, type: "Normal", reason: "SuccessfulCreate", message: "Created job \(ObjectMeta.name(of: made))", component: Self.component)
                } catch let error as APIError {
                    guard case .alreadyExists = error else {
                        await client.event(about: cronJob, type: "Warning", reason: "FailedCreate", message: "Error creating job: \(error)", component: Self.component)
                        throw error
                    }
                }
                scheduled = time
            }
        }
        // History: finished Jobs beyond the limits go, oldest first.
        for (succeeded, limit) in [(true, spec["successfulJobsHistoryLimit"]?.intValue ?? 3), (false, spec["failedJobsHistoryLimit"]?.intValue ?? 1)] {
            let finished = jobs.filter { JobStrategy.hasCondition($0, succeeded ? "Complete" : "Failed") && ObjectMeta.deletionTimestamp(of: $0) == nil }
                .sorted { ($0[path: ["status", "startTime"]]?.stringValue ?? "") < ($1[path: ["status", "startTime"]]?.stringValue ?? "") }
            for job in finished.dropLast(Int(max(0, min(limit, Int64(finished.count))))) {
                try? await client.delete(Self.jobs, namespace: namespace, name: ObjectMeta.name(of: job), uid: ObjectMeta.uid(of: job), propagation: "Background")
                await client.event(about: cronJob, type: "Normal", reason: "SuccessfulDelete", message: "Deleted job \(ObjectMeta.name(of: job))", component: Self.component)
            }
        }
        let references: [JSON] = active.map { ["apiVersion": "batch/v1", "kind": "Job", "name": .string(ObjectMeta.name(of: $0)),
                                                "namespace": .string(namespace), "uid": .string(ObjectMeta.uid(of: $0))] }
        let lastSuccess = jobs.filter { JobStrategy.hasCondition($0, "Complete") }.compactMap { $0[path: ["status", "completionTime"]]?.stringValue }.max()
        let scheduledTime = scheduled
        _ = try await client.modify(Self.cronJobs, namespace: namespace, name: ObjectMeta.name(of: cronJob), status: true) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            var status = object["status"]?.objectValue.map(JSON.object) ?? .emptyObject
            status["active"] = references.isEmpty ? nil : .array(references)
            if let scheduled = scheduledTime { status["lastScheduleTime"] = .string(Timestamp.format(Int64(scheduled.timeIntervalSince1970))) }
            if let lastSuccess { status["lastSuccessfulTime"] = .string(lastSuccess) }
            object["status"] = status
        }
        if let next = due.next {
            queue.add(key, after: .milliseconds(Int64(max(0, next.timeIntervalSince(now)) * 1000) + 200))
        }
        // A Forbid that waits looks again soon.
        if scheduled == nil, due.latest != nil, spec["suspend"]?.boolValue != true { queue.add(key, after: .seconds(5)) }
    }

    /// The Job for the time `scheduled`: named CRONJOB-<minutes since 1970>, owned by the CronJob.
    static func job(from cronJob: JSON, scheduled: Date) -> JSON {
        let template = cronJob[path: ["spec", "jobTemplate"]] ?? .emptyObject
        let minutes = Int64(scheduled.timeIntervalSince1970 / 60)
        var metadata = template["metadata"]?.objectValue.map(JSON.object) ?? .emptyObject
        metadata["name"] = .string("\(ObjectMeta.name(of: cronJob))-\(minutes)")
        metadata["namespace"] = nil
        var annotations = metadata["annotations"]?.objectValue ?? [:]
        annotations[CronJobStrategy.scheduledTimestampAnnotation] = .string(Timestamp.format(Int64(scheduled.timeIntervalSince1970)))
        metadata["annotations"] = .object(annotations)
        metadata["ownerReferences"] = [OwnerReference.controller(of: cronJob).json]
        return ["apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template["spec"] ?? .emptyObject]
    }
}
