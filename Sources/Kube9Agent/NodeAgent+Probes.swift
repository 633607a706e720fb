import Dispatch
import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime
import Kube9Threads
import Logging
import Synchronization

/// Termination, orphans, probes, events and stats of a node's pods.
extension NodeAgent {
    // MARK: Termination and orphans

    /// Stops every container with the pod's grace period (SIGTERM, then SIGKILL), removes them
    /// and the sandbox, then deletes the pod object for good (precondition: same uid).
    func terminate(_ pod: JSON, containers: [ContainerInfo]) {
        let grace = PodSpecs.gracePeriod(pod)
        let group = DispatchGroup()
        for container in containers where !container.isSandbox && container.state == .running {
            group.enter()
            Self.stopWorkers.submit { [runtime] in
                try? runtime.stopContainer(id: container.id, gracePeriodSeconds: grace)
                group.leave()
            }
        }
        group.wait()
        for container in containers where !container.isSandbox { try? runtime.removeContainer(id: container.id) }
        for container in containers where container.isSandbox { try? runtime.removeContainer(id: container.id) }
        let path = "/api/v1/namespaces/\(ObjectMeta.namespace(of: pod))/pods/\(ObjectMeta.name(of: pod))?gracePeriodSeconds=0"
        _ = try? client.withConnection {
            try $0.request("DELETE", path, body: (["preconditions": ["uid": .string(ObjectMeta.uid(of: pod))]] as JSON).serialized())
        }
    }

    /// Containers whose pod is gone (deleted while the agent was away, or evicted): killed and removed.
    func removeOrphan(_ uid: String, containers: [ContainerInfo]) {
        guard watcher.hasSynced else { return }
        logger.info("removing orphaned containers", metadata: ["podUID": "\(uid)", "count": "\(containers.count)"])
        for container in containers where !container.isSandbox { try? runtime.removeContainer(id: container.id) }
        for container in containers where container.isSandbox { try? runtime.removeContainer(id: container.id) }
    }

    // MARK: Probes

    func livenessFailed(_ id: String) -> Bool {
        state.withLock { $0.probes["\(id)/liveness"]?.livenessFailed ?? false }
    }

    func isReady(_ id: String, container: JSON) -> Bool {
        guard ProbeSpec.parse(container["readinessProbe"], container: container) != nil else { return true }
        return state.withLock { $0.probes["\(id)/readiness"]?.ready ?? false }
    }

    func scheduleProbes(pods: [String: JSON], containers: [String: [ContainerInfo]]) {
        let now = Date()
        for (uid, pod) in pods where ObjectMeta.deletionTimestamp(of: pod) == nil {
            let mine = containers[uid] ?? []
            guard let podIP = mine.first(where: \.isSandbox)?.ipAddress else { continue }
            for container in PodSpecs.containers(pod) {
                let containerName = container["name"]?.stringValue ?? ""
                guard let latest = mine.filter({ $0.containerName == containerName }).max(by: { $0.attempt < $1.attempt }),
                      latest.state == .running else { continue }
                for kind in ["liveness", "readiness"] {
                    guard let probe = ProbeSpec.parse(container["\(kind)Probe"], container: container) else { continue }
                    let key = "\(latest.id)/\(kind)"
                    let due = state.withLock { state -> Bool in
                        var entry = state.probes[key] ?? ProbeState(nextAt: now.addingTimeInterval(probe.initialDelaySeconds))
                        defer { state.probes[key] = entry }
                        guard !entry.inFlight, entry.nextAt <= now, !entry.livenessFailed else { return false }
                        entry.inFlight = true
                        return true
                    }
                    guard due else { continue }
                    Self.probeWorkers.submit { [self] in
                        let success = ProbeRunner.run(probe, podIP: podIP, containerID: latest.id, runtime: runtime)
                        let (changed, unhealthy) = state.withLock { state -> (Bool, Bool) in
                            guard var entry = state.probes[key] else { return (false, false) }
                            let before = (entry.ready, entry.livenessFailed)
                            entry.inFlight = false
                            entry.nextAt = Date().addingTimeInterval(probe.periodSeconds)
                            if success {
                                entry.successes += 1
                                entry.failures = 0
                                if entry.successes >= probe.successThreshold { entry.ready = true }
                            } else {
                                entry.failures += 1
                                entry.successes = 0
                                if entry.failures >= probe.failureThreshold {
                                    entry.ready = false
                                    if kind == "liveness" { entry.livenessFailed = true }
                                }
                            }
                            state.probes[key] = entry
                            return (before != (entry.ready, entry.livenessFailed), !success)
                        }
                        if unhealthy {
                            record(pod, key: "unhealthy/\(key)", type: "Warning", reason: "Unhealthy",
                                   message: "\(kind.prefix(1).uppercased() + kind.dropFirst()) probe failed for container \(containerName)")
                        }
                        if changed { wake() }
                    }
                }
            }
        }
    }

