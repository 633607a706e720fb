import Kube9Model

/// The arithmetic of a Deployment's rollout, as Kubernetes' deployment controller does it:
/// how far the new ReplicaSet may grow, how far the old ones may shrink, proportional scaling,
/// and the status with its Available and Progressing conditions. Pure functions over views.
public enum Rollout {
    /// What the rollout needs of one ReplicaSet.
    public struct ReplicaSetView: Sendable, Equatable {
        public var name: String
        /// spec.replicas
        public var replicas: Int
        /// status.availableReplicas
        public var available: Int
        /// metadata.creationTimestamp (RFC 3339, so text order is time order)
        public var created: String
        public init(name: String, replicas: Int, available: Int, created: String) {
            self.name = name
            self.replicas = replicas
            self.available = available
            self.created = created
        }

        init(_ replicaSet: JSON) {
            let replicas = Workloads.replicas(replicaSet)
            self.init(name: ObjectMeta.name(of: replicaSet), replicas: replicas,
                      available: min(Int(Workloads.count(replicaSet[path: ["status", "availableReplicas"]])), replicas),
                      created: replicaSet[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "")
        }
    }

    /// The new ReplicaSet's replicas for a rolling update: grow while all pods stay within
    /// replicas + maxSurge, never past replicas.
    public static func newReplicas(replicas: Int, maxSurge: Int, totalReplicas: Int, newReplicas current: Int) -> Int {
        if current >= replicas { return replicas }
        let room = replicas + maxSurge - totalReplicas
        if room <= 0 { return current }
        return min(current + room, replicas)
    }

    /// The old ReplicaSets' replicas after one rolling step: first their unavailable pods go (as
    /// far as the new ReplicaSet's own unavailable pods allow), then available ones down to
    /// replicas − maxUnavailable available in all. Oldest first. Returns new replicas by name
    /// for the ReplicaSets that change.
    public static func scaleDownOld(replicas: Int, maxUnavailable: Int, new: ReplicaSetView?, old: [ReplicaSetView]) -> [String: Int] {
        var olds = old.sorted { ($0.created, $0.name) < ($1.created, $1.name) }
        let oldTotal = olds.reduce(0) { $0 + $1.replicas }
        guard oldTotal > 0 else { return [:] }
        let all = oldTotal + (new?.replicas ?? 0)
        let minAvailable = replicas - maxUnavailable
        let newUnavailable = max(0, (new?.replicas ?? 0) - (new?.available ?? 0))
        var changes: [String: Int] = [:]
        // 1. Unhealthy old replicas go first: they count for nothing.
        var cleanup = all - minAvailable - newUnavailable
        if cleanup > 0 {
            for index in olds.indices where cleanup > 0 {
                let unhealthy = max(0, olds[index].replicas - olds[index].available)
                guard unhealthy > 0 else { continue }
                let count = min(cleanup, unhealthy)
                olds[index].replicas -= count
                cleanup -= count
                changes[olds[index].name] = olds[index].replicas
            }
        }
        // 2. Then available ones, while enough stay available.
        let availableTotal = olds.reduce(0) { $0 + min($1.available, $1.replicas) } + (new?.available ?? 0)
        var scaleDown = availableTotal - minAvailable
        for index in olds.indices where scaleDown > 0 && olds[index].replicas > 0 {
            let count = min(scaleDown, olds[index].replicas)
            olds[index].replicas -= count
            scaleDown -= count
            changes[olds[index].name] = olds[index].replicas
        }
        return changes
    }

    /// Proportional scaling when the Deployment's replicas change while several ReplicaSets
    /// have pods: the difference to replicas (+ maxSurge when rolling) is shared by size, the
    /// remainder to the largest (newest on ties). Returns new replicas by name.
    public static func proportional(target: Int, active: [ReplicaSetView]) -> [String: Int] {
        let total = active.reduce(0) { $0 + $1.replicas }
        guard total > 0, total != target else { return [:] }
        let difference = target - total
        let ordered = active.sorted { ($0.replicas, $0.created) > ($1.replicas, $1.created) }
        var result: [String: Int] = [:]
        var assigned = 0
        for view in ordered {
            // view.replicas × difference / total, rounded half away from zero (in Double: the product may exceed Int64).
            let share = Int((Double(view.replicas) * Double(difference) / Double(total)).rounded(.toNearestOrAwayFromZero))
            result[view.name] = max(0, view.replicas + share)
            assigned += share
        }
        if let first = ordered.first { result[first.name] = max(0, (result[first.name] ?? 0) + difference - assigned) }
        return result.filter { name, value in active.first { $0.name == name }?.replicas != value }
    }

    /// Sets a Deployment condition (with lastUpdateTime), keeping lastTransitionTime when the
    /// status stays; `touch: false` also keeps lastUpdateTime when nothing else changes.
    public static func setCondition(_ status: inout JSON, type: String, status value: String, reason: String, message: String, touch: Bool = true) {
        var conditions = status["conditions"]?.arrayValue ?? []
        let now = JSON.string(Timestamp.now())
        var condition: JSON = ["type": .string(type), "status": .string(value), "lastUpdateTime": now, "lastTransitionTime": now,
                               "reason": .string(reason), "message": .string(message)]
        if let index = conditions.firstIndex(where: { $0["type"]?.stringValue == type }) {
            let old = conditions[index]
            if old["status"]?.stringValue == value { condition["lastTransitionTime"] = old["lastTransitionTime"] ?? now }
            let same = old["status"] == condition["status"] && old["reason"] == condition["reason"] && old["message"] == condition["message"]
            if same, !touch { condition["lastUpdateTime"] = old["lastUpdateTime"] ?? now }
            conditions[index] = condition
        } else {
            conditions.append(condition)
        }
        status["conditions"] = .array(conditions)
    }

    /// The counts of a Deployment's status from its ReplicaSets.
    public static func counts(replicaSets: [JSON], new: JSON?) -> (replicas: Int64, updated: Int64, ready: Int64, available: Int64) {
        var replicas: Int64 = 0, ready: Int64 = 0, available: Int64 = 0
        for replicaSet in replicaSets {
            replicas = replicas.saturatingAdd(Workloads.count(replicaSet[path: ["status", "replicas"]]))
            ready = ready.saturatingAdd(Workloads.count(replicaSet[path: ["status", "readyReplicas"]]))
            available = available.saturatingAdd(Workloads.count(replicaSet[path: ["status", "availableReplicas"]]))
        }
        return (replicas, Workloads.count(new?[path: ["status", "replicas"]]), ready, available)
    }

    /// Whether the new status shows progress over the old one (Kubernetes' DeploymentProgressing).
    public static func progressed(old: JSON, new: JSON) -> Bool {
        func value(_ status: JSON, _ field: String) -> Int64 { Workloads.count(status[field]) }
        return value(new, "updatedReplicas") > value(old, "updatedReplicas")
            || value(new, "replicas") - value(new, "updatedReplicas") < value(old, "replicas") - value(old, "updatedReplicas")
            || value(new, "readyReplicas") > value(old, "readyReplicas")
            || value(new, "availableReplicas") > value(old, "availableReplicas")
    }
}
