import Foundation
import Synchronization

/// Bytes a blocking producer delivers, as an async sequence: `produce` runs on a thread of its
/// own and gets a sink that returns false once the consumer has gone (a client hung up), so
/// it can stop. Used to relay log streams into HTTP responses.
public func blockingByteStream(_ produce: @escaping @Sendable (_ sink: @escaping @Sendable ([UInt8]) -> Bool) -> Void) -> AsyncStream<[UInt8]> {
    AsyncStream<[UInt8]> { continuation in
        let box = CancelBox()
        let thread = Thread {
            produce { bytes in
                continuation.yield(bytes)
                return !box.isSet
            }
            continuation.finish()
        }
        thread.start()
        continuation.onTermination = { _ in box.set() }
    }
}

/// Set once by the consumer, read by the producer's thread.
final class CancelBox: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
