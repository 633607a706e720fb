import Dispatch
import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime
import Kube9Threads
import Logging
import Synchronization

/// Runs the pods bound to one node on a container runtime. Each `tick()` compares the pods the
/// watcher holds with the containers the runtime lists (by the node label) and hands every pod
/// to a worker: start the sandbox and containers, restart per restartPolicy with back-off, stop
/// what a liveness probe failed, terminate on deletion, remove orphans, write the status.
/// State lives in the runtime (labels carry pod uid and restart count), so a restarted agent
/// adopts what runs and never starts a second copy.
///
/// ```
/// PodWatcher ─▶ tick ─▶ worker per pod (at most one at a time) ─▶ runtime ─▶ PATCH pods/status
///                  └──▶ probes (concurrent) ─▶ liveness failed / readiness changed ─▶ wake
/// ```
public final class NodeAgent: Sendable {
    public let configuration: AgentConfiguration
    public let runtime: any ContainerRuntime
    let watcher: PodWatcher
    let client: Kube9Client
    let logger: Logger
    let wake: @Sendable () -> Void
    /// The pods' volume directories on this node.
    let volumes: PodVolumes
    /// When the local-path directories were last compared with the PersistentVolumes.
    let storageSweptAt = Mutex<Date>(.distantPast)

    struct ProbeState {
        var nextAt: Date
        var inFlight = false
        var successes = 0
        var failures = 0
        var ready = false
        var livenessFailed = false
    }

    struct State {
        /// uid → a worker runs for it now.
        var busy: Set<String> = []
        /// uid → when its worker last finished (a tick's snapshot must be newer to dispatch it).
        var finished: [String: DispatchTime] = [:]
        /// "containerID/liveness|readiness" → probe state.
        var probes: [String: ProbeState] = [:]
        /// uid → the status last written.
        var written: [String: JSON] = [:]
        /// container id → when it was first seen exited (back-off counts from there when the
        /// runtime reports no finish time).
        var exitedAt: [String: Date] = [:]
        /// Events already recorded (dedupe keys).
        var recorded: Set<String> = []
        /// Latest usage samples by container id: (time, usage).
        var usage: [String: (Date, ResourceUsage, Double)] = [:]
    }

    let state = Mutex(State())
    /// Blocking work runs on fixed pools of threads (GCD's concurrent queues run only as many
    /// blocking items at once as there are cores, and a thread per pod per tick is no bound):
    /// pod workers (at most one per pod at a time), probes, and container stops during a
    /// termination (a pod worker waits for those, so they have threads of their own), and
    /// events and other API writes.
    static let podWorkers = WorkerThreads(threads: 16, name: "kube9-pod", stackSize: 512 << 10)
    static let probeWorkers = WorkerThreads(threads: 16, name: "kube9-probe", stackSize: 512 << 10)
    static let stopWorkers = WorkerThreads(threads: 16, name: "kube9-stop", stackSize: 512 << 10)
    static let eventWorkers = WorkerThreads(threads: 2, name: "kube9-event", stackSize: 512 << 10)
    /// Events remembered as recorded (per pod and reason) before the set starts over.
    static let maximumRecorded = 10_000
    static let component = "kubelet"

    /// The services of the cluster now (for the service environment variables of new containers).
    let services: @Sendable () -> [JSON]

    public init(configuration: AgentConfiguration, runtime: any ContainerRuntime, watcher: PodWatcher, client: Kube9Client,
                logger: Logger, services: @escaping @Sendable () -> [JSON] = { [] }, wake: @escaping @Sendable () -> Void) {
        self.services = services
        self.configuration = configuration
        self.runtime = runtime
        self.watcher = watcher
        self.client = client
        self.logger = logger
        self.wake = wake
        let root = configuration.volumesDirectory.isEmpty
            ? (NSTemporaryDirectory() as NSString).appendingPathComponent("kube9-volumes/\(configuration.name)") : configuration.volumesDirectory
        self.volumes = PodVolumes(root: root, hostPathsVisible: runtime is ProcessRuntime)
    }

    var name: String { configuration.name }

    // MARK: Tick

