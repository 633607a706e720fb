import Foundation
import Kube9Model
import Kube9Policy
import Kube9Threads
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The service proxy's benchmark (`kube9 bench proxy`): one run measures keep-alive requests/s
/// sent directly to a backend and through the proxy, new connections/s through the proxy, the
/// Lua pick's latency, and the process CPU per request. The backend is a minimal keep-alive
/// HTTP responder on its own event loop; the load comes from blocking client threads.
public enum ProxyBenchmark {
    public struct Report: Sendable {
        public var directRequestsPerSecond: Double
        public var proxiedRequestsPerSecond: Double
        public var newConnectionsPerSecond: Double
        public var pickP50Microseconds: Double
        public var pickP99Microseconds: Double
        /// Process CPU (all threads) per request, direct and proxied, in microseconds.
        public var directCPUMicroseconds: Double
        public var proxiedCPUMicroseconds: Double
        public var failures: Int
        /// Failures per phase: direct, proxied, new connections.
        public var failuresByPhase: [Int] = []
        public var ratio: Double { directRequestsPerSecond > 0 ? proxiedRequestsPerSecond / directRequestsPerSecond : 0 }
    }

    /// Runs each phase for `seconds` with `clients` client threads; `policies` is the built-in policy folder.
    public static func run(seconds: Double, clients: Int, policies: String?, logger: Logger) throws -> Report {
        let backendGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let proxyGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            try? backendGroup.syncShutdownGracefully()
            try? proxyGroup.syncShutdownGracefully()
        }
        let backend = try ServerBootstrap(group: backendGroup)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(KeepAliveResponder()) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { backend.close(promise: nil) }
        guard let backendPort = backend.localAddress?.port else { throw BenchmarkError("the backend did not bind") }

        let host = PolicyHost(logger: logger)
        if let policies { _ = host.loadBuiltins(from: policies) }
        let balancer = Balancer(host: host, logger: logger)
        let frontendPort = try freePort()
        let frontend = ServiceTable.Frontend(ip: "127.0.0.1", port: frontendPort, proto: "TCP")
        let servicePort = ServiceTable.ServicePort(namespace: "default", name: "bench", uid: "bench", port: frontendPort, proto: "TCP",
                                                   policy: "round-robin", affinitySeconds: nil,
                                                   endpoints: [ServiceTable.Endpoint(ip: "127.0.0.1", port: backendPort, pod: "backend", node: "bench", weight: 1)])
        let pickers = WorkerThreads(threads: 2, name: "kube9-bench-pick", stackSize: 1 << 20)
        let proxy = TCPProxy(group: proxyGroup, balancer: balancer, pickers: pickers, logger: logger) { $0 == frontend ? servicePort : nil }
        if let failure = proxy.reconcile([frontend]).first { throw BenchmarkError("the proxy could not listen: \(failure.value)") }
        defer { proxy.closeAll() }

        let (directRate, directCPU, directFailures) = keepAlive(port: backendPort, seconds: seconds, clients: clients)
        let (proxiedRate, proxiedCPU, proxiedFailures) = keepAlive(port: frontendPort, seconds: seconds, clients: clients)
        let (connectionRate, connectionFailures) = newConnections(port: frontendPort, seconds: seconds, clients: clients)

