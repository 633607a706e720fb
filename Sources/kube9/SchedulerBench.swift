import ArgumentParser
import Foundation
import Kube9Client
import Kube9Model
import Synchronization

/// `kube9 bench scheduler`: scheduling throughput over many nodes and heartbeat cost (K3).
struct SchedulerBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Measure scheduling throughput (best_fit in Lua, bindings durable) and heartbeat throughput against a release server.")

    @Option(help: "The kube9 binary to benchmark.")
    var binary: String = CommandLine.arguments[0]

    @Option(help: "Node counts to measure, comma-separated.")
    var nodes: String = "1000,5000"

    @Option(help: "Pods scheduled per node count.")
    var pods: Int = 2000

    @Option(help: "Markdown file to write the report to.")
    var output: String?

    /// Runs `count` requests over 16 connections; returns elapsed seconds.
    func parallel(_ url: String, count: Int, _ request: @escaping @Sendable (HTTPConnection, Int) throws -> Void) -> Double {
        let next = Mutex(0)
        let group = DispatchGroup()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<16 {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let connection = try? HTTPConnection(baseURL: url) else { return }
                while true {
                    let index = next.withLock { value -> Int in value += 1; return value - 1 }
                    if index >= count { return }
                    try? request(connection, index)
                }
            }.start()
        }
        group.wait()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func node(_ index: Int) -> [UInt8] {
        let name = String(format: "sim-%05d", index)
        let now = Timestamp.now()
        return Array(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(name)","labels":{"kubernetes.io/hostname":"\#(name)"}},"status":{"capacity":{"cpu":"32","memory":"128Gi","pods":"110"},"allocatable":{"cpu":"32","memory":"128Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"\#(now)","lastTransitionTime":"\#(now)"}]}}"#.utf8)
    }

    func run() throws {
        var lines = ["## Scheduling and heartbeats (K3)", ""]
        lines.append("Measured \(Timestamp.now()) on \(machineDescription()); release build; sim nodes registered as Node objects (32 cpu each); pods of 100m cpu created while the scheduler was off, then a server restart with the scheduler on: throughput is pods bound (durably) per second from readiness until none is pending. best_fit in Lua, every node filtered and scored.")
        lines.append("")
        lines.append("| measure | target | result |")
        lines.append("|---|---|---|")
        let timing = ["--heartbeat-interval", "60", "--node-monitor-grace-period", "600", "--pod-eviction-timeout", "600"]
        var heartbeatLine = ""
        for count in nodes.split(separator: ",").compactMap({ Int($0) }) {
            let setup = try BenchServer(binary: binary, extraArguments: timing + ["--disable-scheduler"])
            let url = setup.url
            _ = parallel(url, count: count) { connection, index in _ = try connection.request("POST", "/api/v1/nodes", body: Self.node(index)) }
            let body = Array(#"{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"s-"},"spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"100m"}}}]}}"#.utf8)
            _ = parallel(url, count: pods) { connection, _ in _ = try connection.request("POST", "/api/v1/namespaces/default/pods", body: body) }
            if heartbeatLine.isEmpty {
                let before = setup.cpuSeconds
                let beats = 50_000
                let elapsed = parallel(url, count: beats) { connection, index in
                    _ = try connection.request("POST", "/kube9/v1/nodes/" + String(format: "sim-%05d", index % count) + "/heartbeat", body: [])
                }
                let cpuPerBeat = (setup.cpuSeconds - before) / Double(beats)
                let beforeHealth = setup.cpuSeconds
                let healthElapsed = parallel(url, count: beats) { connection, _ in _ = try connection.request("GET", "/healthz") }
                let cpuPerHealth = (setup.cpuSeconds - beforeHealth) / Double(beats)
                // 10,000 nodes at the default 2 s interval send 5,000 heartbeats a second.
                heartbeatLine = String(format: "| heartbeats over HTTP, 16 clients | ≥ 20,000/s | %.0f/s |\n| server CPU for 10,000 nodes at the default 2 s interval (5,000/s × CPU per heartbeat) | < 10%% of one core | %.1f%% of one core (%.0f µs per heartbeat) |\n| for comparison: GET /healthz, the cheapest request, same clients | — | %.0f/s, %.0f µs CPU each |",
                                       Double(beats) / elapsed, cpuPerBeat * 5000 * 100, cpuPerBeat * 1e6, Double(beats) / healthElapsed, cpuPerHealth * 1e6)
            }
            setup.stop(keepData: true)
            let server = try BenchServer(binary: binary, extraArguments: timing, dataDirectory: setup.dataDirectory)
            let connection = try HTTPConnection(baseURL: server.url)
            let start = DispatchTime.now().uptimeNanoseconds
            var pending = pods
            while pending > 0 {
                usleep(20_000)
                let reply = try connection.request("GET", "/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3D")
                pending = (try reply.json())["items"]?.arrayValue?.count ?? pending
                if Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 > 600 { break }
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let target = count <= 1000 ? "≥ 5,000 pods/s" : "≥ 1,500 pods/s"
            lines.append(String(format: "| scheduling throughput, %d nodes, %d pods | %@ | %.0f pods/s (%d left unbound) |", count, pods, target, Double(pods - pending) / elapsed, pending))
            server.stop()
        }
        lines.append(heartbeatLine)
        lines.append("")
        lines.append("""
            What limits scheduling: node views live in each pooled Lua state and only changed nodes are pushed (one per
            binding), and the whole cycle is one call into Lua; binds run 64 at a time so group commit shares fsyncs.
            What remains per pod is the Lua cycle itself, `filter` and `score` for every node under the budget hook,
            which the Lua host section measures at 0.3–0.7 ms for 1,000 nodes and which grows linearly (5,000 nodes:
            5×). Closing the gap needs fewer Lua calls per pod: check resources and taints in Swift and call Lua only for
            nodes that fit, or sample nodes as kube-scheduler's percentageOfNodesToScore does.
            What limits heartbeats: the /healthz row is the HTTP stack's own cost on this machine (server and load
            generator share 2 cores); most of a heartbeat's CPU is that, the handler (a cache read and a memory write) the rest.
            """)
        lines.append("")
        let report = lines.joined(separator: "\n")
        print(report)
        if let output { try BenchCommand.replaceSection(in: output, heading: "## Scheduling and heartbeats (K3)", with: report) }
    }
}