    /// One reconciliation pass: dispatches pod workers and due probes. Returns quickly.
    public func tick() {
        guard watcher.hasSynced else { return }
        let snapshot = DispatchTime.now()
        let pods = watcher.pods(on: name)
        let containers: [ContainerInfo]
        do {
            containers = try runtime.listContainers(node: name)
        } catch {
            logger.warning("cannot list containers", metadata: ["error": "\(error)"])
            return
        }
        var byPod: [String: [ContainerInfo]] = [:]
        for container in containers { byPod[container.podUID, default: []].append(container) }
        for uid in Set(pods.keys).union(byPod.keys) {
            let dispatch = state.withLock { state -> Bool in
                guard !state.busy.contains(uid) else { return false }
                if let finished = state.finished[uid], finished >= snapshot { return false }
                state.busy.insert(uid)
                return true
            }
            guard dispatch else { continue }
            let pod = pods[uid]
            let mine = byPod[uid] ?? []
            Self.podWorkers.submit { [self] in
                if let pod {
                    syncPod(pod, containers: mine)
                } else {
                    removeOrphan(uid, containers: mine)
                }
                state.withLock {
                    $0.busy.remove(uid)
                    $0.finished[uid] = DispatchTime.now()
                }
            }
        }
        scheduleProbes(pods: pods, containers: byPod)
        state.withLock { state in
            let live = Set(containers.map(\.id))
            state.exitedAt = state.exitedAt.filter { live.contains($0.key) }
            state.probes = state.probes.filter { live.contains(String($0.key.split(separator: "/").first ?? "")) }
            state.usage = state.usage.filter { live.contains($0.key) }
            let uids = Set(pods.keys).union(byPod.keys)
            state.finished = state.finished.filter { uids.contains($0.key) }
            state.written = state.written.filter { uids.contains($0.key) }
            state.recorded = state.recorded.filter { uids.contains(String($0.split(separator: "/").first ?? "")) }
        }
        // Volumes of pods that are gone (neither in the API nor in the runtime).
        let known = Set(pods.keys).union(byPod.keys)
        for uid in (try? FileManager.default.contentsOfDirectory(atPath: volumes.root)) ?? [] where !known.contains(uid) {
            volumes.remove(uid: uid)
        }
        sweepStorageIfDue()
    }

    // MARK: Pod worker

    func identity(_ pod: JSON) -> PodIdentity {
        PodIdentity(uid: ObjectMeta.uid(of: pod), namespace: ObjectMeta.namespace(of: pod), name: ObjectMeta.name(of: pod), node: name)
    }

