import Kube9Model

/// `kube9 server --node-autoscaler FILE`: which provider makes nodes, their shapes, the bounds
/// and the timing. Every field is checked; a bad file stops the server with the field named.
///
/// ```json
/// {"provider": "sim", "minNodes": 1, "maxNodes": 10, "policy": "default", "intervalSeconds": 10,
///  "scaleDownUnneededSeconds": 60, "scaleDownUtilization": 0.5,
///  "shapes": [{"name": "small", "cpus": 4, "memory": "8Gi", "pods": 110}],
///  "agentArgs": "--heartbeat-interval 1"}
/// ```
public struct NodeAutoscalerConfiguration: Sendable, Equatable {
    public struct Shape: Sendable, Equatable {
        public var name: String
        public var cpus: Double
        public var memory: String
        public var pods: Int
        /// Millicores, bytes: what a node of this shape offers.
        public var milliCPU: Int64 { Int64((cpus * 1000).rounded(.down)) }
        public var memoryBytes: Int64 { Quantity.parse(memory)?.value ?? 0 }
    }

    /// docker, process or sim (as `kube9 node add --runtime`).
    public var provider: String
    public var minNodes: Int
    public var maxNodes: Int
    /// The `node-autoscaler` policy's name.
    public var policy: String
    public var intervalSeconds: Double
    /// How long a node stays below the utilization before it may be removed.
    public var scaleDownUnneededSeconds: Int64
    /// Requested cpu and memory over allocatable below which a node counts as unneeded.
    public var scaleDownUtilization: Double
    public var shapes: [Shape]
    /// Extra arguments for the nodes' agents.
    public var agentArgs: String

    /// The label on every node the autoscaler made (its group), and on each its shape.
    public static let groupLabel = "kube9.io/node-group"
    public static let groupValue = "autoscaler"
    public static let shapeLabel = "kube9.io/node-shape"

    public static func parse(_ json: JSON) throws(APIError) -> NodeAutoscalerConfiguration {
        var causes: [FieldCause] = []
        guard case .object = json else { throw APIError.badRequest("the node autoscaler configuration must be a JSON object") }
        let known: Set<String> = ["provider", "minNodes", "maxNodes", "policy", "intervalSeconds", "scaleDownUnneededSeconds", "scaleDownUtilization", "shapes", "agentArgs"]
        for key in json.objectValue?.keys ?? [] where !known.contains(key) { causes.append(FieldCause(reason: "FieldValueInvalid", field: key, message: "unknown field")) }
        let provider = json["provider"]?.stringValue ?? "sim"
        if !["docker", "process", "sim"].contains(provider) { causes.append(.notSupported("provider", json["provider"], supported: ["docker", "process", "sim"])) }
        func integer(_ field: String, _ fallback: Int64, _ range: ClosedRange<Int64>) -> Int64 {
            CommonSchemas.checkInteger(json[field], field, in: range, into: &causes)
            return json[field]?.intValue.map { min(max($0, range.lowerBound), range.upperBound) } ?? fallback
        }
        func number(_ field: String, _ fallback: Double, _ range: ClosedRange<Double>) -> Double {
            guard let value = json[field], !value.isNull else { return fallback }
            let number: Double? = { if case .double(let d) = value { return d }; return value.intValue.map(Double.init) }()
            guard let number, number.isFinite, range.contains(number) else {
                causes.append(.invalid(field, value, "must be a number from \(range.lowerBound) to \(range.upperBound)"))
                return fallback
            }
            return number
        }
        let minNodes = Int(integer("minNodes", 0, 0...1000))
        let maxNodes = Int(integer("maxNodes", 10, 1...1000))
        if minNodes > maxNodes { causes.append(.invalid("maxNodes", .int(Int64(maxNodes)), "must be at least minNodes")) }
        let policy = json["policy"]?.stringValue ?? "default"
        if NameRules.dns1123SubdomainError(policy) != nil { causes.append(.invalid("policy", json["policy"], "must name a node-autoscaler policy")) }
        var shapes: [Shape] = []
        let list = json["shapes"]?.arrayValue ?? []
        if list.isEmpty { causes.append(.required("shapes", "at least one node shape")) }
        for (index, entry) in list.prefix(16).enumerated() {
            let field = "shapes[\(index)]"
            let name = entry["name"]?.stringValue ?? ""
            if NameRules.dns1123LabelError(name) != nil || name.count > 20 { causes.append(.invalid("\(field).name", entry["name"], "must be a DNS label of at most 20 characters")) }
            let cpus: Double? = { if case .double(let d)? = entry["cpus"] { return d }; return entry["cpus"]?.intValue.map(Double.init) }()
            if cpus.map({ !($0 > 0 && $0 <= 1024) }) ?? true { causes.append(.invalid("\(field).cpus", entry["cpus"], "must be a number of cores greater than 0 and at most 1024")) }
            let memory = entry["memory"]?.stringValue ?? "4Gi"
            if Quantity.parse(memory).map({ $0.milliValue <= 0 }) ?? true { causes.append(.invalid("\(field).memory", entry["memory"], "must be a positive quantity such as 8Gi")) }
            CommonSchemas.checkInteger(entry["pods"], "\(field).pods", in: 1...10_000, into: &causes)
            shapes.append(Shape(name: name, cpus: cpus ?? 1, memory: memory, pods: Int(entry["pods"]?.intValue ?? 110)))
        }
        if Set(shapes.map(\.name)).count != shapes.count { causes.append(.invalid("shapes", nil, "shape names must differ")) }
        let agentArgs = json["agentArgs"]?.stringValue ?? ""
        if agentArgs.utf8.count > 4096 { causes.append(.invalid("agentArgs", nil, "must be at most 4096 bytes")) }
        let configuration = NodeAutoscalerConfiguration(
            provider: provider, minNodes: minNodes, maxNodes: maxNodes, policy: policy, intervalSeconds: number("intervalSeconds", 10, 0.2...3600),
            scaleDownUnneededSeconds: integer("scaleDownUnneededSeconds", 60, 0...86_400), scaleDownUtilization: number("scaleDownUtilization", 0.5, 0...1),
            shapes: shapes, agentArgs: agentArgs)
        if !causes.isEmpty { throw APIError.invalid(kind: "NodeAutoscalerConfiguration", group: "kube9.io", name: "", causes: causes) }
        return configuration
    }
}

/// How the node autoscaler makes and removes nodes (`kube9 node add` / `kube9 node remove`
/// behind it in the server; something else in tests).
public protocol NodeProvider: Sendable {
    /// Starts a node of `shape` named `name`, labelled with `labels`; returns once it is started (not Ready).
    func add(name: String, shape: NodeAutoscalerConfiguration.Shape, labels: [String: String]) async throws
    /// Drains the node (its pods go elsewhere), stops it and deletes the Node.
    func remove(name: String) async throws
}
