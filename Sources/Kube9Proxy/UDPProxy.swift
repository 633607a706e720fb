import Kube9Model
import Kube9Threads
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The UDP data path: one socket per frontend; each new client address (a flow) gets an
/// endpoint from the balancer and a socket of its own towards it, so replies find their way
/// back. A flow idle for `idleTimeout` is closed (the balancer's active count drops).
final class UDPProxy: Sendable {
    let group: MultiThreadedEventLoopGroup
    let balancer: Balancer
    let pickers: WorkerThreads
    let lookup: @Sendable (ServiceTable.Frontend) -> ServiceTable.ServicePort?
    let listeners = FrontendListeners(proto: "UDP")
    static let idleTimeout = TimeAmount.seconds(30)
    /// Datagrams kept for a flow while its endpoint is being picked.
    static let maximumPending = 16
    /// Flows per frontend; past this, new client addresses are dropped until some expire.
    static let maximumFlows = 4096

    init(group: MultiThreadedEventLoopGroup, balancer: Balancer, pickers: WorkerThreads,
         lookup: @escaping @Sendable (ServiceTable.Frontend) -> ServiceTable.ServicePort?) {
        self.group = group
        self.balancer = balancer
        self.pickers = pickers
        self.lookup = lookup
    }

    func reconcile(_ wanted: Set<ServiceTable.Frontend>) -> [ServiceTable.Frontend: String] {
        listeners.reconcile(wanted) { frontend in
            // No SO_REUSEADDR: for UDP it would let a second socket share the address (and its traffic).
            try DatagramBootstrap(group: group)
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPFrontendHandler(proxy: self, frontend: frontend))
                    }
                }
                .bind(host: frontend.ip, port: frontend.port).wait()
        }
    }

    func closeAll() { listeners.closeAll() }
}

/// One frontend socket: flows by client address, all on the socket's event loop.
final class UDPFrontendHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    struct Flow {
        /// Which flow this is: a pick or a bind that finishes after its flow was replaced is dropped.
        var id: UInt64
        var service: ServiceTable.ServicePort
        var endpoint: ServiceTable.Endpoint?
        var target: SocketAddress?
        var backend: (any Channel)?
        var pending: [ByteBuffer] = []
        var last: NIODeadline
    }

    let proxy: UDPProxy
    let frontend: ServiceTable.Frontend
    var flows: [SocketAddress: Flow] = [:]
    var sweeper: RepeatedTask?
    var nextID: UInt64 = 0

    init(proxy: UDPProxy, frontend: ServiceTable.Frontend) {
        self.proxy = proxy
        self.frontend = frontend
    }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        sweeper = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { _ in bound.value.sweep() }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        sweeper?.cancel()
        for (client, _) in flows { close(client) }
        context.fireChannelInactive()
    }

    /// Ends idle flows, and flows whose endpoint is no longer ready (as kube-proxy clears conntrack).
    func sweep() {
        let now = NIODeadline.now()
        let current = Set((proxy.lookup(frontend)?.endpoints ?? []).map(\.key))
        for (client, flow) in flows {
            let gone = flow.endpoint.map { !current.contains($0.key) } ?? false
            if now - flow.last > UDPProxy.idleTimeout || gone { close(client) }
        }
    }

    /// A reply from the endpoint keeps the flow alive too.
    func touch(_ client: SocketAddress) { flows[client]?.last = .now() }

    func close(_ client: SocketAddress) {
        guard let flow = flows.removeValue(forKey: client) else { return }
        flow.backend?.close(promise: nil)
        if let endpoint = flow.endpoint { proxy.balancer.finished(flow.service, endpoint, failed: false) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        if var flow = flows[client] {
            flow.last = .now()
            if let backend = flow.backend, let target = flow.target {
                backend.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: envelope.data), promise: nil)
            } else if flow.pending.count < UDPProxy.maximumPending {
                flow.pending.append(envelope.data)
            }
            flows[client] = flow
            return
        }
        guard flows.count < UDPProxy.maximumFlows, let service = proxy.lookup(frontend) else { return }
        nextID &+= 1
        let id = nextID
        flows[client] = Flow(id: id, service: service, pending: [envelope.data], last: .now())
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let frontChannel = context.channel
        let balancer = proxy.balancer
        guard proxy.pickers.pending < Balancer.maximumQueuedPicks else {
            // The Lua threads are behind: round robin now (as the TCP path does).
            open(client, id: id, service: service, endpoint: balancer.pick(service, clientIP: client.ipAddress ?? "", clientPort: client.port ?? 0, usePolicy: false),
                 front: frontChannel)
            return
        }
        proxy.pickers.submit {
            let endpoint = balancer.pick(service, clientIP: client.ipAddress ?? "", clientPort: client.port ?? 0)
            loop.execute { bound.value.open(client, id: id, service: service, endpoint: endpoint, front: frontChannel) }
        }
    }

    /// Makes the flow's socket towards its endpoint and sends what waited.
    func open(_ client: SocketAddress, id: UInt64, service: ServiceTable.ServicePort, endpoint: ServiceTable.Endpoint?, front: any Channel) {
        guard var flow = flows[client], flow.id == id else {
            if let endpoint { proxy.balancer.finished(service, endpoint, failed: false) }
            return
        }
        guard let endpoint, let target = try? SocketAddress(ipAddress: endpoint.ip, port: endpoint.port) else {
            if let endpoint { proxy.balancer.finished(service, endpoint, failed: true) }
            flows.removeValue(forKey: client)
            return
        }
        flow.endpoint = endpoint
        flow.target = target
        flows[client] = flow
        let bound = NIOLoopBound(self, eventLoop: front.eventLoop)
        DatagramBootstrap(group: front.eventLoop)
            .channelInitializer { backend in
                backend.eventLoop.makeCompletedFuture {
                    try backend.pipeline.syncOperations.addHandler(UDPBackendHandler(front: front, client: client, target: target,
                                                                                     touch: { bound.value.touch(client) }))
                }
            }
            .bind(host: "0.0.0.0", port: 0)
            .whenComplete { result in
                let handler = bound.value
                switch result {
                case .success(let backend):
                    // The flow may have ended (idle, endpoint gone) or been replaced meanwhile: its count was released then.
                    guard var flow = handler.flows[client], flow.id == id else {
                        backend.close(promise: nil)
                        return
                    }
                    flow.backend = backend
                    for datagram in flow.pending {
                        backend.write(AddressedEnvelope(remoteAddress: target, data: datagram), promise: nil)
                    }
                    backend.flush()
                    flow.pending = []
                    handler.flows[client] = flow
                case .failure:
                    if handler.flows[client]?.id == id {
                        handler.proxy.balancer.finished(service, endpoint, failed: true)
                        handler.flows.removeValue(forKey: client)
                    }
                }
            }
    }
}

/// A flow's socket towards its endpoint: replies go back out of the frontend socket to the client.
final class UDPBackendHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let front: any Channel
    let client: SocketAddress
    let target: SocketAddress
    /// Runs on the loop for each reply (keeps the flow alive).
    let touch: () -> Void

    init(front: any Channel, client: SocketAddress, target: SocketAddress, touch: @escaping () -> Void) {
        self.front = front
        self.client = client
        self.target = target
        self.touch = touch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        // Only the endpoint's replies go back to the client (the socket is not connected).
        guard envelope.remoteAddress == target else { return }
        touch()
        front.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: envelope.data), promise: nil)
    }
}