    func syncPod(_ pod: JSON, containers: [ContainerInfo]) {
        if ObjectMeta.deletionTimestamp(of: pod) != nil {
            terminate(pod, containers: containers)
            return
        }
        let phase = pod[path: ["status", "phase"]]?.stringValue
        if phase == "Succeeded" || phase == "Failed" { return }
        let pod = pod
        let identity = identity(pod)
        // Sandbox: exactly one, running.
        var sandboxes = containers.filter(\.isSandbox)
        var appContainers = containers.filter { !$0.isSandbox }
        var sandbox = sandboxes.first { $0.state == .running }
        for extra in sandboxes where extra.id != sandbox?.id { try? runtime.removeContainer(id: extra.id) }
        if sandbox == nil {
            for container in appContainers { try? runtime.removeContainer(id: container.id) }
            appContainers = []
            do {
                sandbox = try runtime.runSandbox(identity, spec: pod["spec"] ?? .emptyObject)
            } catch {
                record(pod, key: "sandbox", type: "Warning", reason: "FailedCreatePodSandBox", message: "\(error)")
                writeStatus(pod, sandbox: nil, containerStatuses: PodSpecs.containers(pod).map {
                    Self.waitingStatus($0, reason: "ContainerCreating", message: "pod sandbox: \(error)")
                }, allStarted: false, allFinished: nil)
                return
            }
        }
        sandboxes = []
        guard let sandbox else { return }
        // ConfigMap and Secret updates reach the files of a running pod (every few seconds).
        if pod[path: ["spec", "volumes"]]?.arrayValue?.isEmpty == false, !appContainers.isEmpty {
            do {
                _ = try volumes.prepare(pod, sources: configurationSources(namespace: identity.namespace), facts: podFacts(sandbox), refreshOnly: true)
            } catch {
                record(pod, key: "volumes/\(error)", type: "Warning", reason: "FailedMount", message: "\(error)")
            }
        }
        // Init containers run one at a time, in order, each to success, before any app container.
        var initStatuses: [JSON] = []
        if !PodSpecs.initContainers(pod).isEmpty {
            let progress = runInitContainers(pod, containers: appContainers, identity: identity, sandbox: sandbox)
            initStatuses = progress.statuses
            if progress.outcome != .done {
                let waiting = PodSpecs.containers(pod).map { Self.waitingStatus($0, reason: "PodInitializing", message: "") }
                let failedCode: [Int32]? = if case .failed(let code) = progress.outcome { [code] } else { nil }
                writeStatus(pod, sandbox: sandbox, containerStatuses: waiting, allStarted: false, allFinished: failedCode,
                            initStatuses: initStatuses, initialized: false)
                return
            }
        }
        let policy = PodSpecs.restartPolicy(pod)
        var statuses: [JSON] = []
        var allStarted = true
        var finishedCodes: [Int32] = []
        var restarting = false
        for container in PodSpecs.containers(pod) {
            let containerName = container["name"]?.stringValue ?? ""
            let attempts = appContainers.filter { $0.containerName == containerName }.sorted { $0.attempt < $1.attempt }
            var latest = attempts.last
            var previous = attempts.dropLast().last
            var waiting: (String, String)? = nil
            if latest == nil {
                do {
                    latest = try startContainer(pod, container, identity: identity, sandbox: sandbox, attempt: 0)
                } catch {
                    waiting = Self.waitingReason(error)
                    record(pod, key: "fail/\(containerName)", type: "Warning", reason: waiting!.0 == "ErrImageNeverPull" ? "ErrImageNeverPull" : "Failed",
                           message: waiting!.1)
                }
            } else if latest!.state == .created {
                do {
                    try runtime.startContainer(id: latest!.id)
                    latest = (try? runtime.inspectContainer(id: latest!.id)) ?? latest
                } catch {
                    waiting = ("RunContainerError", "\(error)")
                }
            } else if latest!.state == .running, livenessFailed(latest!.id) {
                record(pod, key: "kill/\(latest!.id)", type: "Normal", reason: "Killing",
                       message: "Container \(containerName) failed liveness probe, will be restarted")
                try? runtime.stopContainer(id: latest!.id, gracePeriodSeconds: PodSpecs.gracePeriod(pod))
                latest = (try? runtime.inspectContainer(id: latest!.id)) ?? latest
            }
            if let current = latest, current.state == .exited {
                let code = current.exitCode ?? -1
                let shouldRestart = policy == "Always" || (policy == "OnFailure" && code != 0)
                if shouldRestart {
                    restarting = true
                    let (due, delay) = restartDue(current)
                    if due {
                        do {
                            let started = try startContainer(pod, container, identity: identity, sandbox: sandbox, attempt: current.attempt + 1)
                            if let previous { try? runtime.removeContainer(id: previous.id) }
                            previous = current
                            latest = started
                        } catch {
                            waiting = Self.waitingReason(error)
                        }
                    } else {
                        let message = "back-off \(Int(delay))s restarting failed container=\(containerName) pod=\(identity.name)_\(identity.namespace)(\(identity.uid))"
                        waiting = ("CrashLoopBackOff", message)
                        record(pod, key: "backoff/\(current.id)", type: "Warning", reason: "BackOff", message: "Back-off restarting failed container \(containerName) in pod \(identity.name)")
                        previous = current
                        latest = current
                    }
                } else {
                    finishedCodes.append(code)
                }
            }
            for stale in attempts.dropLast(2) { try? runtime.removeContainer(id: stale.id) }
            if latest == nil { allStarted = false }
            statuses.append(containerStatus(container, latest: latest, previous: previous, waiting: waiting))
        }
        let all = PodSpecs.containers(pod).count
        let finished: [Int32]? = (!restarting && finishedCodes.count == all && all > 0) ? finishedCodes : nil
        writeStatus(pod, sandbox: sandbox, containerStatuses: statuses, allStarted: allStarted, allFinished: finished, initStatuses: initStatuses)
    }

