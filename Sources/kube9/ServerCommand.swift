import ArgumentParser
import Kube9Autoscaler
import Foundation
import Kube9Model
import Kube9Server
import Logging

/// The default data directory, ~/.kube9.
func defaultDataDirectory() -> String {
    if let directory = ProcessInfo.processInfo.environment["KUBE9_DATA_DIR"], !directory.isEmpty { return directory }
    let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
    return (home as NSString).appendingPathComponent(".kube9")
}

/// The repository's built-in policies/ folder: searched upward from the executable
/// (.build/release/kube9 → policies/), then /usr/share/kube9/policies.
func defaultPolicyDirectory() -> String? {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    if !CommandLine.arguments[0].contains("/"), let path = ProcessInfo.processInfo.environment["PATH"] {
        for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/\(CommandLine.arguments[0])") {
            url = URL(fileURLWithPath: "\(folder)/\(CommandLine.arguments[0])").resolvingSymlinksInPath()
            break
        }
    }
    for _ in 0..<5 {
        url.deleteLastPathComponent()
        let candidate = url.appendingPathComponent("policies")
        if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("scheduler").path) { return candidate.path }
    }
    let shared = "/usr/share/kube9/policies"
    return FileManager.default.fileExists(atPath: shared) ? shared : nil
}

/// Splits "HOST:PORT" (or "[v6]:PORT").
func parseListen(_ text: String) throws -> (host: String, port: Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        throw ValidationError("--listen must be HOST:PORT with a port from 0 to 65535, got \"\(text)\"")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    if host.isEmpty { host = "127.0.0.1" }
    return (host, port)
}

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the kube9 control plane (API server and SQLite store) in the foreground.",
        discussion: "Writes DATA_DIR/kubeconfig once listening. SIGINT or SIGTERM finish in-flight requests, close the store and exit 0.")

    @Option(help: "Directory for the database and the kubeconfig.")
    var dataDir: String = defaultDataDirectory()

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free port).")
    var listen: String = "127.0.0.1:6443"

    @Option(help: "Changes kept in memory for watch resume; a watch from an older resourceVersion gets 410 Gone.")
    var watchHistory: Int = 10_000

    @Option(help: "SQLite synchronous mode: FULL (an acknowledged write survives power loss) or NORMAL.")
    var synchronous: String = "FULL"

    @Option(help: "Seconds between watch bookmarks for watches that ask for them.")
    var bookmarkInterval: Int = 60

    @Option(help: "A directory of built-in policies (<slot>/<name>.lua); repeatable. The repository's policies/ is found next to the binary's build folder.")
    var policies: [String] = []

    @Flag(help: "Do not load the repository's policies/ folder (only --policies directories).")
    var noDefaultPolicies = false

    @Flag(help: "Do not run the built-in scheduler (pods stay unbound unless another scheduler binds them).")
    var disableScheduler = false

    @Option(help: "A JSON file configuring the node autoscaler (provider, minNodes, maxNodes, shapes, timing; docs/workloads.md). Off without it.")
    var nodeAutoscaler: String?

    @Option(help: "Seconds between the decisions of every HorizontalPodAutoscaler (1-3600).")
    var horizontalPodAutoscalerSyncPeriod: Double = 15

    @Option(help: "The range Services get cluster IPs from (its tenth address is kept for DNS).")
    var serviceCidr: String = "10.96.0.0/12"

    @Option(help: "The range NodePort and LoadBalancer services get node ports from, FIRST-LAST.")
    var serviceNodePortRange: String = "30000-32767"

    @Option(help: "The pool LoadBalancer services get their ingress address from (reachable from the host through each node's proxy).")
    var loadbalancerPool: String = "10.200.0.0/24"

    @OptionGroup var timingOptions: TimingOptions
    @OptionGroup var logOptions: LogOptions

    /// The service ranges the flags give.
    func serviceRanges() throws -> ServiceAllocator.Ranges {
        guard let services = IPv4Range(serviceCidr), services.prefixLength <= 28 else {
            throw ValidationError("--service-cidr must be an IPv4 range of at least 16 addresses, such as 10.96.0.0/12")
        }
        let bounds = serviceNodePortRange.split(separator: "-").map { Int64($0) }
        guard bounds.count == 2, let low = bounds[0], let high = bounds[1], low >= 1, low <= high, high <= 65535 else {
            throw ValidationError("--service-node-port-range must be FIRST-LAST within 1-65535, such as 30000-32767")
        }
        guard let pool = IPv4Range(loadbalancerPool), pool.prefixLength <= 30 else {
            throw ValidationError("--loadbalancer-pool must be an IPv4 range of at least 4 addresses, such as 10.200.0.0/24")
        }
        if services.contains(pool.network) || pool.contains(services.network) {
            throw ValidationError("--loadbalancer-pool \(pool) overlaps --service-cidr \(services)")
        }
        var ranges = ServiceAllocator.Ranges(services: services, nodePorts: low...high, loadBalancers: pool)
        if let dns = ranges.dnsIP { ranges.reservedServiceIPs = [dns] }
        return ranges
    }

    func validate() throws {
        _ = try serviceRanges()
        _ = try parseListen(listen)
        _ = try timingOptions.timing()
        guard ["FULL", "NORMAL"].contains(synchronous) else { throw ValidationError("--synchronous must be FULL or NORMAL") }
        guard watchHistory >= 10 else { throw ValidationError("--watch-history must be at least 10") }
        guard bookmarkInterval >= 1 else { throw ValidationError("--bookmark-interval must be at least 1 second") }
    }

    func run() async throws {
        let logger = logOptions.bootstrap(label: "kube9.server")
        let (host, port) = try parseListen(listen)
        var directories = noDefaultPolicies ? [] : defaultPolicyDirectory().map { [$0] } ?? []
        directories += policies
        var configuration = ServerConfiguration(
            dataDirectory: dataDir, host: host, port: port, historyLimit: watchHistory, synchronous: synchronous,
            bookmarkInterval: .seconds(bookmarkInterval), policyDirectories: directories)
        configuration.timing = try timingOptions.timing()
        configuration.runScheduler = !disableScheduler
        guard horizontalPodAutoscalerSyncPeriod >= 1, horizontalPodAutoscalerSyncPeriod <= 3600 else {
            throw ValidationError("--horizontal-pod-autoscaler-sync-period must be between 1 and 3600 seconds")
        }
        configuration.autoscalerSyncPeriod = .milliseconds(Int64(horizontalPodAutoscalerSyncPeriod * 1000))
        configuration.serviceRanges = try serviceRanges()
        if let nodeAutoscaler {
            guard let data = FileManager.default.contents(atPath: nodeAutoscaler) else { throw ValidationError("cannot read --node-autoscaler \(nodeAutoscaler)") }
            do {
                let settings = try NodeAutoscalerConfiguration.parse(try JSON.parse(Array(data)))
                configuration.nodeAutoscaler = (settings, CommandNodeProvider(dataDirectory: dataDir, runtime: settings.provider, agentArgs: settings.agentArgs))
            } catch let error as APIError {
                throw ValidationError("--node-autoscaler \(nodeAutoscaler): \(error.status["message"]?.stringValue ?? "\(error)")")
            }
        }
        try await APIServer(configuration: configuration, logger: logger).run()
    }
}

struct KubeconfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubeconfig", abstract: "Print the kubeconfig a running server wrote to its data directory.")

    @Option(help: "The server's data directory.")
    var dataDir: String = defaultDataDirectory()

    func run() throws {
        let path = (dataDir as NSString).appendingPathComponent("kubeconfig")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("no kubeconfig at \(path): start `kube9 server --data-dir \(dataDir)` first")
        }
        print(text, terminator: "")
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the kube9 version and the Kubernetes API it serves.")

    func run() {
        print("kube9 \(Kube9Build.version)")
        print("Kubernetes API v1.32.4 (core/v1, coordination.k8s.io/v1)")
    }
}
