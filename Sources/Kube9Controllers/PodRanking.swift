import Kube9Model

/// Pod facts the workload controllers decide by: readiness (and since when), and which pods
/// go first when there are too many.
public enum PodRanking {
    /// When the pod's Ready condition last turned True (Unix seconds); nil when it is not ready.
    public static func readySince(_ pod: JSON) -> Int64? {
        guard let ready = Conditions.find(pod, "Ready"), ready["status"]?.stringValue == "True" else { return nil }
        return Timestamp.parse(ready["lastTransitionTime"]?.stringValue ?? "") ?? 0
    }

    /// Seconds until the pod has been ready for `minReadySeconds` (0: available now); nil when it is not ready.
    public static func secondsUntilAvailable(_ pod: JSON, minReadySeconds: Int64, now: Int64 = Timestamp.nowSeconds()) -> Int64? {
        guard let since = readySince(pod) else { return nil }
        return max(0, since.saturatingAdd(minReadySeconds) - now)
    }

    /// The pods in the order a scale-down deletes them (Kubernetes' ActivePods order): not yet
    /// scheduled, then pending, unknown, running; not ready before ready; ready more recently
    /// first; more restarts first; newer first.
    public static func deletionOrder(_ pods: [JSON]) -> [JSON] {
        func phaseRank(_ pod: JSON) -> Int {
            switch pod[path: ["status", "phase"]]?.stringValue {
            case "Pending": return 0
            case "Running": return 2
            default: return 1
            }
        }
        func restarts(_ pod: JSON) -> Int64 {
            (pod[path: ["status", "containerStatuses"]]?.arrayValue ?? []).reduce(0) { $0.saturatingAdd($1["restartCount"]?.intValue ?? 0) }
        }
        return pods.sorted { a, b in
            let assignedA = !(a[path: ["spec", "nodeName"]]?.stringValue ?? "").isEmpty
            let assignedB = !(b[path: ["spec", "nodeName"]]?.stringValue ?? "").isEmpty
            if assignedA != assignedB { return !assignedA }
            if phaseRank(a) != phaseRank(b) { return phaseRank(a) < phaseRank(b) }
            let readyA = readySince(a)
            let readyB = readySince(b)
            if (readyA == nil) != (readyB == nil) { return readyA == nil }
            if let readyA, let readyB, readyA != readyB { return readyA > readyB }
            if restarts(a) != restarts(b) { return restarts(a) > restarts(b) }
            let createdA = a[path: ["metadata", "creationTimestamp"]]?.stringValue ?? ""
            let createdB = b[path: ["metadata", "creationTimestamp"]]?.stringValue ?? ""
            if createdA != createdB { return createdA > createdB }
            return ObjectMeta.name(of: a) > ObjectMeta.name(of: b)
        }
    }
}