    // MARK: Events and stats

    /// Records an Event about the pod once per `key`, in the background.
    func record(_ pod: JSON, key: String, type: String, reason: String, message: String) {
        let fresh = state.withLock { state -> Bool in
            if state.recorded.count >= Self.maximumRecorded { state.recorded.removeAll() }
            return state.recorded.insert("\(ObjectMeta.uid(of: pod))/\(key)").inserted
        }
        guard fresh else { return }
        var involved = pod
        involved["kind"] = "Pod"
        involved["apiVersion"] = "v1"
        let event = EventStrategy.event(about: involved, type: type, reason: reason, message: message, component: Self.component, host: name)
        let namespace = ObjectMeta.namespace(of: pod)
        Self.eventWorkers.submit { [client] in
            _ = try? client.withConnection { try $0.request("POST", "/api/v1/namespaces/\(namespace)/events", body: event.serialized()) }
        }
    }

    /// Samples CPU and memory of every running container (kept for the stats endpoint).
    public func collectStats() {
        guard let containers = try? runtime.listContainers(node: name) else { return }
        for container in containers where !container.isSandbox && container.state == .running {
            guard let usage = try? runtime.stats(id: container.id) else { continue }
            let now = Date()
            state.withLock { state in
                var rate = 0.0
                if let (time, previous, _) = state.usage[container.id], now > time, usage.cpuNanoseconds >= previous.cpuNanoseconds {
                    rate = Double(usage.cpuNanoseconds - previous.cpuNanoseconds) / now.timeIntervalSince(time)
                }
                state.usage[container.id] = (now, usage, rate)
            }
        }
    }

    /// The annotation that sets a sim pod's usage as a fraction of its requests (default 1).
    public static let simUsageAnnotation = "kube9.io/sim-usage"

