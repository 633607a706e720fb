import Kube9Controllers
import Kube9Lua
import Kube9Model
import Kube9Policy
import Logging
import Synchronization

/// Runs every HorizontalPodAutoscaler each sync period (and when one changes): measures the
/// target's pods from the agents' usage reports, asks the `autoscaler` policy in Lua for the
/// replica count, applies the behavior (ScalingBehavior) and min/max, scales the target, and
/// records every decision with its inputs as an event and in the status.
///
/// ```
/// every sync period ─▶ HPA ─▶ scaleTargetRef (Deployment, ReplicaSet, ReplicationController): replicas, selector
///                            ├─ pods (selected, running, ready) × MetricsTable usage ÷ requests ─▶ metrics
///                            ├─ Lua autoscaler.desired_replicas(target, metrics)  (a failure keeps the count)
///                            ├─ ScalingBehavior: stabilization windows, rate policies, min/max
///                            └─ spec.replicas of the target; event; status (current metrics, conditions)
/// ```
public final class HorizontalPodAutoscalerController: Sendable {
    static let component = "horizontal-pod-autoscaler"
    static let autoscalers = HorizontalPodAutoscalerStrategy().type
    static let pods = PodStrategy().type

    struct History {
        var recommendations: [ScalingBehavior.Record] = []
        var events: [ScalingBehavior.Record] = []
        /// The last decision recorded as an event (its outcome, not its noisy inputs).
        var lastDecision = ""
    }

    /// Most recommendations and scale events kept per HPA (the oldest go first).
    static let maximumHistory = 1000

    let client: any ClusterClient
    let host: PolicyHost
    let metrics: MetricsTable
    let logger: Logger
    let syncPeriod: Duration
    let queue = WorkQueue()
    let histories = Mutex<[String: History]>([:])

    public init(client: any ClusterClient, host: PolicyHost, metrics: MetricsTable, logger: Logger, syncPeriod: Duration = .seconds(15)) {
        self.client = client
        self.host = host
        self.metrics = metrics
        self.logger = logger
        self.syncPeriod = syncPeriod
    }

    static func key(_ hpa: JSON) -> String { ObjectMeta.namespace(of: hpa) + "/" + ObjectMeta.name(of: hpa) }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.follow() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.syncPeriod)
                    self.queue.add(self.client.list(Self.autoscalers, namespace: nil).map(Self.key))
                }
            }
            group.addTask { await self.queue.run(concurrency: 4) { key in await self.sync(key) } }
            await group.waitForAll()
        }
    }

    func follow() async {
        while !Task.isCancelled {
            do {
                let (objects, changes) = try client.listAndWatch(Self.autoscalers)
                queue.add(objects.map(Self.key))
                for await change in changes {
                    if change.kind == .deleted {
                        _ = histories.withLock { $0.removeValue(forKey: Self.key(change.object)) }
                    } else if change.kind == .added || change.object[path: ["metadata", "generation"]] != change.object[path: ["status", "observedGeneration"]] {
                        // A new or changed spec is acted on at once; the controller's own status writes wait for the period.
                        queue.add(Self.key(change.object))
                    }
                }
            } catch {
                logger.warning("autoscaler: watch failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    func sync(_ key: String) async {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let hpa = client.get(Self.autoscalers, namespace: parts[0], name: parts[1]) else { return }
        do {
            try await reconcile(hpa, key: key)
        } catch {
            logger.info("autoscaler: sync failed", metadata: ["hpa": "\(key)", "error": "\(error)"])
        }
    }

    /// One measured metric: what the policy sees, and the status entry.
    struct Measured {
        var name: String
        var targetType: String
        var target: Double
        var current: Double
        var pods: Int
        /// Ready pods of the target with no usage report, and pods not ready (Kubernetes' rules for them are the policy's).
        var missing: Int
        var unready: Int
        var status: JSON
    }

    /// The largest measure handed to a policy (percent, cores or bytes): beyond it every answer is the maximum anyway.
    static let maximumMeasure = 1e15

    /// Measures one metric over the ready pods with usage reports from the nodes they are bound to.
    func measure(_ metric: JSON, pods: [JSON], usage: [String: MetricsTable.PodEntry]) -> Result<Measured, MetricError> {
        let name = metric[path: ["resource", "name"]]?.stringValue ?? "cpu"
        let targetType = metric[path: ["resource", "target", "type"]]?.stringValue ?? "Utilization"
        var used = 0.0
        var requested = 0.0
        var measured = 0
        var missing = 0
        var unready = 0
        for pod in pods {
            guard PodRanking.readySince(pod) != nil else { unready += 1; continue }
            guard let report = usage[ObjectMeta.namespace(of: pod) + "/" + ObjectMeta.name(of: pod)], report.describes(pod) else { missing += 1; continue }
            let total = report.pod.total
            used += name == "cpu" ? Double(total.cpuNanoCores) / 1e9 : Double(total.memoryBytes)
            var podRequest = 0.0
            for container in pod[path: ["spec", "containers"]]?.arrayValue ?? [] {
                guard let quantity = Quantity.from(container[path: ["resources", "requests", name]]) else {
                    if targetType == "Utilization" { return .failure(MetricError(reason: "FailedGetResourceMetric", message: "missing request for \(name) in container \(container["name"]?.stringValue ?? "") of pod \(ObjectMeta.name(of: pod))")) }
                    continue
                }
                podRequest += Double(quantity.milliValue) / 1000
            }
            requested += podRequest
            measured += 1
        }
        guard measured > 0 else {
            return .failure(MetricError(reason: "FailedGetResourceMetric", message: "unable to get metrics for resource \(name): no ready pod of the target has a usage report yet"))
        }
        if targetType == "Utilization" {
            guard requested > 0 else { return .failure(MetricError(reason: "FailedGetResourceMetric", message: "the pods request no \(name)")) }
            let current = min(used / requested * 100, Self.maximumMeasure)
            let target = Double(metric[path: ["resource", "target", "averageUtilization"]]?.intValue ?? 80)
            let status: JSON = ["type": "Resource", "resource": ["name": .string(name), "current": ["averageUtilization": .int(Int64(current.rounded(.down))),
                                                                                              "averageValue": .string(Self.quantityText(used / Double(measured), name))]]]
            return .success(Measured(name: name, targetType: targetType, target: target, current: current, pods: measured, missing: missing, unready: unready, status: status))
        }
        let target = Double(Quantity.from(metric[path: ["resource", "target", "averageValue"]])?.milliValue ?? 0) / 1000
        let current = min(used / Double(measured), Self.maximumMeasure)
        let status: JSON = ["type": "Resource", "resource": ["name": .string(name), "current": ["averageValue": .string(Self.quantityText(current, name))]]]
        return .success(Measured(name: name, targetType: targetType, target: target, current: current, pods: measured, missing: missing, unready: unready, status: status))
    }

    struct MetricError: Error {
        var reason: String
        var message: String
    }

    static func quantityText(_ value: Double, _ resource: String) -> String {
        guard value.isFinite, value >= 0 else { return "0" }
        if resource == "cpu" { return "\(Int64(min(value * 1000, 9e15).rounded()))m" }
        return "\(Int64(min(value / 1024, 9e15).rounded()))Ki"
    }
}