        // The pick alone: the Lua call with its argument tables, as the proxy makes it.
        var samples: [Double] = []
        samples.reserveCapacity(100_000)
        let many = ServiceTable.ServicePort(namespace: "default", name: "bench", uid: "bench", port: 80, proto: "TCP", policy: "round-robin",
                                            affinitySeconds: nil, endpoints: (0..<10).map {
                                                ServiceTable.Endpoint(ip: "10.89.0.\($0 + 2)", port: 8080, pod: "p\($0)", node: "n", weight: 1)
                                            })
        for _ in 0..<100_000 {
            let start = DispatchTime.now().uptimeNanoseconds
            let endpoint = balancer.pick(many, clientIP: "10.0.0.1", clientPort: 40000)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
            if let endpoint { balancer.finished(many, endpoint, failed: false) }
        }
        samples.sort()
        return Report(directRequestsPerSecond: directRate, proxiedRequestsPerSecond: proxiedRate, newConnectionsPerSecond: connectionRate,
                      pickP50Microseconds: samples[samples.count / 2], pickP99Microseconds: samples[samples.count * 99 / 100],
                      directCPUMicroseconds: directCPU, proxiedCPUMicroseconds: proxiedCPU,
                      failures: directFailures + proxiedFailures + connectionFailures,
                      failuresByPhase: [directFailures, proxiedFailures, connectionFailures])
    }

    public struct BenchmarkError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw BenchmarkError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static let request = Array("GET / HTTP/1.1\r\nHost: bench\r\n\r\n".utf8)

    /// A blocking connection to 127.0.0.1:port, or -1.
    static func connectTo(_ port: Int) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 {
            close(descriptor)
            return -1
        }
        return descriptor
    }

    /// One request and its whole reply ("ok" body) on an open connection.
    static func exchange(_ descriptor: Int32, _ buffer: inout [UInt8]) -> Bool {
        guard send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return false }
        var received = 0
        while received < KeepAliveResponder.reply.count {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return false }
            received += count
        }
        return true
    }

    /// Keep-alive load: each client sends a request and waits for its reply, in a loop.
    static func keepAlive(port: Int, seconds: Double, clients: Int) -> (rate: Double, cpuMicroseconds: Double, failures: Int) {
        let counts = Mutex<(requests: Int, failures: Int)>((0, 0))
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let cpuBefore = processCPUSeconds()
        let started = DispatchTime.now().uptimeNanoseconds
        let done = DispatchGroup()
        for _ in 0..<clients {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                var buffer = [UInt8](repeating: 0, count: 4096)
                var requests = 0
                var failures = 0
                var descriptor = connectTo(port)
                while DispatchTime.now().uptimeNanoseconds < deadline {
                    if descriptor < 0 {
                        failures += 1
                        descriptor = connectTo(port)
                        continue
                    }
                    if exchange(descriptor, &buffer) {
                        requests += 1
                    } else {
                        failures += 1
                        close(descriptor)
                        descriptor = connectTo(port)
                    }
                }
                if descriptor >= 0 { close(descriptor) }
                counts.withLock { $0.requests += requests; $0.failures += failures }
            }
            thread.start()
        }
        done.wait()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let cpu = processCPUSeconds() - cpuBefore
        let (requests, failures) = counts.withLock { $0 }
        return (Double(requests) / elapsed, requests > 0 ? cpu * 1e6 / Double(requests) : 0, failures)
    }

    /// New-connection load: connect, one request, close, in a loop.
    static func newConnections(port: Int, seconds: Double, clients: Int) -> (rate: Double, failures: Int) {
        let counts = Mutex<(connections: Int, failures: Int)>((0, 0))
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let started = DispatchTime.now().uptimeNanoseconds
        let done = DispatchGroup()
        for _ in 0..<clients {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                var buffer = [UInt8](repeating: 0, count: 4096)
                var connections = 0
                var failures = 0
                while DispatchTime.now().uptimeNanoseconds < deadline {
                    let descriptor = connectTo(port)
                    if descriptor < 0 {
                        failures += 1
                        continue
                    }
                    if exchange(descriptor, &buffer) { connections += 1 } else { failures += 1 }
                    // RST instead of TIME_WAIT, so a long run does not exhaust the local ports.
                    var linger = Foundation.linger(l_onoff: 1, l_linger: 0)
                    setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Foundation.linger>.size))
                    close(descriptor)
                }
                counts.withLock { $0.connections += connections; $0.failures += failures }
            }
            thread.start()
        }
        done.wait()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let (connections, failures) = counts.withLock { $0 }
        return (Double(connections) / elapsed, failures)
    }
}

/// Answers each request (a blank line ends it) with a 2-byte body, keeping the connection open.
final class KeepAliveResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    static let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
    /// How much of "\r\n\r\n" the bytes so far end with.
    var matched = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let terminator: [UInt8] = [13, 10, 13, 10]
        var replies = 0
        for byte in buffer.readableBytesView {
            if byte == terminator[matched] {
                matched += 1
                if matched == 4 {
                    replies += 1
                    matched = 0
                }
            } else {
                matched = byte == 13 ? 1 : 0
            }
        }
        for _ in 0..<replies { context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: Self.reply)), promise: nil) }
        if replies > 0 { context.flush() }
    }
}
