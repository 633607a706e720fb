import Kube9Controllers
import Kube9Model
import Kube9Policy
import Kube9Store
import Logging
import Synchronization

/// Kube-9's pods on real Pod objects: `POST /pods/` bodies become Pods (in `default`), the
/// create answers as soon as the scheduler has bound the pod (a watch resumes it, no
/// polling), and pods bound to nodes created through the v0 API, which have no agent, are
/// run by the server itself, as Kube-9's node simulator did: marked Running with an IP in
/// 10.244.0.0/16, and removed at once when deleted.
///
/// ```
/// POST /pods/ ─▶ waiter(key) ─▶ create Pod ─▶ scheduler binds ─▶ watch event ─▶ waiter resumed ─▶ 200
///                                                       └─ PodScheduled=False ─▶ pod deleted ─▶ 400
/// watch: pod bound to a v0 node, Pending ─▶ status Running;  deletionTimestamp ─▶ delete now
/// ```
final class V0Pods: Sendable {
    /// The annotation keeping the Kube-9 body's volumes and config, to show them back.
    static let specAnnotation = "kube9.io/v0-spec"
    /// How long a create waits for the scheduler.
    static let bindTimeout: Duration = .seconds(10)

    enum Outcome: Sendable {
        case bound(JSON)
        case unschedulable(String)
        case gone
        case timedOut
    }

    private struct Waiter {
        var id: Int
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Outcome, Never>
    }

    private let waiters = Mutex<(next: Int, byKey: [ObjectKey: [Waiter]])>((0, [:]))
    /// Pods the server is writing to now (run or delete), so one event does not start two writes.
    private let inFlight = Mutex<Set<ObjectKey>>([])
    let registry: ObjectRegistry
    let cluster: any ClusterClient
    let logger: Logger

    init(registry: ObjectRegistry, cluster: any ClusterClient, logger: Logger) {
        self.registry = registry
        self.cluster = cluster
        self.logger = logger
    }

    // MARK: Waiting for the scheduler

    /// Registers interest in `key` before it is created; `wait` then returns what happened.
    func register(_ key: ObjectKey) -> Int {
        waiters.withLock { state in
            state.next += 1
            return state.next
        }
    }

    /// Waits (up to `bindTimeout`) until the pod is bound, refused by the scheduler, or gone.
    func wait(_ key: ObjectKey, token: Int, current: @escaping @Sendable () -> JSON?) async -> Outcome {
        await withCheckedContinuation { continuation in
            let early: Outcome? = waiters.withLock { state in
                // The event may have come already: look at the pod as it is now.
                if let pod = current(), let outcome = Self.outcome(pod) { return outcome }
                if current() == nil { return .gone }
                state.byKey[key, default: []].append(Waiter(id: token, deadline: .now + Self.bindTimeout, continuation: continuation))
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
    }

    /// Ends the waits that passed their deadline (one sweep for all, not a timer per create).
    func sweepExpired() {
        let now = ContinuousClock.now
        let expired: [Waiter] = waiters.withLock { state in
            var expired: [Waiter] = []
            for (key, list) in state.byKey {
                let (late, waiting) = (list.filter { $0.deadline <= now }, list.filter { $0.deadline > now })
                if late.isEmpty { continue }
                expired += late
                state.byKey[key] = waiting.isEmpty ? nil : waiting
            }
            return expired
        }
        for waiter in expired { waiter.continuation.resume(returning: .timedOut) }
    }

    private func resume(_ key: ObjectKey, token: Int? = nil, with outcome: Outcome) {
        let resumed: [Waiter] = waiters.withLock { state in
            guard var list = state.byKey[key] else { return [] }
            let matching = list.filter { token == nil || $0.id == token }
            list.removeAll { token == nil || $0.id == token }
            state.byKey[key] = list.isEmpty ? nil : list
            return matching
        }
        for waiter in resumed { waiter.continuation.resume(returning: outcome) }
    }

    /// What a pod's state means for a waiting create, if it is decided.
    static func outcome(_ pod: JSON) -> Outcome? {
        if let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty { return .bound(pod) }
        if let condition = Conditions.find(pod, "PodScheduled"), condition["status"]?.stringValue == "False" {
            return .unschedulable(condition["message"]?.stringValue ?? "")
        }
        return nil
    }

    // MARK: Following pods

    /// Follows pods: resumes waiting creates, and runs or removes pods bound to v0 nodes.
    /// A pass over all pods every few seconds catches anything an event did not.
    func follow(store: any Store) async {
        let sweeper = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                self.sweepExpired()
            }
        }
        defer { sweeper.cancel() }
        var from = store.currentRevision
        var lastPass = ContinuousClock.now
        resync()
        while !Task.isCancelled {
            let subscription: WatchSubscription
            do {
                subscription = try store.watch(WatchFilter(resource: "pods", namespace: nil, wantsBookmarks: true), fromRevision: from)
            } catch StoreError.closed {
                return
            } catch {
                from = store.currentRevision
                resync()
                continue
            }
            for await event in subscription.events {
                from = max(from, event.revision)
                switch event.kind {
                case .added, .modified:
                    if let pod = event.object {
                        if let outcome = Self.outcome(pod.object) { resume(pod.key, with: outcome) }
                        serve(pod.object, key: pod.key)
                    }
                case .deleted:
                    if let pod = event.previous ?? event.object { resume(pod.key, with: .gone) }
                case .bookmark:
                    break
                }
                if ContinuousClock.now - lastPass > .seconds(5) {
                    lastPass = .now
                    resync()
                }
            }
        }
    }

