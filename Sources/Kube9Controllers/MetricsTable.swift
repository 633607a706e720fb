import Kube9Model
import Synchronization

/// The agents' latest usage reports, in memory (what metrics.k8s.io serves and autoscalers
/// read). A report older than `maximumAge` seconds is as good as none.
public final class MetricsTable: Sendable {
    /// One node's report and when it arrived (Unix seconds).
    public struct Entry: Sendable {
        public var received: Int64
        public var report: UsageReport
    }

    let entries = Mutex<[String: Entry]>([:])
    public let maximumAge: Int64

    public init(maximumAge: Int64 = 90) { self.maximumAge = maximumAge }

    /// Records a node's report.
    public func record(node: String, report: UsageReport, now: Int64 = Timestamp.nowSeconds()) {
        entries.withLock { $0[node] = Entry(received: now, report: report) }
    }

    /// Forgets a node (deleted).
    public func remove(node: String) { _ = entries.withLock { $0.removeValue(forKey: node) } }

    /// Fresh reports by node name.
    public func fresh(now: Int64 = Timestamp.nowSeconds()) -> [String: Entry] {
        entries.withLock { $0.filter { now - $0.value.received <= maximumAge } }
    }

    /// One pod's fresh usage: which node reported it, when, over what window.
    public struct PodEntry: Sendable {
        public var node: String
        public var received: Int64
        public var window: Int64
        public var pod: UsageReport.PodUsage

        /// Whether this report is about `pod` as it is now: reported by the node it is bound to,
        /// with its uid (when the agent sent one).
        public func describes(_ pod: JSON) -> Bool {
            pod[path: ["spec", "nodeName"]]?.stringValue == node && (self.pod.uid.isEmpty || self.pod.uid == ObjectMeta.uid(of: pod))
        }
    }

    /// The fresh usage of each pod, by "namespace/name". A pod two nodes report is the one of the newer report.
    public func pods(now: Int64 = Timestamp.nowSeconds()) -> [String: PodEntry] {
        var result: [String: PodEntry] = [:]
        for (node, entry) in fresh(now: now).sorted(by: { ($0.value.received, $0.key) < ($1.value.received, $1.key) }) {
            for pod in entry.report.pods {
                result[pod.namespace + "/" + pod.name] = PodEntry(node: node, received: entry.received, window: entry.report.windowSeconds, pod: pod)
            }
        }
        return result
    }
}
