
/// The timing of node health, shared by agents and the server. Defaults suit a small cluster:
/// a dead node is noticed in seconds, not the minutes Kubernetes waits.
public struct ClusterTiming: Sendable, Equatable {
    /// How often an agent renews its lease (and how often a v0 client should POST a heartbeat).
    public var heartbeatInterval: Duration
    /// How long without a heartbeat before a node becomes Ready=Unknown (NotReady).
    public var nodeMonitorGracePeriod: Duration
    /// How long a node stays unreachable before its pods are evicted and rescheduled.
    public var podEvictionTimeout: Duration

    public init(heartbeatInterval: Duration = .seconds(2), nodeMonitorGracePeriod: Duration = .seconds(10),
                podEvictionTimeout: Duration = .seconds(20)) {
        self.heartbeatInterval = heartbeatInterval
        self.nodeMonitorGracePeriod = nodeMonitorGracePeriod
        self.podEvictionTimeout = podEvictionTimeout
    }

    /// The defaults, documented in docs/nodes.md.
    public static let defaults = ClusterTiming()

    /// Reads `{"heartbeatIntervalSeconds": 2, "nodeMonitorGracePeriodSeconds": 10, "podEvictionTimeoutSeconds": 20}`;
    /// missing keys keep their defaults. Throws a message naming the bad key.
    public static func parse(_ json: JSON) throws(APIError) -> ClusterTiming {
        var timing = ClusterTiming.defaults
        guard case .object(let members) = json else { throw APIError.badRequest("the timing configuration must be a JSON object") }
        for (key, value) in members {
            guard let seconds = value.intValue.map(Double.init) ?? (value.text.isEmpty ? nil : Double(value.text)), seconds > 0 else {
                throw APIError.badRequest("\(key) must be a positive number of seconds")
            }
            let duration = Duration.milliseconds(Int64(seconds * 1000))
            switch key {
            case "heartbeatIntervalSeconds": timing.heartbeatInterval = duration
            case "nodeMonitorGracePeriodSeconds": timing.nodeMonitorGracePeriod = duration
            case "podEvictionTimeoutSeconds": timing.podEvictionTimeout = duration
            default: throw APIError.badRequest("unknown timing key \(key): expected heartbeatIntervalSeconds, nodeMonitorGracePeriodSeconds, podEvictionTimeoutSeconds")
            }
        }
        guard timing.nodeMonitorGracePeriod > timing.heartbeatInterval else {
            throw APIError.badRequest("nodeMonitorGracePeriodSeconds must be longer than heartbeatIntervalSeconds")
        }
        return timing
    }
}
