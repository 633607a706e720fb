/// metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics: served from the agents' latest usage
/// reports (memory only, never stored), read-only (get, list).
public struct NodeMetricsStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "metrics.k8s.io", version: "v1beta1", resource: "nodes", singular: "", kind: "NodeMetrics",
                                   namespaced: false, verbs: ["get", "list"])
    public func validate(_ object: JSON) -> [FieldCause] { [.forbidden("", "metrics are read-only")] }
    public var table: TableDefinition { MetricsTables.table }
    public var schemas: [SchemaDefinition] {
        [SchemaDefinition("io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics", "NodeMetrics sets resource usage metrics of a node.",
                          kind: ("metrics.k8s.io", "v1beta1", "NodeMetrics"), closed: false, fields: MetricsTables.fields + [
                            SchemaField("usage", .map(.quantity), "The memory and cpu usage of the node."),
                          ])]
    }
}

/// metrics.k8s.io/v1beta1 PodMetrics (per container).
public struct PodMetricsStrategy: ResourceStrategy {
    public init() {}
    public let type = ResourceType(group: "metrics.k8s.io", version: "v1beta1", resource: "pods", singular: "", kind: "PodMetrics",
                                   namespaced: true, verbs: ["get", "list"])
    public func validate(_ object: JSON) -> [FieldCause] { [.forbidden("", "metrics are read-only")] }
    public var table: TableDefinition { MetricsTables.table }
    public var schemas: [SchemaDefinition] {
        [SchemaDefinition("io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics", "PodMetrics sets resource usage metrics of a pod.",
                          kind: ("metrics.k8s.io", "v1beta1", "PodMetrics"), closed: false, fields: MetricsTables.fields + [
                            SchemaField("containers", .array(.freeform), "Metrics for all containers, collected within the same time window."),
                          ])]
    }
}

enum MetricsTables {
    static let fields: [SchemaField] = [
        SchemaField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object."),
        SchemaField("kind", .string, "Kind is a string value representing the REST resource this object represents."),
        SchemaField("metadata", .ref(CommonSchemas.objectMeta), "Standard object's metadata."),
        SchemaField("timestamp", .time, "The time the usage was measured (the end of the window)."),
        SchemaField("window", .string, "The time window the usage was measured over."),
    ]

    static let table = TableDefinition(
        columns: [
            TableColumn("Name", format: "name", description: "Name of the node or pod."),
            TableColumn("CPU", description: "CPU in use (summed over containers)."),
            TableColumn("Memory", description: "Working-set memory in use (summed over containers)."),
            TableColumn("Window", description: "The window the usage was measured over."),
        ],
        cells: { object in
            var cpu = Quantity(milliValue: 0)
            var memory = Quantity(milliValue: 0)
            let usages = object["usage"].map { [$0] } ?? (object["containers"]?.arrayValue ?? []).compactMap { $0["usage"] }
            for usage in usages {
                cpu = Quantity(milliValue: cpu.milliValue.saturatingAdd(Quantity.from(usage["cpu"])?.milliValue ?? 0))
                memory = Quantity(milliValue: memory.milliValue.saturatingAdd(Quantity.from(usage["memory"])?.milliValue ?? 0))
            }
            return [.string(ObjectMeta.name(of: object)), .string("\(cpu.milliValue)m"), .string("\(memory.value / 1_048_576)Mi"),
                    object["window"] ?? .string("")]
        })
}

/// One node's usage report, as an agent posts it to `/kube9/v1/nodes/NAME/metrics`:
/// `{"windowSeconds": 10, "node": {"cpu": NANOCORES, "memory": BYTES},
///   "pods": [{"namespace": NS, "name": POD, "containers": [{"name": C, "cpu": NANOCORES, "memory": BYTES}]}]}`.
public struct UsageReport: Sendable, Equatable {
    public struct Usage: Sendable, Equatable {
        public var cpuNanoCores: Int64
        public var memoryBytes: Int64
        public init(cpuNanoCores: Int64, memoryBytes: Int64) {
            self.cpuNanoCores = cpuNanoCores
            self.memoryBytes = memoryBytes
        }
        public static let zero = Usage(cpuNanoCores: 0, memoryBytes: 0)
    }

