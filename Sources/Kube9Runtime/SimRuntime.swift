import Foundation
import Kube9Model
import Synchronization

/// Containers that are only records (like KWOK): nothing runs. A started container reports
/// `running` once `startDelay` has passed, and runs until stopped. One instance can serve
/// many simulated nodes in one process.
public final class SimRuntime: ContainerRuntime {
    public let kind = "sim"
    /// Seconds between a start and the container reporting running.
    public let startDelay: Double

    struct Record {
        var info: ContainerInfo
        var startedAt: Date?
    }

    private let records = Mutex<[String: [String: Record]]>([:])
    private let counter = Atomic<Int>(0)

    public init(startDelay: Double = 0.1) {
        self.startDelay = startDelay
    }

    public func version() throws -> String { "sim://kube9" }
    public func verifyImage(_ image: String) throws {}

    static func node(of id: String) -> String { String(id.split(separator: "/").first ?? "") }

    func insert(_ info: ContainerInfo) {
        let node = info.labels[RuntimeLabels.node] ?? ""
        records.withLock { $0[node, default: [:]][info.id] = Record(info: info, startedAt: nil) }
    }

    func newID(_ pod: PodIdentity, container: String) -> String {
        "\(pod.node)/\(pod.uid.prefix(8))-\(container)-\(counter.add(1, ordering: .relaxed).newValue)"
    }

    public func runSandbox(_ pod: PodIdentity, spec: JSON) throws -> ContainerInfo {
        let digest = pod.uid.utf8.reduce(UInt32(2166136261)) { ($0 ^ UInt32($1)) &* 16777619 }
        let info = ContainerInfo(id: newID(pod, container: "pod"), labels: pod.labels(container: RuntimeLabels.sandboxContainerName, attempt: 0),
                                 image: "", state: .running, startedAt: Timestamp.now(),
                                 ipAddress: "10.\(64 + digest % 64).\(digest >> 8 & 255).\(digest >> 16 & 254 + 1)")
        insert(info)
        return info
    }

    public func createContainer(_ spec: ContainerSpec, pod: PodIdentity, sandbox: ContainerInfo) throws -> String {
        let info = ContainerInfo(id: newID(pod, container: spec.name), labels: pod.labels(container: spec.name, attempt: spec.attempt),
                                 image: spec.image, state: .created)
        insert(info)
        return info.id
    }

    func update(_ id: String, _ change: (inout Record) -> Void) throws {
        try records.withLock { all in
            let node = Self.node(of: id)
            guard var record = all[node]?[id] else { throw RuntimeError.notFound(id: id) }
            change(&record)
            all[node, default: [:]][id] = record
        }
    }

    public func startContainer(id: String) throws {
        try update(id) { $0.startedAt = Date() }
    }

    /// Marks a container ended with `code` (a stop ends cleanly, a kill with 137).
    func end(_ id: String, code: Int32) {
        try? update(id) { record in
            guard record.info.state != .exited else { return }
            record.info.state = .exited
            record.info.exitCode = code
            record.info.reason = code == 0 ? "Completed" : "Error"
            record.info.finishedAt = Timestamp.now()
        }
    }

    public func stopContainer(id: String, gracePeriodSeconds: Int) throws { end(id, code: 0) }

    public func killContainer(id: String, signal: String) throws { end(id, code: 137) }

    public func removeContainer(id: String) throws {
        _ = records.withLock { $0[Self.node(of: id)]?.removeValue(forKey: id) }
    }

    func current(_ record: Record) -> ContainerInfo {
        var info = record.info
        if info.state == .created, let started = record.startedAt, Date().timeIntervalSince(started) >= startDelay {
            info.state = .running
            info.startedAt = Timestamp.format(Int64(started.timeIntervalSince1970))
        }
        return info
    }

    public func listContainers(node: String) throws -> [ContainerInfo] {
        records.withLock { all in (all[node] ?? [:]).values.map { current($0) } }
    }

    public func inspectContainer(id: String) throws -> ContainerInfo {
        try records.withLock { all in
            guard let record = all[Self.node(of: id)]?[id] else { throw RuntimeError.notFound(id: id) }
            return current(record)
        }
    }

    public func waitContainer(id: String, timeoutSeconds: Double) throws -> Int32? {
        let info = try inspectContainer(id: id)
        return info.state == .exited ? info.exitCode : nil
    }

    public func logs(id: String, tailLines: Int?, follow: Bool, sink: @escaping ([UInt8]) -> Bool) throws {
        let info = try inspectContainer(id: id)
        let text = "sim container \(info.containerName) of pod \(info.labels[RuntimeLabels.podNamespace] ?? "")/\(info.labels[RuntimeLabels.podName] ?? ""): nothing runs on a sim node\n"
        let bytes = lastLines(Array(text.utf8), tailLines)
        if !bytes.isEmpty { _ = sink(bytes) }
    }

    public func exec(id: String, command: [String], timeoutSeconds: Double) throws -> Int32? { 0 }

    public func stats(id: String) throws -> ResourceUsage { ResourceUsage(cpuNanoseconds: 0, memoryBytes: 0) }
}
