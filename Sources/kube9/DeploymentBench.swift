import ArgumentParser
import Foundation
import Kube9Client
import Kube9Model

/// `kube9 bench deployment`: a Deployment scaled from 0 to 1,000 replicas on 100 sim nodes,
/// then a rolling update of all of them (K7).
struct DeploymentBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployment",
        abstract: "Measure a Deployment's scale-up from 0 and a rolling update (maxSurge 25%) on sim nodes against a release server.")

    @Option(help: "The kube9 binary to benchmark.")
    var binary: String = CommandLine.arguments[0]

    @Option(help: "Sim nodes.")
    var nodes: Int = 100

    @Option(help: "Replicas the Deployment scales to.")
    var replicas: Int = 1000

    @Option(help: "Markdown file to write the report to.")
    var output: String?

    static let path = "/apis/apps/v1/namespaces/default/deployments/bench"

    /// Polls the Deployment until `done` holds (at most `seconds`); the seconds it took, or nil.
    func time(_ connection: HTTPConnection, seconds: Double, _ done: (JSON) -> Bool) -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if let deployment = try? connection.request("GET", Self.path).json(), done(deployment) { return Date().timeIntervalSince(start) }
            usleep(20_000)
        }
        return nil
    }

    func run() throws {
        guard nodes > 0, nodes <= 10_000, replicas > 0, replicas <= 100_000 else { throw ValidationError("--nodes 1…10000, --replicas 1…100000") }
        let server = try BenchServer(binary: binary, extraArguments: ["--heartbeat-interval", "2", "--node-monitor-grace-period", "60"])
        defer { server.stop() }
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: binary)
        agent.arguments = ["agent", "--server", server.url, "--name", "bench", "--cpus", "32", "--memory", "128Gi", "--runtime", "sim",
                           "--count", String(nodes), "--sim-start-delay", "0", "--heartbeat-interval", "2", "--log-level", "warning",
                           "--data-dir", server.dataDirectory + "/agent"]
        agent.standardOutput = FileHandle.nullDevice
        agent.standardError = FileHandle.nullDevice
        try agent.run()
        defer { if agent.isRunning { agent.terminate(); agent.waitUntilExit() } }
        let connection = try HTTPConnection(baseURL: server.url)
        var registered = 0
        for _ in 0..<600 {
            registered = (try? connection.request("GET", "/api/v1/nodes").json()["items"]?.arrayValue?.count) ?? 0
            if registered >= nodes { break }
            usleep(100_000)
        }
        guard registered >= nodes else { throw ValidationError("only \(registered) of \(nodes) sim nodes registered") }
        let deployment: JSON = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "bench"],
                                "spec": ["replicas": 0, "selector": ["matchLabels": ["app": "bench"]],
                                         "strategy": ["rollingUpdate": ["maxSurge": "25%", "maxUnavailable": "25%"]],
                                         "template": ["metadata": ["labels": ["app": "bench"]],
                                                      "spec": ["containers": [["name": "c", "image": "busybox", "resources": ["requests": ["cpu": "10m"]]]]]]]]
        _ = try connection.request("POST", "/apis/apps/v1/namespaces/default/deployments", body: deployment.serialized())
        let target = Int64(replicas)
        func complete(_ object: JSON) -> Bool {
            let status = object["status"] ?? .null
            return status["updatedReplicas"]?.intValue == target && status["replicas"]?.intValue == target
                && status["availableReplicas"]?.intValue == target && status["observedGeneration"] == object[path: ["metadata", "generation"]]
        }
        _ = try connection.request("PATCH", Self.path + "/scale", body: Array(#"{"spec":{"replicas":\#(replicas)}}"#.utf8), contentType: "application/merge-patch+json")
        let scaleUp = time(connection, seconds: 120, complete)
        _ = try connection.request("PATCH", Self.path, body: Array(#"{"spec":{"template":{"metadata":{"annotations":{"bench":"2"}}}}}"#.utf8), contentType: "application/merge-patch+json")
        let rolling = time(connection, seconds: 300) { complete($0) && progressingReason($0) == "NewReplicaSetAvailable" }
        func figure(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0) } ?? "did not finish" }
        let report = """
        ## Workloads (K7)

        Measured \(Timestamp.now()) on \(machineDescription()); release build; \(nodes) sim nodes (one agent process, start delay 0), \
        the built-in scheduler; each figure from the API call to the Deployment's status reporting every replica available \
        (pods bound, Running and Ready as the sim agent reports them).

        | measure | target | result |
        |---|---|---|
        | Deployment scaled 0 → \(replicas) replicas on \(nodes) sim nodes, all Running | < 5 s | \(figure(scaleUp)) |
        | rolling update of those \(replicas) replicas (maxSurge 25%, maxUnavailable 25%) | < 20 s | \(figure(rolling)) |
        """
        print(report)
        if let output { try BenchCommand.replaceSection(in: output, heading: "## Workloads (K7)", with: report) }
    }

    /// The reason of the Progressing condition.
    func progressingReason(_ deployment: JSON) -> String? {
        (deployment[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "Progressing" }?["reason"]?.stringValue
    }
}
