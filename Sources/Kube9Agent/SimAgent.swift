import Dispatch
import Foundation
import Kube9Client
import Kube9Model
import Logging
import Synchronization

/// What an agent registers as.
public struct AgentConfiguration: Sendable {
    public var name: String
    public var cpus: Double
    public var memoryBytes: Int64
    public var pods: Int64
    /// Kube-9's node type: worker or master.
    public var type: String
    public var labels: [String: String]
    public var timing: ClusterTiming
    /// Seconds between a pod being bound and the sim runtime reporting it Running.
    public var startDelay: Double

    public init(name: String, cpus: Double, memoryBytes: Int64, pods: Int64 = 110, type: String = "worker",
                labels: [String: String] = [:], timing: ClusterTiming = .defaults, startDelay: Double = 0.1) {
        self.name = name
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.pods = pods
        self.type = type
        self.labels = labels
        self.timing = timing
        self.startDelay = startDelay
    }
}

/// A node agent with the sim runtime: it registers its Node, sends heartbeats, reports the
/// pods bound to it Running after a short delay (no processes are started), and completes
/// their deletion. The docker and process runtimes come later; this loop is what end-to-end
/// tests of scheduling and node failure use.
///
/// ```
/// register Node (create, or re-register the same name) ─▶ every heartbeat interval: POST heartbeat
///                                                       └▶ every 200 ms: pods with spec.nodeName=me
///                                                            Pending → Running (after startDelay)
///                                                            deletionTimestamp → delete (grace 0)
/// ```
public final class SimAgent: Sendable {
    public let configuration: AgentConfiguration
    let serverURL: String
    let logger: Logger
    private let running = Mutex(true)
    private let seen = Mutex<[String: UInt64]>([:])

    public init(serverURL: String, configuration: AgentConfiguration, logger: Logger) {
        self.serverURL = serverURL
        self.configuration = configuration
        self.logger = logger
    }

