import Kube9Model

/// Labels kube9 puts on every sandbox and container it creates, so an agent can find what it
/// owns after a restart (adoption) and what nobody owns any more (orphans).
public enum RuntimeLabels {
    public static let podUID = "kube9.io/pod-uid"
    public static let podNamespace = "kube9.io/pod-namespace"
    public static let podName = "kube9.io/pod-name"
    public static let node = "kube9.io/node"
    /// The container's name in the pod spec; sandboxes carry `sandboxContainerName`.
    public static let container = "kube9.io/container"
    /// How many times this container of this pod was started before this one (its restart count).
    public static let attempt = "kube9.io/attempt"
    /// The container name sandboxes carry.
    public static let sandboxContainerName = "POD"
}

/// Identity of a pod, as written into runtime labels.
public struct PodIdentity: Sendable, Hashable {
    public var uid: String
    public var namespace: String
    public var name: String
    public var node: String

    public init(uid: String, namespace: String, name: String, node: String) {
        self.uid = uid
        self.namespace = namespace
        self.name = name
        self.node = node
    }

    /// The labels of a container of this pod.
    public func labels(container: String, attempt: Int) -> [String: String] {
        [RuntimeLabels.podUID: uid, RuntimeLabels.podNamespace: namespace, RuntimeLabels.podName: name,
         RuntimeLabels.node: node, RuntimeLabels.container: container, RuntimeLabels.attempt: String(attempt)]
    }
}

/// What to run for one container of a pod (already resolved from the pod spec).
/// A pod volume mounted into a container: a path on the node at a path in the container.
public struct ContainerMount: Sendable, Equatable {
    /// The pod volume's name.
    public var volume: String
    /// The node's path (a directory the agent keeps, or a hostPath).
    public var source: String
    /// The absolute path inside the container.
    public var target: String
    public var readOnly: Bool
    public init(volume: String, source: String, target: String, readOnly: Bool) {
        self.volume = volume
        self.source = source
        self.target = target
        self.readOnly = readOnly
    }
}

public struct ContainerSpec: Sendable {
    /// The container's name in the pod.
    public var name: String
    public var image: String
    /// Overrides the image's entrypoint (Kubernetes `command`); empty keeps it.
    public var command: [String]
    /// Overrides the image's arguments (Kubernetes `args`); empty keeps them.
    public var args: [String]
    /// Environment, in order.
    public var environment: [(name: String, value: String)]
    public var workingDirectory: String?
    /// CPU limit in billionths of a core (Docker's NanoCpus); nil for none.
    public var nanoCPUs: Int64?
    /// Memory limit in bytes; nil for none.
    public var memoryBytes: Int64?
    /// Restart count this start represents (0 for the first start).
    public var attempt: Int
    /// Volumes to mount (Docker: bind mounts; process runtime: paths in the environment).
    public var mounts: [ContainerMount] = []

    public init(name: String, image: String, command: [String] = [], args: [String] = [],
                environment: [(name: String, value: String)] = [], workingDirectory: String? = nil,
                nanoCPUs: Int64? = nil, memoryBytes: Int64? = nil, attempt: Int = 0) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.nanoCPUs = nanoCPUs
        self.memoryBytes = memoryBytes
        self.attempt = attempt
    }

    /// The full command line: command (or nothing) followed by args.
    public var commandLine: [String] { command + args }
}

/// The state of a container as the runtime sees it.
public enum ContainerState: String, Sendable {
    case created, running, exited, unknown
}

/// A sandbox (the pod's network home) or a container, as listed or inspected.
public struct ContainerInfo: Sendable {
    /// Runtime id (Docker container id, process container directory name, sim id).
    public var id: String
    public var labels: [String: String]
    public var image: String
    public var state: ContainerState
    public var exitCode: Int32?
    /// Why it ended (OOMKilled, Error, Completed), when it did.
    public var reason: String?
    public var startedAt: String?
    public var finishedAt: String?
    /// The pod's IP address (sandboxes only).
    public var ipAddress: String?

    public init(id: String, labels: [String: String], image: String, state: ContainerState, exitCode: Int32? = nil,
                reason: String? = nil, startedAt: String? = nil, finishedAt: String? = nil, ipAddress: String? = nil) {
        self.id = id
        self.labels = labels
        self.image = image
        self.state = state
        self.exitCode = exitCode
        self.reason = reason
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.ipAddress = ipAddress
    }