    public struct PodUsage: Sendable, Equatable {
        public var namespace: String
        public var name: String
        /// The pod's uid ("" when the agent did not know it): a pod made again under the same name is another pod.
        public var uid: String
        public var containers: [(name: String, usage: Usage)]
        public init(namespace: String, name: String, uid: String = "", containers: [(name: String, usage: Usage)]) {
            self.namespace = namespace
            self.name = name
            self.uid = uid
            self.containers = containers
        }
        public static func == (lhs: PodUsage, rhs: PodUsage) -> Bool {
            lhs.namespace == rhs.namespace && lhs.name == rhs.name && lhs.uid == rhs.uid && lhs.containers.map(\.name) == rhs.containers.map(\.name)
                && lhs.containers.map(\.usage) == rhs.containers.map(\.usage)
        }
        /// The pod's total.
        public var total: Usage {
            containers.reduce(Usage.zero) { Usage(cpuNanoCores: $0.cpuNanoCores.saturatingAdd($1.usage.cpuNanoCores), memoryBytes: $0.memoryBytes.saturatingAdd($1.usage.memoryBytes)) }
        }
    }

    public var windowSeconds: Int64
    public var node: Usage
    public var pods: [PodUsage]

    public init(windowSeconds: Int64, node: Usage, pods: [PodUsage]) {
        self.windowSeconds = windowSeconds
        self.node = node
        self.pods = pods
    }

    public static let maximumPods = 10_000
    /// The largest cpu a report may name: a million cores, in nanocores.
    public static let maximumNanoCores: Int64 = 1_000_000_000_000_000
    /// The largest memory a report may name: 8 PiB.
    public static let maximumMemoryBytes: Int64 = 9_000_000_000_000_000
    public static let maximumContainers = 100

    public var json: JSON {
        func usage(_ value: Usage) -> JSON { ["cpu": .int(value.cpuNanoCores), "memory": .int(value.memoryBytes)] }
        return ["windowSeconds": .int(windowSeconds), "node": usage(node),
                "pods": .array(pods.map { pod in
                    ["namespace": .string(pod.namespace), "name": .string(pod.name), "uid": .string(pod.uid),
                     "containers": .array(pod.containers.map { ["name": .string($0.name), "cpu": .int($0.usage.cpuNanoCores), "memory": .int($0.usage.memoryBytes)] })]
                })]
    }

    /// Reads a report; 422 naming the field for anything out of shape or range.
    public static func parse(_ body: JSON) throws(APIError) -> UsageReport {
        var causes: [FieldCause] = []
        func count(_ value: JSON?, _ field: String, maximum: Int64) -> Int64 {
            guard let value, case .int(let number) = value, number >= 0, number <= maximum else {
                causes.append(.invalid(field, value, "must be an integer from 0 to \(maximum)"))
                return 0
            }
            return number
        }
        func usage(_ value: JSON?, _ field: String) -> Usage {
            Usage(cpuNanoCores: count(value?["cpu"], field + ".cpu", maximum: maximumNanoCores),
                  memoryBytes: count(value?["memory"], field + ".memory", maximum: maximumMemoryBytes))
        }
        guard case .object = body else { throw APIError.badRequest("a usage report must be a JSON object, got \(body.typeName)") }
        let window = count(body["windowSeconds"], "windowSeconds", maximum: 3600)
        if window < 1 || window > 3600 { causes.append(.invalid("windowSeconds", body["windowSeconds"], "must be between 1 and 3600")) }
        let node = usage(body["node"], "node")
        let list = body["pods"]?.arrayValue ?? []
        if list.count > maximumPods { causes.append(.invalid("pods", nil, "must have at most \(maximumPods) entries")) }
        var pods: [PodUsage] = []
        for (index, pod) in list.prefix(maximumPods).enumerated() {
            let field = "pods[\(index)]"
            guard let namespace = pod["namespace"]?.stringValue, NameRules.dns1123LabelError(namespace) == nil,
                  let name = pod["name"]?.stringValue, NameRules.dns1123SubdomainError(name) == nil else {
                causes.append(.invalid(field, nil, "namespace and name must be Kubernetes names"))
                continue
            }
            let containers = pod["containers"]?.arrayValue ?? []
            if containers.count > maximumContainers { causes.append(.invalid("\(field).containers", nil, "must have at most \(maximumContainers) entries")) }
            var entries: [(name: String, usage: Usage)] = []
            for (position, container) in containers.prefix(maximumContainers).enumerated() {
                guard let containerName = container["name"]?.stringValue, NameRules.dns1123LabelError(containerName) == nil else {
                    causes.append(.invalid("\(field).containers[\(position)].name", container["name"], "must be a container name"))
                    continue
                }
                entries.append((containerName, usage(container, "\(field).containers[\(position)]")))
            }
            let uid = pod["uid"]?.stringValue ?? ""
            if uid.utf8.count > 64 { causes.append(.invalid("\(field).uid", pod["uid"], "must be at most 64 characters")) }
            pods.append(PodUsage(namespace: namespace, name: name, uid: uid, containers: entries))
        }
        if !causes.isEmpty { throw APIError.invalid(kind: "UsageReport", group: "kube9.io", name: "", causes: Array(causes.prefix(20))) }
        return UsageReport(windowSeconds: window, node: node, pods: pods)
    }
}
