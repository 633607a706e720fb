import Kube9Model

/// What a service's endpoints are, from the service and the pods of its namespace: a pure
/// function, shared by the Endpoints and the EndpointSlice outputs.
///
/// A pod is an endpoint when it matches the selector, has a pod IP and has not finished. It
/// is ready when its Ready condition is True and it is not terminating, or always when the
/// service publishes not-ready addresses. Each service port's targetPort resolves per pod (a
/// name through the pod's container ports); a pod that lacks a named port is not an endpoint
/// of that port. Pods with the same resolved ports form one subset (one slice).
public enum EndpointsBuilder {
    /// The annotation that gives a pod a load-balancing weight; it reaches the proxy through
    /// the slice's `deprecatedTopology` map.
    public static let weightAnnotation = "kube9.io/lb-weight"

    /// One endpoint: a pod and whether it takes new connections.
    public struct Endpoint: Sendable, Equatable {
        public var ip: String
        public var ready: Bool
        /// Ready by its condition, terminating or not (EndpointSlice `serving`).
        public var serving: Bool
        public var terminating: Bool
        public var nodeName: String
        public var podName: String
        public var podUID: String
        public var weight: String?
    }

    /// A group of endpoints with one port list.
    public struct Group: Sendable, Equatable {
        /// [{name, port, protocol}] in service-port order.
        public var ports: [JSON]
        public var endpoints: [Endpoint]
    }

    /// Endpoints per EndpointSlice, as kube-controller-manager's --max-endpoints-per-slice default.
    public static let maximumEndpointsPerSlice = 100

    /// The group cut into slices of at most `maximumEndpointsPerSlice` endpoints, in order; a
    /// group without endpoints is one empty slice.
    public static func chunks(_ group: Group) -> [Group] {
        guard group.endpoints.count > maximumEndpointsPerSlice else { return [group] }
        return stride(from: 0, to: group.endpoints.count, by: maximumEndpointsPerSlice).map { start in
            Group(ports: group.ports, endpoints: Array(group.endpoints[start..<min(start + maximumEndpointsPerSlice, group.endpoints.count)]))
        }
    }

    /// Addresses an Endpoints object holds at most (kube-controller-manager's cap); past it the
    /// object is cut and annotated `endpoints.kubernetes.io/over-capacity: truncated`.
    public static let maximumEndpointsAddresses = 1000
    public static let overCapacityAnnotation = "endpoints.kubernetes.io/over-capacity"

    /// The groups as the Endpoints object shows them (terminating pods left out, unless ready
    /// because the service publishes not-ready addresses), cut to `maximumEndpointsAddresses` in
    /// all: ready endpoints first across every group, then not-ready ones; and whether anything was cut.
    public static func truncatedForEndpoints(_ groups: [Group]) -> ([Group], Bool) {
        let shown = groups.map { group in Group(ports: group.ports, endpoints: group.endpoints.filter { $0.ready || !$0.terminating }) }
        guard shown.reduce(0, { $0 + $1.endpoints.count }) > maximumEndpointsAddresses else { return (shown, false) }
        var left = maximumEndpointsAddresses
        var kept = shown.map { Group(ports: $0.ports, endpoints: []) }
        for wantReady in [true, false] {
            for (index, group) in shown.enumerated() {
                let taken = Array(group.endpoints.filter { $0.ready == wantReady }.prefix(left))
                left -= taken.count
                kept[index].endpoints += taken
            }
        }
        return (kept, true)
    }

    /// True when `pod` matches the selector of `service` (a service without a selector matches nothing).
    public static func selects(_ service: JSON, _ pod: JSON) -> Bool {
        guard let selector = service[path: ["spec", "selector"]]?.objectValue, !selector.isEmpty else { return false }
        let labels = ObjectMeta.labels(of: pod)
        return selector.allSatisfy { labels[$0.key] == $0.value.stringValue }
    }

    /// The port a service port's targetPort means on `pod`, or nil when the pod has no such named port.
    public static func resolve(targetPort: JSON?, port: JSON?, protocol proto: String, in pod: JSON) -> Int64? {
        switch targetPort {
        case .int(let value)?: return value
        case .string(let text)?:
            if let number = Int64(text) { return number }
            for container in pod[path: ["spec", "containers"]]?.arrayValue ?? [] {
                for containerPort in container["ports"]?.arrayValue ?? []
                where containerPort["name"]?.stringValue == text && (containerPort["protocol"]?.stringValue ?? "TCP") == proto {
                    return containerPort["containerPort"]?.intValue
                }
            }
            return nil
        default:
            return port?.intValue
        }
    }

