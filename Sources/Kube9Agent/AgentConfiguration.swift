import Foundation
import Kube9Client
import Kube9Model

/// What an agent registers as and how it runs pods.
public struct AgentConfiguration: Sendable {
    public var name: String
    public var cpus: Double
    public var memoryBytes: Int64
    public var pods: Int64
    /// Kube-9's node type: worker or master.
    public var type: String
    public var labels: [String: String]
    public var timing: ClusterTiming
    /// Seconds before the first restart of a crashed container; doubles per restart (10 s like the kubelet).
    public var restartBackoffBase: Double
    /// Longest restart back-off in seconds (300 like the kubelet).
    public var restartBackoffMax: Double
    /// Address the node reports (InternalIP) and its kubelet endpoint listens on.
    public var address: String
    /// Port of the kubelet endpoint (logs, stats); 0 picks a free one.
    public var kubeletPort: Int
    /// Seconds between usage samples, each reported to the API server (metrics.k8s.io).
    public var statsIntervalSeconds: Double = 10
    /// Where pod volumes live: `<this>/<pod uid>/volumes/<name>` (empty: the system temporary directory).
    public var volumesDirectory: String = ""
    /// Where `kube9.io/local-path` volumes of this node live (an absolute path, advertised on the
    /// Node as `kube9.io/local-path-root`); empty: the node offers none.
    public var storageDirectory: String = ""

    public init(name: String, cpus: Double, memoryBytes: Int64, pods: Int64 = 110, type: String = "worker",
                labels: [String: String] = [:], timing: ClusterTiming = .defaults, restartBackoffBase: Double = 10,
                restartBackoffMax: Double = 300, address: String = "127.0.0.1", kubeletPort: Int = 0) {
        self.name = name
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.pods = pods
        self.type = type
        self.labels = labels
        self.timing = timing
        self.restartBackoffBase = restartBackoffBase
        self.restartBackoffMax = restartBackoffMax
        self.address = address
        self.kubeletPort = kubeletPort
    }

    /// `status.nodeInfo` as a kubelet reports it, from this host: machine id, boot id, kernel,
    /// OS image. Simulated nodes of one host share them, but each gets its own systemUUID.
    static func hostNodeInfo(runtimeVersion: String, node: String) -> JSON {
        func read(_ path: String) -> String {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var osImage = "kube9 node"
        for line in read("/etc/os-release").split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            osImage = String(line.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        var info = NodeStrategy.nodeInfo(kubeletVersion: "v1.32.4-kube9", containerRuntimeVersion: runtimeVersion,
                                         machineID: read("/etc/machine-id"), bootID: read("/proc/sys/kernel/random/boot_id"))
        info["systemUUID"] = .string(node)
        info["kernelVersion"] = .string(read("/proc/sys/kernel/osrelease"))
        info["osImage"] = .string(osImage)
        return info
    }

    /// The Node object this agent registers: capacity, Ready, addresses and, when it serves
    /// one, the kubelet endpoint the API server proxies logs and stats to.
    public func nodeObject(runtimeVersion: String, kubeletPort: Int?) -> JSON {
        var labels: JSON = ["kubernetes.io/hostname": .string(name), "kubernetes.io/os": "linux",
                            NodeStrategy.nodeTypeLabel: .string(type), "node-role.kubernetes.io/\(type)": ""]
        for (key, value) in self.labels.sorted(by: { $0.key < $1.key }) { labels[key] = .string(value) }
        let cpu = Quantity(milliValue: Int64(checkedRounding: cpus * 1000) ?? 1000)
        let resources: JSON = ["cpu": .string(cpu.description), "memory": .string(Quantity(units: memoryBytes).description),
                               "pods": .string(String(pods))]
        let now = JSON.string(Timestamp.now())
        var status: JSON = [
            "capacity": resources, "allocatable": resources,
            "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kube9 agent is posting ready status",
                            "lastHeartbeatTime": now, "lastTransitionTime": now]],
            "addresses": [["type": "InternalIP", "address": .string(address)], ["type": "Hostname", "address": .string(name)]],
            "nodeInfo": Self.hostNodeInfo(runtimeVersion: runtimeVersion, node: name),
        ]
        if let kubeletPort { status["daemonEndpoints"] = ["kubeletEndpoint": ["Port": .int(Int64(kubeletPort))]] }
        var metadata: JSON = ["name": .string(name), "labels": labels]
        if !storageDirectory.isEmpty { metadata[path: ["annotations", Storage.localPathRootAnnotation]] = .string(storageDirectory) }
        return ["apiVersion": "v1", "kind": "Node", "metadata": metadata, "spec": .emptyObject, "status": status]
    }
}

/// Node registration: create the Node, or take over an existing one of the same name
/// (labels and status replaced, annotations merged, spec kept).
public enum NodeRegistration {
    public static func register(_ node: JSON, connection: HTTPConnection) throws {
        let name = ObjectMeta.name(of: node)
        let created = try connection.request("POST", "/api/v1/nodes", body: node.serialized())
        if created.status == 201 { return }
        guard created.status == 409 else { throw ClientError("node \(name) refused: \(message(created))") }
        let labels = try connection.request("PATCH", "/api/v1/nodes/\(name)",
                                            body: (["metadata": ["labels": node[path: ["metadata", "labels"]] ?? .emptyObject,
                                                                   "annotations": node[path: ["metadata", "annotations"]] ?? .emptyObject]] as JSON).serialized(),
                                            contentType: "application/merge-patch+json")
        guard labels.status == 200 else { throw ClientError("node \(name) refused: \(message(labels))") }
        let status = try connection.request("PATCH", "/api/v1/nodes/\(name)/status", body: (["status": node["status"] ?? .emptyObject] as JSON).serialized(),
                                            contentType: "application/merge-patch+json")
        guard status.status == 200 else { throw ClientError("node \(name) refused: \(message(status))") }
    }

    /// The message of a Status reply, or its code and text.
    public static func message(_ reply: HTTPReply) -> String {
        (try? reply.json())?["message"]?.stringValue ?? "HTTP \(reply.status): \(reply.text)"
    }
}
