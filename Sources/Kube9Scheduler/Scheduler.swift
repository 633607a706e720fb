import Kube9Controllers
import Kube9Lua
import Kube9Model
import Kube9Policy
import Kube9Threads
import Logging
import Synchronization

/// Resources a node has given to its bound pods.
public struct NodeUsage: Sendable, Equatable {
    public var cpuMillis: Int64 = 0
    public var memoryBytes: Int64 = 0
    public var pods: Int64 = 0
    public init() {}

    /// Counts `pod`'s requests against the node (saturating: a sum never traps).
    public mutating func add(_ pod: JSON) {
        let (cpu, memory) = SchedulerViews.requests(of: pod)
        add(cpuMillis: cpu, memoryBytes: memory)
    }

    /// Counts one pod with these requests against the node.
    public mutating func add(cpuMillis cpu: Int64, memoryBytes memory: Int64) {
        cpuMillis = cpuMillis.saturatingAdd(cpu)
        memoryBytes = memoryBytes.saturatingAdd(memory)
        pods = pods.saturatingAdd(1)
    }
}

/// kube9's scheduler.
///
/// ```
/// unbound pods (oldest first) ─▶ policy = spec.schedulerName ("default-scheduler" → "default", else "best-fit")
///      │                         views: kube9.Pod + kube9.Node (free = allocatable − bound pods' requests)
///      ▼
/// SchedulerCycle (Lua: filter → score → normalize → select) ─▶ NodeFit (Swift re-checks the choice)
///      │ fits                                    │ no node / policy error
///      ▼                                         ▼
/// pods/binding, event Scheduled        PodScheduled=False + event FailedScheduling;
///                                      retried when nodes or bound pods change
/// ```
public final class Scheduler: Sendable {
    static let component = "kube9-scheduler"
    static let pods = PodStrategy().type
    static let nodes = NodeStrategy().type

    let client: any ClusterClient
    let host: PolicyHost
    let logger: Logger
    /// For each pod that could not be placed: the cluster fingerprint at the time, and the message.
    private let failures = Mutex<[String: (fingerprint: String, message: String)]>([:])
    /// Pods this scheduler has bound.
    private let placed = Mutex<Int>(0)
    /// Nodes, bound and pending pods, kept by watches.
    let state = SchedulingState()
    /// Advanced at every periodic recheck; part of the failure fingerprint.
    private let recheckEpoch = Atomic<Int>(0)
    /// How often pods that failed to schedule are tried again when nothing else changed.
    static let recheckInterval: Duration = .seconds(10)
    /// Node views mirrored into the policies' Lua states.
    let mirror = NodeMirror()
    /// Bindings and events in flight at once (group commit batches their fsyncs).
    static let concurrentBinds = 64

    public init(client: any ClusterClient, host: PolicyHost, logger: Logger) {
        self.client = client
        self.host = host
        self.logger = logger
    }

    /// The policy a pod's `spec.schedulerName` selects.
    public func policyName(for pod: JSON) -> String {
        let requested = pod[path: ["spec", "schedulerName"]]?.stringValue ?? "default-scheduler"
        if requested == "default-scheduler" || requested.isEmpty {
            return host.policy(slot: .scheduler, name: "default") != nil ? "default" : "best-fit"
        }
        return requested
    }

    /// How many pods this scheduler has bound.
    public var bound: Int { placed.withLock { $0 } }

