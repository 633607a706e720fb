import Kube9Model
import Kube9Threads
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The TCP data path: one listener per frontend; each accepted connection asks the balancer
/// for an endpoint, connects to it (a refusal is retried on another endpoint, up to 3 tries,
/// within the same client connection), then relays bytes both ways with back-pressure.
final class TCPProxy: Sendable {
    let group: MultiThreadedEventLoopGroup
    let balancer: Balancer
    let logger: Logger
    /// The service port behind a frontend now (endpoints change without relistening).
    let lookup: @Sendable (ServiceTable.Frontend) -> ServiceTable.ServicePort?
    let listeners = FrontendListeners(proto: "TCP")
    /// Where picks (Lua calls) run.
    let pickers: WorkerThreads
    static let maximumTries = 3

    init(group: MultiThreadedEventLoopGroup, balancer: Balancer, pickers: WorkerThreads, logger: Logger,
         lookup: @escaping @Sendable (ServiceTable.Frontend) -> ServiceTable.ServicePort?) {
        self.pickers = pickers
        self.group = group
        self.balancer = balancer
        self.logger = logger
        self.lookup = lookup
    }

    /// Opens listeners for new frontends and closes those no longer wanted. Blocks the calling
    /// thread (never an event loop) until the binds are done. Returns frontends that failed, with why.
    func reconcile(_ wanted: Set<ServiceTable.Frontend>) -> [ServiceTable.Frontend: String] { listeners.reconcile(wanted, open: listen) }

    func listen(_ frontend: ServiceTable.Frontend) throws -> any Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [self] client in
                client.eventLoop.makeCompletedFuture {
                    // The pick starts once the channel is active (the initializer runs before that,
                    // and a connection closed as "inactive" would be reset with its request unread).
                    let glue = GlueHandler()
                    glue.onActive = { channel in self.connect(channel, frontend: frontend, excluded: [], tries: 0) }
                    try client.pipeline.syncOperations.addHandler(glue)
                }
            }
        return try bootstrap.bind(host: frontend.ip, port: frontend.port).wait()
    }

    /// Picks an endpoint on the Lua threads (a slow policy never holds the event loop that
    /// relays every connection), then connects to it from the client channel's event loop.
    func connect(_ client: any Channel, frontend: ServiceTable.Frontend, excluded: Set<String>, tries: Int) {
        guard let service = lookup(frontend), tries < Self.maximumTries else {
            client.close(promise: nil)
            return
        }
        let remote = client.remoteAddress
        let clientIP = remote?.ipAddress ?? ""
        let clientPort = remote?.port ?? 0
        let proceed: @Sendable (Balancer.Pick?) -> Void = { [self] chosen in
            guard let chosen, client.isActive else {
                if let chosen { balancer.finished(service, chosen.endpoint, failed: false) }
                client.close(promise: nil)
                return
            }
            dial(client, service: service, endpoint: chosen.endpoint, turn: chosen.turnToGiveBack, frontend: frontend, excluded: excluded, tries: tries)
        }
        guard pickers.pending < Balancer.maximumQueuedPicks else {
            // The Lua threads are behind (a flood, a slow policy): round robin here and now
            // rather than a queue, and the clients it holds, that grows with the flood.
            proceed(balancer.pickTurn(service, clientIP: clientIP, clientPort: clientPort, excluding: excluded, usePolicy: false))
            return
        }
        pickers.submit { [self] in
            let chosen = balancer.pickTurn(service, clientIP: clientIP, clientPort: clientPort, excluding: excluded)
            client.eventLoop.execute { proceed(chosen) }
        }
    }

    /// Connects to the chosen endpoint and joins the two channels; a failure gives the pick's turn
    /// back and tries another pick.
    func dial(_ client: any Channel, service: ServiceTable.ServicePort, endpoint: ServiceTable.Endpoint, turn: Int64?, frontend: ServiceTable.Frontend,
              excluded: Set<String>, tries: Int) {
        let balancer = self.balancer
        ClientBootstrap(group: client.eventLoop)
            .connectTimeout(.seconds(2))
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { backend in
                backend.eventLoop.makeCompletedFuture { try backend.pipeline.syncOperations.addHandler(GlueHandler()) }
            }
            .connect(host: endpoint.ip, port: endpoint.port)
            .whenComplete { [self] result in
                switch result {
                case .success(let backend):
                    backend.closeFuture.whenComplete { _ in balancer.finished(service, endpoint, failed: false) }
                    guard client.isActive else {
                        backend.close(promise: nil)
                        return
                    }
                    do {
                        let front = try client.pipeline.syncOperations.handler(type: GlueHandler.self)
                        let back = try backend.pipeline.syncOperations.handler(type: GlueHandler.self)
                        front.partner = back
                        back.partner = front
                        front.replayBuffered()
                        back.replayBuffered()
                        client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                        backend.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                        client.read()
                        backend.read()
                    } catch {
                        client.close(promise: nil)
                        backend.close(promise: nil)
                    }
                case .failure:
                    balancer.finished(service, endpoint, failed: true, givingBack: turn)
                    if client.isActive {
                        self.connect(client, frontend: frontend, excluded: excluded.union([endpoint.key]), tries: tries + 1)
                    }
                }
            }
    }

    func closeAll() { listeners.closeAll() }
}

