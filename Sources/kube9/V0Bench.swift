import ArgumentParser
import Foundation
import Kube9Client
import Kube9Model
import Synchronization

/// `kube9 bench v0`: the Kube-9 v0 API under load (K5): heartbeats with an empty cluster and
/// with thousands of pods (a heartbeat must cost the same), and pod creates that each wait
/// for their binding.
struct V0BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "v0",
        abstract: "Measure Kube-9 v0 heartbeats (empty cluster and with --pods pods) and v0 pod creates against a fresh release server.")

    @Option(help: "The kube9 binary to benchmark (build it with -c release).")
    var binary: String = CommandLine.arguments[0]

    @Option(help: "Concurrent clients.")
    var clients: Int = 16

    @Option(help: "Seconds per phase.")
    var seconds: Int = 10

    @Option(help: "Pods in the cluster for the second heartbeat phase.")
    var pods: Int = 3000

    @Option(help: "Markdown file to write the report to (the v0 section is replaced).")
    var output: String?

    /// Runs `work` on `clients` threads until `deadline` (or until it returns false); latencies of successes.
    static func load(clients: Int, seconds: Int, _ work: @escaping @Sendable (HTTPConnection, Int, Int) -> Bool, url: String) -> (Samples, Int, Double) {
        let results = Mutex<(samples: Samples, errors: Int)>((Samples(), 0))
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds) * 1_000_000_000
        let group = DispatchGroup()
        let begin = DispatchTime.now().uptimeNanoseconds
        for client in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let connection = try? HTTPConnection(baseURL: url) else { return }
                var local = Samples()
                var errors = 0
                var sequence = 0
                while DispatchTime.now().uptimeNanoseconds < deadline {
                    let start = DispatchTime.now().uptimeNanoseconds
                    if work(connection, client, sequence) { local.add(milliseconds(since: start)) } else { errors += 1 }
                    sequence += 1
                }
                results.withLock { $0.samples.values += local.values; $0.errors += errors }
            }.start()
        }
        group.wait()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
        let (samples, errors) = results.withLock { $0 }
        return (samples, errors, elapsed)
    }

    func run() throws {
        let server = try BenchServer(binary: binary)
        defer { server.stop() }
        let url = server.url
        let setup = try HTTPConnection(baseURL: url)
        let nodeCount = 16
        for index in 1...nodeCount {
            let body = Array(#"{"name": "bench-\#(index)", "cpu_cores_avail": 100000}"#.utf8)
            let reply = try setup.request("POST", "/nodes/", body: body)
            guard reply.status == 201 else { throw ValidationError("node create: \(reply.status) \(reply.text)") }
        }
        // Keep every node healthy for the whole run: a node without heartbeats fails after the
        // grace period and its pods would be rescheduled.
        let keepAlive = Atomic<Bool>(true)
        let keeper = Thread {
            guard let connection = try? HTTPConnection(baseURL: url) else { return }
            let body = Array(#"{"health_status": "healthy"}"#.utf8)
            while keepAlive.load(ordering: .relaxed) {
                for index in 1...nodeCount { _ = try? connection.request("POST", "/nodes/\(index)/heartbeat", body: body) }
                usleep(1_000_000)
            }
        }
        keeper.start()
        defer { keepAlive.store(false, ordering: .relaxed) }
        let heartbeat = Array(#"{"pod_ids": [], "cpu_cores_avail": 100000, "health_status": "healthy", "components": {"kubelet": "running", "container_runtime": "running", "kube_proxy": "running", "node_agent": "running"}}"#.utf8)
        let beat: @Sendable (HTTPConnection, Int, Int) -> Bool = { connection, client, sequence in
            let node = (client + sequence) % nodeCount + 1
            return (try? connection.request("POST", "/nodes/\(node)/heartbeat", body: heartbeat))?.status == 200
        }
        let cpuBefore = server.cpuSeconds
        let (emptyBeats, emptyErrors, emptyElapsed) = Self.load(clients: clients, seconds: seconds, beat, url: url)
        let emptyCPU = server.cpuSeconds - cpuBefore

        // Pod creates: each answers once the scheduler has bound the pod.
        let created = Atomic<Int>(0)
        let create: @Sendable (HTTPConnection, Int, Int) -> Bool = { connection, client, sequence in
            let body = Array(#"{"name": "p-\#(client)-\#(sequence)", "cpu_cores_req": 1, "containers": [{"name": "c", "image": "busybox", "cpu_req": 1, "memory_req": 16}]}"#.utf8)
            let ok = (try? connection.request("POST", "/pods/", body: body))?.status == 200
            if ok { created.wrappingAdd(1, ordering: .relaxed) }
            return ok
        }
        let createCPUBefore = server.cpuSeconds
        let (creates, createErrors, createElapsed) = Self.load(clients: clients, seconds: seconds, create, url: url)
        let createCPU = server.cpuSeconds - createCPUBefore
        // Fill the cluster up to --pods, then the same heartbeats again.
        while created.load(ordering: .relaxed) < pods {
            let missing = pods - created.load(ordering: .relaxed)
            _ = Self.load(clients: clients, seconds: max(1, min(30, missing / 500)), create, url: url)
        }
        let count = (try setup.request("GET", "/pods/").json().arrayValue?.count) ?? 0
        let fullCPUBefore = server.cpuSeconds
        let (fullBeats, fullErrors, fullElapsed) = Self.load(clients: clients, seconds: seconds, beat, url: url)
        let fullCPU = server.cpuSeconds - fullCPUBefore

        var lines: [String] = []
        lines.append("## Kube-9 v0 API (K5)")
        lines.append("")
        lines.append("Measured \(Timestamp.now()) on \(machineDescription()); release build; `kube9 bench v0`: \(clients) clients on keep-alive connections, \(nodeCount) v0 nodes, \(seconds) s per phase; server and load generator share the machine. A pod create answers once the scheduler has bound the pod.")
        lines.append("")
        lines.append("| measure | target | result |")
        lines.append("|---|---|---|")
        lines.append(String(format: "| heartbeats, empty cluster | ≥ 5,000/s | %.0f/s (p50 %.2f ms, p99 %.2f ms, %d errors; server CPU %.0f%% of a core) |",
                            Double(emptyBeats.values.count) / emptyElapsed, emptyBeats.percentile(0.5), emptyBeats.percentile(0.99), emptyErrors,
                            100 * emptyCPU / emptyElapsed))
        lines.append(String(format: "| heartbeats with %d pods in the cluster | ≥ 5,000/s (the same as with none) | %.0f/s (p50 %.2f ms, p99 %.2f ms, %d errors; server CPU %.0f%% of a core) |",
                            count, Double(fullBeats.values.count) / fullElapsed, fullBeats.percentile(0.5), fullBeats.percentile(0.99), fullErrors,
                            100 * fullCPU / fullElapsed))
        lines.append(String(format: "| pod creates (POST /pods/, bound before the answer) | ≥ 1,000/s, p99 < 50 ms | %.0f/s, p50 %.2f ms, p99 %.2f ms (%d errors; server CPU %.0f%% of a core) |",
                            Double(creates.values.count) / createElapsed, creates.percentile(0.5), creates.percentile(0.99), createErrors,
                            100 * createCPU / createElapsed))
        lines.append("")
        let report = lines.joined(separator: "\n")
        print(report)
        if let output { try BenchCommand.replaceSection(in: output, heading: "## Kube-9 v0 API (K5)", with: report) }
    }
}
