import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// HTTP/1.0 semantics for Hummingbird's HTTP/1 server: a 1.0 request without
/// `Connection: keep-alive` ends its connection after the response (RFC 9112 §9.3). Hummingbird
/// only ends a connection on `Connection: close`, and the version is gone once the request is an
/// HTTPTypes request, so this marks such requests `Connection: close` right after decoding.
/// Without it an HTTP/1.0 client that reads to the end of the stream (ab, HTTP/1.0 scripts, the
/// kubernetes service through the proxy) waits forever for the server to close.
enum HTTP10Close {
    /// Hummingbird's HTTP/1 server with the marking handler in its pipeline.
    static var server: HTTPServerBuilder {
        HTTPServerBuilder { responder in Channel(inner: HTTP1Channel(responder: responder)) }
    }

    struct Channel: HTTPChannelHandler {
        typealias Value = HTTP1Channel.Value
        let inner: HTTP1Channel
        var responder: HTTPChannelHandler.Responder { inner.responder }

        func setup(channel: any NIOCore.Channel, logger: Logger) -> EventLoopFuture<Value> {
            inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
                let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try channel.pipeline.syncOperations.addHandler(MarkHandler(), position: .after(decoder))
                return value
            }
        }

        func handle(value: Value, logger: Logger) async { await inner.handle(value: value, logger: logger) }
    }

    /// Adds `Connection: close` to HTTP/1.0 request heads that do not ask for keep-alive.
    final class MarkHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(var head) = unwrapInboundIn(data), head.version == .http1_0, !head.isKeepAlive else {
                context.fireChannelRead(data)
                return
            }
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.fireChannelRead(wrapInboundOut(.head(head)))
        }
    }
}
