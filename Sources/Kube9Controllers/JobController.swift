import Kube9Model
import Logging

/// Runs batch/v1 Jobs: pods of the template until enough succeed, at most `parallelism` at once;
/// Failed after `backoffLimit` failures or `activeDeadlineSeconds`; suspend and resume;
/// Indexed completion; the Job deleted `ttlSecondsAfterFinished` after it finished.
///
/// ```
/// watch jobs ─┐
///             ├─▶ WorkQueue (job keys) ─▶ sync ─┬─ finished: remove active pods, TTL
/// watch pods ─┘   (by controller uid)           ├─ suspended: remove active pods
///                                               ├─ deadline / backoffLimit: Failed
///                                               ├─ enough succeeded: SuccessCriteriaMet, Complete
///                                               ├─ create pods up to parallelism (failures back off 10 s, doubling to 6 min)
///                                               └─ status: active, ready, succeeded, failed, completedIndexes, times
/// ```
public final class JobController: Sendable {
    static let component = "job-controller"
    static let pods = PodStrategy().type
    static let jobs = JobStrategy().type
    static let burst = 500

    let client: any ClusterClient
    let logger: Logger
    let owners = OwnerIndex()
    let queue = WorkQueue()

    public init(client: any ClusterClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.follow(Self.jobs) }
            group.addTask { await self.follow(Self.pods) }
            group.addTask { await self.queue.run(concurrency: 4) { key in await self.sync(key) } }
            await group.waitForAll()
        }
    }

    func follow(_ type: ResourceType) async {
        await OwnerIndex.follow(type, client: client, logger: logger, component: Self.component) { objects in
            queue.add(type == Self.jobs ? owners.reset(objects) : owners.allKeys)
        } changed: { change in
            if let key = type == Self.jobs ? owners.apply(change) : owners.owner(of: change.object, kind: "Job") { queue.add(key) }
        }
    }

    func sync(_ key: String) async {
        await OwnerIndex.sync(key, type: Self.jobs, client: client, queue: queue, logger: logger, component: Self.component) { job in
            try await sync(job, key: key)
        }
    }

    static func isActive(_ pod: JSON) -> Bool {
        let phase = pod[path: ["status", "phase"]]?.stringValue ?? ""
        return ObjectMeta.deletionTimestamp(of: pod) == nil && phase != "Succeeded" && phase != "Failed"
    }

    static func index(_ pod: JSON) -> Int? {
        ObjectMeta.annotation(pod, JobStrategy.completionIndexKey).flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
    }

    /// When the newest failed pod ended (its containers' finish time, else its last condition change).
    static func lastFailure(_ failed: [JSON]) -> Int64? {
        failed.compactMap { pod -> Int64? in
            let finishes = (pod[path: ["status", "containerStatuses"]]?.arrayValue ?? [])
                .compactMap { $0[path: ["state", "terminated", "finishedAt"]]?.stringValue.flatMap(Timestamp.parse) }
            return finishes.max() ?? (pod[path: ["status", "conditions"]]?.arrayValue ?? [])
                .compactMap { $0["lastTransitionTime"]?.stringValue.flatMap(Timestamp.parse) }.max()
        }.max()
    }

    func sync(_ job: JSON, key: String) async throws {
        guard ObjectMeta.deletionTimestamp(of: job) == nil else { return }
        let namespace = ObjectMeta.namespace(of: job)
        let uid = ObjectMeta.uid(of: job)
        let now = Timestamp.nowSeconds()
        let owned = client.list(Self.pods, namespace: namespace).filter { ObjectMeta.controllerReference(of: $0)?.uid == uid }
        var active = owned.filter(Self.isActive)
        let succeededPods = owned.filter { $0[path: ["status", "phase"]]?.stringValue == "Succeeded" }
        let failedPods = owned.filter { $0[path: ["status", "phase"]]?.stringValue == "Failed" }
        let onFailure = job[path: ["spec", "template", "spec", "restartPolicy"]]?.stringValue == "OnFailure"
        // With OnFailure, the kubelet restarts containers in place: each restart counts as a failure.
        let restarts = onFailure ? active.reduce(0) { sum, pod in
            sum + (pod[path: ["status", "containerStatuses"]]?.arrayValue ?? []).reduce(0) { $0 + Int(Workloads.count($1["restartCount"])) }
        } : 0
        let failures = failedPods.count + restarts
        let spec = job["spec"] ?? .emptyObject
        let parallelism = Int(Workloads.count(spec["parallelism"]))
        let completions = spec["completions"]?.intValue.map { Int(min(max($0, 0), Workloads.maximumReplicas)) }
        let backoffLimit = Int(Workloads.count(spec["backoffLimit"] ?? .int(JobStrategy.defaultBackoffLimit)))
        let indexed = spec["completionMode"]?.stringValue == "Indexed"
        let succeededIndexes = Set(succeededPods.compactMap(Self.index))

        var status = job["status"] ?? .emptyObject
        if case .object = status {} else { status = .emptyObject }
        var updated = job
        updated["status"] = status
        var outcome: (type: String, reason: String, message: String)? = nil

        if JobStrategy.hasCondition(job, "Complete") || JobStrategy.hasCondition(job, "Failed") {
            _ = await deletePods(active, job: job)
            try await expireIfDue(job, now: now, key: key)
            return
        }
        let suspended = spec["suspend"]?.boolValue == true
        if suspended {
            _ = await deletePods(active, job: job)
            active = []
            if !JobStrategy.hasCondition(job, "Suspended") {
                Conditions.set(&updated, type: "Suspended", status: "True", reason: "JobSuspended", message: "Job suspended")
                await client.event(about: job, type: "Normal", reason: "Suspended", message: "Job suspended", component: Self.component)
            }
        } else {
            if JobStrategy.hasCondition(job, "Suspended") {
                Conditions.set(&updated, type: "Suspended", status: "False", reason: "JobResumed", message: "Job resumed")
                updated[path: ["status", "startTime"]] = Optional<JSON>.none
                await client.event(about: job, type: "Normal", reason: "Resumed", message: "Job resumed", component: Self.component)
            }
            if updated[path: ["status", "startTime"]] == nil { updated[path: ["status", "startTime"]] = .string(Timestamp.format(now)) }
            let start = updated[path: ["status", "startTime"]]?.stringValue.flatMap(Timestamp.parse) ?? now
            if let deadline = spec["activeDeadlineSeconds"]?.intValue {
                if now >= start.saturatingAdd(deadline) {
                    outcome = ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
                } else {
                    queue.add(key, after: .seconds(start.saturatingAdd(deadline) - now) + .milliseconds(200))
                }
            }
            if outcome == nil, failures > backoffLimit {
                outcome = ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            }
            if outcome == nil {
                let done: Bool
                if indexed {
                    done = succeededIndexes.count >= (completions ?? 0)
                } else if let completions {
                    done = succeededPods.count >= completions
                } else {
                    done = !succeededPods.isEmpty && active.isEmpty
                }
                if done { outcome = ("Complete", "CompletionsReached", "Reached expected number of succeeded pods") }
            }
            if outcome == nil {
                // Failed pods delay their replacements (10 s, doubling, at most 6 min), as Kubernetes.
                var backOff: Int64 = 0
                if !failedPods.isEmpty, let last = Self.lastFailure(failedPods) {
                    let delay = min(Int64(10) << Int64(min(failedPods.count - 1, 6)), 360)
                    backOff = max(0, last.saturatingAdd(delay) - now)
                }
                if backOff > 0 {
                    queue.add(key, after: .seconds(backOff) + .milliseconds(100))
                } else {
                    active = try await scale(job, active: active, succeeded: succeededPods, parallelism: parallelism, completions: completions,
                                             indexed: indexed, succeededIndexes: succeededIndexes)
                }
            }
        }
        if let outcome {
            _ = await deletePods(active, job: job)
            active = []
            if outcome.type == "Complete" {
                Conditions.set(&updated, type: "SuccessCriteriaMet", status: "True", reason: outcome.reason, message: outcome.message)
            } else {
                Conditions.set(&updated, type: "FailureTarget", status: "True", reason: outcome.reason, message: outcome.message)
            }
            Conditions.set(&updated, type: outcome.type, status: "True", reason: outcome.reason, message: outcome.message)
            if outcome.type == "Complete" { updated[path: ["status", "completionTime"]] = .string(Timestamp.format(now)) }
            await client.event(about: job, type: outcome.type == "Complete" ? "Normal" : "Warning",
                               reason: outcome.type == "Complete" ? "Completed" : outcome.reason,
                               message: outcome.type == "Complete" ? "Job completed" : outcome.message, component: Self.component)
        }
        let ready = active.filter { pod in (pod[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" } }.count
        let finalStatus: JSON = {
            var status = updated["status"] ?? .emptyObject
            status["active"] = .int(Int64(active.count))
            status["ready"] = .int(Int64(ready))
            status["succeeded"] = .int(Int64(succeededPods.count))
            status["failed"] = .int(Int64(failures))
            if indexed { status["completedIndexes"] = .string(Self.ranges(succeededIndexes)) }
            return status
        }()
        _ = try await client.modify(Self.jobs, namespace: namespace, name: ObjectMeta.name(of: job), status: true) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            object["status"] = finalStatus
        }
        if outcome != nil { try await expireIfDue(updated, now: now, key: key) }
    }

    /// Creates pods up to what is wanted now, or deletes surplus ones; returns the active pods.
    func scale(_ job: JSON, active: [JSON], succeeded: [JSON], parallelism: Int, completions: Int?, indexed: Bool,
               succeededIndexes: Set<Int>) async throws -> [JSON] {
        var want: Int
        var indexes: [Int?] = []
        if indexed {
            let total = completions ?? 0
            let running = Set(active.compactMap(Self.index))
            let pending = (0..<total).lazy.filter { !succeededIndexes.contains($0) && !running.contains($0) }
            want = min(parallelism, total - succeededIndexes.count)
            indexes = Array(pending.prefix(max(0, min(want - active.count, Self.burst))))
        } else if let completions {
            want = min(parallelism, max(0, completions - succeeded.count))
            indexes = Array(repeating: nil, count: max(0, min(want - active.count, Self.burst)))
        } else {
            want = succeeded.isEmpty ? parallelism : 0
            indexes = Array(repeating: nil, count: max(0, min(want - active.count, Self.burst)))
        }
        if active.count > want {
            let surplus = Array(PodRanking.deletionOrder(active).prefix(active.count - want))
            _ = await deletePods(surplus, job: job)
            let gone = Set(surplus.map { ObjectMeta.uid(of: $0) })
            return active.filter { !gone.contains(ObjectMeta.uid(of: $0)) }
        }
        var created: [JSON] = []
        for index in indexes {
            do {
                created.append(try await client.create(Self.pods, namespace: ObjectMeta.namespace(of: job), object: Self.pod(from: job, index: index)))
            } catch {
                await client.event(about: job, type: "Warning", reason: "FailedCreate", message: "Error creating: \(error)", component: Self.component)
                throw error
            }
        }
        if !created.isEmpty {
            let names = created.prefix(5).map { ObjectMeta.name(of: $0) }.joined(separator: ", ")
            await client.event(about: job, type: "Normal", reason: "SuccessfulCreate",
                               message: "Created pod: \(names)\(created.count > 5 ? " and \(created.count - 5) more" : "")", component: Self.component)
        }
        return active + created
    }

    /// A pod of the Job's template; an Indexed Job's pod carries its index (label, annotation,
    /// JOB_COMPLETION_INDEX) and is named JOB-INDEX-xxxxx.
    static func pod(from job: JSON, index: Int?) -> JSON {
        let template = job[path: ["spec", "template"]] ?? .emptyObject
        let name = ObjectMeta.name(of: job)
        var metadata: JSON = ["generateName": .string(String((index.map { "\(name)-\($0)-" } ?? "\(name)-").prefix(58)))]
        var labels = template[path: ["metadata", "labels"]]?.objectValue ?? [:]
        var annotations = template[path: ["metadata", "annotations"]]?.objectValue ?? [:]
        var spec = template["spec"] ?? .emptyObject
        if let index {
            labels[JobStrategy.completionIndexKey] = .string(String(index))
            annotations[JobStrategy.completionIndexKey] = .string(String(index))
            let variable: JSON = ["name": "JOB_COMPLETION_INDEX",
                                  "valueFrom": ["fieldRef": ["fieldPath": .string("metadata.annotations['\(JobStrategy.completionIndexKey)']")]]]
            spec["containers"] = .array((spec["containers"]?.arrayValue ?? []).map { container in
                var container = container
                container["env"] = .array([variable] + (container["env"]?.arrayValue ?? []))
                return container
            })
        }
        if !labels.isEmpty { metadata["labels"] = .object(labels) }
        if !annotations.isEmpty { metadata["annotations"] = .object(annotations) }
        metadata["ownerReferences"] = [OwnerReference.controller(of: job).json]
        return ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec]
    }

    /// "0-2,4": indexes in Kubernetes' completedIndexes format.
    static func ranges(_ indexes: Set<Int>) -> String {
        var parts: [String] = []
        var run: (Int, Int)? = nil
        for index in indexes.sorted() {
            if let (first, last) = run, index == last + 1 { run = (first, index); continue }
            if let (first, last) = run { parts.append(first == last ? "\(first)" : "\(first)-\(last)") }
            run = (index, index)
        }
        if let (first, last) = run { parts.append(first == last ? "\(first)" : "\(first)-\(last)") }
        return parts.joined(separator: ",")
    }

    /// Deletes a finished Job `ttlSecondsAfterFinished` after it finished (its pods go with it).
    func expireIfDue(_ job: JSON, now: Int64, key: String) async throws {
        guard let ttl = job[path: ["spec", "ttlSecondsAfterFinished"]]?.intValue else { return }
        let finished = (job[path: ["status", "conditions"]]?.arrayValue ?? [])
            .filter { ["Complete", "Failed"].contains($0["type"]?.stringValue ?? "") && $0["status"] == "True" }
            .compactMap { $0["lastTransitionTime"]?.stringValue.flatMap(Timestamp.parse) }.min() ?? now
        let due = finished.saturatingAdd(ttl)
        if now >= due {
            try await client.delete(Self.jobs, namespace: ObjectMeta.namespace(of: job), name: ObjectMeta.name(of: job),
                                    uid: ObjectMeta.uid(of: job), propagation: "Background")
        } else {
            queue.add(key, after: .seconds(due - now) + .milliseconds(200))
        }
    }

    func deletePods(_ pods: [JSON], job: JSON) async -> Bool {
        var all = true
        for pod in pods {
            do {
                try await client.delete(Self.pods, namespace: ObjectMeta.namespace(of: pod), name: ObjectMeta.name(of: pod),
                                        uid: ObjectMeta.uid(of: pod), propagation: "Background")
            } catch {
                all = false
            }
        }
        return all
    }
}