    func resync() {
        for stored in registry.store.list(resource: "pods", namespace: nil).objects { serve(stored.object, key: stored.key) }
    }

    /// Whether a node is one the server runs pods for (created through the v0 API).
    func isV0Node(_ name: String) -> Bool {
        guard let node = cluster.get(NodeStrategy().type, namespace: "", name: name) else { return false }
        return ObjectMeta.labels(of: node)[V0Nodes.v0Label] == "v0"
    }

    /// Runs or removes a pod bound to a v0 node, in the background, once at a time per pod.
    func serve(_ pod: JSON, key: ObjectKey) {
        guard let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty, isV0Node(node) else { return }
        let deleting = ObjectMeta.deletionTimestamp(of: pod) != nil
        let phase = pod[path: ["status", "phase"]]?.stringValue ?? "Pending"
        guard deleting || phase == "Pending" else { return }
        guard inFlight.withLock({ $0.count < 256 && $0.insert(key).inserted }) else { return }
        Task {
            defer { _ = self.inFlight.withLock { $0.remove(key) } }
            do {
                if deleting {
                    var options = ObjectRegistry.DeleteOptions()
                    options.gracePeriodSeconds = 0
                    options.preconditionUID = ObjectMeta.uid(of: pod)
                    _ = try await self.registry.delete(PodStrategy(), namespace: key.namespace, name: key.name, options: options)
                } else {
                    try await self.cluster.modify(PodStrategy().type, namespace: key.namespace, name: key.name, status: true) { pod in
                        Self.markRunning(&pod)
                    }
                }
            } catch {
                self.logger.debug("v0 pod not served", metadata: ["pod": "\(key)", "error": "\(error)"])
            }
        }
    }

    /// The IP Kube-9 would give the pod: in 10.244.0.0/16, from its uid (stable, not checked for uniqueness, as in Kube-9).
    static func address(of pod: JSON) -> String {
        let digest = ObjectMeta.uid(of: pod).utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }
        return "10.244.\((digest >> 8) & 0xFF).\(max(1, min(254, digest & 0xFF)))"
    }

    /// The status of a pod the server runs: Running, ready, every container running.
    static func markRunning(_ pod: inout JSON) {
        guard (pod[path: ["status", "phase"]]?.stringValue ?? "Pending") == "Pending", ObjectMeta.deletionTimestamp(of: pod) == nil else { return }
        let now = JSON.string(Timestamp.now())
        let ip = JSON.string(address(of: pod))
        let containers = pod[path: ["spec", "containers"]]?.arrayValue ?? []
        var conditions = (pod[path: ["status", "conditions"]]?.arrayValue ?? []).filter {
            !["Initialized", "Ready", "ContainersReady", "PodReadyToStartContainers"].contains($0["type"]?.stringValue ?? "")
        }
        for type in ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"] {
            conditions.append(["type": .string(type), "status": "True", "lastProbeTime": nil, "lastTransitionTime": now])
        }
        pod[path: ["status", "phase"]] = "Running"
        pod[path: ["status", "conditions"]] = .array(conditions)
        pod[path: ["status", "podIP"]] = ip
        pod[path: ["status", "podIPs"]] = [["ip": ip]]
        pod[path: ["status", "hostIP"]] = "127.0.0.1"
        pod[path: ["status", "hostIPs"]] = [["ip": "127.0.0.1"]]
        pod[path: ["status", "startTime"]] = now
        pod[path: ["status", "containerStatuses"]] = .array(containers.map { container in
            ["name": container["name"] ?? "", "image": container["image"] ?? "", "imageID": "", "ready": true, "started": true,
             "restartCount": 0, "state": ["running": ["startedAt": now]], "lastState": .emptyObject,
             "containerID": .string("kube9-v0://\(ObjectMeta.uid(of: pod).prefix(8))-\(container["name"]?.stringValue ?? "")")]
        })
    }
}
