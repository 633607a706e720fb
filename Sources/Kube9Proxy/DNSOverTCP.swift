import Kube9Model
import NIOCore
import NIOPosix
import Synchronization

/// DNS over TCP (RFC 7766) on the cluster DNS address: the answers UDP gives, up to 65,535
/// bytes instead of 512, so a client that got a truncated UDP answer (a headless service with
/// many endpoints) fetches it whole, as resolvers do. Each message is a 2-byte length and the
/// message; several may follow on one connection. A connection idle for 10 s is closed, at
/// most 256 are open at once, and a message that is not a query ends its connection.
extension ClusterDNS {
    static let maximumTCPConnections = 256
    static let tcpIdleTimeout = TimeAmount.seconds(10)
    static let maximumTCPMessageBytes = 65_535

    /// Binds TCP `host:port` and answers there until `close`. Throws when an upstream is not
    /// "ipv4:port" or the address cannot be bound.
    @discardableResult
    public func listenTCP(host: String, port: Int) throws -> any Channel {
        let domain = self.domain
        let snapshot = self.snapshot
        let upstreams = try upstreamAddresses()
        let open = tcpConnections
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard open.value.add(1, ordering: .relaxed).newValue <= Self.maximumTCPConnections else {
                    open.value.subtract(1, ordering: .relaxed)
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in open.value.subtract(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.tcpIdleTimeout))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSLengthPrefixDecoder(), maximumBufferSize: 2 * (Self.maximumTCPMessageBytes + 2)))
                    try channel.pipeline.syncOperations.addHandler(DNSTCPHandler(domain: domain, upstreams: upstreams, snapshot: snapshot))
                }
            }
            .bind(host: host, port: port).wait()
        channels.withLock { $0.append(channel) }
        return channel
    }

    /// The upstreams as socket addresses; throws for one that is not "ipv4:port".
    func upstreamAddresses() throws -> [SocketAddress] {
        try upstreams.map { entry -> SocketAddress in
            guard let upstream = Self.upstream(entry) else { throw DNSConfigurationError(upstream: entry) }
            return try SocketAddress(ipAddress: upstream.ip, port: upstream.port)
        }
    }

    /// `message` with its 2-byte length in front (the caller keeps it under 65,536 bytes).
    static func framed(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: message.count + 2)
        buffer.writeInteger(UInt16(clamping: message.count))
        buffer.writeBytes(message.prefix(maximumTCPMessageBytes))
        return buffer
    }
}

/// Splits a TCP stream into DNS messages by their 2-byte length prefix.
struct DNSLengthPrefixDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self), buffer.readableBytes >= 2 + Int(length) else {
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let message = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }
}

/// Answers each message of one TCP connection (or forwards it, for names outside the domain,
/// through a forwarder of the connection's own).
final class DNSTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let queries: DNSQueries
    private var forwarder: DNSForwarder?

    init(domain: String, upstreams: [SocketAddress], snapshot: @escaping @Sendable () -> (services: [JSON], slices: [JSON])) {
        queries = DNSQueries(domain: domain, upstreams: upstreams, snapshot: snapshot)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        forwarder = queries.makeForwarder(eventLoop: context.eventLoop) { _, bytes in
            channel.writeAndFlush(ClusterDNS.framed(bytes, allocator: channel.allocator), promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { forwarder?.stop() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let reply = queries.respond(Array(buffer: unwrapInboundIn(data)), from: context.channel.remoteAddress, forwarder: forwarder,
                                          maximumBytes: ClusterDNS.maximumTCPMessageBytes) else {
            context.close(promise: nil)
            return
        }
        if !reply.isEmpty { context.writeAndFlush(wrapOutboundOut(ClusterDNS.framed(reply, allocator: context.channel.allocator)), promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
