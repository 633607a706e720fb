import Foundation
import Kube9Model
import NIOCore
import NIOPosix

/// Forwards queries for names outside the cluster domain to upstream servers (by default the
/// IPv4 nameservers of the agent's /etc/resolv.conf), as CoreDNS's `forward` plugin does, so
/// pods resolve outside names through the cluster DNS. Each forwarded query gets an id of its
/// own towards the upstream; the reply goes back to the asker with its id. A query with no
/// reply within `timeout` is answered SERVFAIL; so is one past `maximumPending` in flight.
/// Confined to one event loop (the DNS channel's): no locks.
public final class DNSForwarder {
    struct Pending {
        let client: SocketAddress
        let clientID: (UInt8, UInt8)
        let question: DNSMessage.Question
    }
    static let maximumPending = 4096
    static let timeout = TimeAmount.seconds(3)

    let upstreams: [SocketAddress]
    let eventLoop: any EventLoop
    /// Sends a reply to a client through the DNS channel.
    let reply: (SocketAddress, [UInt8]) -> Void
    private var channel: (any Channel)?
    private var pending: [UInt16: Pending] = [:]
    private var nextID = UInt16.random(in: 0...UInt16.max)

    init(upstreams: [SocketAddress], eventLoop: any EventLoop, reply: @escaping (SocketAddress, [UInt8]) -> Void) {
        self.upstreams = upstreams
        self.eventLoop = eventLoop
        self.reply = reply
    }

    /// The IPv4 `nameserver` lines of a resolv.conf, as "ip:53", without `excluding` (the
    /// cluster DNS itself: forwarding to it would loop).
    public static func nameservers(resolvConf text: String, excluding: String?) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            let server = String(fields[1])
            guard server != excluding, IPv4Address(server) != nil else { return nil }
            return server + ":53"
        }
    }

    /// Opens the socket towards the upstreams (an ephemeral port on this event loop).
    func start() {
        guard !upstreams.isEmpty else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamReplyHandler(forwarder: bound))
                }
            }
            .bind(host: "0.0.0.0", port: 0)
            .whenComplete { result in
                if case .success(let channel) = result { bound.value.channel = channel }
            }
    }

    func stop() { channel?.close(promise: nil) }

    /// Sends `query` (the client's bytes) upstream, or answers SERVFAIL when it cannot.
    func forward(_ query: [UInt8], question: DNSMessage.Question, from client: SocketAddress) {
        guard let channel, !upstreams.isEmpty, pending.count < Self.maximumPending, query.count >= 12 else {
            reply(client, DNSMessage.reply(to: question, code: .serverFailure, answers: []))
            return
        }
        var id = nextID
        while pending[id] != nil { id &+= 1 }
        nextID = id &+ 1
        pending[id] = Pending(client: client, clientID: (query[0], query[1]), question: question)
        var outgoing = query
        outgoing[0] = UInt8(id >> 8)
        outgoing[1] = UInt8(id & 0xff)
        let upstream = upstreams[Int(id) % upstreams.count]
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: upstream, data: channel.allocator.buffer(bytes: outgoing)), promise: nil)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(in: Self.timeout) {
            let forwarder = bound.value
            guard let lost = forwarder.pending.removeValue(forKey: id) else { return }
            forwarder.reply(lost.client, DNSMessage.reply(to: lost.question, code: .serverFailure, answers: []))
        }
    }

    /// A datagram from the upstream socket: a reply from an upstream to a query in flight goes
    /// back to its client; anything else is dropped.
    func received(_ bytes: [UInt8], from sender: SocketAddress) {
        guard bytes.count >= 12, bytes[2] & 0x80 != 0, upstreams.contains(sender) else { return }
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard let waiting = pending.removeValue(forKey: id) else { return }
        var answer = bytes
        answer[0] = waiting.clientID.0
        answer[1] = waiting.clientID.1
        reply(waiting.client, answer)
    }
}

/// Hands datagrams from the upstream socket to the forwarder.
final class UpstreamReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let forwarder: NIOLoopBound<DNSForwarder>
    init(forwarder: NIOLoopBound<DNSForwarder>) { self.forwarder = forwarder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        forwarder.value.received(Array(buffer: envelope.data), from: envelope.remoteAddress)
    }
}
