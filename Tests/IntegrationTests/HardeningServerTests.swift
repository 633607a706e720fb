import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Synchronization
import Testing

/// K5 through the real binary: hostile policies applied at once, `print` in `kube9 lua`, proxy
/// loops and agents that never answer. The server never exits and /healthz stays fast.
@Suite("hardening through the real server", .serialized)
struct HardeningServerTests {
    func kube9(_ server: ServerProcess, _ arguments: [String], timeout: Double = 60) throws -> CommandResult {
        try runCommand(kube9BinaryPath(), arguments + ["--kubeconfig", server.kubeconfigPath], timeoutSeconds: timeout)
    }

    /// A value behind a lock, shared by reference.
    final class Locked<Value: Sendable>: Sendable {
        let mutex: Mutex<Value>
        init(_ value: Value) { mutex = Mutex(value) }
        func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
    }

    /// Probes /healthz every 20 ms on its own thread until stopped; the slowest answer and the failures.
    final class HealthProbe: Sendable {
        private let state = Locked<(slowest: Duration, failures: Int, count: Int, running: Bool)>((.zero, 0, 0, true))

        init(url: String) {
            let state = self.state
            let thread = Thread {
                while state.withLock({ $0.running }) {
                    let start = ContinuousClock.now
                    var ok = false
                    if let connection = try? HTTPConnection(baseURL: url) {
                        connection.timeoutSeconds = 5
                        ok = (try? connection.request("GET", "/healthz").status) == 200
                    }
                    let elapsed = ContinuousClock.now - start
                    state.withLock { value in
                        value.slowest = max(value.slowest, elapsed)
                        value.count += 1
                        if !ok { value.failures += 1 }
                    }
                    usleep(20_000)
                }
            }
            thread.start()
        }

        func stop() -> (slowest: Duration, failures: Int, count: Int) {
            state.withLock { $0.running = false }
            usleep(100_000)
            return state.withLock { ($0.slowest, $0.failures, $0.count) }
        }
    }

    static let hostileFolder = repositoryPath("Tests/Kube9LuaTests/Hostile")

