import Foundation
import Kube9Client
import Kube9Model
import Synchronization

/// The Docker Engine API over its unix socket (or tcp), through libcurl. The API version is
/// the one the daemon reports in `GET /version` (Debian's dockerd stops at 1.41).
public final class DockerEngine: Sendable {
    /// Where the daemon listens, from DOCKER_HOST (unix:///path or tcp://host:port).
    public let host: String
    let baseURL: String
    let socketPath: String?
    /// The API version in use, e.g. "1.41".
    public let apiVersion: String
    /// The daemon's version, e.g. "20.10.24+dfsg1".
    public let engineVersion: String
    private let idle = Mutex<[HTTPConnection]>([])

    /// The endpoint DOCKER_HOST names, or the default socket.
    public static func defaultHost(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let host = environment["DOCKER_HOST"], !host.isEmpty { return host }
        return "unix:///var/run/docker.sock"
    }

    /// Connects and negotiates the API version; throws `RuntimeError.unavailable` when no daemon answers.
    public init(host: String = DockerEngine.defaultHost()) throws {
        self.host = host
        if host.hasPrefix("unix://") {
            socketPath = String(host.dropFirst("unix://".count))
            baseURL = "http://docker"
        } else if host.hasPrefix("tcp://") {
            socketPath = nil
            baseURL = "http://" + host.dropFirst("tcp://".count)
        } else {
            throw RuntimeError.unavailable("DOCKER_HOST \(host) is neither unix:// nor tcp://")
        }
        let connection = try HTTPConnection(baseURL: baseURL, unixSocketPath: socketPath)
        connection.timeoutSeconds = 10
        let reply: HTTPReply
        do {
            reply = try connection.request("GET", "/version")
        } catch {
            throw RuntimeError.unavailable("no Docker daemon answers at \(host): \(error)")
        }
        guard reply.status == 200, let version = try? reply.json(), let api = version["ApiVersion"]?.stringValue else {
            throw RuntimeError.unavailable("GET /version at \(host) answered HTTP \(reply.status)")
        }
        apiVersion = api
        engineVersion = version["Version"]?.stringValue ?? api
        idle.withLock { $0.append(connection) }
    }

    func withConnection<T>(_ body: (HTTPConnection) throws -> T) throws -> T {
        let connection = try idle.withLock { $0.popLast() } ?? HTTPConnection(baseURL: baseURL, unixSocketPath: socketPath)
        defer { idle.withLock { $0.append(connection) } }
        return try body(connection)
    }

    /// Sends one request to `/v<api><path>`; returns the reply (any status).
    public func request(_ method: String, _ path: String, json: JSON? = nil, body: [UInt8]? = nil,
                        contentType: String = "application/json", timeoutSeconds: Int = 60) throws -> HTTPReply {
        do {
            return try withConnection { connection in
                connection.timeoutSeconds = timeoutSeconds
                return try connection.request(method, "/v\(apiVersion)\(path)", body: json?.serialized() ?? body, contentType: contentType)
            }
        } catch let error as ClientError {
            throw RuntimeError.unavailable("\(method) \(path): \(error)")
        }
    }

    /// Sends a request and requires one of `expected`; otherwise throws with Docker's message.
    @discardableResult
    public func call(_ method: String, _ path: String, json: JSON? = nil, body: [UInt8]? = nil, contentType: String = "application/json",
                     expected: Set<Int> = [200, 201, 204], timeoutSeconds: Int = 60) throws -> HTTPReply {
        let reply = try request(method, path, json: json, body: body, contentType: contentType, timeoutSeconds: timeoutSeconds)
        guard expected.contains(reply.status) else {
            let message = (try? reply.json())?["message"]?.stringValue ?? reply.text
            if reply.status == 404 { throw RuntimeError.notFound(id: "\(path): \(message)") }
            throw RuntimeError.refused(operation: "\(method) \(path)", detail: "HTTP \(reply.status): \(message)")
        }
        return reply
    }

