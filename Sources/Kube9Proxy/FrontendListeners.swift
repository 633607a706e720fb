import NIOCore
import Synchronization

/// The listening sockets of one protocol's frontends (TCPProxy's and UDPProxy's): `reconcile`
/// opens those wanted and missing (a failed one is tried again at the next reconcile) and
/// closes those no longer wanted.
final class FrontendListeners: Sendable {
    /// "TCP" or "UDP": the frontends of other protocols are not this set's.
    let proto: String
    private let channels = Mutex<[ServiceTable.Frontend: any Channel]>([:])

    init(proto: String) { self.proto = proto }

    /// Opens (with `open`, which blocks the calling thread, never an event loop, until bound)
    /// and closes listeners to match `wanted`; the frontends that failed, with why.
    func reconcile(_ wanted: Set<ServiceTable.Frontend>, open: (ServiceTable.Frontend) throws -> any Channel) -> [ServiceTable.Frontend: String] {
        let current = channels.withLock { Set($0.keys) }
        for frontend in current.subtracting(wanted) {
            if let channel = channels.withLock({ $0.removeValue(forKey: frontend) }) { channel.close(promise: nil) }
        }
        var failures: [ServiceTable.Frontend: String] = [:]
        for frontend in wanted.subtracting(current) where frontend.proto == proto {
            do {
                let channel = try open(frontend)
                channels.withLock { $0[frontend] = channel }
            } catch {
                failures[frontend] = "\(error)"
            }
        }
        return failures
    }

    func closeAll() {
        let open = channels.withLock { channels -> [any Channel] in
            defer { channels = [:] }
            return Array(channels.values)
        }
        for channel in open { channel.close(promise: nil) }
    }
}
