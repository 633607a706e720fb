import Foundation
import Kube9Model
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Cluster DNS (CoreDNS's kubernetes plugin, the part pods use): answers
/// `SVC.NS.svc.DOMAIN` (A: the cluster IP, or each ready endpoint of a headless service;
/// CNAME for ExternalName) and `_PORT._PROTO.SVC.NS.svc.DOMAIN` (SRV), NXDOMAIN for other
/// names in the domain, NOERROR with no answer for other types of a known name. Names outside
/// the domain go to the upstream servers (DNSForwarder), or are REFUSED when there are none.
/// It listens on UDP at the DNS address of the service range (10.96.0.10:53).
public final class ClusterDNS: Sendable {
    public let domain: String
    let group: MultiThreadedEventLoopGroup
    let logger: Logger
    /// The services and slices now.
    let snapshot: @Sendable () -> (services: [JSON], slices: [JSON])
    /// Where names outside the domain are sent ("ip:port"); none: they are REFUSED.
    public let upstreams: [String]
    /// The sockets `listen` and `listenTCP` opened (closed by `close`).
    let channels = Mutex<[any Channel]>([])
    /// TCP connections open now.
    let tcpConnections = ConnectionCount()
    final class ConnectionCount: Sendable {
        let value = Atomic<Int>(0)
    }

    public init(domain: String = "cluster.local", upstreams: [String] = [], group: MultiThreadedEventLoopGroup, logger: Logger,
                snapshot: @escaping @Sendable () -> (services: [JSON], slices: [JSON])) {
        self.domain = domain
        self.upstreams = upstreams
        self.group = group
        self.logger = logger
        self.snapshot = snapshot
    }

    /// Whether `name` is the cluster domain or a name under it (the names this server owns).
    public static func isInDomain(_ name: String, domain: String) -> Bool {
        name == domain || name.hasSuffix("." + domain)
    }

    /// Whether a query goes to the upstreams: a standard query of class IN or ANY for a name
    /// outside the domain.
    static func isForwarded(_ question: DNSMessage.Question, domain: String) -> Bool {
        isStandardQuery(question) && !isInDomain(question.name, domain: domain)
    }

    /// A standard query (opcode 0) of class IN or ANY: the only kind answered.
    static func isStandardQuery(_ question: DNSMessage.Question) -> Bool {
        question.flags & 0x7800 == 0 && (question.qclass == 1 || question.qclass == 255)
    }

    /// The answer to one question (pure: tests call it with objects), cut to `maximumBytes`
    /// (512 over UDP, 65,535 over TCP) and marked truncated when it does not fit.
    public static func answer(_ question: DNSMessage.Question, domain: String, services: [JSON], slices: [JSON], maximumBytes: Int = 512) -> [UInt8] {
        func reply(code: DNSMessage.ResponseCode, answers: [DNSMessage.Record], additional: [DNSMessage.Record] = []) -> [UInt8] {
            DNSMessage.reply(to: question, code: code, answers: answers, additional: additional, maximumBytes: maximumBytes)
        }
        let suffix = ".svc." + domain
        guard isStandardQuery(question) else {
            return reply(code: .notImplemented, answers: [])
        }
        guard isInDomain(question.name, domain: domain) else {
            return reply(code: .refused, answers: [])
        }
        let parts = question.name.hasSuffix(suffix) ? question.name.dropLast(suffix.count).split(separator: ".").map(String.init) : []
        var port: (name: String, proto: String)? = nil
        var rest = parts
        if parts.count == 4, parts[0].hasPrefix("_"), parts[1].hasPrefix("_") {
            port = (String(parts[0].dropFirst()), String(parts[1].dropFirst()).uppercased())
            rest = Array(parts.dropFirst(2))
        }
        // The domain, svc.DOMAIN and NS.svc.DOMAIN exist (they hold names) but have no records.
        if port == nil, question.name == domain || question.name == "svc." + domain || (question.name.hasSuffix(suffix) && rest.count == 1) {
            return reply(code: .noError, answers: [])
        }
        guard rest.count == 2, let service = services.first(where: { ObjectMeta.name(of: $0) == rest[0] && ObjectMeta.namespace(of: $0) == rest[1] }) else {
            return reply(code: .nameError, answers: [])
        }
        let owner = question.name
        let serviceName = rest.joined(separator: ".") + suffix
        if ServiceStrategy.serviceType(service) == "ExternalName" {
            let target = (service[path: ["spec", "externalName"]]?.stringValue ?? "")
            return reply(code: .noError, answers: port == nil && !target.isEmpty ? [.cname(name: owner, target: target)] : [])
        }
        let clusterIP = service[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        var addresses: [IPv4Address] = []
        if let ip = IPv4Address(clusterIP) {
            addresses = [ip]
        } else if clusterIP == "None" {
            for slice in slices where ObjectMeta.namespace(of: slice) == rest[1]
                && ObjectMeta.labels(of: slice)[EndpointSliceStrategy.serviceNameLabel] == rest[0] {
                addresses += ServiceTable.readyEndpoints(slice).compactMap { IPv4Address($0.ip) }
            }
            addresses = Array(Set(addresses)).sorted()
        }
        if let port {
            guard question.type == DNSMessage.typeSRV || question.type == DNSMessage.typeANY else {
                return reply(code: .noError, answers: [])
            }
            guard let entry = (service[path: ["spec", "ports"]]?.arrayValue ?? []).first(where: {
                ($0["name"]?.stringValue ?? "") == port.name && ($0["protocol"]?.stringValue ?? "TCP") == port.proto
            }), let number = entry["port"]?.intValue, let value = UInt16(exactly: number) else {
                return reply(code: .nameError, answers: [])
            }
            return reply(code: .noError,
                                    answers: [.srv(name: owner, priority: 0, weight: 100, port: value, target: serviceName)],
                                    additional: addresses.map { .a(name: serviceName, ip: $0) })
        }
        switch question.type {
        case DNSMessage.typeA, DNSMessage.typeANY:
            return reply(code: .noError, answers: addresses.map { .a(name: owner, ip: $0) })
        case DNSMessage.typeSRV:
            let answers: [DNSMessage.Record] = (service[path: ["spec", "ports"]]?.arrayValue ?? []).compactMap { entry in
                guard let number = entry["port"]?.intValue, let value = UInt16(exactly: number) else { return nil }
                return .srv(name: owner, priority: 0, weight: 100, port: value, target: serviceName)
            }
            return reply(code: .noError, answers: answers, additional: addresses.map { .a(name: serviceName, ip: $0) })
        default:
            return reply(code: .noError, answers: [])
        }
    }

    /// An upstream server written "ipv4" (port 53) or "ipv4:port"; nil for anything else.
    public static func upstream(_ entry: String) -> (ip: String, port: Int)? {
        let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, IPv4Address(String(parts[0])) != nil else { return nil }
        guard parts.count == 2 else { return (String(parts[0]), 53) }
        guard let number = Int(parts[1]), (1...65535).contains(number) else { return nil }
        return (String(parts[0]), number)
    }

    /// Binds UDP `host:port` and answers there until the group shuts down. Throws when an
    /// upstream is not "ipv4:port" or the address cannot be bound.
    @discardableResult
    public func listen(host: String, port: Int) throws -> any Channel {
        let domain = self.domain
        let snapshot = self.snapshot
        let upstreams = try upstreamAddresses()
        // No SO_REUSEADDR: for UDP it would let a second server share the address and its queries.
        let channel = try DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSHandler(domain: domain, upstreams: upstreams, snapshot: snapshot))
                }
            }
            .bind(host: host, port: port).wait()
        channels.withLock { $0.append(channel) }
        return channel
    }

    /// Closes every socket `listen` and `listenTCP` opened (the event loop group is the caller's).
    public func close() {
        let open = channels.withLock { channels -> [any Channel] in
            defer { channels = [] }
            return channels
        }
        for channel in open { channel.close(promise: nil) }
    }
}