    @Test("20 hostile policies applied at once: each refused within 10 s, /healthz under 100 ms throughout, the server alive")
    func concurrentHostileApplies() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.hostileFolder).filter { $0.hasSuffix(".lua") }.sorted()
        let chosen = ["gc_finalizer_loop.lua", "pattern_dotdash.lua", "pattern_plain_find.lua", "rep_empty.lua", "table_move_huge.lua",
                      "table_insert_len.lua", "load_huge.lua", "concat_doubling.lua", "memory_table_growth.lua", "endless_loop.lua",
                      "close_loop.lua", "error_tostring_loop.lua", "sort_comparator_loop.lua", "table_sort_big.lua", "os_date_loop.lua",
                      "repeat_upper.lua", "gsub_callback_loop.lua", "pattern_gsub_bomb.lua", "cheap_calls_loop.lua", "rep_loop.lua"]
            .filter { files.contains($0) }
        #expect(chosen.count == 20)
        let probe = HealthProbe(url: server.url)
        let outcomes = Locked<[(String, Int32, Duration, String)]>([])
        await withTaskGroup(of: Void.self) { group in
            for (index, file) in chosen.enumerated() {
                group.addTask {
                    let start = ContinuousClock.now
                    let result = try? self.kube9(server, ["policy", "apply", Self.hostileFolder + "/" + file, "--slot", "admission",
                                                          "--name", "hostile-\(index)"], timeout: 30)
                    outcomes.withLock { $0.append((file, result?.status ?? -1, ContinuousClock.now - start, result?.stderr ?? "")) }
                }
            }
        }
        // The same scripts inside a hook: accepted, then killed when called.
        let hook = server.dataDirectory + "/hook.lua"
        try """
            return { name = "slow", api = 1, validate = function() local s = string.rep("a", 100000) return s:find(string.rep("a-", 30) .. "b") end }
            """.write(toFile: hook, atomically: true, encoding: .utf8)
        let installed = try kube9(server, ["policy", "apply", hook, "--slot", "admission", "--name", "slow"])
        #expect(installed.status == 0, "\(installed.stderr)")
        try await Task.sleep(for: .milliseconds(500))
        let called = try await server.client().request("POST", "/kube9/v1/policies/admission/slow/validate", json: [])
        #expect(called.status == 422, "\(called.text)")
        #expect(called.text.contains("budget") || called.text.contains("deadline"), "\(called.text)")
        let health = probe.stop()
        for (file, status, elapsed, stderr) in outcomes.withLock({ $0 }) {
            #expect(status == 1, "\(file) was not refused: \(stderr)")
            #expect(elapsed < .seconds(10), "\(file) took \(elapsed)")
            // Refused by running the script (a kill or its own error at a line of it), not by something unrelated.
            #expect(stderr.contains("refused: ") && (stderr.contains("\(file):") || stderr.contains("memory limit exceeded")), "\(file): \(stderr)")
        }
        let listed = try kube9(server, ["policy", "list"])
        #expect(!listed.stdout.contains("hostile-"), "no hostile policy was installed: \(listed.stdout)")
        #expect(health.count > 20, "the probe ran \(health.count) times")
        #expect(health.failures == 0)
        #expect(health.slowest < .milliseconds(100), "/healthz took \(health.slowest) at worst over \(health.count) probes")
        #expect(server.process.isRunning)
    }

    @Test("kube9 lua FILE: print writes to stdout")
    func luaPrint() throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let file = server.dataDirectory + "/print.lua"
        try "print(\"x\")\nprint(1, nil, true, {} ~= nil)\nreturn 42\n".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try kube9(server, ["lua", file])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "x\n1\tnil\ttrue\ttrue\n42\n", "\(result.stdout)")
    }

    @Test("a node whose kubelet endpoint is the server itself cannot make it proxy to itself")
    func proxyLoop() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let port = Int64(server.url.split(separator: ":").last.flatMap { Int($0) } ?? 0)
        let node: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "loop"],
                          "status": ["addresses": [["type": "InternalIP", "address": "127.0.0.1"]],
                                     "daemonEndpoints": ["kubeletEndpoint": ["Port": .int(port)]]]]
        let client = server.client()
        #expect(try await client.request("POST", "/api/v1/nodes", json: node).status == 201)
        let looped = try await client.request("GET", "/api/v1/nodes/loop/proxy/api/v1/nodes/loop/proxy/healthz")
        #expect(looped.status == 400 || looped.status == 503, "\(looped.status) \(looped.text)")
        #expect(looped.text.contains("proxy loop"), "\(looped.text)")
        let once = try await client.request("GET", "/api/v1/nodes/loop/proxy/healthz")
        #expect(once.status == 200 && once.text == "ok", "one hop is fine: \(once.status) \(once.text)")
        #expect(try await client.request("GET", "/healthz").status == 200)
    }

    @Test("proxy requests to an agent that never answers delay nobody else")
    func silentAgent() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        // A socket that accepts connections and never answers.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        listen(listener, 128)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int64(UInt16(bigEndian: address.sin_port))
        let node: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "silent"],
                          "status": ["addresses": [["type": "InternalIP", "address": "127.0.0.1"]],
                                     "daemonEndpoints": ["kubeletEndpoint": ["Port": .int(port)]]]]
        let client = server.client()
        #expect(try await client.request("POST", "/api/v1/nodes", json: node).status == 201)
        // 24 requests hang on the silent agent (more than the proxy's threads)...
        for _ in 0..<24 {
            Thread.detachNewThread {
                if let connection = try? HTTPConnection(baseURL: server.url) {
                    connection.timeoutSeconds = 3
                    _ = try? connection.request("GET", "/api/v1/nodes/silent/proxy/stats/summary")
                }
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        // ...while everything else answers at once.
        let probe = HealthProbe(url: server.url)
        for index in 0..<20 {
            let start = ContinuousClock.now
            let reply = try await client.request("POST", "/api/v1/namespaces/default/pods", json: [
                "apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string("p\(index)")], "spec": ["containers": [["name": "c", "image": "x"]]],
            ])
            #expect(reply.status == 201)
            #expect(ContinuousClock.now - start < .seconds(1))
        }
        try await Task.sleep(for: .seconds(1))
        let health = probe.stop()
        #expect(health.count > 20, "the probe ran \(health.count) times")
        #expect(health.failures == 0)
        #expect(health.slowest < .milliseconds(100), "/healthz took \(health.slowest) while proxy requests hung")
    }
}
