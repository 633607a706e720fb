import Kube9Model

/// EndpointSlices mirrored from a hand-written Endpoints object, as Kubernetes'
/// endpointslice-mirroring controller does: for a service without a selector, the Endpoints
/// its owner wrote become slices (so the proxy and the cluster DNS, which read slices, serve
/// them). An Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"` is left out.
public enum EndpointsMirror {
    /// The managed-by label value of mirrored slices.
    public static let managedBy = "endpointslicemirroring-controller.k8s.io"
    public static let skipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror"

    /// Whether `endpoints` is mirrored (it exists and does not opt out).
    public static func isMirrored(_ endpoints: JSON?) -> Bool {
        guard let endpoints else { return false }
        return ObjectMeta.labels(of: endpoints)[skipMirrorLabel] != "true"
    }

    /// The groups of `endpoints`' subsets: addresses ready, notReadyAddresses not ready; IPv4
    /// addresses and valid ports only (others cannot be served); subsets with the same ports merged.
    public static func groups(_ endpoints: JSON) -> [EndpointsBuilder.Group] {
        var byPorts: [String: (ports: [JSON], endpoints: [EndpointsBuilder.Endpoint])] = [:]
        for subset in endpoints["subsets"]?.arrayValue ?? [] {
            let ports: [JSON] = (subset["ports"]?.arrayValue ?? []).compactMap { port in
                guard let number = port["port"]?.intValue, (1...65535).contains(number) else { return nil }
                var entry = JSON.emptyObject
                if let name = port["name"]?.stringValue, !name.isEmpty { entry["name"] = .string(name) }
                entry["port"] = .int(number)
                entry["protocol"] = .string(port["protocol"]?.stringValue ?? "TCP")
                return entry
            }
            var members: [EndpointsBuilder.Endpoint] = []
            for (list, ready) in [("addresses", true), ("notReadyAddresses", false)] {
                for address in subset[list]?.arrayValue ?? [] {
                    guard let ip = address["ip"]?.stringValue, IPv4Address(ip) != nil else { continue }
                    let pod = address["targetRef"]?["kind"]?.stringValue == "Pod" ? address["targetRef"] : nil
                    members.append(EndpointsBuilder.Endpoint(ip: ip, ready: ready, serving: ready, terminating: false,
                                                             nodeName: address["nodeName"]?.stringValue ?? "",
                                                             podName: pod?["name"]?.stringValue ?? "", podUID: pod?["uid"]?.stringValue ?? "",
                                                             weight: nil))
                }
            }
            let key = JSON.array(ports).text
            byPorts[key, default: (ports, [])].endpoints += members
        }
        return byPorts.sorted { $0.key < $1.key }.map { entry in
            EndpointsBuilder.Group(ports: entry.value.ports, endpoints: entry.value.endpoints.sorted { ($0.ip, $0.podName) < ($1.ip, $1.podName) })
        }
    }
}
