import Foundation
import Kube9Model
@testable import Kube9Proxy
import Logging
import NIOCore
import NIOPosix
import Testing

/// A UDP socket on 127.0.0.1 with a receive timeout.
final class LoopbackUDP: @unchecked Sendable {
    let descriptor: Int32
    let port: Int

    init(timeoutSeconds: Int = 5) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0 else { throw DNSConfigurationError(upstream: "bind failed") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func send(_ bytes: [UInt8], to port: Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(clamping: port).bigEndian
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// The next datagram and the port it came from, or nil after the timeout.
    func receive() -> (bytes: [UInt8], port: Int)? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var peer = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, &buffer, buffer.count, 0, $0, &length) } }
        guard count > 0 else { return nil }
        return (Array(buffer.prefix(count)), Int(UInt16(bigEndian: peer.sin_port)))
    }
}

@Suite("cluster DNS forwarding", .serialized)
struct DNSForwarderTests {
    @Test("resolv.conf nameservers: IPv4 only, the cluster DNS itself left out")
    func nameservers() {
        let text = "# generated\nsearch example.org\nnameserver 10.96.0.10\nnameserver 192.168.1.1\nnameserver ::1\nnameserver\tbogus\n  nameserver 8.8.8.8\noptions ndots:5\n"
        #expect(DNSForwarder.nameservers(resolvConf: text, excluding: "10.96.0.10") == ["192.168.1.1:53", "8.8.8.8:53"])
        #expect(ClusterDNS.upstream("1.2.3.4").map { "\($0.ip):\($0.port)" } == "1.2.3.4:53")
        #expect(ClusterDNS.upstream("1.2.3.4:5353").map { "\($0.ip):\($0.port)" } == "1.2.3.4:5353")
        for bad in ["1.2.3.4:0", "1.2.3.4:70000", "1.2.3.4:", "host:53", "", "1.2.3.4:53:1", "::1"] {
            #expect(ClusterDNS.upstream(bad) == nil, "\(bad)")
        }
    }

    @Test("outside names go upstream and come back with the client's id; cluster names stay local; a silent upstream is SERVFAIL; replies from others are dropped")
    func forwarding() throws {
        let upstream = try LoopbackUDP()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let dns = ClusterDNS(upstreams: ["127.0.0.1:\(upstream.port)"], group: group, logger: Logger(label: "test")) { ([service], []) }
        let channel = try dns.listen(host: "127.0.0.1", port: 0)
        defer { channel.close(promise: nil) }
        let dnsPort = try #require(channel.localAddress?.port)
        let client = try LoopbackUDP()
        usleep(100_000)  // the upstream socket binds on the loop once the handler is added

        client.send(ClusterDNSTests.query("example.org", id: 0xBEEF), to: dnsPort)
        let forwarded = try #require(upstream.receive(), "nothing reached the upstream")
        #expect(forwarded.bytes.count == ClusterDNSTests.query("example.org").count)
        #expect(Array(forwarded.bytes.dropFirst(2)) == Array(ClusterDNSTests.query("example.org").dropFirst(2)))
        // A stranger's datagram with the right id is not taken for the reply.
        let stranger = try LoopbackUDP()
        var spoofed = forwarded.bytes
        spoofed[2] |= 0x80
        stranger.send(spoofed + [0xEE], to: forwarded.port)
        // Nor is the upstream's reply to another question under the same id.
        var otherQuestion = ClusterDNSTests.query("evil.example.org")
        otherQuestion[0] = forwarded.bytes[0]
        otherQuestion[1] = forwarded.bytes[1]
        otherQuestion[2] |= 0x80
        upstream.send(otherQuestion + [0xEE], to: forwarded.port)
        // The upstream answers: the query with QR set and one byte more, as a marker.
        var reply = forwarded.bytes
        reply[2] |= 0x80
        upstream.send(reply + [0x42], to: forwarded.port)
        let answered = try #require(client.receive(), "no reply came back")
        #expect(answered.bytes[0] == 0xBE && answered.bytes[1] == 0xEF)
        #expect(answered.bytes.last == 0x42 && answered.bytes[2] & 0x80 != 0)
        // The ids towards the upstream are not a sequence: 20 queries, more than 2 distinct gaps.
        var ids: [Int] = []
        for index in 0..<20 {
            client.send(ClusterDNSTests.query("n\(index).example.org", id: UInt16(index)), to: dnsPort)
            let sent = try #require(upstream.receive())
            ids.append(Int(sent.bytes[0]) << 8 | Int(sent.bytes[1]))
            var answer = sent.bytes
            answer[2] |= 0x80
            upstream.send(answer, to: sent.port)
            #expect(client.receive() != nil)
        }
        #expect(Set(zip(ids, ids.dropFirst()).map { ($1 - $0 + 65536) % 65536 }).count > 2, "\(ids)")

        // A cluster name is answered here, never sent upstream.
        client.send(ClusterDNSTests.query("web.default.svc.cluster.local", id: 7), to: dnsPort)
        let local = try #require(client.receive())
        #expect(ClusterDNSTests.code(local.bytes) == 0 && ClusterDNSTests.answers(local.bytes) == 1)

        // No reply from upstream: SERVFAIL after the forwarder's timeout.
        let started = Date()
        client.send(ClusterDNSTests.query("silent.example.org", id: 9), to: dnsPort)
        #expect(upstream.receive() != nil)
        let failed = try #require(client.receive(), "no SERVFAIL")
        #expect(failed.bytes[0] == 0 && failed.bytes[1] == 9 && ClusterDNSTests.code(failed.bytes) == 2)
        #expect(Date().timeIntervalSince(started) < 4.5)
    }

