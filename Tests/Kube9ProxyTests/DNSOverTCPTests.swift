import Foundation
import Kube9Model
@testable import Kube9Proxy
import Logging
import NIOCore
import NIOPosix
import Testing

@Suite("cluster DNS over TCP", .serialized)
struct DNSOverTCPTests {
    static func framed(_ message: [UInt8]) -> [UInt8] { [UInt8(message.count >> 8), UInt8(message.count & 0xff)] + message }

    /// The next length-prefixed message, or nil.
    static func receiveMessage(_ connection: LoopbackTCP) -> [UInt8]? {
        guard let prefix = connection.receive(exactly: 2) else { return nil }
        return connection.receive(exactly: Int(prefix[0]) << 8 | Int(prefix[1]))
    }

    @Test("a headless service cut to 512 bytes over UDP comes whole over TCP; two queries on one connection; outside names forwarded; garbage ends the connection")
    func tcp() throws {
        var headlessService = service
        headlessService[path: ["spec", "clusterIP"]] = "None"
        headlessService[path: ["spec", "type"]] = "ClusterIP"
        let headless = headlessService
        let endpoints = slice((2..<202).map { ("10.89.\($0 / 100).\($0 % 100 + 2)", true) })
        let upstream = try LoopbackUDP()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let dns = ClusterDNS(upstreams: ["127.0.0.1:\(upstream.port)"], group: group, logger: Logger(label: "test")) { ([headless], [endpoints]) }
        let udpChannel = try dns.listen(host: "127.0.0.1", port: 0)
        let udpPort = try #require(udpChannel.localAddress?.port)
        let tcpChannel = try dns.listenTCP(host: "127.0.0.1", port: udpPort)
        defer {
            udpChannel.close(promise: nil)
            tcpChannel.close(promise: nil)
        }

        let udpClient = try LoopbackUDP()
        udpClient.send(ClusterDNSTests.query("web.default.svc.cluster.local", id: 1), to: udpPort)
        let cut = try #require(udpClient.receive())
        #expect(cut.bytes[2] & 0x02 != 0 && ClusterDNSTests.answers(cut.bytes) < 200, "over UDP the answer is cut")

        let connection = try #require(LoopbackTCP.connect(udpPort))
        connection.send(Self.framed(ClusterDNSTests.query("web.default.svc.cluster.local", id: 2))
                        + Self.framed(ClusterDNSTests.query("nope.default.svc.cluster.local", id: 3)))
        let whole = try #require(Self.receiveMessage(connection))
        #expect(whole[0] == 0 && whole[1] == 2)
        #expect(whole[2] & 0x02 == 0 && ClusterDNSTests.answers(whole) == 200, "\(ClusterDNSTests.answers(whole)) answers")
        let unknown = try #require(Self.receiveMessage(connection))
        #expect(unknown[1] == 3 && ClusterDNSTests.code(unknown) == 3)

        // An outside name goes to the upstream (over UDP) and its reply comes back on the connection.
        usleep(100_000)  // the connection's forwarder binds its socket on the loop
        connection.send(Self.framed(ClusterDNSTests.query("example.org", id: 0xBEEF)))
        let forwarded = try #require(upstream.receive(), "nothing reached the upstream")
        var reply = forwarded.bytes
        reply[2] |= 0x80
        upstream.send(reply + [0x42], to: forwarded.port)
        let answered = try #require(Self.receiveMessage(connection))
        #expect(answered[0] == 0xBE && answered[1] == 0xEF && answered.last == 0x42)

        // A message that is not a query closes the connection; a fresh one still works.
        connection.send(Self.framed([1, 2, 3]))
        #expect(connection.receive().count == 0)
        let again = try #require(LoopbackTCP.connect(udpPort))
        again.send(Self.framed(ClusterDNSTests.query("web.default.svc.cluster.local", id: 4)))
        #expect(Self.receiveMessage(again).map(ClusterDNSTests.answers) == 200)
    }
}
