import Foundation
import Synchronization

/// Bytes a blocking producer delivers, as an async sequence: `produce` runs on a thread of its
/// own and gets a sink that returns false once the consumer has gone (a client hung up), so
/// it can stop. Used to relay log streams into HTTP responses. At most `bufferedChunks` chunks
/// wait for the consumer: a producer faster than its reader blocks (it is on its own thread)
/// instead of buffering without bound.
public func blockingByteStream(bufferedChunks: Int = 64,
                               _ produce: @escaping @Sendable (_ sink: @escaping @Sendable ([UInt8]) -> Bool) -> Void) -> BlockingByteStream {
    let credits = DispatchSemaphore(value: max(1, bufferedChunks))
    let box = CancelBox()
    let stream = AsyncStream<[UInt8]> { continuation in
        let thread = Thread {
            produce { bytes in
                // Wait for room; give up when the consumer has gone.
                while credits.wait(timeout: .now() + .milliseconds(500)) == .timedOut {
                    if box.isSet { return false }
                }
                if box.isSet { return false }
                continuation.yield(bytes)
                return true
            }
            continuation.finish()
        }
        thread.stackSize = 512 << 10
        thread.start()
        continuation.onTermination = { _ in box.set() }
    }
    return BlockingByteStream(stream: stream, credits: credits)
}

/// The chunks of a `blockingByteStream`; taking one makes room for the producer.
public struct BlockingByteStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let stream: AsyncStream<[UInt8]>
    let credits: DispatchSemaphore

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<[UInt8]>.AsyncIterator
        let credits: DispatchSemaphore

        public mutating func next() async -> [UInt8]? {
            let chunk = await base.next()
            if chunk != nil { credits.signal() }
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: stream.makeAsyncIterator(), credits: credits) }
}

/// Set once by the consumer, read by the producer's thread.
final class CancelBox: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
