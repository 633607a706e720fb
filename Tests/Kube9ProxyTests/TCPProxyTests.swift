import Foundation
import Kube9Policy
@testable import Kube9Proxy
import Kube9Threads
import Logging
import NIOCore
import NIOPosix
import Testing

/// A blocking TCP socket on 127.0.0.1: a listener (port 0 picks one) or a client.
final class LoopbackTCP: @unchecked Sendable {
    let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }
    deinit { close(descriptor) }

    static func address(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(clamping: port).bigEndian
        return address
    }

    static func withTimeout(_ descriptor: Int32) -> LoopbackTCP {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return LoopbackTCP(descriptor: descriptor)
    }

    /// A listener on `port` (0: any free one).
    static func listener(port: Int = 0) throws -> LoopbackTCP {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.address(port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw ProxyBenchmark.BenchmarkError("cannot listen on \(port)")
        }
        return withTimeout(descriptor)
    }

    var port: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func connect(_ port: Int) -> LoopbackTCP? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.address(port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return withTimeout(descriptor)
    }

    func accept() -> LoopbackTCP? {
        let client = Glibc.accept(descriptor, nil, nil)
        return client >= 0 ? Self.withTimeout(client) : nil
    }

    func send(_ text: String) { send(Array(text.utf8)) }
    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) } }

    /// Reads until `count` bytes came (nil at end of stream or timeout first).
    func receive(exactly count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while out.count < count {
            let got = recv(descriptor, &buffer, min(buffer.count, count - out.count), 0)
            if got <= 0 { return nil }
            out += buffer.prefix(got)
        }
        return out
    }

    /// Bytes read (0 at end of stream, -1 on timeout or error).
    func receive() -> (count: Int, text: String) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return (count, count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : "")
    }

    /// Makes the close (at deinit) a reset (SO_LINGER 0) instead of a FIN.
    func resetOnClose() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }
}

@Suite("TCP proxy lifecycle", .serialized)
struct TCPProxyLifecycleTests {
    static func proxy(group: MultiThreadedEventLoopGroup, frontend: ServiceTable.Frontend, backendPort: Int,
                      pickers: WorkerThreads = WorkerThreads(threads: 1, name: "test-pick", stackSize: 1 << 20)) -> (TCPProxy, Balancer, ServiceTable.ServicePort) {
        let logger = Logger(label: "test")
        let balancer = Balancer(host: PolicyHost(logger: logger), logger: logger)
        let servicePort = ServiceTable.ServicePort(namespace: "default", name: "hold", uid: "u", port: frontend.port, proto: "TCP", policy: "none",
                                                   affinitySeconds: nil,
                                                   endpoints: [ServiceTable.Endpoint(ip: "127.0.0.1", port: backendPort, pod: "p", node: "n", weight: 1)])
        let proxy = TCPProxy(group: group, balancer: balancer, pickers: pickers, logger: logger) { $0 == frontend ? servicePort : nil }
        return (proxy, balancer, servicePort)
    }

    static func active(_ balancer: Balancer, _ key: String) -> Int {
        balancer.ports.withLock { $0[key]?.counts.values.reduce(0) { $0 + $1.active } ?? 0 }
    }

    /// Regression: when one side went away (a reset), its partner only had its output shut, so
    /// a backend that never closes kept the proxied connection, and its active count, forever.
    @Test("a client that resets takes the backend connection with it; the endpoint's active count returns to 0")
    func resetClosesBackend() throws {
        let backend = try LoopbackTCP.listener()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let frontend = ServiceTable.Frontend(ip: "127.0.0.1", port: try ProxyBenchmark.freePort(), proto: "TCP")
        let (proxy, balancer, servicePort) = Self.proxy(group: group, frontend: frontend, backendPort: backend.port)
        #expect(proxy.reconcile([frontend]).isEmpty)
        defer { proxy.closeAll() }

        var client = LoopbackTCP.connect(frontend.port)
        #expect(client != nil)
        client?.send("hello")
        let accepted = try #require(backend.accept(), "the proxy did not connect to the backend")
        #expect(accepted.receive().text == "hello")
        #expect(Self.active(balancer, servicePort.key) == 1)
        client?.resetOnClose()
        client = nil  // closed with a reset
        #expect(client == nil)
        // The backend sees its connection end (it never closes it itself).
        #expect(accepted.receive().count == 0, "the proxy kept the backend connection open")
        var active = 1
        for _ in 0..<100 where active != 0 {
            usleep(20_000)
            active = Self.active(balancer, servicePort.key)
        }
        #expect(active == 0)
    }

    @Test("with the Lua threads stuck and 1,024 picks queued, a new connection still reaches the backend (round robin at once)")
    func saturatedPickers() throws {
        let backend = try LoopbackTCP.listener()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let pickers = WorkerThreads(threads: 1, name: "test-stuck", stackSize: 1 << 20)
        let release = DispatchSemaphore(value: 0)
        pickers.submit { release.wait() }
        for _ in 0..<Balancer.maximumQueuedPicks { pickers.submit {} }
        defer { release.signal() }
        let frontend = ServiceTable.Frontend(ip: "127.0.0.1", port: try ProxyBenchmark.freePort(), proto: "TCP")
        let (proxy, balancer, servicePort) = Self.proxy(group: group, frontend: frontend, backendPort: backend.port, pickers: pickers)
        #expect(proxy.reconcile([frontend]).isEmpty)
        defer { proxy.closeAll() }
        #expect(pickers.pending >= Balancer.maximumQueuedPicks)
        let client = try #require(LoopbackTCP.connect(frontend.port))
        client.send("flood")
        #expect(backend.accept()?.receive().text == "flood")
        #expect(balancer.totals(servicePort.key).values.reduce(0, +) == 1)
    }

    @Test("a frontend whose port is taken fails, and listens once a later reconcile finds it free; the retry backs off 1, 2, 4 s … to 30 s")
    func bindRetry() throws {
        let backend = try LoopbackTCP.listener()
        var squatter: LoopbackTCP? = try LoopbackTCP.listener()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let frontend = ServiceTable.Frontend(ip: "127.0.0.1", port: squatter?.port ?? 0, proto: "TCP")
        let (proxy, _, _) = Self.proxy(group: group, frontend: frontend, backendPort: backend.port)
        defer { proxy.closeAll() }
        #expect(proxy.reconcile([frontend]).count == 1)
        squatter = nil  // its socket closes
        #expect(squatter == nil)
        #expect(proxy.reconcile([frontend]).isEmpty)
        let client = try #require(LoopbackTCP.connect(frontend.port))
        client.send("x")
        #expect(backend.accept()?.receive().text == "x")

        var retry = BindRetry()
        #expect(!retry.isDue(now: 0))
        var delays: [UInt64] = []
        var now: UInt64 = 0
        for _ in 0..<7 {
            retry.record(failed: true, now: now)
            let next = try #require(retry.next)
            #expect(!retry.isDue(now: next - 1) && retry.isDue(now: next))
            delays.append((next - now) / 1_000_000_000)
            now = next
        }
        #expect(delays == [1, 2, 4, 8, 16, 30, 30])
        retry.record(failed: false, now: now)
        #expect(retry.next == nil && !retry.isDue(now: .max))
    }
}
