#if canImport(Glibc)
import Glibc
#endif
import Kube9Model
import Logging

/// The `kubernetes` service in `default`, the API server's own (kube-apiserver keeps it too):
/// the first address of the service range, port 443 named https towards the server's port,
/// with an Endpoints and an EndpointSlice naming the server's address. `ensure` runs at each
/// start and brings them to the address and port the server listens on. Until TLS exists the
/// port carries plain HTTP.
public enum KubernetesService {
    public static let name = "kubernetes"
    public static let namespace = "default"
    /// The managed-by label of its slice (the endpoints controller leaves the slice alone).
    public static let managedBy = "kube9-apiserver"

    static let services = ServiceStrategy().type
    static let endpoints = EndpointsStrategy().type
    static let slices = EndpointSliceStrategy().type

    /// The address pods reach the server at: the listening IPv4 address; for the wildcard, the
    /// host's first non-loopback IPv4 address (proxies on other hosts cannot dial a loopback
    /// one), or 127.0.0.1 when it has none; 127.0.0.1 for localhost; nil for anything else (an
    /// IPv6 or unresolved host).
    public static func endpointAddress(listeningOn host: String) -> IPv4Address? {
        if host == "0.0.0.0" { return firstHostAddress() ?? IPv4Address(127, 0, 0, 1) }
        if host == "localhost" { return IPv4Address(127, 0, 0, 1) }
        return IPv4Address(host)
    }

    /// The first IPv4 address of an interface that is up and not loopback.
    public static func firstHostAddress() -> IPv4Address? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var entry = list
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            let flags = Int32(bitPattern: current.pointee.ifa_flags)
            guard let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                  flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0 else { continue }
            let ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { IPv4Address(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)) }
            return ipv4
        }
        return nil
    }

    /// Creates or updates the service, its Endpoints and its EndpointSlice. Failures are
    /// logged: a server without the service still serves.
    public static func ensure(client: any ClusterClient, clusterIP: IPv4Address?, address: IPv4Address, port: Int, logger: Logger) async {
        let ports: JSON = [["name": "https", "port": 443, "protocol": "TCP", "targetPort": .int(Int64(port))]]
        do {
            if client.get(services, namespace: namespace, name: name) == nil {
                var service: JSON = ["apiVersion": "v1", "kind": "Service",
                                     "metadata": ["name": .string(name), "namespace": .string(namespace),
                                                  "labels": ["component": "apiserver", "provider": "kubernetes"]],
                                     "spec": ["type": "ClusterIP", "ports": ports, "sessionAffinity": "None"]]
                if let clusterIP { service[path: ["spec", "clusterIP"]] = .string(clusterIP.description) }
                do {
                    try await client.create(services, namespace: namespace, object: service)
                } catch let error as APIError where clusterIP != nil && error.names(field: "spec.clusterIP") {
                    // Its address went to another service (data from before kube9 kept it): take any.
                    logger.warning("the kubernetes service cannot have \(clusterIP?.description ?? "-"): \(error); allocating another")
                    service[path: ["spec", "clusterIP"]] = Optional<JSON>.none
                    try await client.create(services, namespace: namespace, object: service)
                }
            } else if client.get(services, namespace: namespace, name: name)?[path: ["spec", "ports"]] != ports {
                try await client.modify(services, namespace: namespace, name: name, status: false) { $0[path: ["spec", "ports"]] = ports }
            }
            let subsets: JSON = [["addresses": [["ip": .string(address.description)]],
                                  "ports": [["name": "https", "port": .int(Int64(port)), "protocol": "TCP"]]]]
            if client.get(endpoints, namespace: namespace, name: name) == nil {
                try await client.create(endpoints, namespace: namespace, object: [
                    "apiVersion": "v1", "kind": "Endpoints", "subsets": subsets,
                    // Its slice is written here too: the mirroring controller leaves it alone.
                    "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": [EndpointsMirror.skipMirrorLabel: "true"]],
                ])
            } else if let current = client.get(endpoints, namespace: namespace, name: name),
                      current["subsets"] != subsets || ObjectMeta.labels(of: current)[EndpointsMirror.skipMirrorLabel] != "true" {
                try await client.modify(endpoints, namespace: namespace, name: name, status: false) { object in
                    object["subsets"] = subsets
                    object[path: ["metadata", "labels", EndpointsMirror.skipMirrorLabel]] = "true"
                }
            }
            let slice: JSON = ["addressType": "IPv4",
                               "endpoints": [["addresses": [.string(address.description)], "conditions": ["ready": true, "serving": true, "terminating": false]]],
                               "ports": [["name": "https", "port": .int(Int64(port)), "protocol": "TCP"]]]
            let labels: JSON = [EndpointSliceStrategy.serviceNameLabel: .string(name), EndpointSliceStrategy.managedByLabel: .string(managedBy)]
            if let current = client.get(slices, namespace: namespace, name: name) {
                if ["addressType", "endpoints", "ports"].contains(where: { current[$0] != slice[$0] }) {
                    try await client.modify(slices, namespace: namespace, name: name, status: false) { object in
                        for field in ["addressType", "endpoints", "ports"] { object[field] = slice[field] }
                        object[path: ["metadata", "labels"]] = labels
                    }
                }
            } else {
                var object = slice
                object["apiVersion"] = "discovery.k8s.io/v1"
                object["kind"] = "EndpointSlice"
                object["metadata"] = ["name": .string(name), "namespace": .string(namespace), "labels": labels]
                try await client.create(slices, namespace: namespace, object: object)
            }
        } catch {
            logger.error("the kubernetes service could not be kept", metadata: ["error": "\(error)"])
        }
    }
}