    public var podUID: String { labels[RuntimeLabels.podUID] ?? "" }
    public var containerName: String { labels[RuntimeLabels.container] ?? "" }
    public var attempt: Int { Int(labels[RuntimeLabels.attempt] ?? "") ?? 0 }
    public var isSandbox: Bool { containerName == RuntimeLabels.sandboxContainerName }
}

/// CPU and memory a container (or the node) uses.
public struct ResourceUsage: Sendable {
    /// Cumulative CPU time in nanoseconds.
    public var cpuNanoseconds: UInt64
    /// Memory in use (working set) in bytes.
    public var memoryBytes: UInt64

    public init(cpuNanoseconds: UInt64, memoryBytes: UInt64) {
        self.cpuNanoseconds = cpuNanoseconds
        self.memoryBytes = memoryBytes
    }
}

/// Failures of a runtime, each naming what was wrong and where.
public enum RuntimeError: Error, CustomStringConvertible, Sendable {
    /// The image is not on the node and kube9 does not pull (there is no registry).
    case imageNotPresent(image: String, detail: String)
    /// The runtime refused a request (HTTP status and message for Docker).
    case refused(operation: String, detail: String)
    /// The runtime cannot be reached.
    case unavailable(String)
    case notFound(id: String)

    public var description: String {
        switch self {
        case .imageNotPresent(let image, let detail): "image \"\(image)\" is not present: \(detail)"
        case .refused(let operation, let detail): "\(operation): \(detail)"
        case .unavailable(let detail): "container runtime unavailable: \(detail)"
        case .notFound(let id): "no such container: \(id)"
        }
    }
}

/// A container runtime as the agent drives it, in the shape of the CRI: a sandbox per pod
/// holds its network (and IP); containers join it. Calls block the calling thread; every
/// implementation is safe to call from several threads at once.
public protocol ContainerRuntime: Sendable {
    /// "docker", "process" or "sim".
    var kind: String { get }
    /// Version string for the Node's `containerRuntimeVersion`, e.g. "docker://20.10.24".
    func version() throws -> String
    /// Checks the image is on the node (no registry is reachable, so nothing is pulled);
    /// throws `RuntimeError.imageNotPresent` naming the image otherwise.
    func verifyImage(_ image: String) throws
    /// Creates and starts the pod's sandbox; returns it (with its IP). `spec` is the pod's spec
    /// (the Docker runtime reads its DNS settings there).
    func runSandbox(_ pod: PodIdentity, spec: JSON) throws -> ContainerInfo
    /// Creates a container of `pod` inside `sandbox`; returns its id. The caller has checked
    /// the image with `verifyImage`.
    func createContainer(_ spec: ContainerSpec, pod: PodIdentity, sandbox: ContainerInfo) throws -> String
    func startContainer(id: String) throws
    /// Sends SIGTERM, waits up to `gracePeriodSeconds`, then SIGKILL. Returns once it stopped.
    func stopContainer(id: String, gracePeriodSeconds: Int) throws
    /// Sends a signal now (e.g. "SIGKILL").
    func killContainer(id: String, signal: String) throws
    /// Removes a stopped (or, forced, running) container or sandbox. Missing ids are not errors.
    func removeContainer(id: String) throws
    /// Every sandbox and container carrying `RuntimeLabels.node` = `node`.
    func listContainers(node: String) throws -> [ContainerInfo]
    func inspectContainer(id: String) throws -> ContainerInfo
    /// Blocks until the container exits or `timeoutSeconds` pass; its exit code if it exited.
    func waitContainer(id: String, timeoutSeconds: Double) throws -> Int32?
    /// Delivers the container's output: the last `tailLines` lines (all when nil), then, when
    /// `follow`, new output until it exits or `sink` returns false.
    func logs(id: String, tailLines: Int?, follow: Bool, sink: @escaping ([UInt8]) -> Bool) throws
    /// Runs a command in the container (exec probes); its exit code, or nil on timeout.
    func exec(id: String, command: [String], timeoutSeconds: Double) throws -> Int32?
    func stats(id: String) throws -> ResourceUsage
}

/// Splits text into its lines and keeps the last `count` (all when nil), newline-terminated.
public func lastLines(_ bytes: [UInt8], _ count: Int?) -> [UInt8] {
    guard let count else { return bytes }
    if count <= 0 { return [] }
    var end = bytes.count
    if end > 0, bytes[end - 1] == 0x0A { end -= 1 }
    var seen = 0
    var index = end
    while index > 0 {
        if bytes[index - 1] == 0x0A {
            seen += 1
            if seen == count { return Array(bytes[index...]) }
        }
        index -= 1
    }
    return bytes
}