    /// The Node object this agent registers.
    public var nodeObject: JSON {
        var labels: JSON = ["kubernetes.io/hostname": .string(configuration.name), "kubernetes.io/os": "linux",
                            NodeStrategy.nodeTypeLabel: .string(configuration.type),
                            "node-role.kubernetes.io/\(configuration.type)": ""]
        for (key, value) in configuration.labels { labels[key] = .string(value) }
        let cpu = Quantity(milliValue: Int64((configuration.cpus * 1000).rounded()))
        let resources: JSON = ["cpu": .string(cpu.description), "memory": .string(Quantity(units: configuration.memoryBytes).description),
                               "pods": .string(String(configuration.pods))]
        let now = JSON.string(Timestamp.now())
        return [
            "apiVersion": "v1", "kind": "Node",
            "metadata": ["name": .string(configuration.name), "labels": labels],
            "spec": .emptyObject,
            "status": [
                "capacity": resources, "allocatable": resources,
                "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kube9 agent is posting ready status",
                                "lastHeartbeatTime": now, "lastTransitionTime": now]],
                "addresses": [["type": "InternalIP", "address": "127.0.0.1"], ["type": "Hostname", "address": .string(configuration.name)]],
                "nodeInfo": ["kubeletVersion": "v1.32.4-kube9", "containerRuntimeVersion": "sim://kube9", "osImage": "kube9 sim node",
                             "kernelVersion": "", "operatingSystem": "linux", "architecture": "amd64"],
            ],
        ]
    }

    /// Registers the node: creates it, or re-registers an existing node of the same name
    /// (labels and status replaced, spec kept). Throws with the server's message on refusal.
    public func register() throws {
        let connection = try HTTPConnection(baseURL: serverURL)
        let created = try connection.request("POST", "/api/v1/nodes", body: nodeObject.serialized())
        if created.status == 201 { return }
        guard created.status == 409 else { throw ClientError("node \(configuration.name) refused: \(Self.message(created))") }
        let node = nodeObject
        let labels = try connection.request("PATCH", "/api/v1/nodes/\(configuration.name)",
                                             body: (["metadata": ["labels": node[path: ["metadata", "labels"]]!]] as JSON).serialized(),
                                             contentType: "application/merge-patch+json")
        guard labels.status == 200 else { throw ClientError("node \(configuration.name) refused: \(Self.message(labels))") }
        let status = try connection.request("PATCH", "/api/v1/nodes/\(configuration.name)/status",
                                             body: (["status": node["status"]!] as JSON).serialized(),
                                             contentType: "application/merge-patch+json")
        guard status.status == 200 else { throw ClientError("node \(configuration.name) refused: \(Self.message(status))") }
    }

    static func message(_ reply: HTTPReply) -> String {
        (try? reply.json())?["message"]?.stringValue ?? "HTTP \(reply.status): \(reply.text)"
    }

    /// Registers, then heartbeats and syncs pods until `stop()`; blocks the calling thread.
    public func run() throws {
        try register()
        logger.info("node registered", metadata: ["node": "\(configuration.name)", "cpus": "\(configuration.cpus)"])
        let heartbeat = Thread { [self] in heartbeatLoop() }
        heartbeat.start()
        let connection = try HTTPConnection(baseURL: serverURL)
        while running.withLock({ $0 }) {
            sync(connection)
            usleep(200_000)
        }
    }

    /// Ends the loops.
    public func stop() { running.withLock { $0 = false } }

    func heartbeatLoop() {
        guard let connection = try? HTTPConnection(baseURL: serverURL) else { return }
        connection.timeoutSeconds = 5
        let interval = configuration.timing.heartbeatInterval
        let micros = UInt32(interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000)
        while running.withLock({ $0 }) {
            do {
                let reply = try connection.request("POST", "/kube9/v1/nodes/\(configuration.name)/heartbeat", body: [])
                if reply.status == 404 { try register() }
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            }
            usleep(micros)
        }
    }

    func sync(_ connection: HTTPConnection) {
        guard let reply = try? connection.request("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3D\(configuration.name)"),
              reply.status == 200, let pods = (try? reply.json())?["items"]?.arrayValue else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        for pod in pods {
            let namespace = ObjectMeta.namespace(of: pod)
            let name = ObjectMeta.name(of: pod)
            let uid = ObjectMeta.uid(of: pod)
            let path = "/api/v1/namespaces/\(namespace)/pods/\(name)"
            if ObjectMeta.deletionTimestamp(of: pod) != nil {
                _ = try? connection.request("DELETE", path + "?gracePeriodSeconds=0",
                                            body: (["preconditions": ["uid": .string(uid)]] as JSON).serialized())
                continue
            }
            guard pod[path: ["status", "phase"]]?.stringValue == "Pending" else { continue }
            let first = seen.withLock { state -> UInt64 in
                if let time = state[uid] { return time }
                state[uid] = now
                return now
            }
            guard Double(now - first) / 1e9 >= configuration.startDelay else { continue }
            _ = try? connection.request("PATCH", path + "/status", body: Self.runningStatus(pod, node: configuration.name).serialized(),
                                        contentType: "application/merge-patch+json")
        }
    }

    /// The status the sim runtime reports for a started pod.
    static func runningStatus(_ pod: JSON, node: String) -> JSON {
        let now = JSON.string(Timestamp.now())
        let uid = ObjectMeta.uid(of: pod)
        let octets = Array(uid.utf8.prefix(2)).map { Int($0) % 250 + 1 }
        let containers = pod[path: ["spec", "containers"]]?.arrayValue ?? []
        let conditions: [JSON] = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map {
            ["type": .string($0), "status": "True", "lastProbeTime": nil, "lastTransitionTime": now]
        }
        return ["status": [
            "phase": "Running", "hostIP": "127.0.0.1", "podIP": .string("10.244.\(octets[0]).\(octets[1])"),
            "podIPs": [["ip": .string("10.244.\(octets[0]).\(octets[1])")]], "startTime": now,
            "conditions": .array(conditions),
            "containerStatuses": .array(containers.map { container in
                ["name": container["name"] ?? "", "image": container["image"] ?? "", "imageID": container["image"] ?? "",
                 "containerID": .string("sim://\(uid)/\(container["name"]?.stringValue ?? "")"),
                 "ready": true, "started": true, "restartCount": 0, "state": ["running": ["startedAt": now]]]
            }),
        ]]
    }
}