    /// Runs until cancelled: follows nodes and pods (watches, `SchedulingState`) and schedules
    /// whenever something changed. A pass that found nothing to do waits for the next change or
    /// the periodic recheck.
    public func run() async {
        let follower = Task { await state.follow(client) }
        // One timer for the periodic recheck: every `recheckInterval` the pods that failed are
        // tried again even if no node or binding changed (a policy may have been installed).
        let ticker = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.recheckInterval)
                self.recheckEpoch.wrappingAdd(1, ordering: .relaxed)
                self.state.poke()
            }
        }
        defer { follower.cancel(); ticker.cancel() }
        while !Task.isCancelled, !state.isSynced { try? await Task.sleep(for: .milliseconds(10)) }
        var idleAt: Int64? = nil
        while !Task.isCancelled {
            if let idleAt, state.version == idleAt {
                await state.waitForChange()
                continue
            }
            let version = state.version
            let didWork = await scheduleOnce()
            idleAt = didWork ? nil : version
        }
    }

    static func key(_ pod: JSON) -> String { "\(ObjectMeta.namespace(of: pod))/\(ObjectMeta.name(of: pod))/\(ObjectMeta.uid(of: pod))" }

    /// Nodes by name, what their bound pods use, and the pending pods, from the watched state;
    /// the fingerprint also changes at every periodic recheck.
    func snapshot() -> (nodes: [String: JSON], usage: [String: NodeUsage], pending: [JSON], fingerprint: String) {
        let (nodes, usage, pending, fingerprint) = state.snapshot()
        return (nodes, usage, pending, fingerprint + "~\(recheckEpoch.load(ordering: .relaxed))")
    }

    func view(_ node: JSON, _ usage: NodeUsage) -> LuaValue {
        SchedulerViews.node(node, usedCPUMillis: usage.cpuMillis, usedMemoryBytes: usage.memoryBytes, usedPods: usage.pods)
    }

    /// What a cycle decided for one pod.
    enum Decision: Sendable {
        case bind(String)
        case fail(reason: String, message: String)
    }

    /// Pods decided per trip to the Lua threads (binds of a chunk start while the next is decided).
    static let chunkSize = 64

    /// One pass over the pending pods. Returns whether any pod was attempted. Decisions run on
    /// the Lua threads a chunk at a time (one hop per chunk, not per pod); binds and failure
    /// writes run concurrently meanwhile.
    @discardableResult
    public func scheduleOnce() async -> Bool {
        let (nodes, startUsage, pending, startFingerprint) = snapshot()
        var usage = startUsage
        var fingerprint = startFingerprint
        let current = Set(pending.map(Self.key))
        failures.withLock { state in for key in state.keys where !current.contains(key) { state[key] = nil } }
        for (name, node) in nodes { mirror.update(name, view: view(node, usage[name] ?? NodeUsage())) }
        mirror.retain(only: Set(nodes.keys))
        let todo = pending.filter { pod in
            guard let failure = failures.withLock({ $0[Self.key(pod)] }) else { return true }
            return failure.fingerprint != fingerprint
        }
        guard !todo.isEmpty else { return false }
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var start = 0
            while start < todo.count {
                let chunk = Array(todo[start..<min(todo.count, start + Self.chunkSize)])
                start += chunk.count
                let before = usage
                // Claims narrow where a pod may go (a local volume's node), or keep it Pending.
                let constrained = chunk.map { VolumeBinding.constrain($0, client: client) }
                let (decisions, after) = await LuaExecutor.shared.run { () -> ([Decision], [String: NodeUsage]) in
                    var usage = before
                    var decisions: [Decision] = []
                    for (pod, constraint) in zip(chunk, constrained) {
                        let decision: Decision
                        switch constraint {
                        case .success(let narrowed): decision = self.decide(narrowed.pod, nodes: nodes, usage: usage)
                        case .failure(let problem): decision = .fail(reason: "Unschedulable", message: "0/\(nodes.count) nodes are available: \(problem.message).")
                        }
                        if case .bind(let node) = decision {
                            // Count the pod against the node now, so the next pods see it.
                            usage[node, default: NodeUsage()].add(pod)
                            if let nodeObject = nodes[node] { self.mirror.update(node, view: self.view(nodeObject, usage[node] ?? NodeUsage())) }
                        }
                        decisions.append(decision)
                    }
                    return (decisions, usage)
                }
                usage = after
                for ((pod, decision), constraint) in zip(zip(chunk, decisions), constrained) {
                    if inFlight >= Self.concurrentBinds {
                        await group.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    switch decision {
                    case .bind(let node):
                        fingerprint += "+\(Self.key(pod))"
                        let delayed = (try? constraint.get().delayedClaims) ?? []
                        group.addTask { await self.bind(pod, to: node, delayedClaims: delayed) }
                    case .fail(let reason, let message):
                        let seen = fingerprint
                        group.addTask { await self.fail(pod, reason: reason, message: message, fingerprint: seen) }
                    }
                }
            }
        }
        return true
    }

    /// Picks a node for one pod, or says why none (blocking: it runs the policy's Lua).
    func decide(_ pod: JSON, nodes: [String: JSON], usage: [String: NodeUsage]) -> Decision {
        let policyName = policyName(for: pod)
        guard let policy = host.policy(slot: .scheduler, name: policyName) else {
            return .fail(reason: "SchedulerError", message: "no scheduler policy named \(policyName) is installed (spec.schedulerName)")
        }
        let decision: SchedulingDecision
        do {
            decision = try policy.schedule(pod: SchedulerViews.pod(pod), mirror: mirror)
        } catch {
            return .fail(reason: "SchedulerError", message: "scheduler policy \(policyName) failed: \(error)")
        }
        guard let chosen = decision.node, let node = nodes[chosen] else {
            var message = decision.summary
            let (cpu, memory) = SchedulerViews.requests(of: pod)
            let largestCPU = nodes.values.map { SchedulerViews.allocatable(of: $0).cpuMillis }.max() ?? 0
            let largestMemory = nodes.values.map { SchedulerViews.allocatable(of: $0).memoryBytes }.max() ?? 0
            if nodes.isEmpty {
                message = "0/0 nodes are available: no nodes are registered."
            } else if cpu > largestCPU {
                message += " The pod requests \(Quantity(milliValue: cpu)) cpu, more than the capacity of any node (largest: \(Quantity(milliValue: largestCPU)))."
            } else if memory > largestMemory {
                message += " The pod requests \(Quantity(units: memory)) memory, more than the capacity of any node (largest: \(Quantity(units: largestMemory)))."
            }
            return .fail(reason: "Unschedulable", message: message)
        }
        if let problem = NodeFit.problem(pod: pod, node: node, usage: usage[chosen] ?? NodeUsage()) {
            return .fail(reason: "SchedulerError", message: "scheduler policy \(policyName) chose node \(chosen), which does not fit: \(problem)")
        }
        return .bind(chosen)
    }

    /// Binds and records the Scheduled event.
    func bind(_ pod: JSON, to chosen: String, delayedClaims: [String] = []) async {
        let name = ObjectMeta.name(of: pod)
        let namespace = ObjectMeta.namespace(of: pod)
        guard await selectNode(chosen, forClaims: delayedClaims, namespace: namespace) else { return }
        do {
            try await client.bind(namespace: namespace, pod: name, node: chosen)
        } catch {
            logger.warning("binding failed", metadata: ["pod": "\(namespace)/\(name)", "node": "\(chosen)", "error": "\(error)"])
            return
        }
        state.markBound(pod, node: chosen)
        placed.withLock { $0 += 1 }
        failures.withLock { $0[Self.key(pod)] = nil }
        var message = "Successfully assigned \(namespace)/\(name) to \(chosen)"
        if let from = pod[path: ["metadata", "annotations", NodeLifecycleController.rescheduledFromAnnotation]]?.stringValue {
            message += " (rescheduled from \(from))"
        }
        // The event is recorded after the pass moves on: the next pass need not wait for its write.
        let text = message + " by policy \(policyName(for: pod))"
        let client = self.client
        Task { await client.event(about: pod, type: "Normal", reason: "Scheduled", message: text, component: Self.component) }
    }

    /// Leaves the pod Pending with PodScheduled=False and the reason; writes only when it changed.
    func fail(_ pod: JSON, reason: String, message: String, fingerprint: String) async {
        let key = Self.key(pod)
        let previous = failures.withLock { state -> String? in
            let old = state[key]?.message
            state[key] = (fingerprint, message)
            return old
        }
        guard previous != message else { return }
        let condition = Conditions.find(pod, "PodScheduled")
        if condition?["message"]?.stringValue != message || condition?["reason"]?.stringValue != reason {
            do {
                try await client.modify(Self.pods, namespace: ObjectMeta.namespace(of: pod), name: ObjectMeta.name(of: pod), status: true) { pod in
                    Conditions.set(&pod, type: "PodScheduled", status: "False", reason: reason, message: message)
                }
            } catch {
                logger.debug("cannot update pod condition", metadata: ["pod": "\(key)", "error": "\(error)"])
            }
        }
        await client.event(about: pod, type: "Warning", reason: "FailedScheduling", message: message, component: Self.component)
    }
}

