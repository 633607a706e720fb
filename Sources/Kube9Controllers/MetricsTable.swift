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

    /// The fresh usage of each pod, by "namespace/name", with when it was reported and its window.
    public func pods(now: Int64 = Timestamp.nowSeconds()) -> [String: (received: Int64, window: Int64, pod: UsageReport.PodUsage)] {
        var result: [String: (received: Int64, window: Int64, pod: UsageReport.PodUsage)] = [:]
        for entry in fresh(now: now).values {
            for pod in entry.report.pods { result[pod.namespace + "/" + pod.name] = (entry.received, entry.report.windowSeconds, pod) }
        }
        return result
    }
}