/// Relays what one channel reads to its partner, reading only while the partner can take
/// more (the back-pressure of NIO's proxy examples); a half-close is passed on, a channel that
/// goes away (closed or reset) takes its partner along once the partner's writes are out.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    var partner: GlueHandler?
    /// Runs once when the channel becomes active (the client side starts its pick there).
    var onActive: ((any Channel) -> Void)?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    private func partnerWrite(_ data: NIOAny) { context?.write(data, promise: nil) }
    private func partnerFlush() { context?.flush() }
    /// The partner's side ended: send what was written, then end this side's output (a full
    /// close when its input has ended too, or when the output already was closed). Flushing
    /// first matters: NIO fails writes still pending when a close escalates to a full one.
    private func partnerEnded() {
        guard let context else { return }
        context.flush()
        let channel = context.channel
        channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
    }
    /// The partner's channel is gone (closed, reset, failed): send what was written to this
    /// side, then close it fully, so a peer that never closes cannot keep it (and its endpoint's
    /// count) forever. The close waits for the writes (NIO fails writes pending at a close),
    /// at most `drainSeconds` for a peer that does not read.
    private func partnerClosed() {
        guard let context else { return }
        let channel = context.channel
        let drained = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(ByteBuffer()), promise: drained)
        let deadline = context.eventLoop.scheduleTask(in: .seconds(Self.drainSeconds)) { channel.close(promise: nil) }
        drained.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }
    static let drainSeconds: Int64 = 10

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }
    private var partnerWritable: Bool { context?.channel.isWritable ?? false }

    func channelActive(context: ChannelHandlerContext) {
        if let onActive {
            self.onActive = nil
            onActive(context.channel)
        }
        context.fireChannelActive()
    }

    /// What arrived before the partner existed: NIO reads a connection whose peer already
    /// half-closed (RDHUP) even while reads are off, so a client that sends its request and
    /// its FIN at once (busybox nc) delivers both before the endpoint is connected.
    private var buffered: [NIOAny] = []
    private var bufferedBytes = 0
    private var inputEndedEarly = false
    static let maximumBufferedBytes = 1 << 20

    /// Sends what arrived before pairing to the partner, then the end of input if it came.
    func replayBuffered() {
        guard let partner else { return }
        for data in buffered { partner.partnerWrite(data) }
        buffered = []
        bufferedBytes = 0
        partner.partnerFlush()
        if inputEndedEarly { partner.partnerEnded() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let partner {
            partner.partnerWrite(data)
            return
        }
        bufferedBytes += unwrapInboundIn(data).readableBytes
        if bufferedBytes > Self.maximumBufferedBytes {
            context.close(promise: nil)
            return
        }
        buffered.append(data)
    }
    func channelReadComplete(context: ChannelHandlerContext) { partner?.partnerFlush() }
    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClosed()
        partner = nil
    }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            if let partner { partner.partnerEnded() } else { inputEndedEarly = true }
        }
        context.fireUserInboundEventTriggered(event)
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }
    func read(context: ChannelHandlerContext) {
        if partner?.partnerWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