    /// Streams a response as raw chunks.
    public func stream(_ method: String, _ path: String, json: JSON? = nil, timeoutSeconds: Int = 0,
                       onChunk: @escaping (UnsafeRawBufferPointer) -> Bool) throws -> Int {
        let connection = try HTTPConnection(baseURL: baseURL, unixSocketPath: socketPath)
        do {
            return try connection.streamChunks(method, "/v\(apiVersion)\(path)", body: json?.serialized(), timeoutSeconds: timeoutSeconds, onChunk: onChunk)
        } catch let error as ClientError {
            throw RuntimeError.unavailable("\(method) \(path): \(error)")
        }
    }

    /// True when an image of that reference exists locally.
    public func imageExists(_ image: String) throws -> Bool {
        try request("GET", "/images/\(Self.escape(image))/json").status == 200
    }

    /// Imports a rootfs tar as `repository:tag` (`docker import`).
    public func importImage(tar: [UInt8], repository: String, tag: String, command: [String] = []) throws {
        var path = "/images/create?fromSrc=-&repo=\(Self.escape(repository))&tag=\(Self.escape(tag))"
        if !command.isEmpty {
            let change = "CMD " + String(decoding: JSON.array(command.map { .string($0) }).serialized(), as: UTF8.self)
            path += "&changes=\(Self.escape(change))"
        }
        let reply = try call("POST", path, body: tar, contentType: "application/x-tar", timeoutSeconds: 600)
        // The daemon reports failures inside a 200 progress stream.
        if reply.text.contains("\"error\"") { throw RuntimeError.refused(operation: "import \(repository):\(tag)", detail: reply.text) }
    }

    /// Creates the user-defined bridge network `name` unless it exists.
    public func ensureNetwork(_ name: String, subnet: String) throws {
        if try request("GET", "/networks/\(Self.escape(name))").status == 200 { return }
        let spec: JSON = ["Name": .string(name), "Driver": "bridge", "CheckDuplicate": true,
                          "IPAM": ["Config": [["Subnet": .string(subnet)]]],
                          "Labels": ["kube9.io/network": "true"]]
        let reply = try request("POST", "/networks/create", json: spec)
        // Another agent may have created it at the same moment.
        guard reply.status == 201 || reply.status == 409 else {
            throw RuntimeError.refused(operation: "create network \(name)", detail: "HTTP \(reply.status): \(reply.text)")
        }
    }

    /// Percent-escapes a path or query component.
    public static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// Containers as Docker containers: one sandbox container per pod on the kube9 bridge network
/// (it holds the pod IP), the pod's containers joining its network namespace; every one labelled
/// with the pod's uid, namespace, name and node. `HostConfig.Init` makes signals reach
/// processes that do not handle them as PID 1.
public final class DockerRuntime: ContainerRuntime {
    public let kind = "docker"
    public let engine: DockerEngine
    /// The bridge network pods join.
    public let network: String
    /// The image of the sandbox container (a static busybox that sleeps).
    public let sandboxImage: String

    /// Start times of running containers by id (the container list does not carry them).
    private let startTimes = Mutex<[String: String]>([:])

    public static let defaultNetwork = "kube9"
    public static let defaultSubnet = "10.89.0.0/16"
    public static let defaultSandboxImage = "kube9/pause:latest"

    /// The cluster DNS pods resolve through (their resolv.conf), or nil for Docker's default.
    public let clusterDNS: String?
    /// The cluster domain of the search path (NS.svc.DOMAIN, svc.DOMAIN, DOMAIN).
    public let clusterDomain: String

    public init(engine: DockerEngine, network: String = DockerRuntime.defaultNetwork, subnet: String = DockerRuntime.defaultSubnet,
                sandboxImage: String = DockerRuntime.defaultSandboxImage, clusterDNS: String? = nil, clusterDomain: String = "cluster.local") throws {
        self.clusterDNS = clusterDNS
        self.clusterDomain = clusterDomain
        self.engine = engine
        self.network = network
        self.sandboxImage = sandboxImage
        try engine.ensureNetwork(network, subnet: subnet)
        if try !engine.imageExists(sandboxImage) {
            try NodeImage.buildSandboxImage(engine: engine, reference: sandboxImage)
        }
    }

    public func version() throws -> String { "docker://\(engine.engineVersion)" }

