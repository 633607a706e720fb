import ArgumentParser
import Foundation
import Kube9Agent
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

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run a node agent: register a Node, send heartbeats, run the pods bound to it.",
        discussion: "Only the sim runtime exists so far: pods are reported Running without starting processes.")

    @Option(help: "The node's name (unique in the cluster; re-registering a name takes the node over).")
    var name: String

    @Option(help: "Container runtime: sim (docker and process are not built yet).")
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

    @OptionGroup var timingOptions: TimingOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logOptions: LogOptions

    func validate() throws {
        guard runtime == "sim" else { throw ValidationError("--runtime \(runtime) is not available yet; use sim") }
        guard cpus > 0 else { throw ValidationError("--cpus must be greater than 0") }
        guard ["worker", "master"].contains(type) else { throw ValidationError("--type must be worker or master") }
        guard Quantity.parse(memory) != nil else { throw ValidationError("--memory must be a quantity such as 8Gi") }
    }

    func run() throws {
        let logger = logOptions.bootstrap(label: "kube9.agent")
        var extra: [String: String] = [:]
        for pair in labels.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--labels takes k=v pairs separated by commas") }
            extra[parts[0]] = parts[1]
        }
        let configuration = AgentConfiguration(
            name: name, cpus: cpus, memoryBytes: Quantity.parse(memory)!.value, pods: maxPods, type: type, labels: extra,
            timing: try timingOptions.timing())
        let agent = SimAgent(serverURL: try connection.serverURL(), configuration: configuration, logger: logger)
        signal(SIGPIPE, SIG_IGN)
        do {
            try agent.run()
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