    /// Regression: the timeout of an answered query removed whatever query held its id when it
    /// fired, so a later query that drew the same id was answered SERVFAIL before its reply came.
    @Test("a query that reuses an answered query's id is not ended by the old query's timeout")
    func reusedID() throws {
        let upstream = try LoopbackUDP()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let replies = FailureLog()
        let client = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        let upstreamAddress = try SocketAddress(ipAddress: "127.0.0.1", port: upstream.port)
        let forwarder = try loop.submit {
            NIOLoopBound(DNSForwarder(upstreams: [upstreamAddress], eventLoop: loop, idSource: { 7 }) { _, bytes in
                replies.add(ClusterDNSTests.code(bytes) == 2 ? "SERVFAIL" : "answer \(bytes.last ?? 0)")
            }, eventLoop: loop)
        }.wait()
        try loop.submit { forwarder.value.start() }.wait()
        usleep(100_000)
        func ask(_ name: String) throws {
            let query = ClusterDNSTests.query(name)
            let question = try #require(DNSMessage.parseQuery(query))
            try loop.submit { forwarder.value.forward(query, question: question, from: client) }.wait()
        }
        func answer(_ marker: UInt8) throws {
            let sent = try #require(upstream.receive())
            #expect(sent.bytes[0] == 0 && sent.bytes[1] == 7)
            var reply = sent.bytes
            reply[2] |= 0x80
            upstream.send(reply + [marker], to: sent.port)
        }
        try ask("first.example.org")
        try answer(1)
        usleep(1_000_000)
        try ask("second.example.org")  // the same id: the first is answered
        usleep(2_500_000)  // the first query's 3 s timer has fired
        try answer(2)
        usleep(300_000)
        #expect(replies.messages == ["answer 1", "answer 2"], "\(replies.messages)")
    }

    @Test("without upstreams, outside names are REFUSED")
    func refusedWithoutUpstreams() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let dns = ClusterDNS(group: group, logger: Logger(label: "test")) { ([service], []) }
        let channel = try dns.listen(host: "127.0.0.1", port: 0)
        defer { channel.close(promise: nil) }
        let client = try LoopbackUDP()
        client.send(ClusterDNSTests.query("example.org"), to: try #require(channel.localAddress?.port))
        let reply = try #require(client.receive())
        #expect(ClusterDNSTests.code(reply.bytes) == 5)
    }
}
