import Kube9Controllers
import Kube9Model
import Kube9Policy
import Synchronization

/// What the scheduler knows of the cluster, kept up to date by watches on nodes and pods
/// instead of listing every pod on every pass: a pass costs what is pending, not what runs.
///
/// ```
/// watch nodes ─▶ nodes by name
/// watch pods  ─▶ bound pods (node, requests; by uid) ─▶ usage per node
///             └▶ pending pods (unbound, not deleting, Pending)
/// scheduler binds ─▶ markBound (at once, before the watch event echoes it)
/// ```
final class SchedulingState: Sendable {
    struct Bound: Equatable {
        var node: String
        var cpuMillis: Int64
        var memoryBytes: Int64
    }

    struct State {
        var nodes: [String: JSON] = [:]
        var bound: [String: Bound] = [:]
        var usage: [String: NodeUsage] = [:]
        var pending: [String: JSON] = [:]
        /// Rises with every change; a pass that found nothing to do waits for it to move.
        var version: Int64 = 0
        var synced = (nodes: false, pods: false)
    }

    private let state = Mutex(State())
    /// Woken on every change.
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init() {
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var version: Int64 { state.withLock { $0.version } }
    var isSynced: Bool { state.withLock { $0.synced.nodes && $0.synced.pods } }

    /// Waits for the next change or `poke()`. No timer per wait: a scheduler waits after every
    /// idle pass, hundreds of times a second under load, and a cancelled sleep's timer stays in
    /// the dispatch timer heap until its deadline.
    func waitForChange() async {
        for await _ in wakeups { return }
    }

    /// Counts as a change: bumps the version and wakes the waiter (the scheduler's periodic
    /// recheck, so that its next pass runs).
    func poke() { state.withLock { changed(&$0) } }

    /// Follows nodes and pods through `client` until cancelled, relisting when a watch ends.
    func follow(_ client: any ClusterClient) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.follow(client, NodeStrategy().type, apply: self.applyNode, reset: self.resetNodes) }
            group.addTask { await self.follow(client, PodStrategy().type, apply: self.applyPod, reset: self.resetPods) }
        }
    }

    private func follow(_ client: any ClusterClient, _ type: ResourceType,
                        apply: @escaping @Sendable (ClusterChange) -> Void, reset: @escaping @Sendable ([JSON]) -> Void) async {
        while !Task.isCancelled {
            guard let (objects, changes) = try? client.listAndWatch(type) else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            reset(objects)
            for await change in changes { apply(change) }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func changed(_ state: inout State) {
        state.version += 1
        wake.yield()
    }

    private func resetNodes(_ objects: [JSON]) {
        state.withLock { state in
            state.nodes = [:]
            for node in objects { state.nodes[ObjectMeta.name(of: node)] = node }
            state.synced.nodes = true
            changed(&state)
        }
    }

    func applyNode(_ change: ClusterChange) {
        state.withLock { state in
            let name = ObjectMeta.name(of: change.object)
            // Not `cond ? nil : object`: JSON is ExpressibleByNilLiteral, so that stored .null instead of removing.
            if change.kind == .deleted { state.nodes.removeValue(forKey: name) } else { state.nodes[name] = change.object }
            changed(&state)
        }
    }

    private func resetPods(_ objects: [JSON]) {
        state.withLock { state in
            state.bound = [:]
            state.usage = [:]
            state.pending = [:]
            for pod in objects { Self.record(&state, pod, deleted: false) }
            state.synced.pods = true
            changed(&state)
        }
    }

    private func applyPod(_ change: ClusterChange) {
        state.withLock { state in
            Self.record(&state, change.object, deleted: change.kind == .deleted)
            changed(&state)
        }
    }

    static func pendingKey(_ pod: JSON) -> String { "\(ObjectMeta.namespace(of: pod))/\(ObjectMeta.name(of: pod))" }

    /// Files a pod under bound, pending or neither (finished, deleting, gone).
    private static func record(_ state: inout State, _ pod: JSON, deleted: Bool) {
        let uid = ObjectMeta.uid(of: pod)
        let key = pendingKey(pod)
        let phase = pod[path: ["status", "phase"]]?.stringValue
        let node = pod[path: ["spec", "nodeName"]]?.stringValue ?? ""
        if deleted || phase == "Succeeded" || phase == "Failed" {
            unbind(&state, uid)
            if state.pending[key].map(ObjectMeta.uid(of:)) == uid { state.pending[key] = nil }
            return
        }
        if !node.isEmpty {
            if state.pending[key].map(ObjectMeta.uid(of:)) == uid { state.pending[key] = nil }
            guard state.bound[uid]?.node != node else { return }
            let requests = SchedulerViews.requests(of: pod)
            bind(&state, uid, Bound(node: node, cpuMillis: requests.cpuMillis, memoryBytes: requests.memoryBytes))
        } else if ObjectMeta.deletionTimestamp(of: pod) == nil, phase == nil || phase == "Pending" {
            state.pending[key] = pod
        } else {
            if state.pending[key].map(ObjectMeta.uid(of:)) == uid { state.pending[key] = nil }
        }
    }

    private static func bind(_ state: inout State, _ uid: String, _ entry: Bound) {
        unbind(&state, uid)
        state.bound[uid] = entry
        state.usage[entry.node, default: NodeUsage()].add(cpuMillis: entry.cpuMillis, memoryBytes: entry.memoryBytes)
    }

    private static func unbind(_ state: inout State, _ uid: String) {
        guard let old = state.bound.removeValue(forKey: uid) else { return }
        var usage = state.usage[old.node] ?? NodeUsage()
        usage.cpuMillis = usage.cpuMillis.saturatingSubtract(old.cpuMillis)
        usage.memoryBytes = usage.memoryBytes.saturatingSubtract(old.memoryBytes)
        usage.pods = usage.pods.saturatingSubtract(1)
        state.usage[old.node] = usage.pods <= 0 ? nil : usage
    }

    /// Records a binding the scheduler made, before the watch reports it.
    func markBound(_ pod: JSON, node: String) {
        state.withLock { state in
            var bound = pod
            bound[path: ["spec", "nodeName"]] = .string(node)
            Self.record(&state, bound, deleted: false)
            changed(&state)
        }
    }

    /// Nodes, usage and pending pods (oldest first) now, and a fingerprint of the nodes and bindings.
    func snapshot() -> (nodes: [String: JSON], usage: [String: NodeUsage], pending: [JSON], fingerprint: String) {
        let (nodes, usage, pending, bound) = state.withLock { ($0.nodes, $0.usage, Array($0.pending.values), $0.bound.count) }
        let sorted = pending.sorted {
            ($0[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "", ObjectMeta.name(of: $0))
                < ($1[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "", ObjectMeta.name(of: $1))
        }
        let fingerprint = nodes.map { "\($0.key)@\(ObjectMeta.resourceVersion(of: $0.value))" }.sorted().joined(separator: ",") + "#\(bound)"
        return (nodes, usage, sorted, fingerprint)
    }
}
