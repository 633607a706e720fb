import Foundation
import Kube9Model
import Kube9Proxy
import Kube9Testing
import Kube9Client

/// Test clients for the service data path: a raw HTTP/1.0 GET that can choose its source
/// address (ip_hash needs many distinct clients), and a load loop that records every reply.
enum ServiceClient {
    /// Fills a sockaddr_in for `ip:port`.
    static func address(_ ip: String, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(ip)
        address.sin_port = UInt16(clamping: port).bigEndian
        return address
    }

    /// One GET on a new connection to ip:port from `source` (any local address, e.g.
    /// 127.0.0.23); the trimmed body of a 200, or nil when anything failed or took over 3 s.
    /// `beforeRequest` runs once connected, before the request is sent.
    static func get(_ ip: String, _ port: Int, path: String = "/", from source: String? = nil,
                    beforeRequest: (() -> Void)? = nil) -> String? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        if let source {
            var local = address(source, 0)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
            guard bound == 0 else { return nil }
        }
        var remote = address(ip, port)
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, length) } }
        guard connected == 0 else { return nil }
        beforeRequest?()
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(ip)\r\n\r\n".utf8)
        guard send(descriptor, request, request.count, 0) == request.count else { return nil }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while reply.count < 1 << 20 {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count < 0 { return nil }
            if count == 0 { break }
            reply += buffer.prefix(count)
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard text.hasPrefix("HTTP/1."), text.split(separator: " ", maxSplits: 2).dropFirst().first == "200",
              let body = text.range(of: "\r\n\r\n") else { return nil }
        return text[body.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// How many replies came from each backend ("failed" for failures).
    static func counts(_ ip: String, _ port: Int, _ requests: Int, path: String = "/", from source: String? = nil) -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<requests { counts[get(ip, port, path: path, from: source) ?? "failed", default: 0] += 1 }
        return counts
    }
}

/// Requests sent back to back on threads of their own until `stop()`, each reply recorded with
/// when it arrived. Each thread cycles through `sources`.
final class ServiceLoad: @unchecked Sendable {
    struct Reply { let at: Date; let source: String?; let body: String? }
    private let lock = NSLock()
    private var stopped = false
    private var recorded: [Reply] = []
    private let finished = DispatchGroup()

    init(_ ip: String, _ port: Int, threads: Int = 2, sources: [String?] = [nil], path: String = "/") {
        for thread in 0..<threads {
            finished.enter()
            Thread { [self] in
                var index = thread
                // Bounded: at most 100,000 requests a thread, whatever happens to stop().
                for _ in 0..<100_000 where !isStopped {
                    let source = sources[index % sources.count]
                    index += 1
                    let body = ServiceClient.get(ip, port, path: path, from: source)
                    lock.withLock { recorded.append(Reply(at: Date(), source: source, body: body)) }
                }
                finished.leave()
            }.start()
        }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    /// Every reply so far.
    var replies: [Reply] { lock.withLock { recorded } }

    /// Stops the threads and waits (at most 10 s) for their last requests.
    func stop() {
        lock.withLock { stopped = true }
        _ = finished.wait(timeout: .now() + 10)
    }
}

/// A value shared between a test and the threads it starts.
final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}

/// A DNS server on 127.0.0.1 (a thread) that answers every A query with `address`: the
/// upstream the cluster DNS forwards outside names to, in tests that must not need the internet.
final class FakeUpstreamDNS: @unchecked Sendable {
    let descriptor: Int32
    let port: Int
    /// Names asked so far.
    let asked = Shared<[String]>([])

    init(address: IPv4Address) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.descriptor = descriptor
        var local = ServiceClient.address("127.0.0.1", 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0 else { throw ClientError("bind failed") }
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        port = Int(UInt16(bigEndian: local.sin_port))
        let asked = self.asked
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                var peer = sockaddr_in()
                var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
                let count = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, &buffer, buffer.count, 0, $0, &peerLength) } }
                if count <= 0 { return }
                guard let question = DNSMessage.parseQuery(Array(buffer.prefix(count))) else { continue }
                asked.update { $0.append(question.name) }
                let answers: [DNSMessage.Record] = question.type == DNSMessage.typeA ? [.a(name: question.name, ip: address)] : []
                let reply = DNSMessage.reply(to: question, code: .noError, answers: answers)
                _ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, reply, reply.count, 0, $0, peerLength) } }
            }
        }.start()
    }

    func stop() {
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
    }
}
