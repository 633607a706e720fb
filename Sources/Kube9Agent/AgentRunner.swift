import Dispatch
import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime
import Logging
import Synchronization

/// Runs one or many nodes in this process: registers each Node, sends heartbeats, keeps one
/// pod watcher, and ticks each node's `NodeAgent` when its pods change (and every half second
/// for probes and back-off). One node is `kube9 agent`; many sim nodes are a simulated fleet
/// (`--count`), sharing one watch and one heartbeat loop.
///
/// ```
/// register Nodes ─▶ heartbeat loop (all nodes, every interval)
/// PodWatcher ──onChange(node)──▶ tick loop ─▶ NodeAgent.tick ─▶ pod workers
/// stats loop (every 10 s) ─▶ NodeAgent.collectStats
/// ```
public final class AgentRunner: Sendable {
    public let agents: [NodeAgent]
    let serverURL: String
    let logger: Logger
    let watcher: PodWatcher
    /// Services, for the environment variables of new containers.
    let services: ListWatch
    let client: Kube9Client
    let running = Atomic<Bool>(true)
    /// Nodes whose pods changed since the last tick.
    let wakes: WakeQueue
    /// Ports of the kubelet endpoints by node (set once they listen).
    let kubeletPorts = Mutex<[String: Int]>([:])

    /// Nodes with these configurations on `runtime`. With one node the watch selects its pods
    /// by field selector; with several it watches all pods.
    public init(serverURL: String, configurations: [AgentConfiguration], runtime: any ContainerRuntime, logger: Logger) {
        self.serverURL = serverURL
        self.logger = logger
        let client = Kube9Client(baseURL: serverURL)
        self.client = client
        let wakes = WakeQueue()
        self.wakes = wakes
        let onChange: @Sendable (String) -> Void = { node in wakes.post(node) }
        let selector = configurations.count == 1 ? "spec.nodeName=\(configurations[0].name)" : nil
        let watcher = PodWatcher(serverURL: serverURL, fieldSelector: selector, logger: logger, onChange: onChange)
        self.watcher = watcher
        let services = ListWatch(serverURL: serverURL, path: "/api/v1/services", logger: logger, onChange: {})
        self.services = services
        agents = configurations.map { configuration in
            NodeAgent(configuration: configuration, runtime: runtime, watcher: watcher, client: client, logger: logger,
                      services: { services.items }, wake: { onChange(configuration.name) })
        }
    }

    /// Registers every node (with the kubelet port of its endpoint, when one serves).
    public func register(kubeletPorts: [String: Int] = [:]) throws {
        let connection = try HTTPConnection(baseURL: serverURL)
        for agent in agents {
            let version = (try? agent.runtime.version()) ?? "\(agent.runtime.kind)://kube9"
            try NodeRegistration.register(agent.configuration.nodeObject(runtimeVersion: version, kubeletPort: kubeletPorts[agent.configuration.name]),
                                          connection: connection)
        }
        self.kubeletPorts.withLock { $0 = kubeletPorts }
        logger.info("nodes registered", metadata: ["count": "\(agents.count)", "runtime": "\(agents.first?.runtime.kind ?? "")"])
    }

    /// Starts the watcher, heartbeats and stats; ticks until `stop()`. Blocks the calling thread.
    public func run() {
        watcher.start()
        services.start()
        // Containers get the service variables of what exists when they start (as the kubelet
        // waits for its service informer): give the first list up to 5 s.
        for _ in 0..<250 where !services.hasSynced { usleep(20_000) }
        Thread { [self] in heartbeatLoop() }.start()
        Thread { [self] in statsLoop() }.start()
        var lastFullTick = DispatchTime.now()
        let byName = Dictionary(uniqueKeysWithValues: agents.map { ($0.configuration.name, $0) })
        while running.load(ordering: .acquiring) {
            let changed = wakes.take(waitingAtMost: .milliseconds(500))
            let now = DispatchTime.now()
            if now.uptimeNanoseconds - lastFullTick.uptimeNanoseconds >= 500_000_000 {
                lastFullTick = now
                for agent in agents { agent.tick() }
            } else {
                for name in changed { byName[name]?.tick() }
            }
            // Events that arrive meanwhile are taken together by the next tick: a burst of pod
            // changes costs one runtime listing per 20 ms, not one per event.
            usleep(20_000)
        }
        watcher.stop()
        services.stop()
    }

    public func stop() {
        running.store(false, ordering: .releasing)
        wakes.post("")
    }

    func heartbeatLoop() {
        guard let connection = try? HTTPConnection(baseURL: serverURL) else { return }
        connection.timeoutSeconds = 5
        let interval = agents.first?.configuration.timing.heartbeatInterval ?? .seconds(2)
        let intervalSeconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        while running.load(ordering: .acquiring) {
            let start = Date()
            for agent in agents {
                let name = agent.configuration.name
                do {
                    let reply = try connection.request("POST", "/kube9/v1/nodes/\(name)/heartbeat", body: [])
                    if reply.status == 404 {
                        let version = (try? agent.runtime.version()) ?? ""
                        let port = kubeletPorts.withLock { $0[name] }
                        try NodeRegistration.register(agent.configuration.nodeObject(runtimeVersion: version, kubeletPort: port), connection: connection)
                    }
                } catch {
                    logger.warning("heartbeat failed", metadata: ["node": "\(name)", "error": "\(error)"])
                }
            }
            let left = intervalSeconds - Date().timeIntervalSince(start)
            if left > 0 { usleep(UInt32(left * 1_000_000)) }
        }
    }

    /// Samples usage every stats interval and reports each node's to the API server (metrics.k8s.io).
    func statsLoop() {
        let connection = try? HTTPConnection(baseURL: serverURL)
        connection?.timeoutSeconds = 5
        let interval = agents.first?.configuration.statsIntervalSeconds ?? 10
        while running.load(ordering: .acquiring) {
            let start = Date()
            for agent in agents {
                if agent.runtime.kind != "sim" { agent.collectStats() }
                let report = agent.usageReport(windowSeconds: Int64(max(1, interval.rounded())))
                do {
                    _ = try connection?.request("POST", "/kube9/v1/nodes/\(agent.configuration.name)/metrics", body: report.json.serialized())
                } catch {
                    logger.debug("usage report failed", metadata: ["node": "\(agent.configuration.name)", "error": "\(error)"])
                }
            }
            while running.load(ordering: .acquiring), Date().timeIntervalSince(start) < interval { usleep(100_000) }
        }
    }

    /// The agent of a node run here.
    public func agent(named name: String) -> NodeAgent? { agents.first { $0.configuration.name == name } }
}

/// Names of nodes to tick, posted by watchers and probes, taken by the tick loop.
final class WakeQueue: Sendable {
    private let names = Mutex<Set<String>>([])
    private let semaphore = DispatchSemaphore(value: 0)

    func post(_ node: String) {
        let first = names.withLock { $0.insert(node).inserted && $0.count == 1 }
        if first { semaphore.signal() }
    }

    /// Waits until something is posted (or the time passes) and takes everything posted.
    func take(waitingAtMost wait: DispatchTimeInterval) -> Set<String> {
        _ = semaphore.wait(timeout: .now() + wait)
        return names.withLock { names in
            defer { names.removeAll() }
            return names
        }
    }
}
