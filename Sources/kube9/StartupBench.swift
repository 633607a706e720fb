import ArgumentParser
import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime
import Synchronization

/// Pod startup latency: create → Running as a watch sees it, for N pods on one node.
struct StartupBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup",
        abstract: "Measure pod startup latency (create → Running seen by a watch) on one node of a runtime.",
        discussion: """
            Starts a release server (scheduler on) and one `kube9 agent --runtime RUNTIME` on 127.0.0.1, creates --pods pods \\
            running sleep as fast as one client can, and times each from its create request to the watch event that shows it \\
            Running. docker needs DOCKER_HOST (or /var/run/docker.sock); its pods use a busybox image built locally.
            """)

    @Option(help: "The kube9 binary to benchmark (build it with -c release).")
    var binary: String = CommandLine.arguments[0]

    @Option(help: "Runtime of the node: process or docker.")
    var runtime: String = "process"

    @Option(help: "Pods to start.")
    var pods: Int = 100

    @Option(help: "Seconds between creates (0: back to back, a burst).")
    var interval: Double = 0

    @Option(help: "Markdown file to write the section to.")
    var output: String?

    static let image = "kube9-bench/busybox:latest"


    func validate() throws {
        guard ["process", "docker"].contains(runtime) else { throw ValidationError("--runtime must be process or docker") }
        guard pods > 0 && pods <= 1000 else { throw ValidationError("--pods must be 1…1000") }
    }

    func run() throws {
        if runtime == "docker" {
            let engine = try DockerEngine()
            if try !engine.imageExists(Self.image) { try NodeImage.buildSandboxImage(engine: engine, reference: Self.image) }
        }
        let server = try BenchServer(binary: binary)
        defer { server.stop() }
        let agentLog = server.dataDirectory + "/agent.log"
        let agent = try Subprocess.spawn(binary, ["agent", "--name", "bench", "--runtime", runtime, "--cpus", "64", "--memory", "64Gi",
                                                  "--max-pods", String(pods + 10), "--server", server.url, "--data-dir", server.dataDirectory,
                                                  "--log-level", "warning"],
                                         environment: ProcessInfo.processInfo.environment, stdoutPath: agentLog, stderrPath: agentLog, newSession: false)
        defer {
            kill(agent, SIGTERM)
            var status: Int32 = 0
            waitpid(agent, &status, 0)
        }
        let runtimeForCleanup: (any ContainerRuntime)? = runtime == "docker"
            ? try? DockerRuntime(engine: DockerEngine())
            : try? ProcessRuntime(root: server.dataDirectory + "/nodes/bench/containers",
                                  shimExecutable: (binary as NSString).deletingLastPathComponent + "/kube9-shim")
        let connection = try HTTPConnection(baseURL: server.url)
        var ready = false
        for _ in 0..<200 {
            if let node = try? connection.request("GET", "/api/v1/nodes/bench"), node.status == 200 { ready = true; break }
            usleep(50_000)
        }
        guard ready else { throw ValidationError("the agent did not register; see \(agentLog)") }

        let running = Mutex<[String: UInt64]>([:])
        let bound = Mutex<[String: UInt64]>([:])
        let watching = Atomic<Bool>(true)
        let watchReady = DispatchSemaphore(value: 0)
        let url = server.url
        let watcher = Thread {
            guard let stream = try? HTTPConnection(baseURL: url) else { return }
            let revision = (try? stream.request("GET", "/api/v1/namespaces/default/pods").json()[path: ["metadata", "resourceVersion"]]?.stringValue) ?? "0"
            watchReady.signal()
            _ = try? stream.stream("/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(revision)") { line in
                let now = DispatchTime.now().uptimeNanoseconds
                if let event = try? JSON.parse(Array(line)), let pod = event["object"] {
                    let name = ObjectMeta.name(of: pod)
                    if pod[path: ["spec", "nodeName"]]?.stringValue?.isEmpty == false {
                        bound.withLock { if $0[name] == nil { $0[name] = now } }
                    }
                    if pod[path: ["status", "phase"]] == "Running" {
                        running.withLock { if $0[name] == nil { $0[name] = now } }
                    }
                }
                return watching.load(ordering: .relaxed)
            }
        }
        watcher.start()
        watchReady.wait()
        usleep(100_000)
        var created: [String: UInt64] = [:]
        let started = DispatchTime.now().uptimeNanoseconds
        for index in 0..<pods {
            let name = "startup-\(index)"
            let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name)],
                             "spec": ["terminationGracePeriodSeconds": 0,
                                      "containers": [["name": "main", "image": .string(Self.image), "command": ["/bin/sleep", "3600"]]]]]
            created[name] = DispatchTime.now().uptimeNanoseconds
            let reply = try connection.request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized())
            guard reply.status == 201 else { throw ValidationError("create \(name): HTTP \(reply.status) \(reply.text)") }
            if interval > 0 { usleep(UInt32(interval * 1_000_000)) }
        }
        let createSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let deadline = Date().addingTimeInterval(300)
        while running.withLock({ $0.count }) < pods && Date() < deadline { usleep(20_000) }
        watching.store(false, ordering: .relaxed)
        let seen = running.withLock { $0 }
        let boundAt = bound.withLock { $0 }
        var samples = Samples()
        var scheduling = Samples()
        var starting = Samples()
        for (name, time) in created {
            if let runningAt = seen[name] { samples.add(Double(runningAt - time) / 1e6) }
            if let at = boundAt[name] {
                scheduling.add(Double(at - time) / 1e6)
                if let runningAt = seen[name] { starting.add(Double(runningAt - at) / 1e6) }
            }
        }
        let allSeconds = Double((seen.values.max() ?? started) - started) / 1e9
        let serverCPU = server.cpuSeconds
        let agentCPU = processCPUSeconds(agent)
        // Clean up: pods deleted (the agent removes their containers), then wait for that.
        // Clean up: pods deleted; the agent removes their containers (orphans once the pods are
        // gone), which is waited for before the agent stops.
        for name in created.keys { _ = try? connection.request("DELETE", "/api/v1/namespaces/default/pods/\(name)") }
        let containers: () -> Int = {
            let listed = runtimeForCleanup.flatMap { try? $0.listContainers(node: "bench") }
            return listed?.count ?? 0
        }
        for _ in 0..<600 where containers() > 0 { usleep(100_000) }
        let target = runtime == "docker" ? 2000.0 : 1000.0
        let p99 = samples.percentile(0.99)
        let mode = interval > 0 ? "one every \(interval) s" : "burst"
        let heading = "## K4: pod startup latency (\(runtime) runtime, \(mode))"
        var lines = [heading, ""]
        lines.append("Measured \(Timestamp.now()) on \(machineDescription()); release build; one `kube9 agent --runtime \(runtime)` node; \(pods) pods (`sleep 3600`\(runtime == "docker" ? " in a local busybox image, each with its sandbox container" : " as host processes under a shim")) created \(interval > 0 ? "one every \(interval) s" : "back to back") by one client in \(String(format: "%.2f", createSeconds)) s; latency = create request sent → first watch event with phase Running (scheduler on).")
        lines.append("")
        lines.append("| pods Running | p50 | p90 | p99 | max | all Running after | target p99 |")
        lines.append("|---|---|---|---|---|---|---|")
        lines.append(String(format: "| %d of %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.2f s | < %.0f ms %@ |", samples.values.count, pods,
                            samples.percentile(0.5), samples.percentile(0.9), p99, samples.percentile(1.0), allSeconds, target,
                            samples.values.count == pods && p99 < target ? "✓" : "✗"))
        lines.append("")
        lines.append(String(format: "Split: create → bound p50 %.0f ms, p99 %.0f ms; bound → Running p50 %.0f ms, p99 %.0f ms.",
                            scheduling.percentile(0.5), scheduling.percentile(0.99), starting.percentile(0.5), starting.percentile(0.99)))
        lines.append(String(format: "CPU used from start to the end of the run: server %.2f s, agent %.2f s (agent figure excludes the shims and containers, which are separate processes).", serverCPU, agentCPU))
        let section = lines.joined(separator: "\n") + "\n"
        print(section)
        if let output { try BenchCommand.replaceSection(in: output, heading: heading, with: section) }
    }
}
