import ArgumentParser
import Foundation
import Kube9Agent
import Kube9Proxy
import Kube9Runtime
import Kube9Model
import Logging

/// Timing flags shared by `kube9 server` and `kube9 agent` (same defaults), or a JSON config file.
struct TimingOptions: ParsableArguments {
    @Option(help: "Seconds between node heartbeats (default 2).")
    var heartbeatInterval: Double?

    @Option(help: "Seconds without a heartbeat before a node is NotReady (default 10).")
    var nodeMonitorGracePeriod: Double?

    @Option(help: "Seconds a node stays unreachable before its pods are evicted and rescheduled (default 20).")
    var podEvictionTimeout: Double?

    @Option(help: "A JSON file with heartbeatIntervalSeconds, nodeMonitorGracePeriodSeconds, podEvictionTimeoutSeconds; flags override it.")
    var config: String?

    func timing() throws -> ClusterTiming {
        var timing = ClusterTiming.defaults
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw ValidationError("cannot read --config \(config)") }
            do {
                timing = try ClusterTiming.parse(try JSON.parse(Array(data)))
            } catch {
                throw ValidationError("--config \(config): \(error)")
            }
        }
        func duration(_ seconds: Double, _ flag: String) throws -> Duration {
            guard seconds > 0 else { throw ValidationError("--\(flag) must be a positive number of seconds") }
            return .milliseconds(Int64(seconds * 1000))
        }
        if let heartbeatInterval { timing.heartbeatInterval = try duration(heartbeatInterval, "heartbeat-interval") }
        if let nodeMonitorGracePeriod { timing.nodeMonitorGracePeriod = try duration(nodeMonitorGracePeriod, "node-monitor-grace-period") }
        if let podEvictionTimeout { timing.podEvictionTimeout = try duration(podEvictionTimeout, "pod-eviction-timeout") }
        guard timing.nodeMonitorGracePeriod > timing.heartbeatInterval else {
            throw ValidationError("the node-monitor grace period must be longer than the heartbeat interval")
        }
        return timing
    }
}

/// Which runtime an agent uses, and how it is built.
enum RuntimeChoice {
    static let names = ["docker", "process", "sim"]