    /// This node's usage report for the API server: measured for Docker and process runtimes;
    /// on sim nodes synthetic, each running container using its requests × the pod's
    /// `kube9.io/sim-usage` fraction (so autoscaling can be simulated).
    public func usageReport(windowSeconds: Int64) -> UsageReport {
        var pods: [UsageReport.PodUsage] = []
        if runtime.kind == "sim" {
            for pod in watcher.pods(on: name).values where pod[path: ["status", "phase"]]?.stringValue == "Running" && ObjectMeta.deletionTimestamp(of: pod) == nil {
                let fraction = ObjectMeta.annotation(pod, Self.simUsageAnnotation).flatMap(Double.init).map { min(max($0, 0), 1000) } ?? 1
                let containers = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).map { container -> (name: String, usage: UsageReport.Usage) in
                    let cpuMilli = Quantity.from(container[path: ["resources", "requests", "cpu"]])?.milliValue ?? 0
                    let memory = Quantity.from(container[path: ["resources", "requests", "memory"]])?.value ?? 0
                    return (container["name"]?.stringValue ?? "", UsageReport.Usage(cpuNanoCores: Self.count(Double(cpuMilli) * 1e6 * fraction),
                                                                                   memoryBytes: Self.count(Double(memory) * fraction)))
                }
                pods.append(UsageReport.PodUsage(namespace: ObjectMeta.namespace(of: pod), name: ObjectMeta.name(of: pod), uid: ObjectMeta.uid(of: pod), containers: containers))
            }
        } else {
            let containers = (try? runtime.listContainers(node: name)) ?? []
            let usage = state.withLock { $0.usage }
            var byPod: [String: UsageReport.PodUsage] = [:]
            for container in containers where !container.isSandbox && container.state == .running {
                guard let (_, sample, rate) = usage[container.id],
                      let podName = container.labels[RuntimeLabels.podName], let namespace = container.labels[RuntimeLabels.podNamespace] else { continue }
                let entry = (name: container.containerName, usage: UsageReport.Usage(cpuNanoCores: Self.count(rate), memoryBytes: Int64(clamping: sample.memoryBytes)))
                byPod[namespace + "/" + podName, default: UsageReport.PodUsage(namespace: namespace, name: podName, uid: container.podUID, containers: [])].containers.append(entry)
            }
            pods = byPod.sorted { $0.key < $1.key }.map(\.value)
        }
        let total = pods.reduce(UsageReport.Usage.zero) { sum, pod in
            UsageReport.Usage(cpuNanoCores: sum.cpuNanoCores.saturatingAdd(pod.total.cpuNanoCores), memoryBytes: sum.memoryBytes.saturatingAdd(pod.total.memoryBytes))
        }
        return UsageReport(windowSeconds: windowSeconds, node: total, pods: Array(pods.prefix(UsageReport.maximumPods)))
    }

    /// A measured or computed amount as a report count: not finite or negative is 0, the rest clamped to 9e18.
    static func count(_ value: Double) -> Int64 {
        guard value.isFinite, value > 0 else { return 0 }
        return value >= 9e18 ? 9_000_000_000_000_000_000 : Int64(value)
    }

    /// The kubelet Summary API subset: node and per-pod, per-container CPU and memory.
    public func statsSummary() -> JSON {
        let containers = (try? runtime.listContainers(node: name)) ?? []
        let usage = state.withLock { $0.usage }
        var byPod: [String: [ContainerInfo]] = [:]
        for container in containers where !container.isSandbox { byPod[container.podUID, default: []].append(container) }
        var nodeCPU: UInt64 = 0
        var nodeMemory: UInt64 = 0
        var nodeRate = 0.0
        var pods: [JSON] = []
        let now = JSON.string(Timestamp.now())
        for (uid, list) in byPod.sorted(by: { $0.key < $1.key }) {
            guard let first = list.first else { continue }
            var entries: [JSON] = []
            for container in list where container.state == .running {
                guard let (_, sample, rate) = usage[container.id] else { continue }
                nodeCPU += sample.cpuNanoseconds
                nodeMemory += sample.memoryBytes
                nodeRate += rate
                entries.append(["name": .string(container.containerName), "startTime": .string(container.startedAt ?? ""),
                                "cpu": ["time": now, "usageNanoCores": .int(Int64(rate)), "usageCoreNanoSeconds": .int(Int64(sample.cpuNanoseconds))],
                                "memory": ["time": now, "workingSetBytes": .int(Int64(sample.memoryBytes))]])
            }
            pods.append(["podRef": ["name": .string(first.labels[RuntimeLabels.podName] ?? ""), "namespace": .string(first.labels[RuntimeLabels.podNamespace] ?? ""),
                                    "uid": .string(uid)], "containers": .array(entries)])
        }
        return ["node": ["nodeName": .string(name), "cpu": ["time": now, "usageNanoCores": .int(Int64(nodeRate)), "usageCoreNanoSeconds": .int(Int64(nodeCPU))],
                         "memory": ["time": now, "workingSetBytes": .int(Int64(nodeMemory))]],
                "pods": .array(pods)]
    }

    /// The runtime id of a container of a pod on this node: the latest attempt, or the one
    /// before it when `previous`.
    public func containerID(namespace: String, pod: String, container: String, previous: Bool) throws -> String {
        guard let object = watcher.pod(on: name, namespace: namespace, name: pod) else {
            throw RuntimeError.notFound(id: "pod \(namespace)/\(pod) on node \(name)")
        }
        let uid = ObjectMeta.uid(of: object)
        let attempts = try runtime.listContainers(node: name).filter { $0.podUID == uid && $0.containerName == container }
            .sorted { $0.attempt < $1.attempt }
        guard let chosen = previous ? attempts.dropLast().last : attempts.last else {
            throw RuntimeError.notFound(id: previous ? "previous terminated container \"\(container)\" in pod \"\(pod)\"" : "container \"\(container)\" in pod \"\(pod)\"")
        }
        return chosen.id
    }
}
