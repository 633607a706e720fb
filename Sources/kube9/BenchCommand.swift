import ArgumentParser
import Foundation
import Kube9Client
import Kube9Model
import Synchronization

/// A kube9 server started by a benchmark, stopped with SIGTERM.
final class BenchServer {
    let process = Process()
    let dataDirectory: String
    let url: String
    let startupMilliseconds: Double

    init(binary: String, extraArguments: [String] = [], dataDirectory reuse: String? = nil) throws {
        dataDirectory = reuse ?? (NSTemporaryDirectory() + "kube9-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["server", "--data-dir", dataDirectory, "--listen", "127.0.0.1:0", "--log-level", "warning"] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        let kubeconfig = dataDirectory + "/kubeconfig"
        var found: String? = nil
        for _ in 0..<20_000 {
            if let server = try? Kube9Client.serverURL(kubeconfigPath: kubeconfig),
               let connection = try? HTTPConnection(baseURL: server),
               let reply = try? connection.request("GET", "/readyz"), reply.status == 200 {
                found = server
                break
            }
            guard process.isRunning else { break }
            usleep(500)
        }
        startupMilliseconds = Date().timeIntervalSince(started) * 1000
        guard let found else {
            process.terminate()
            throw ValidationError("the server under test did not become ready")
        }
        url = found
    }

    /// Stops the server; the data directory is removed unless `keepData`.
    func stop(keepData: Bool = false) {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        if !keepData { try? FileManager.default.removeItem(atPath: dataDirectory) }
    }

    /// User plus system CPU seconds the server has used (from /proc).
    var cpuSeconds: Double { processCPUSeconds(process.processIdentifier) }
}

/// User plus system CPU seconds a process has used (from /proc/PID/stat).
func processCPUSeconds(_ pid: pid_t) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: ")").last?.split(separator: " ") ?? []
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Latency samples in milliseconds, with percentiles.
struct Samples {
    var values: [Double] = []
    mutating func add(_ value: Double) { values.append(value) }
    func percentile(_ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}

func milliseconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (release builds); each writes its section of docs/benchmarks.md.",
        subcommands: [APIBenchCommand.self, LuaBenchCommand.self, SchedulerBenchCommand.self, StartupBenchCommand.self, V0BenchCommand.self, ProxyBenchCommand.self, DeploymentBenchCommand.self])

    /// Replaces the section that starts with `heading` (up to the next "## ") in a Markdown file.
    static func replaceSection(in path: String, heading: String, with section: String) throws {
        var text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "# kube9 benchmarks\n\nWritten by `scripts/bench`; figures from release builds on this project's machines.\n\n"
        if let start = text.firstRange(of: heading) {
            let rest = text[start.upperBound...]
            let end = rest.firstRange(of: "\n## ")?.lowerBound ?? text.endIndex
            let next = end == text.endIndex ? end : text.index(after: end)
            text.replaceSubrange(start.lowerBound..<next, with: section + "\n")
        } else {
            if !text.hasSuffix("\n") { text += "\n" }
            text += section + "\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

struct APIBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Measure API server throughput, latency, list time and cold start against a fresh release server.",
        discussion: "Starts `--binary server` on 127.0.0.1 with a temporary data dir for each phase, drives it with libcurl clients, prints a Markdown report and writes it to --output.")

    @Option(help: "The kube9 binary to benchmark (build it with -c release).")
    var binary: String = CommandLine.arguments[0]

    @Option(help: "Concurrent clients for the create phase.")
    var clients: Int = 16

    @Option(help: "Seconds of sustained creates.")
    var seconds: Int = 10

    @Option(help: "Pods in the list phase.")
    var listSize: Int = 10_000

    @Option(help: "Markdown file to write the report to (the kube9 API section is replaced).")
    var output: String?

    func run() throws {
        var lines: [String] = []
        lines.append("## API server (K1)")
        lines.append("")
        lines.append("Measured \(Timestamp.now()) on \(machineDescription()); release build; SQLite synchronous=FULL; server and load generator share the machine.")
        lines.append("")

        // Cold start.
        var startups = Samples()
        for _ in 0..<5 {
            let server = try BenchServer(binary: binary)
            startups.add(server.startupMilliseconds)
            server.stop()
        }
        lines.append("| measure | target | result |")
        lines.append("|---|---|---|")
        lines.append(String(format: "| cold start, empty store, to /readyz 200 (median of 5) | < 500 ms | %.0f ms |", startups.percentile(0.5)))

        // Sustained creates.
        let server = try BenchServer(binary: binary)
        defer { server.stop() }
        let serverURL = server.url
        let body = Array(#"{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"bench-","labels":{"app":"bench"}},"spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}"#.utf8)
        let results = Mutex<(samples: Samples, errors: Int)>((Samples(), 0))
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds) * 1_000_000_000
        let group = DispatchGroup()
        let begin = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let connection = try? HTTPConnection(baseURL: serverURL) else { return }
                var local = Samples()
                var errors = 0
                while DispatchTime.now().uptimeNanoseconds < deadline {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let reply = try? connection.request("POST", "/api/v1/namespaces/default/pods", body: body)
                    if reply?.status == 201 { local.add(milliseconds(since: start)) } else { errors += 1 }
                }
                results.withLock { $0.samples.values += local.values; $0.errors += errors }
            }.start()
        }
        group.wait()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
        let (samples, errors) = results.withLock { $0 }
        let rate = Double(samples.values.count) / elapsed
        lines.append(String(format: "| pod creates over HTTP, %d clients, %d s | ≥ 3,000/s | %.0f/s (%d created, %d errors) |", clients, seconds, rate, samples.values.count, errors))
        lines.append(String(format: "| create latency p50 / p99 | p99 < 20 ms | %.2f ms / %.2f ms |", samples.percentile(0.5), samples.percentile(0.99)))

        // List of N pods in their own namespace.
        let connection = try HTTPConnection(baseURL: server.url)
        let namespace: JSON = ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench-list"]]
        _ = try connection.request("POST", "/api/v1/namespaces", body: namespace.serialized())
        let listBody = Array(#"{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"list-","labels":{"app":"list"}},"spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}"#.utf8)
        let remaining = Mutex(listSize)
        for _ in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let connection = try? HTTPConnection(baseURL: serverURL) else { return }
                while remaining.withLock({ value -> Bool in
                    if value <= 0 { return false }
                    value -= 1
                    return true
                }) {
                    _ = try? connection.request("POST", "/api/v1/namespaces/bench-list/pods", body: listBody)
                }
            }.start()
        }
        group.wait()
        var listTimes = Samples()
        var tableTimes = Samples()
        var count = 0
        var bytes = 0
        for _ in 0..<20 {
            let start = DispatchTime.now().uptimeNanoseconds
            let reply = try connection.request("GET", "/api/v1/namespaces/bench-list/pods")
            listTimes.add(milliseconds(since: start))
            bytes = reply.body.count
            count = (try? reply.json())?["items"]?.arrayValue?.count ?? 0
            let tableStart = DispatchTime.now().uptimeNanoseconds
            _ = try connection.request("GET", "/api/v1/namespaces/bench-list/pods?limit=500",
                                       accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
            tableTimes.add(milliseconds(since: tableStart))
        }
        lines.append(String(format: "| list of %d pods as JSON (%.1f MB), median / p99 of 20 | < 50 ms | %.1f ms / %.1f ms |", count, Double(bytes) / 1e6, listTimes.percentile(0.5), listTimes.percentile(0.99)))
        lines.append(String(format: "| kubectl's first page (limit=500) as a Table, median | — | %.1f ms |", tableTimes.percentile(0.5)))
        lines.append("")
        let report = lines.joined(separator: "\n")
        print(report)
        if let output { try BenchCommand.replaceSection(in: output, heading: "## API server (K1)", with: report) }
    }
}
