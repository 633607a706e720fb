import Kube9Model

/// What the proxy serves, computed from Services and EndpointSlices: for each address and
/// port it listens on, the service port behind it and that port's ready endpoints.
public struct ServiceTable: Sendable, Equatable {
    /// One backend of a service port.
    public struct Endpoint: Sendable, Hashable {
        public var ip: String
        public var port: Int
        public var pod: String
        public var node: String
        /// 0…1000, from the pod annotation kube9.io/lb-weight (default 1).
        public var weight: Int
        /// "ip:port": how the balancer and the data paths name this endpoint.
        public var key: String { "\(ip):\(port)" }
    }

    /// One port of one service.
    public struct ServicePort: Sendable, Equatable {
        public var namespace: String
        public var name: String
        public var uid: String
        public var port: Int
        public var proto: String
        /// The `loadbalancer` policy named by the annotation kube9.io/lb-policy (default round-robin).
        public var policy: String
        /// ClientIP affinity timeout in seconds, or nil without affinity.
        public var affinitySeconds: Int?
        /// Ready endpoints, sorted by ip and port.
        public var endpoints: [Endpoint]
        public var key: String { "\(namespace)/\(name):\(port)/\(proto)" }
    }

    /// An address the proxy listens on: "10.96.0.5", or "0.0.0.0" for a node port.
    public struct Frontend: Sendable, Hashable, CustomStringConvertible {
        public var ip: String
        public var port: Int
        public var proto: String
        public var description: String { "\(ip):\(port)/\(proto)" }
    }

    public var frontends: [Frontend: ServicePort] = [:]

    /// The ready endpoints of an EndpointSlice (its ready condition not false; the controller
    /// sets it for publishNotReadyAddresses) with their first address when it is IPv4. The
    /// proxy and the cluster DNS both serve these.
    public static func readyEndpoints(_ slice: JSON) -> [(ip: String, entry: JSON)] {
        (slice["endpoints"]?.arrayValue ?? []).compactMap { endpoint in
            guard endpoint[path: ["conditions", "ready"]]?.boolValue != false,
                  let ip = endpoint["addresses"]?.arrayValue?.first?.stringValue, IPv4Address(ip) != nil else { return nil }
            return (ip, endpoint)
        }
    }

    public init() {}

    /// The table for these services and slices.
    public init(services: [JSON], slices: [JSON]) {
        var slicesByService: [String: [JSON]] = [:]
        for slice in slices {
            guard let service = ObjectMeta.labels(of: slice)[EndpointSliceStrategy.serviceNameLabel] else { continue }
            slicesByService[ObjectMeta.namespace(of: slice) + "/" + service, default: []].append(slice)
        }
        for service in services {
            let type = ServiceStrategy.serviceType(service)
            guard type != "ExternalName", let clusterIP = service[path: ["spec", "clusterIP"]]?.stringValue,
                  IPv4Address(clusterIP) != nil else { continue }
            let namespace = ObjectMeta.namespace(of: service)
            let name = ObjectMeta.name(of: service)
            let policy = service[path: ["metadata", "annotations", ServiceStrategy.loadBalancerPolicyAnnotation]]?.stringValue ?? "round-robin"
            let affinity = service[path: ["spec", "sessionAffinity"]]?.stringValue == "ClientIP"
                ? Int(min(max(service[path: ["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"]]?.intValue ?? ServiceStrategy.defaultAffinitySeconds, 1),
                          ServiceStrategy.maximumAffinitySeconds)) : nil
            let ingress = (service[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
            let serviceSlices = slicesByService[namespace + "/" + name] ?? []
            for port in service[path: ["spec", "ports"]]?.arrayValue ?? [] {
                guard let number = port["port"]?.intValue, (1...65535).contains(number), let value = Int(exactly: number) else { continue }
                let proto = port["protocol"]?.stringValue ?? "TCP"
                let portName = port["name"]?.stringValue ?? ""
                var endpoints: Set<Endpoint> = []
                for slice in serviceSlices {
                    guard let target = (slice["ports"]?.arrayValue ?? []).first(where: {
                        ($0["name"]?.stringValue ?? "") == portName && ($0["protocol"]?.stringValue ?? "TCP") == proto
                            && $0["port"]?.intValue.map { (1...65535).contains($0) } == true
                    })?["port"]?.intValue, let targetPort = Int(exactly: target) else { continue }
                    for (ip, endpoint) in Self.readyEndpoints(slice) {
                        let weightText = endpoint[path: ["deprecatedTopology", "kube9.io/lb-weight"]]?.stringValue ?? "1"
                        endpoints.insert(Endpoint(ip: ip, port: targetPort, pod: endpoint[path: ["targetRef", "name"]]?.stringValue ?? "",
                                                  node: endpoint["nodeName"]?.stringValue ?? "", weight: min(max(Int(weightText) ?? 1, 0), 1000)))
                    }
                }
                let entry = ServicePort(namespace: namespace, name: name, uid: ObjectMeta.uid(of: service), port: value, proto: proto, policy: policy,
                                        affinitySeconds: affinity, endpoints: endpoints.sorted { ($0.ip, $0.port) < ($1.ip, $1.port) })
                frontends[Frontend(ip: clusterIP, port: value, proto: proto)] = entry
                if ServiceStrategy.usesNodePorts(type), let nodePort = port["nodePort"]?.intValue, (1...65535).contains(nodePort), let node = Int(exactly: nodePort) {
                    frontends[Frontend(ip: "0.0.0.0", port: node, proto: proto)] = entry
                }
                for address in ingress where IPv4Address(address) != nil {
                    frontends[Frontend(ip: address, port: value, proto: proto)] = entry
                }
            }
        }
    }
}