    /// The endpoint groups of `service` over `pods` (pods of its namespace), sorted so the same input gives the same output.
    public static func groups(service: JSON, pods: [JSON]) -> [Group] {
        let publishNotReady = service[path: ["spec", "publishNotReadyAddresses"]]?.boolValue == true
        let servicePorts = service[path: ["spec", "ports"]]?.arrayValue ?? []
        var byPorts: [String: [Endpoint]] = [:]
        var order: [(key: String, ports: [JSON])] = []
        for pod in pods where selects(service, pod) {
            guard let ip = pod[path: ["status", "podIP"]]?.stringValue, !ip.isEmpty else { continue }
            let phase = pod[path: ["status", "phase"]]?.stringValue ?? ""
            if phase == "Succeeded" || phase == "Failed" { continue }
            var ports: [JSON] = []
            for servicePort in servicePorts {
                let proto = servicePort["protocol"]?.stringValue ?? "TCP"
                guard let number = resolve(targetPort: servicePort["targetPort"], port: servicePort["port"], protocol: proto, in: pod),
                      (1...65535).contains(number) else { continue }
                var entry = JSON.emptyObject
                if let name = servicePort["name"]?.stringValue, !name.isEmpty { entry["name"] = .string(name) }
                entry["port"] = .int(number)
                entry["protocol"] = .string(proto)
                ports.append(entry)
            }
            if !servicePorts.isEmpty, ports.isEmpty { continue }
            let terminating = ObjectMeta.deletionTimestamp(of: pod) != nil
            let podReady = Conditions.find(pod, "Ready")?["status"]?.stringValue == "True"
            let endpoint = Endpoint(ip: ip, ready: publishNotReady || (podReady && !terminating), serving: publishNotReady || podReady,
                                    terminating: terminating,
                                    nodeName: pod[path: ["spec", "nodeName"]]?.stringValue ?? "", podName: ObjectMeta.name(of: pod),
                                    podUID: ObjectMeta.uid(of: pod), weight: pod[path: ["metadata", "annotations", weightAnnotation]]?.stringValue)
            let key = JSON.array(ports).text
            if byPorts[key] == nil { order.append((key, ports)) }
            byPorts[key, default: []].append(endpoint)
        }
        return order.sorted { $0.key < $1.key }.map { entry in
            Group(ports: entry.ports, endpoints: (byPorts[entry.key] ?? []).sorted { ($0.ip, $0.podName) < ($1.ip, $1.podName) })
        }
    }

    static func targetRef(_ endpoint: Endpoint, namespace: String) -> JSON {
        ["kind": "Pod", "namespace": .string(namespace), "name": .string(endpoint.podName), "uid": .string(endpoint.podUID)]
    }

    /// The `subsets` of the service's Endpoints object.
    public static func subsets(_ groups: [Group], namespace: String) -> JSON {
        .array(groups.compactMap { group in
            func address(_ endpoint: Endpoint) -> JSON {
                var entry: JSON = ["ip": .string(endpoint.ip), "targetRef": targetRef(endpoint, namespace: namespace)]
                if !endpoint.nodeName.isEmpty { entry["nodeName"] = .string(endpoint.nodeName) }
                return entry
            }
            // Endpoints leave terminating pods out (EndpointSlices keep them, marked).
            let ready = group.endpoints.filter { $0.ready }.map(address)
            let notReady = group.endpoints.filter { !$0.ready && !$0.terminating }.map(address)
            if ready.isEmpty, notReady.isEmpty { return nil }
            var subset: JSON = ["ports": .array(group.ports)]
            if !ready.isEmpty { subset["addresses"] = .array(ready) }
            if !notReady.isEmpty { subset["notReadyAddresses"] = .array(notReady) }
            return subset
        })
    }

    /// A short stable suffix for a slice of one port list.
    public static func sliceSuffix(_ ports: [JSON]) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in JSON.array(ports).serialized() { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var text = ""
        for _ in 0..<5 {
            text.append(alphabet[Int(hash % UInt32(alphabet.count))])
            hash /= UInt32(alphabet.count)
        }
        return text
    }

    /// The EndpointSlice bodies (without metadata) of each group: addressType, endpoints, ports.
    public static func sliceBody(_ group: Group, namespace: String) -> JSON {
        let endpoints: [JSON] = group.endpoints.map { endpoint in
            var entry: JSON = ["addresses": [.string(endpoint.ip)],
                               "conditions": ["ready": .bool(endpoint.ready), "serving": .bool(endpoint.serving),
                                              "terminating": .bool(endpoint.terminating)]]
            // A mirrored address may name no pod.
            if !endpoint.podName.isEmpty { entry["targetRef"] = targetRef(endpoint, namespace: namespace) }
            if !endpoint.nodeName.isEmpty { entry["nodeName"] = .string(endpoint.nodeName) }
            if let weight = endpoint.weight {
                var topology = JSON.emptyObject
                topology[weightAnnotation] = .string(weight)
                entry["deprecatedTopology"] = topology
            }
            return entry
        }
        return ["addressType": "IPv4", "endpoints": .array(endpoints), "ports": .array(group.ports)]
    }
}
