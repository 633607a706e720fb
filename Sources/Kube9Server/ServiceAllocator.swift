import Kube9Controllers
import Kube9Model
import Synchronization

/// Gives Services their addresses: a cluster IP from the service range, a node port per
/// service port (NodePort, LoadBalancer) from the node-port range, and a load-balancer
/// ingress address from the pool (LoadBalancer). Requested values are honoured when free and
/// in range, else refused with a 422 naming the field.
///
/// What is taken is read from the stored services (so nothing is handed out twice across
/// restarts) plus the reservations of writes not yet committed (so two concurrent creates
/// never get the same address): a reservation is held until its write has committed or failed.
public final class ServiceAllocator: Sendable {
    /// Where the allocator's ranges come from (server flags).
    public struct Ranges: Sendable {
        public var services: IPv4Range
        public var nodePorts: ClosedRange<Int64>
        public var loadBalancers: IPv4Range
        /// Cluster IPs kept out of automatic allocation (the DNS service's address).
        public var reservedServiceIPs: Set<IPv4Address>

        public init(services: IPv4Range, nodePorts: ClosedRange<Int64>, loadBalancers: IPv4Range, reservedServiceIPs: Set<IPv4Address> = []) {
            self.services = services
            self.nodePorts = nodePorts
            self.loadBalancers = loadBalancers
            self.reservedServiceIPs = reservedServiceIPs
        }

        /// Kubernetes' defaults: 10.96.0.0/12, 30000–32767; the load-balancer pool is kube9's own choice.
        public static let defaults = Ranges(services: IPv4Range(containing: IPv4Address(10, 96, 0, 0), prefixLength: 12), nodePorts: 30000...32767,
                                            loadBalancers: IPv4Range(containing: IPv4Address(10, 200, 0, 0), prefixLength: 24),
                                            reservedServiceIPs: [IPv4Address(10, 96, 0, 10)])

        /// The DNS service's address: the tenth address of the service range, as kubeadm picks it.
        public var dnsIP: IPv4Address? { services.address(at: 10) }
        /// The `kubernetes` service's address: the first of the range, never handed out to others.
        public var kubernetesIP: IPv4Address? { services.address(at: 1) }
    }

    /// What one write holds until it commits.
    public struct Reservation: Sendable {
        var serviceIPs: [UInt32] = []
        var nodePorts: [String] = []
        var loadBalancerIPs: [UInt32] = []
    }

    struct Held {
        var serviceIPs: Set<UInt32> = []
        /// "30080/TCP": a node port is taken per protocol, as in Kubernetes.
        var nodePorts: Set<String> = []
        var loadBalancerIPs: Set<UInt32> = []
    }

    public let ranges: Ranges
    let stored: @Sendable () -> [JSON]
    let held = Mutex(Held())

    /// `stored` lists the services as stored now (the registry's cache).
    public init(ranges: Ranges, stored: @escaping @Sendable () -> [JSON]) {
        self.ranges = ranges
        self.stored = stored
    }