/// Swift's own check of a node chosen by a policy: it never over-commits cpu, memory or pod
/// slots, and respects readiness, cordons, node selectors and NoSchedule/NoExecute taints.
public enum NodeFit {
    /// Why the pod cannot run on the node, or nil when it can.
    public static func problem(pod: JSON, node: JSON, usage: NodeUsage) -> String? {
        if !SchedulerViews.isReady(node) { return "node(s) were not ready" }
        if node[path: ["spec", "unschedulable"]]?.boolValue == true { return "node(s) were unschedulable" }
        let labels = ObjectMeta.labels(of: node)
        for (key, value) in pod[path: ["spec", "nodeSelector"]]?.objectValue ?? [:] where labels[key] != value.stringValue {
            return "node(s) didn't match Pod's node affinity/selector"
        }
        if !NodeAffinity.matches(pod: pod, node: node) { return "node(s) didn't match Pod's node affinity/selector" }
        let tolerations = pod[path: ["spec", "tolerations"]]?.arrayValue ?? []
        for taint in node[path: ["spec", "taints"]]?.arrayValue ?? [] {
            let effect = taint["effect"]?.stringValue ?? ""
            guard effect == "NoSchedule" || effect == "NoExecute" else { continue }
            if !tolerations.contains(where: { tolerates($0, taint) }) {
                return "node(s) had untolerated taint {\(taint["key"]?.stringValue ?? "")}"
            }
        }
        let (cpu, memory, pods) = SchedulerViews.allocatable(of: node)
        let (podCPU, podMemory) = SchedulerViews.requests(of: pod)
        if usage.pods.saturatingAdd(1) > pods { return "Too many pods" }
        if usage.cpuMillis.saturatingAdd(podCPU) > cpu { return "Insufficient cpu" }
        if usage.memoryBytes.saturatingAdd(podMemory) > memory { return "Insufficient memory" }
        return nil
    }

    static func tolerates(_ toleration: JSON, _ taint: JSON) -> Bool { Taints.tolerates(toleration, taint) }
}