    public func verifyImage(_ image: String) throws {
        if try !engine.imageExists(image) {
            throw RuntimeError.imageNotPresent(image: image, detail: "kube9 does not pull images (no registry is reachable); load it on the node with docker load or docker import")
        }
    }

    func labelsJSON(_ labels: [String: String]) -> JSON {
        var object = JSON.emptyObject
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { object[key] = .string(value) }
        return object
    }

    static func containerName(_ pod: PodIdentity, container: String, attempt: Int) -> String {
        let safe = { (text: String) in String(text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "-" }) }
        return "k9_\(safe(container))_\(safe(pod.name))_\(safe(pod.namespace))_\(pod.uid.prefix(8))_\(attempt)"
    }

    public func runSandbox(_ pod: PodIdentity, spec: JSON) throws -> ContainerInfo {
        var hostConfig: JSON = ["NetworkMode": .string(network), "Init": true]
        // resolv.conf as the kubelet writes it for the pod's dnsPolicy and dnsConfig (none of
        // these: Docker's copy of the node's); the pod's containers share it.
        let node = PodDNS.parse(resolvConf: (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? "")
        if let dns = PodDNS.resolve(spec: spec, namespace: pod.namespace, clusterDNS: clusterDNS, domain: clusterDomain, node: node) {
            // Docker fills what is left empty from the host's file: "." is an empty search list
            // and ndots:1 the resolver's default, so a pod gets exactly its settings.
            if !dns.nameservers.isEmpty { hostConfig["Dns"] = .array(dns.nameservers.map(JSON.string)) }
            hostConfig["DnsSearch"] = .array((dns.searches.isEmpty ? ["."] : dns.searches).map(JSON.string))
            hostConfig["DnsOptions"] = .array((dns.options.isEmpty ? ["ndots:1"] : dns.options).map(JSON.string))
        }
        let body: JSON = [
            "Image": .string(sandboxImage), "Cmd": ["/bin/busybox", "sleep", "2147483647"],
            "Hostname": .string(String(pod.name.prefix(63))),
            "Labels": labelsJSON(pod.labels(container: RuntimeLabels.sandboxContainerName, attempt: 0)),
            "HostConfig": hostConfig,
        ]
        let name = Self.containerName(pod, container: RuntimeLabels.sandboxContainerName, attempt: 0)
        let created = try engine.call("POST", "/containers/create?name=\(name)", json: body, expected: [201])
        guard let id = (try? created.json())?["Id"]?.stringValue else { throw RuntimeError.refused(operation: "create sandbox", detail: created.text) }
        do {
            try startContainer(id: id)
        } catch {
            try? removeContainer(id: id)
            throw error
        }
        return try inspectContainer(id: id)
    }

    public func createContainer(_ spec: ContainerSpec, pod: PodIdentity, sandbox: ContainerInfo) throws -> String {
        var hostConfig: JSON = ["NetworkMode": .string("container:\(sandbox.id)"), "Init": true]
        if let nano = spec.nanoCPUs { hostConfig["NanoCpus"] = .int(nano) }
        if let memory = spec.memoryBytes { hostConfig["Memory"] = .int(memory) }
        if !spec.mounts.isEmpty {
            hostConfig["Binds"] = .array(spec.mounts.map { .string("\($0.source):\($0.target)\($0.readOnly ? ":ro" : "")") })
        }
        var body: JSON = [
            "Image": .string(spec.image),
            "Env": .array(spec.environment.map { .string("\($0.name)=\($0.value)") }),
            "Labels": labelsJSON(pod.labels(container: spec.name, attempt: spec.attempt)),
            "HostConfig": hostConfig,
        ]
        if !spec.command.isEmpty { body["Entrypoint"] = .array(spec.command.map { .string($0) }) }
        if !spec.args.isEmpty { body["Cmd"] = .array(spec.args.map { .string($0) }) }
        if let directory = spec.workingDirectory { body["WorkingDir"] = .string(directory) }
        let name = Self.containerName(pod, container: spec.name, attempt: spec.attempt)
        let created = try engine.call("POST", "/containers/create?name=\(name)", json: body, expected: [201])
        guard let id = (try? created.json())?["Id"]?.stringValue else { throw RuntimeError.refused(operation: "create container", detail: created.text) }
        return id
    }

    public func startContainer(id: String) throws {
        try engine.call("POST", "/containers/\(id)/start", expected: [204, 304])
    }

    public func stopContainer(id: String, gracePeriodSeconds: Int) throws {
        let grace = max(0, gracePeriodSeconds)
        try engine.call("POST", "/containers/\(id)/stop?t=\(grace)", expected: [204, 304, 404], timeoutSeconds: grace + 30)
    }

    public func killContainer(id: String, signal: String) throws {
        try engine.call("POST", "/containers/\(id)/kill?signal=\(signal)", expected: [204, 404, 409])
    }

    public func removeContainer(id: String) throws {
        startTimes.withLock { $0[id] = nil }
        try engine.call("DELETE", "/containers/\(id)?force=1&v=1", expected: [204, 404, 409])
    }

    public func listContainers(node: String) throws -> [ContainerInfo] {
        let filters: JSON = ["label": [.string("\(RuntimeLabels.node)=\(node)")]]
        let reply = try engine.call("GET", "/containers/json?all=1&filters=\(DockerEngine.escape(String(decoding: filters.serialized(), as: UTF8.self)))")
        guard let items = (try? reply.json())?.arrayValue else { return [] }
        return items.map { item -> ContainerInfo in
            let labels = Self.labels(item["Labels"])
            let state = Self.state(item["State"]?.stringValue)
            let ip = item[path: ["NetworkSettings", "Networks", network, "IPAddress"]]?.stringValue
            let id = item["Id"]?.stringValue ?? ""
            // The list has no exit codes or start times: exited containers (few) are inspected,
            // running ones once (their start time does not change while they run).
            if state == .exited, let inspected = try? inspectContainer(id: id) { return inspected }
            var info = ContainerInfo(id: id, labels: labels, image: item["Image"]?.stringValue ?? "",
                                     state: state, ipAddress: ip?.isEmpty == false ? ip : nil)
            if state == .running {
                info.startedAt = startTimes.withLock { $0[id] } ?? (try? inspectContainer(id: id))?.startedAt
            }
            return info
        }
    }

    /// Docker's container state names as the runtime's states.
    static func state(_ name: String?) -> ContainerState {
        switch name ?? "" {
        case "created": .created
        case "running", "paused", "restarting": .running
        case "exited", "dead": .exited
        default: .unknown
        }
    }

    /// A Docker label object as a dictionary.
    static func labels(_ object: JSON?) -> [String: String] {
        var labels: [String: String] = [:]
        for (key, value) in object?.objectValue ?? [:] { labels[key] = value.stringValue ?? "" }
        return labels
    }

    /// Docker's nanosecond timestamps as Kubernetes' RFC 3339 seconds; nil for Go's zero time.
    static func timestamp(_ text: String?) -> String? {
        guard let text, !text.hasPrefix("0001-"), text.count >= 19 else { return nil }
        return String(text.prefix(19)) + "Z"
    }

    public func inspectContainer(id: String) throws -> ContainerInfo {
        let reply = try engine.call("GET", "/containers/\(id)/json")
        let object = try reply.json()
        let labels = Self.labels(object[path: ["Config", "Labels"]])
        let state = Self.state(object[path: ["State", "Status"]]?.stringValue)
        var info = ContainerInfo(id: object["Id"]?.stringValue ?? id, labels: labels, image: object[path: ["Config", "Image"]]?.stringValue ?? "",
                                 state: state)
        if state == .exited {
            info.exitCode = Int32(truncatingIfNeeded: object[path: ["State", "ExitCode"]]?.intValue ?? -1)
            if object[path: ["State", "OOMKilled"]]?.boolValue == true {
                info.reason = "OOMKilled"
            } else if let error = object[path: ["State", "Error"]]?.stringValue, !error.isEmpty {
                info.reason = "StartError: \(error)"
            } else {
                info.reason = info.exitCode == 0 ? "Completed" : "Error"
            }
            info.finishedAt = Self.timestamp(object[path: ["State", "FinishedAt"]]?.stringValue)
        }
        info.startedAt = Self.timestamp(object[path: ["State", "StartedAt"]]?.stringValue)
        if state == .running, let started = info.startedAt { startTimes.withLock { $0[info.id] = started } }
        let ip = object[path: ["NetworkSettings", "Networks", network, "IPAddress"]]?.stringValue
        info.ipAddress = ip?.isEmpty == false ? ip : nil
        return info
    }

    public func waitContainer(id: String, timeoutSeconds: Double) throws -> Int32? {
        let reply: HTTPReply
        do {
            reply = try engine.request("POST", "/containers/\(id)/wait?condition=not-running", timeoutSeconds: max(1, Int(timeoutSeconds.rounded(.up))))
        } catch {
            return nil
        }
        guard reply.status == 200, let code = (try? reply.json())?["StatusCode"]?.intValue else { return nil }
        return Int32(truncatingIfNeeded: code)
    }

    public func logs(id: String, tailLines: Int?, follow: Bool, sink: @escaping ([UInt8]) -> Bool) throws {
        let tail = tailLines.map { String(max(0, $0)) } ?? "all"
        let demultiplexer = StreamDemultiplexer()
        let status = try engine.stream("GET", "/containers/\(id)/logs?stdout=1&stderr=1&follow=\(follow ? 1 : 0)&tail=\(tail)") { chunk in
            for payload in demultiplexer.feed(chunk) where !payload.isEmpty {
                if !sink(payload) { return false }
            }
            return true
        }
        if status == 404 { throw RuntimeError.notFound(id: id) }
        if status != 200 && status != 0 { throw RuntimeError.refused(operation: "logs \(id)", detail: "HTTP \(status)") }
    }

    public func exec(id: String, command: [String], timeoutSeconds: Double) throws -> Int32? {
        let created = try engine.call("POST", "/containers/\(id)/exec",
                                      json: ["Cmd": .array(command.map { .string($0) }), "AttachStdout": true, "AttachStderr": true], expected: [201])
        guard let execID = (try? created.json())?["Id"]?.stringValue else { throw RuntimeError.refused(operation: "exec", detail: created.text) }
        _ = try? engine.stream("POST", "/exec/\(execID)/start", json: ["Detach": false, "Tty": false],
                               timeoutSeconds: max(1, Int(timeoutSeconds.rounded(.up)))) { _ in true }
        // The stream ends when the process does (or at the timeout).
        let reply = try engine.call("GET", "/exec/\(execID)/json")
        let object = try reply.json()
        if object["Running"]?.boolValue == true { return nil }
        return object["ExitCode"]?.intValue.map { Int32(truncatingIfNeeded: $0) }
    }

    public func stats(id: String) throws -> ResourceUsage {
        let reply = try engine.call("GET", "/containers/\(id)/stats?stream=false&one-shot=true")
        let object = try reply.json()
        let cpu = object[path: ["cpu_stats", "cpu_usage", "total_usage"]]?.intValue ?? 0
        var memory = object[path: ["memory_stats", "usage"]]?.intValue ?? 0
        // Working set, as the kubelet reports it: usage minus inactive file cache.
        if let inactive = object[path: ["memory_stats", "stats", "inactive_file"]]?.intValue ?? object[path: ["memory_stats", "stats", "total_inactive_file"]]?.intValue {
            memory = max(0, memory - inactive)
        }
        return ResourceUsage(cpuNanoseconds: UInt64(max(0, cpu)), memoryBytes: UInt64(max(0, memory)))
    }
}

/// Splits Docker's multiplexed stdout/stderr stream (8-byte frame headers) into payloads.
final class StreamDemultiplexer {
    private var buffer: [UInt8] = []

    func feed(_ chunk: UnsafeRawBufferPointer) -> [[UInt8]] {
        buffer.append(contentsOf: chunk)
        var payloads: [[UInt8]] = []
        var offset = 0
        while buffer.count - offset >= 8 {
            let size = Int(buffer[offset + 4]) << 24 | Int(buffer[offset + 5]) << 16 | Int(buffer[offset + 6]) << 8 | Int(buffer[offset + 7])
            guard buffer.count - offset - 8 >= size else { break }
            payloads.append(Array(buffer[(offset + 8)..<(offset + 8 + size)]))
            offset += 8 + size
        }
        buffer.removeFirst(offset)
        return payloads
    }
}
