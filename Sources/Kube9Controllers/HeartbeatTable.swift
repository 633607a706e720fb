import Dispatch
import Synchronization

/// When each node last sent a heartbeat. Heartbeats are memory writes, not database writes:
/// the node lifecycle controller reads this table, and Lease objects are persisted only on a
/// state change or at a slow interval.
public final class HeartbeatTable: Sendable {
    private let beats = Mutex<[String: UInt64]>([:])

    public init() {}

    /// A monotonic clock reading in nanoseconds.
    public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Records a heartbeat from `node` now (or at `time`).
    public func beat(_ node: String, at time: UInt64 = HeartbeatTable.now()) {
        beats.withLock { $0[node] = time }
    }

    /// The last heartbeat of `node`, if any since the server started.
    public func last(_ node: String) -> UInt64? { beats.withLock { $0[node] } }

    /// Forgets a node (it was deleted).
    public func forget(_ node: String) { _ = beats.withLock { $0.removeValue(forKey: node) } }

    /// How many nodes have sent a heartbeat.
    public var count: Int { beats.withLock { $0.count } }
}