    /// Whether an exited container's restart back-off has passed (base × 2^restarts, capped), and
    /// the back-off. It counts from the runtime's finish time (whole seconds, rounded up), so it
    /// survives an agent restart; from first sight when the runtime has none.
    func restartDue(_ current: ContainerInfo) -> (due: Bool, delay: Double) {
        let delay = min(configuration.restartBackoffBase * pow(2, Double(min(current.attempt, 62))), configuration.restartBackoffMax)
        let finished = current.finishedAt.flatMap(Timestamp.parse).map { Date(timeIntervalSince1970: Double($0) + 1) }
        let exitedAt = finished ?? state.withLock { state in
            if let time = state.exitedAt[current.id] { return time }
            state.exitedAt[current.id] = Date()
            return Date()
        }
        return (Date().timeIntervalSince(exitedAt) >= delay, delay)
    }

    func startContainer(_ pod: JSON, _ container: JSON, identity: PodIdentity, sandbox: ContainerInfo, attempt: Int) throws -> ContainerInfo {
        let links = pod[path: ["spec", "enableServiceLinks"]]?.boolValue ?? true
        let serviceEnvironment = ServiceStrategy.environment(services: services(), namespace: identity.namespace, serviceLinks: links)
        let facts = podFacts(sandbox)
        // A missing ConfigMap, Secret or key is CreateContainerConfigError, retried at the next sync.
        let environment = try PodEnvironment.resolve(container: container, pod: pod, facts: facts, serviceEnvironment: serviceEnvironment,
                                                     sources: configurationSources(namespace: identity.namespace))
        var spec = PodSpecs.containerSpec(container, attempt: attempt, environment: environment)
        if container["volumeMounts"]?.arrayValue?.isEmpty == false {
            let paths = try volumes.prepare(pod, sources: configurationSources(namespace: identity.namespace), facts: facts,
                                            claims: { try self.claimedVolumePath(namespace: identity.namespace, claim: $0) })
            spec.mounts = try PodVolumes.mounts(container, pod: pod, paths: paths)
        }
        try runtime.verifyImage(spec.image)
        let id = try runtime.createContainer(spec, pod: identity, sandbox: sandbox)
        do {
            try runtime.startContainer(id: id)
        } catch {
            try? runtime.removeContainer(id: id)
            throw error
        }
        record(pod, key: "start/\(id)", type: "Normal", reason: "Started", message: "Started container \(spec.name)")
        return try runtime.inspectContainer(id: id)
    }

    /// What the downward API reads beyond the pod object.
    func podFacts(_ sandbox: ContainerInfo) -> PodEnvironment.PodFacts {
        PodEnvironment.PodFacts(podIP: sandbox.ipAddress, hostIP: configuration.address,
                                allocatableCPU: Quantity.parse("\(Int64(configuration.cpus * 1000))m"),
                                allocatableMemory: Quantity.parse("\(configuration.memoryBytes)"))
    }

    /// Reads the ConfigMaps and Secrets of `namespace` from the API server (nil when one does not exist).
    func configurationSources(namespace: String) -> PodEnvironment.Sources {
        let client = self.client
        @Sendable func read(_ resource: String, _ name: String) throws -> JSON? {
            // A name becomes a URL path: only object names (a stored pod may predate validation).
            guard NameRules.dns1123SubdomainError(name) == nil else { throw PodEnvironment.Problem("\(resource) name \"\(name)\" is not a valid object name") }
            let reply = try client.withConnection { try $0.request("GET", "/api/v1/namespaces/\(namespace)/\(resource)/\(name)") }
            if reply.status == 404 { return nil }
            guard reply.status == 200 else { throw PodEnvironment.Problem("reading \(resource) \(namespace)/\(name): HTTP \(reply.status) \(reply.text)") }
            return try reply.json()
        }
        return PodEnvironment.Sources(configMap: { try read("configmaps", $0) }, secret: { try read("secrets", $0) })
    }

    static func waitingReason(_ error: any Error) -> (String, String) {
        switch error {
        case let problem as PodEnvironment.Problem:
            return ("CreateContainerConfigError", problem.description)
        case RuntimeError.imageNotPresent(let image, let detail):
            return ("ErrImageNeverPull", "Container image \"\(image)\" is not present on the node: \(detail)")
        case RuntimeError.refused(_, let detail):
            return ("CreateContainerError", detail)
        default:
            return ("CreateContainerError", "\(error)")
        }
    }
}