    static func make(_ name: String, dataDirectory: String, node: String, simStartDelay: Double, clusterDNS: String? = nil) throws -> any ContainerRuntime {
        switch name {
        case "docker":
            return try DockerRuntime(engine: DockerEngine(), clusterDNS: clusterDNS)
        case "process":
            return try ProcessRuntime(root: (dataDirectory as NSString).appendingPathComponent("nodes/\(node)/containers"))
        default:
            return SimRuntime(startDelay: simStartDelay)
        }
    }
}

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run a node agent: register a Node, send heartbeats, run the pods bound to it.",
        discussion: """
            Runtimes: docker (the Docker Engine API at DOCKER_HOST or /var/run/docker.sock; pods are containers on the \
            kube9 bridge network), process (the pods' commands as host processes), sim (nothing runs; pods report \
            Running after --sim-start-delay). With --count N (sim only) one process runs N nodes named NAME-0001….
            """)

    @Option(help: "The node's name (unique in the cluster; re-registering a name takes the node over).")
    var name: String

    @Option(help: "Container runtime: docker, process or sim.")
    var runtime: String = "sim"

    @Option(help: "CPU cores the node offers (fractions allowed).")
    var cpus: Double

    @Option(help: "Memory the node offers, as a quantity (e.g. 8Gi).")
    var memory: String = "8Gi"

    @Option(help: "Pods the node accepts.")
    var maxPods: Int64 = 110

    @Option(help: "Kube-9 node type: worker or master.")
    var type: String = "worker"

    @Option(help: "Extra node labels, k=v,k2=v2.")
    var labels: String = ""

    @Option(help: "Simulated nodes to run in this process (sim runtime only), named NAME-0001, NAME-0002, …")
    var count: Int = 1

    @Option(help: "Seconds a sim container takes to report Running.")
    var simStartDelay: Double = 0.1

    @Option(help: "Seconds between CPU and memory samples, each reported to the API server for metrics.k8s.io (1-300).")
    var statsInterval: Double = 10

    @Option(help: "Seconds before the first restart of a crashed container (doubles per restart, like the kubelet's 10 s).")
    var restartBackoff: Double = 10

    @Option(help: "Longest restart back-off in seconds.")
    var restartBackoffMax: Double = 300

    @Option(help: "Address the node reports and its kubelet endpoint (logs, stats) listens on.")
    var address: String = "127.0.0.1"

    @Option(help: "Port of the kubelet endpoint; 0 picks a free one.")
    var kubeletPort: Int = 0

    @Option(help: "Directory for the process runtime's containers (default: $KUBE9_DATA_DIR or ~/.kube9).")
    var dataDir: String?

    @Option(help: "Service proxy: on (the default for docker and process nodes) carries connections to cluster IPs, node ports and load-balancer addresses; off (the default for sim).")
    var serviceProxy: String?

    @Option(help: "The service range, as the server's --service-cidr (made local on this host for the proxy).")
    var serviceCidr: String = "10.96.0.0/12"

    @Option(help: "The load-balancer address pool, as the server's --loadbalancer-pool.")
    var loadbalancerPool: String = "10.200.0.0/24"

    @Option(help: "The cluster DNS address pods resolve through and the proxy's DNS listens on (default: the tenth address of --service-cidr, 10.96.0.10); none turns it off.")
    var clusterDns: String?

    @Option(help: "Where the cluster DNS sends names outside the cluster domain: ip[:port] entries separated by commas (default: the IPv4 nameservers of /etc/resolv.conf); none refuses them.")
    var dnsUpstream: String?

    @OptionGroup var timingOptions: TimingOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logOptions: LogOptions

    /// The cluster DNS address, or nil when turned off.
    var clusterDNSAddress: String? {
        if clusterDns == "none" { return nil }
        return clusterDns ?? IPv4Range(serviceCidr)?.address(at: 10)?.description
    }

    /// The cluster DNS's upstream servers ("ip:port"): --dns-upstream, else resolv.conf's.
    var dnsUpstreams: [String] {
        guard let dnsUpstream else {
            let resolvConf = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
            return DNSForwarder.nameservers(resolvConf: resolvConf, excluding: clusterDNSAddress)
        }
        if dnsUpstream == "none" { return [] }
        return dnsUpstream.split(separator: ",").compactMap { ClusterDNS.upstream(String($0)).map { "\($0.ip):\($0.port)" } }
    }

    /// Whether this agent runs the service proxy.
    var runsProxy: Bool { (serviceProxy ?? (runtime == "sim" ? "off" : "on")) == "on" }

    func validate() throws {
        if let serviceProxy, !["on", "off"].contains(serviceProxy) { throw ValidationError("--service-proxy must be on or off") }
        guard IPv4Range(serviceCidr) != nil else { throw ValidationError("--service-cidr must be an IPv4 range such as 10.96.0.0/12") }
        if let clusterDns, clusterDns != "none", IPv4Address(clusterDns) == nil { throw ValidationError("--cluster-dns must be an IPv4 address or none") }
        if let dnsUpstream, dnsUpstream != "none",
           let bad = dnsUpstream.split(separator: ",", omittingEmptySubsequences: false).first(where: { ClusterDNS.upstream(String($0)) == nil }) {
            throw ValidationError("--dns-upstream: \"\(bad)\" is not an IPv4 address with an optional port (ip or ip:port), or none")
        }
        guard IPv4Range(loadbalancerPool) != nil else { throw ValidationError("--loadbalancer-pool must be an IPv4 range such as 10.200.0.0/24") }
        guard RuntimeChoice.names.contains(runtime) else { throw ValidationError("--runtime must be docker, process or sim, got \(runtime)") }
        guard cpus > 0, cpus <= 65536 else { throw ValidationError("--cpus must be greater than 0 and at most 65536") }
        guard ["worker", "master"].contains(type) else { throw ValidationError("--type must be worker or master") }
        guard Quantity.parse(memory) != nil else { throw ValidationError("--memory must be a quantity such as 8Gi") }
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard count == 1 || runtime == "sim" else { throw ValidationError("--count above 1 needs --runtime sim") }
        guard restartBackoff > 0, restartBackoffMax >= restartBackoff else {
            throw ValidationError("--restart-backoff must be positive and at most --restart-backoff-max")
        }
    }

    func run() throws {
        let logger = logOptions.bootstrap(label: "kube9.agent")
        var extra: [String: String] = [:]
        for pair in labels.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--labels takes k=v pairs separated by commas") }
            extra[parts[0]] = parts[1]
        }
        let timing = try timingOptions.timing()
        let names = count == 1 ? [name] : (1...count).map { String(format: "%@-%04d", name, $0) }
        var configurations = names.map { node in
            AgentConfiguration(name: node, cpus: cpus, memoryBytes: Quantity.parse(memory)?.value ?? 0, pods: maxPods, type: type, labels: extra,
                               timing: timing, restartBackoffBase: restartBackoff, restartBackoffMax: restartBackoffMax,
                               address: address, kubeletPort: kubeletPort)
        }
        guard statsInterval >= 1, statsInterval <= 300 else { throw ValidationError("--stats-interval must be between 1 and 300 seconds") }
        let data = dataDir ?? defaultDataDirectory()
        let absoluteData = data.hasPrefix("/") ? data : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(data)
        for index in configurations.indices {
            configurations[index].statsIntervalSeconds = statsInterval
            configurations[index].volumesDirectory = ((dataDir ?? defaultDataDirectory()) as NSString).appendingPathComponent("nodes/\(configurations[index].name)/pods")
            configurations[index].storageDirectory = (absoluteData as NSString).appendingPathComponent("nodes/\(configurations[index].name)/storage")
        }
        signal(SIGPIPE, SIG_IGN)
        do {
            let runtime = try RuntimeChoice.make(self.runtime, dataDirectory: dataDir ?? defaultDataDirectory(), node: name,
                                                 simStartDelay: simStartDelay, clusterDNS: runsProxy ? clusterDNSAddress : nil)
            let runner = AgentRunner(serverURL: try connection.serverURL(), configurations: configurations, runtime: runtime, logger: logger)
            var ports: [String: Int] = [:]
            if count == 1, let agent = runner.agents.first {
                ports[name] = try startKubeletEndpoint(agent, logger: logger)
            }
            try runner.register(kubeletPorts: ports)
            var proxy: ServiceProxy? = nil
            if runsProxy {
                proxy = ServiceProxy(configuration: ServiceProxy.Configuration(
                    serverURL: try connection.serverURL(), serviceRange: serviceCidr, loadBalancerRange: loadbalancerPool,
                    policyDirectories: defaultPolicyDirectory().map { [$0] } ?? [], dnsAddress: clusterDNSAddress,
                    dnsUpstreams: dnsUpstreams), logger: logger)
                proxy?.start()
            }
            runner.run()
            proxy?.stop()
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Starts the kubelet endpoint on its own thread and returns the port it listens on.
    func startKubeletEndpoint(_ agent: NodeAgent, logger: Logger) throws -> Int {
        let bound = PortBox()
        let host = address
        let port = kubeletPort
        let thread = Thread {
            let semaphore = DispatchSemaphore(value: 0)
            Task {
                do {
                    try await KubeletServer.run(agent: agent, host: host, port: port, logger: logger) { port in bound.set(port) }
                } catch {
                    logger.error("kubelet endpoint stopped", metadata: ["error": "\(error)"])
                    bound.set(-1)
                }
                semaphore.signal()
            }
            semaphore.wait()
        }
        thread.start()
        guard let port = bound.wait(seconds: 10), port > 0 else {
            throw ValidationError("the kubelet endpoint could not listen on \(host):\(port)")
        }
        return port
    }
}

/// A port set once by another thread.
final class PortBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var port: Int?

    func set(_ value: Int) {
        condition.lock()
        if port == nil { port = value }
        condition.broadcast()
        condition.unlock()
    }

    func wait(seconds: Double) -> Int? {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while port == nil, condition.wait(until: deadline) {}
        return port
    }
}
