import ArgumentParser
import Foundation
import Kube9Autoscaler
import Kube9Runtime
import Kube9Threads

/// The node autoscaler's provider in `kube9 server`: `kube9 node add` and `kube9 node remove`
/// run as child processes of this binary (on threads of their own), exactly as a user runs them.
struct CommandNodeProvider: NodeProvider {
    let dataDirectory: String
    let runtime: String
    let agentArgs: String
    static let workers = WorkerThreads(threads: 4, name: "kube9-node-provider", stackSize: 512 << 10)

    var kubeconfig: String { (dataDirectory as NSString).appendingPathComponent("kubeconfig") }

    func run(_ arguments: [String], timeoutSeconds: Double) async throws {
        let result = try await Self.workers.run { () throws -> CommandResult in
            try Subprocess.run(Subprocess.currentExecutable(), arguments, timeoutSeconds: timeoutSeconds)
        }
        guard result.status == 0 else {
            throw ValidationError("kube9 \(arguments.prefix(3).joined(separator: " ")) failed (exit \(result.status)): \(result.stderr.suffix(500))")
        }
    }

    func add(name: String, shape: NodeAutoscalerConfiguration.Shape, labels: [String: String]) async throws {
        // The server writes its kubeconfig once it listens, a moment after the controllers start.
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: kubeconfig) { try await Task.sleep(for: .milliseconds(100)) }
        let labelText = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let cpus = shape.cpus == shape.cpus.rounded() ? String(Int64(shape.cpus)) : String(shape.cpus)
        try await run(["node", "add", name, "--runtime", runtime, "--cpus", cpus, "--memory", shape.memory, "--wait", "0",
                       "--data-dir", dataDirectory, "--kubeconfig", kubeconfig,
                       "--agent-args=--labels \(labelText) --max-pods \(shape.pods) \(agentArgs)"], timeoutSeconds: 60)
    }

    func remove(name: String) async throws {
        // Each pod gets 30 s to terminate; the whole drain at most 15 minutes.
        try await run(["node", "remove", name, "--timeout", "30", "--data-dir", dataDirectory, "--kubeconfig", kubeconfig], timeoutSeconds: 900)
    }
}
