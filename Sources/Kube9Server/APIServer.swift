import Foundation
import Hummingbird
import Kube9Autoscaler
import Kube9Controllers
import Kube9Model
import Kube9Policy
import Kube9Scheduler
import Kube9Store
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The kube9 release this binary reports.
public enum Kube9Build {
    public static let version = "0.1.0"
}

/// Settings of `kube9 server`.
public struct ServerConfiguration: Sendable {
    /// Where the database and kubeconfig live.
    public var dataDirectory: String
    /// Address to listen on; port 0 picks a free one.
    public var host: String
    public var port: Int
    /// Changes kept in memory for watch resume.
    public var historyLimit: Int
    /// SQLite synchronous mode: FULL (default) or NORMAL.
    public var synchronous: String
    /// How often watches that asked for bookmarks get one.
    public var bookmarkInterval: Duration
    /// Directories of built-in policies (`<slot>/<name>.lua`), loaded in order at start.
    public var policyDirectories: [String]
    /// Heartbeat interval, node-monitor grace period and pod eviction timeout.
    public var timing: ClusterTiming = .defaults
    /// Whether the built-in scheduler runs (off when another scheduler binds pods, as k3s's --disable-scheduler).
    public var runScheduler = true
    /// How often the Kube-9 v0 layer gives failed nodes a recovery pass (Kube-9: 15 s).
    public var v0RecoveryInterval: Duration = .seconds(15)
    /// The service range (`--service-cidr`), node-port range and load-balancer pool services get their addresses from.
    public var serviceRanges: ServiceAllocator.Ranges = .defaults
    /// How often every HorizontalPodAutoscaler decides (kube-controller-manager's --horizontal-pod-autoscaler-sync-period, 15 s).
    public var autoscalerSyncPeriod: Duration = .seconds(15)
    /// The node autoscaler's settings and how it makes nodes; nil keeps it off.
    public var nodeAutoscaler: (NodeAutoscalerConfiguration, any NodeProvider)? = nil

    public init(dataDirectory: String, host: String = "127.0.0.1", port: Int = 6443, historyLimit: Int = 10_000,
                synchronous: String = "FULL", bookmarkInterval: Duration = .seconds(60), policyDirectories: [String] = []) {
        self.policyDirectories = policyDirectories
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.historyLimit = historyLimit
        self.synchronous = synchronous
        self.bookmarkInterval = bookmarkInterval
    }

    /// The database file inside the data directory.
    public var databasePath: String { (dataDirectory as NSString).appendingPathComponent("kube9.db") }
    /// The kubeconfig the server writes for clients.
    public var kubeconfigPath: String { (dataDirectory as NSString).appendingPathComponent("kubeconfig") }
}

/// One kube9 control plane: store, registry and HTTP API in one process.
/// `run` returns after SIGINT/SIGTERM once in-flight requests have finished and the store is closed.
public struct APIServer: Sendable {
    public let configuration: ServerConfiguration
    let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// A kubeconfig that points kubectl at `address` (host:port) with no authentication.
    public static func kubeconfig(address: String) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - cluster:
            server: http://\(address)
          name: kube9
        contexts:
        - context:
            cluster: kube9
            namespace: default
            user: kube9-admin
          name: kube9
        current-context: kube9
        users:
        - name: kube9-admin
          user: {}