/// An upstream DNS server that is not "ipv4:port".
public struct DNSConfigurationError: Error, CustomStringConvertible {
    public let upstream: String
    public var description: String { "DNS upstream \"\(upstream)\" is not an IPv4 address and port (ip:port)" }
}

/// What both DNS transports (DNSHandler over UDP, DNSTCPHandler over TCP) do with one
/// message: names outside the domain go to the connection's or socket's forwarder, the rest
/// are answered from the snapshot.
struct DNSQueries {
    let domain: String
    let upstreams: [SocketAddress]
    let snapshot: @Sendable () -> (services: [JSON], slices: [JSON])

    /// A started forwarder on `eventLoop` sending upstream replies through `reply`; nil without upstreams.
    func makeForwarder(eventLoop: any EventLoop, reply: @escaping (SocketAddress, [UInt8]) -> Void) -> DNSForwarder? {
        guard !upstreams.isEmpty else { return nil }
        let forwarder = DNSForwarder(upstreams: upstreams, eventLoop: eventLoop, reply: reply)
        forwarder.start()
        return forwarder
    }

    /// Handles one message from `client`: nil when it is not a query; an empty reply when it
    /// was forwarded (the answer comes later through the forwarder); else the answer, cut to `maximumBytes`.
    func respond(_ bytes: [UInt8], from client: SocketAddress?, forwarder: DNSForwarder?, maximumBytes: Int) -> [UInt8]? {
        guard let question = DNSMessage.parseQuery(bytes) else { return nil }
        if let forwarder, let client, ClusterDNS.isForwarded(question, domain: domain) {
            forwarder.forward(bytes, question: question, from: client)
            return []
        }
        let (services, slices) = snapshot()
        return ClusterDNS.answer(question, domain: domain, services: services, slices: slices, maximumBytes: maximumBytes)
    }
}

/// Answers each datagram (or forwards it, for names outside the domain); a datagram that is
/// not a query gets no reply.
final class DNSHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let queries: DNSQueries
    private var forwarder: DNSForwarder?

    init(domain: String, upstreams: [SocketAddress], snapshot: @escaping @Sendable () -> (services: [JSON], slices: [JSON])) {
        queries = DNSQueries(domain: domain, upstreams: upstreams, snapshot: snapshot)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        forwarder = queries.makeForwarder(eventLoop: context.eventLoop) { client, bytes in
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { forwarder?.stop() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let reply = queries.respond(Array(buffer: envelope.data), from: envelope.remoteAddress, forwarder: forwarder, maximumBytes: 512),
              !reply.isEmpty else { return }
        let buffer = context.channel.allocator.buffer(bytes: reply)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)), promise: nil)
    }
}
