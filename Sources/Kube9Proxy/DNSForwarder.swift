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
        /// Where it was sent: only that server's reply is taken.
        let upstream: SocketAddress
        /// Which query this is: the timer of an answered query must not end a later one that got its id.
        let serial: UInt64
    }
    static let maximumPending = 4096
    static let timeout = TimeAmount.seconds(3)

    let upstreams: [SocketAddress]
    let eventLoop: any EventLoop
    /// Sends a reply to a client through the DNS channel.
    let reply: (SocketAddress, [UInt8]) -> Void
    private var channel: (any Channel)?
    private var pending: [UInt16: Pending] = [:]
    private var nextUpstream = 0
    private var nextSerial: UInt64 = 0

    /// Draws the id of a query towards the upstream (random; tests pass their own).
    let idSource: () -> UInt16

    init(upstreams: [SocketAddress], eventLoop: any EventLoop, idSource: @escaping () -> UInt16 = { UInt16.random(in: 0...UInt16.max) },
         reply: @escaping (SocketAddress, [UInt8]) -> Void) {
        self.upstreams = upstreams
        self.eventLoop = eventLoop
        self.idSource = idSource
        self.reply = reply
    }

    /// The IPv4 `nameserver` lines of a resolv.conf, as "ip:53", without `excluding` (the
    /// cluster DNS itself: forwarding to it would loop).
    public static func nameservers(resolvConf text: String, excluding: String?) -> [String] {
        PodDNS.parse(resolvConf: text).nameservers.filter { $0 != excluding && IPv4Address($0) != nil }.map { $0 + ":53" }
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
        // A random id (a guessable one lets an off-path sender forge replies); at most 4,096 of
        // 65,536 are taken, so the probe after a few draws ends quickly.
        var id = idSource()
        for _ in 0..<4 where pending[id] != nil { id = idSource() }
        while pending[id] != nil { id &+= 1 }
        let upstream = upstreams[nextUpstream % upstreams.count]
        nextUpstream = (nextUpstream + 1) % upstreams.count
        nextSerial &+= 1
        let serial = nextSerial
        pending[id] = Pending(client: client, clientID: (query[0], query[1]), question: question, upstream: upstream, serial: serial)
        var outgoing = query
        outgoing[0] = UInt8(id >> 8)
        outgoing[1] = UInt8(id & 0xff)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: upstream, data: channel.allocator.buffer(bytes: outgoing)), promise: nil)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let sentID = id
        eventLoop.scheduleTask(in: Self.timeout) {
            let forwarder = bound.value
            guard forwarder.pending[sentID]?.serial == serial, let lost = forwarder.pending.removeValue(forKey: sentID) else { return }
            forwarder.reply(lost.client, DNSMessage.reply(to: lost.question, code: .serverFailure, answers: []))
        }
    }

    /// A datagram from the upstream socket: a reply to a query in flight, from the server it
    /// was sent to and repeating its question, goes back to the client; anything else is
    /// dropped and the query keeps waiting for the real reply.
    func received(_ bytes: [UInt8], from sender: SocketAddress) {
        guard bytes.count >= 12, bytes[2] & 0x80 != 0 else { return }
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard let candidate = pending[id], candidate.upstream == sender, Self.repeats(candidate.question, reply: bytes),
              let waiting = pending.removeValue(forKey: id) else { return }
        var answer = bytes
        answer[0] = waiting.clientID.0
        answer[1] = waiting.clientID.1
        reply(waiting.client, answer)
    }
}

extension DNSForwarder {
    /// True when `reply` carries `question` as its first question (names compared without case).
    static func repeats(_ question: DNSMessage.Question, reply: [UInt8]) -> Bool {
        let end = 12 + question.wire.count
        guard reply.count >= end, UInt16(reply[4]) << 8 | UInt16(reply[5]) >= 1 else { return false }
        return zip(reply[12..<end], question.wire).allSatisfy { lowercased($0) == lowercased($1) }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte | 0x20 : byte }
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