        """
    }

    /// Opens the store, serves until a shutdown signal, then closes everything.
    /// `onReady` runs once the socket is listening, with the bound host:port.
    public func run(onReady: @escaping @Sendable (String) async -> Void = { _ in }) async throws {
        let stack = try await ServerStack.start(configuration: configuration, logger: logger)
        defer { stack.stopControllers() }
        let store = stack.store
        let handler = stack.handler
        let logger = self.logger
        let kubeconfigPath = configuration.kubeconfigPath
        let kubernetesIP = configuration.serviceRanges.kubernetesIP
        // Kept as kube-apiserver keeps it: at start and every 10 s (a deleted one comes back).
        // `stopped`: run returned (perhaps while the first ensure ran): no loop may start after it.
        let keeper = Mutex<(task: Task<Void, Never>?, stopped: Bool)>((nil, false))
        defer {
            keeper.withLock { state in
                state.stopped = true
                state.task?.cancel()
            }
        }
        let app = Application(
            responder: handler,
            server: HTTP10Close.server,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "kube9"),
            services: [BookmarkService(store: store, interval: configuration.bookmarkInterval)],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                let host = channel.localAddress?.ipAddress ?? "127.0.0.1"
                let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
                handler.state.address.withLock { $0 = address }
                do {
                    try APIServer.kubeconfig(address: address).write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)
                } catch {
                    logger.error("cannot write kubeconfig", metadata: ["path": "\(kubeconfigPath)", "error": "\(error)"])
                }
                if let endpoint = KubernetesService.endpointAddress(listeningOn: host) {
                    let cluster = stack.cluster
                    await KubernetesService.ensure(client: cluster, clusterIP: kubernetesIP, address: endpoint, port: port, logger: logger)
                    keeper.withLock { state in
                        guard !state.stopped else { return }
                        state.task = Task {
                            while (try? await Task.sleep(for: .seconds(10))) != nil {
                                await KubernetesService.ensure(client: cluster, clusterIP: kubernetesIP, address: endpoint, port: port, logger: logger)
                            }
                        }
                    }
                } else {
                    logger.warning("no kubernetes service: the server listens on \(host), not an IPv4 address pods can reach")
                }
                handler.state.ready.withLock { $0 = true }
                logger.info("kube9 API server listening", metadata: ["address": "\(address)", "kubeconfig": "\(kubeconfigPath)"])
                await onReady(address)
            },
            logger: logger)
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        logger.info("kube9 API server stopped")
    }
}

/// Everything one control plane runs, wired together: the store, the policy host, the
/// registry with its admission and create hooks, the controllers and the scheduler as tasks,
/// and the HTTP handler. `APIServer` serves it on a socket; tests drive `handler` in-process.
struct ServerStack: Sendable {
    let store: SQLiteStore
    let registry: ObjectRegistry
    let policyHost: PolicyHost
    let handler: APIHandler
    /// The controllers' view of the cluster (reads from the store, writes through the registry).
    let cluster: RegistryClusterClient
    /// The agents' usage reports (metrics.k8s.io, autoscalers).
    let metrics: MetricsTable
    let tasks: [Task<Void, Never>]

    /// Opens the store (creating the data directory), loads the built-in policies and starts
    /// the controllers.
    static func start(configuration: ServerConfiguration, logger: Logger) async throws -> ServerStack {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        var storeOptions = SQLiteStoreOptions(path: configuration.databasePath, historyLimit: configuration.historyLimit,
                                              synchronous: configuration.synchronous)
        // Secrets are encrypted at rest with the data directory's key file (docs/configuration.md).
        let encryptionKeys = try EncryptionKeyFile.loadOrCreate(directory: configuration.dataDirectory)
        storeOptions.transformer = AESGCMTransformer(resources: [SecretStrategy().type.storageName], keys: encryptionKeys)
        logger.info("secrets are encrypted at rest", metadata: ["key": "\(encryptionKeys.first?.name ?? "-")", "keys": "\(encryptionKeys.count)",
                                                                "file": "\((configuration.dataDirectory as NSString).appendingPathComponent(EncryptionKeyFile.fileName))"])
        let store = try SQLiteStore(options: storeOptions, logger: logger)
        let policyHost = PolicyHost(logger: logger)
        for directory in configuration.policyDirectories {
            let failures = await policyHost.loadBuiltins(from: directory)
            logger.info("built-in policies loaded", metadata: ["directory": "\(directory)", "failed": "\(failures.count)"])
        }
        let index = V0Index(logger: logger)
        let services = ServiceStrategy().type.storageName
        let allocator = ServiceAllocator(ranges: configuration.serviceRanges) {
            store.list(resource: services, namespace: nil).objects.map(\.object)
        }
        let registry = ObjectRegistry(store: store, logger: logger,
                                      admission: [PolicyObjects.resource: PolicyObjects.admission(host: policyHost)],
                                      createHooks: ["nodes": { object, key in index.assignID(&object, kind: .node, key: key) },
                                                    "pods": { object, key in index.assignID(&object, kind: .pod, key: key) }],
                                      reservers: [services: { object, old in
                                          let reservation = try allocator.reserve(&object, old: old)
                                          return { allocator.release(reservation) }
                                      }])
        do {
            try await registry.ensureSystemNamespaces()
        } catch {
            await store.close()
            throw error
        }
        let heartbeats = HeartbeatService(registry: registry, timing: configuration.timing)
        let cluster = RegistryClusterClient(registry: registry, logger: logger)
        let lifecycle = NodeLifecycleController(client: cluster, heartbeats: heartbeats.table, timing: configuration.timing, logger: logger)
        let scheduler = Scheduler(client: cluster, host: policyHost, logger: logger)
        let v0Nodes = V0Nodes(cluster: cluster, heartbeats: heartbeats, recoveryInterval: configuration.v0RecoveryInterval, logger: logger,
                              evict: { node in await lifecycle.evictPods(from: node) },
                              podCount: { node in index.usage(of: node).podIDs.count })
        let v0Pods = V0Pods(registry: registry, cluster: cluster, logger: logger)
        let kubeNine = KubeNineV0(registry: registry, index: index, nodes: v0Nodes, pods: v0Pods, logger: logger)
        let endpoints = EndpointsController(client: cluster, logger: logger)
        let garbageCollector = GarbageCollector(client: cluster, logger: logger)
        let metrics = MetricsTable()
        let replicaSets = ReplicaSetController(client: cluster, logger: logger)
        let deployments = DeploymentController(client: cluster, logger: logger)
        let jobs = JobController(client: cluster, logger: logger)
        let cronJobs = CronJobController(client: cluster, logger: logger)
        let daemonSets = DaemonSetController(client: cluster, logger: logger)
        let statefulSets = StatefulSetController(client: cluster, logger: logger)
        let persistentVolumes = PersistentVolumeController(client: cluster, logger: logger)
        let autoscalers = HorizontalPodAutoscalerController(client: cluster, host: policyHost, metrics: metrics, logger: logger,
                                                            syncPeriod: configuration.autoscalerSyncPeriod)
        var tasks: [Task<Void, Never>] = [Task { await PolicyObjects.follow(store: store, host: policyHost, logger: logger) }]
        tasks += [Task { await endpoints.run() }, Task { await garbageCollector.run() }, Task { await replicaSets.run() }, Task { await deployments.run() }]
        tasks += [Task { await autoscalers.run() }, Task { await jobs.run() }, Task { await cronJobs.run() }, Task { await daemonSets.run() }]
        tasks += [Task { await statefulSets.run() }, Task { await persistentVolumes.run() }]
        tasks += [Task { await lifecycle.run() }, Task { await index.follow(store: store, registry: registry) }]
        tasks += [Task { await v0Nodes.run() }, Task { await v0Pods.follow(store: store) }]
        if configuration.runScheduler { tasks.append(Task { await scheduler.run() }) }
        if let (settings, provider) = configuration.nodeAutoscaler {
            let nodeAutoscaler = NodeAutoscalerController(client: cluster, host: policyHost, provider: provider, configuration: settings, logger: logger)
            tasks.append(Task { await nodeAutoscaler.run() })
        }
        let handler = APIHandler(registry: registry, policyHost: policyHost, heartbeats: heartbeats, kubeNine: kubeNine, metrics: metrics, logger: logger)
        return ServerStack(store: store, registry: registry, policyHost: policyHost, handler: handler, cluster: cluster, metrics: metrics, tasks: tasks)
    }

    func stopControllers() { tasks.forEach { $0.cancel() } }

    /// Stops the controllers and closes the store.
    func shutdown() async {
        stopControllers()
        await store.close()
    }
}

/// Sends watch bookmarks at a fixed interval until shutdown.
struct BookmarkService: Service {
    let store: any Store
    let interval: Duration

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            store.broadcastBookmarks()
        }
    }
}