    /// Fills in what `service` needs and checks what it asks for; `old` is the stored version
    /// on an update (its own addresses are not "taken"). Release the result after the write.
    public func reserve(_ service: inout JSON, old: JSON?) throws(APIError) -> Reservation {
        let name = ObjectMeta.name(of: service)
        let uid = old.map(ObjectMeta.uid(of:))
        // The stored services are read under the lock: a reservation is released only after
        // its write is in the cache, so a value is always in one of the two (never in neither).
        return try held.withLock { held throws(APIError) -> Reservation in
            var takenIPs: Set<UInt32> = []
            var takenPorts: Set<String> = []
            var takenBalancers: Set<UInt32> = []
            for other in stored() where uid == nil || ObjectMeta.uid(of: other) != uid {
                if let ip = IPv4Address(other[path: ["spec", "clusterIP"]]?.stringValue ?? "") { takenIPs.insert(ip.value) }
                for port in other[path: ["spec", "ports"]]?.arrayValue ?? [] {
                    if let value = port["nodePort"]?.intValue, value > 0 { takenPorts.insert(Self.portKey(value, port)) }
                }
                for entry in other[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? [] {
                    if let ip = IPv4Address(entry["ip"]?.stringValue ?? "") { takenBalancers.insert(ip.value) }
                }
            }
            var reservation = Reservation()
            let type = ServiceStrategy.serviceType(service)
            func refuse(_ field: String, _ value: JSON?, _ message: String) -> APIError {
                .invalid(kind: "Service", group: "", name: name, causes: [.invalid(field, value, message)])
            }
            // Cluster IP.
            if type != "ExternalName" {
                let requested = service[path: ["spec", "clusterIP"]]?.stringValue ?? ""
                let oldIP = old?[path: ["spec", "clusterIP"]]?.stringValue ?? ""
                if requested.isEmpty {
                    guard let ip = Self.pick(in: ranges.services, firstUsable: 1, avoiding: { value in
                        takenIPs.contains(value) || held.serviceIPs.contains(value) || ranges.reservedServiceIPs.contains(IPv4Address(value))
                            || IPv4Address(value) == ranges.kubernetesIP
                    }) else {
                        throw refuse("spec.clusterIP", nil, "no free address left: the service range \(ranges.services) is full")
                    }
                    reservation.serviceIPs.append(ip.value)
                    service[path: ["spec", "clusterIP"]] = .string(ip.description)
                    service[path: ["spec", "clusterIPs"]] = [.string(ip.description)]
                } else if requested != "None", requested != oldIP, let ip = IPv4Address(requested) {
                    guard let offset = ranges.services.offset(of: ip), offset > 0, offset < ranges.services.size - 1 else {
                        throw refuse("spec.clusterIP", .string(requested), "provided IP is not in the valid range. The range of valid IPs is \(ranges.services)")
                    }
                    if takenIPs.contains(ip.value) || held.serviceIPs.contains(ip.value) {
                        throw refuse("spec.clusterIP", .string(requested), "provided IP is already allocated")
                    }
                    if ranges.reservedServiceIPs.contains(ip) {
                        throw refuse("spec.clusterIP", .string(requested), "provided IP is reserved for the cluster DNS")
                    }
                    if ip == ranges.kubernetesIP, name != KubernetesService.name || ObjectMeta.namespace(of: service) != KubernetesService.namespace {
                        throw refuse("spec.clusterIP", .string(requested), "provided IP is reserved for the kubernetes service")
                    }
                    reservation.serviceIPs.append(ip.value)
                }
            }
            // Node ports.
            if ServiceStrategy.usesNodePorts(type), var ports = service[path: ["spec", "ports"]]?.arrayValue {
                let oldPorts = Set((old?[path: ["spec", "ports"]]?.arrayValue ?? []).compactMap { port in
                    port["nodePort"]?.intValue.map { Self.portKey($0, port) }
                })
                var mine: Set<String> = []
                for index in ports.indices {
                    let requested = ports[index]["nodePort"]?.intValue ?? 0
                    let field = "spec.ports[\(index)].nodePort"
                    let proto = ports[index]
                    func taken(_ port: Int64) -> Bool {
                        let key = Self.portKey(port, proto)
                        return takenPorts.contains(key) || held.nodePorts.contains(key) || mine.contains(key)
                    }
                    if requested == 0 {
                        let size = UInt64(ranges.nodePorts.upperBound - ranges.nodePorts.lowerBound + 1)
                        guard let offset = Self.pickOffset(size: size, firstUsable: 0, avoiding: { offset in
                            taken(ranges.nodePorts.lowerBound + Int64(offset))
                        }) else {
                            throw refuse(field, nil, "no free port left: the node-port range \(ranges.nodePorts.lowerBound)-\(ranges.nodePorts.upperBound) is full")
                        }
                        let port = ranges.nodePorts.lowerBound + Int64(offset)
                        ports[index]["nodePort"] = .int(port)
                        mine.insert(Self.portKey(port, proto))
                        reservation.nodePorts.append(Self.portKey(port, proto))
                    } else if !oldPorts.contains(Self.portKey(requested, proto)) || mine.contains(Self.portKey(requested, proto)) {
                        guard ranges.nodePorts.contains(requested) else {
                            throw refuse(field, .int(requested), "provided port is not in the valid range. The range of valid ports is \(ranges.nodePorts.lowerBound)-\(ranges.nodePorts.upperBound)")
                        }
                        if taken(requested) { throw refuse(field, .int(requested), "provided port is already allocated") }
                        mine.insert(Self.portKey(requested, proto))
                        reservation.nodePorts.append(Self.portKey(requested, proto))
                    } else {
                        mine.insert(Self.portKey(requested, proto))
                    }
                }
                service[path: ["spec", "ports"]] = .array(ports)
            }
            // Load-balancer ingress.
            if type == "LoadBalancer" {
                let current = (old?[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { IPv4Address($0["ip"]?.stringValue ?? "") }
                let requested = service[path: ["spec", "loadBalancerIP"]]?.stringValue ?? ""
                var chosen: IPv4Address? = nil
                if !requested.isEmpty {
                    guard let ip = IPv4Address(requested), let offset = ranges.loadBalancers.offset(of: ip), offset > 0, offset < ranges.loadBalancers.size - 1 else {
                        throw refuse("spec.loadBalancerIP", .string(requested), "must be an address of the load-balancer pool \(ranges.loadBalancers)")
                    }
                    if !current.contains(ip), takenBalancers.contains(ip.value) || held.loadBalancerIPs.contains(ip.value) {
                        throw refuse("spec.loadBalancerIP", .string(requested), "provided IP is already allocated")
                    }
                    chosen = ip
                } else if let existing = current.first {
                    chosen = existing
                } else {
                    chosen = Self.pick(in: ranges.loadBalancers, firstUsable: 1) { takenBalancers.contains($0) || held.loadBalancerIPs.contains($0) }
                }
                if let chosen {
                    if !current.contains(chosen) { reservation.loadBalancerIPs.append(chosen.value) }
                    service[path: ["status", "loadBalancer"]] = ["ingress": [["ip": .string(chosen.description), "ipMode": "VIP"]]]
                } else {
                    // The pool is full: the service stays <pending>, as in clouds without capacity.
                    service[path: ["status", "loadBalancer"]] = .emptyObject
                }
            } else {
                service[path: ["status", "loadBalancer"]] = .emptyObject
            }
            held.serviceIPs.formUnion(reservation.serviceIPs)
            held.nodePorts.formUnion(reservation.nodePorts)
            held.loadBalancerIPs.formUnion(reservation.loadBalancerIPs)
            return reservation
        }
    }

    /// Ends a reservation (after its write committed, so the stored object now holds the values, or failed).
    public func release(_ reservation: Reservation) {
        held.withLock { held in
            held.serviceIPs.subtract(reservation.serviceIPs)
            held.nodePorts.subtract(reservation.nodePorts)
            held.loadBalancerIPs.subtract(reservation.loadBalancerIPs)
        }
    }

    /// "30080/TCP" for a port entry's node port.
    static func portKey(_ port: Int64, _ entry: JSON) -> String { "\(port)/\(entry["protocol"]?.stringValue ?? "TCP")" }

    /// A free address of `range` (not its network or broadcast address), starting at a random offset.
    static func pick(in range: IPv4Range, firstUsable: UInt64, avoiding taken: (UInt32) -> Bool) -> IPv4Address? {
        guard range.size > 2 else { return nil }
        return pickOffset(size: range.size - 1, firstUsable: firstUsable) { taken(range.network.value &+ UInt32(truncatingIfNeeded: $0)) }
            .flatMap { range.address(at: $0) }
    }

    /// A free offset in firstUsable..<size, probing from a random start; nil when all are taken.
    static func pickOffset(size: UInt64, firstUsable: UInt64, avoiding taken: (UInt64) -> Bool) -> UInt64? {
        guard size > firstUsable else { return nil }
        let count = size - firstUsable
        let start = UInt64.random(in: 0..<count)
        // Bounded: at most `count` probes, and the taken set is at most the number of services.
        var probe: UInt64 = 0
        while probe < count {
            let offset = firstUsable + (start + probe) % count
            if !taken(offset) { return offset }
            probe += 1
        }
        return nil
    }
}
