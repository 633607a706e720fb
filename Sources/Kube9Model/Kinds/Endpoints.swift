/// Endpoints (core/v1): the addresses behind a service, one object per service, of the same
/// name. The endpoints controller writes them for services with a selector; for a service
/// without one, users write them (as in Kubernetes).
public struct EndpointsStrategy: ResourceStrategy {
    public init() {}

    public let type = ResourceType(
        group: "", version: "v1", resource: "endpoints", singular: "endpoints", kind: "Endpoints", namespaced: true,
        shortNames: ["ep"])

    public func specChanged(_ object: JSON, old: JSON) -> Bool { false }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        guard let subsets = object["subsets"], !subsets.isNull else { return causes }
        guard let list = subsets.arrayValue else { return causes + [.typeInvalid("subsets", expected: "array", got: subsets)] }
        for (index, subset) in list.enumerated() {
            let field = "subsets[\(index)]"
            for group in ["addresses", "notReadyAddresses"] {
                for (position, address) in (subset[group]?.arrayValue ?? []).enumerated() {
                    EndpointSliceStrategy.checkAddress(address["ip"], "\(field).\(group)[\(position)].ip", into: &causes)
                }
            }
            EndpointSliceStrategy.checkPorts(subset["ports"], "\(field).ports", into: &causes)
        }
        return causes
    }

    /// "10.89.0.2:8080,10.89.0.3:8080 + 2 more...", as kubectl prints the ENDPOINTS column.
    public static func endpointsText(_ object: JSON) -> String {
        var entries: [String] = []
        for subset in object["subsets"]?.arrayValue ?? [] {
            let ports = (subset["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.intValue }
            for address in subset["addresses"]?.arrayValue ?? [] {
                let ip = address["ip"]?.stringValue ?? ""
                if ports.isEmpty { entries.append(ip) } else { entries.append(contentsOf: ports.map { "\(ip):\($0)" }) }
            }
        }
        if entries.isEmpty { return "<none>" }
        if entries.count > 3 { return entries.prefix(3).joined(separator: ",") + " + \(entries.count - 3) more..." }
        return entries.joined(separator: ",")
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Endpoints", description: "The set of all endpoints is the union of all subsets."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { object in
                [.string(ObjectMeta.name(of: object)), .string(Self.endpointsText(object)),
                 .string(Timestamp.age(of: object[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] {
        let c = PodStrategy.core
        return [
            SchemaDefinition(c + "Endpoints", "Endpoints is a collection of endpoints that implement the actual service.", kind: ("", "v1", "Endpoints"), fields: [
                SchemaField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object."),
                SchemaField("kind", .string, "Kind is a string value representing the REST resource this object represents."),
                SchemaField("metadata", .ref(CommonSchemas.objectMeta), "Standard object's metadata."),
                SchemaField("subsets", .array(.ref(c + "EndpointSubset")), "The set of all endpoints is the union of all subsets."),
            ]),
            SchemaDefinition(c + "EndpointSubset", "EndpointSubset is a group of addresses with a common set of ports.", fields: [
                SchemaField("addresses", .array(.ref(c + "EndpointAddress")), "IP addresses which offer the related ports that are marked as ready."),
                SchemaField("notReadyAddresses", .array(.ref(c + "EndpointAddress")), "IP addresses which offer the related ports but are not currently marked as ready."),
                SchemaField("ports", .array(.ref(c + "EndpointPort")), "Port numbers available on the related IP addresses."),
            ]),
            SchemaDefinition(c + "EndpointAddress", "EndpointAddress is a tuple that describes single IP address.", fields: [
                SchemaField("ip", .string, "The IP of this endpoint.", required: true),
                SchemaField("hostname", .string, "The Hostname of this endpoint"),
                SchemaField("nodeName", .string, "Optional: Node hosting this endpoint."),
                SchemaField("targetRef", .freeform, "Reference to object providing the endpoint."),
            ]),
            SchemaDefinition(c + "EndpointPort", "EndpointPort is a tuple that describes a single port.", fields: [
                SchemaField("name", .string, "The name of this port. This must match the 'name' field in the corresponding ServicePort."),
                SchemaField("port", .integer, "The port number of the endpoint.", required: true),
                SchemaField("protocol", .string, "The IP protocol for this port. Must be UDP, TCP, or SCTP. Default is TCP."),
                SchemaField("appProtocol", .string, "The application protocol for this port."),
            ]),
        ]
    }
}

/// EndpointSlices (discovery.k8s.io/v1): the same addresses as Endpoints with per-endpoint
/// conditions (ready, serving, terminating). The controller keeps one slice per service,
/// labelled `kubernetes.io/service-name`.
public struct EndpointSliceStrategy: ResourceStrategy {
    public init() {}

    public let type = ResourceType(
        group: "discovery.k8s.io", version: "v1", resource: "endpointslices", singular: "endpointslice", kind: "EndpointSlice", namespaced: true)

    public static let serviceNameLabel = "kubernetes.io/service-name"
    public static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    public static let managedBy = "endpointslice-controller.k8s.io"

    public func specChanged(_ object: JSON, old: JSON) -> Bool { false }

    static func checkAddress(_ value: JSON?, _ field: String, into causes: inout [FieldCause]) {
        guard let value, !value.isNull else {
            causes.append(.required(field))
            return
        }
        if IPv4Address(value.stringValue ?? "") == nil { causes.append(.invalid(field, value, "must be a valid IPv4 address")) }
    }

    static func checkPorts(_ value: JSON?, _ field: String, into causes: inout [FieldCause]) {
        guard let value, !value.isNull else { return }
        guard let ports = value.arrayValue else {
            causes.append(.typeInvalid(field, expected: "array", got: value))
            return
        }
        for (index, port) in ports.enumerated() {
            CommonSchemas.checkInteger(port["port"], "\(field)[\(index)].port", in: 1...65535, into: &causes)
            if let proto = port["protocol"], !proto.isNull, !ServiceStrategy.protocols.contains(proto.stringValue ?? "") {
                causes.append(.notSupported("\(field)[\(index)].protocol", proto, supported: ServiceStrategy.protocols))
            }
        }
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        let addressType = object["addressType"]
        if addressType?.stringValue != "IPv4" {
            causes.append(addressType.map { .notSupported("addressType", $0, supported: ["IPv4"]) } ?? .required("addressType"))
        }
        if let endpoints = object["endpoints"], !endpoints.isNull {
            guard let list = endpoints.arrayValue else { return causes + [.typeInvalid("endpoints", expected: "array", got: endpoints)] }
            if list.count > 1000 {
                causes.append(FieldCause(reason: "FieldValueTooMany", field: "endpoints", message: "Too many: \(list.count): must have at most 1000 items"))
            }
            for (index, endpoint) in list.prefix(1000).enumerated() {
                let addresses = endpoint["addresses"]?.arrayValue ?? []
                if addresses.count != 1 { causes.append(.invalid("endpoints[\(index)].addresses", endpoint["addresses"], "must contain exactly one address")) }
                for (position, address) in addresses.prefix(1).enumerated() {
                    Self.checkAddress(address, "endpoints[\(index)].addresses[\(position)]", into: &causes)
                }
            }
        } else {
            causes.append(.required("endpoints"))
        }
        Self.checkPorts(object["ports"], "ports", into: &causes)
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("AddressType", description: "addressType specifies the type of address carried by this EndpointSlice."),
                TableColumn("Ports", description: "ports specifies the list of network ports exposed by each endpoint in this slice."),
                TableColumn("Endpoints", description: "endpoints is a list of unique endpoints in this slice."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { slice in
                let ports = (slice["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.intValue.map(String.init) }
                let addresses = (slice["endpoints"]?.arrayValue ?? []).compactMap { $0["addresses"]?.arrayValue?.first?.stringValue }
                var shown = addresses.prefix(3).joined(separator: ",")
                if addresses.count > 3 { shown += " + \(addresses.count - 3) more..." }
                return [.string(ObjectMeta.name(of: slice)), .string(slice["addressType"]?.stringValue ?? ""),
                        .string(ports.isEmpty ? "<unset>" : ports.joined(separator: ",")), .string(addresses.isEmpty ? "<unset>" : shown),
                        .string(Timestamp.age(of: slice[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] {
        let d = "io.k8s.api.discovery.v1."
        return [
            SchemaDefinition(d + "EndpointSlice", "EndpointSlice represents a subset of the endpoints that implement a service.", kind: ("discovery.k8s.io", "v1", "EndpointSlice"), fields: [
                SchemaField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object."),
                SchemaField("kind", .string, "Kind is a string value representing the REST resource this object represents."),
                SchemaField("metadata", .ref(CommonSchemas.objectMeta), "Standard object's metadata."),
                SchemaField("addressType", .string, "addressType specifies the type of address carried by this EndpointSlice (kube9: IPv4).", required: true),
                SchemaField("endpoints", .array(.ref(d + "Endpoint")), "endpoints is a list of unique endpoints in this slice.", required: true),
                SchemaField("ports", .array(.ref(d + "EndpointPort")), "ports specifies the list of network ports exposed by each endpoint in this slice."),
            ]),
            SchemaDefinition(d + "Endpoint", "Endpoint represents a single logical \"backend\" implementing a service.", fields: [
                SchemaField("addresses", .array(.string), "addresses of this endpoint.", required: true),
                SchemaField("conditions", .ref(d + "EndpointConditions"), "conditions contains information about the current status of the endpoint."),
                SchemaField("hostname", .string, "hostname of this endpoint."),
                SchemaField("targetRef", .freeform, "targetRef is a reference to a Kubernetes object that represents this endpoint."),
                SchemaField("deprecatedTopology", .map(.string), "deprecatedTopology contains topology information part of the v1beta1 API."),
                SchemaField("nodeName", .string, "nodeName represents the name of the Node hosting this endpoint."),
                SchemaField("zone", .string, "zone is the name of the Zone this endpoint exists in."),
                SchemaField("hints", .freeform, "hints contains information associated with how an endpoint should be consumed."),
            ]),
            SchemaDefinition(d + "EndpointConditions", "EndpointConditions represents the current condition of an endpoint.", fields: [
                SchemaField("ready", .boolean, "ready indicates that this endpoint is ready to receive traffic."),
                SchemaField("serving", .boolean, "serving indicates that this endpoint is able to receive traffic, regardless of termination."),
                SchemaField("terminating", .boolean, "terminating indicates that this endpoint is terminating."),
            ]),
            SchemaDefinition(d + "EndpointPort", "EndpointPort represents a Port used by an EndpointSlice.", fields: [
                SchemaField("name", .string, "name represents the name of this port."),
                SchemaField("protocol", .string, "protocol represents the IP protocol for this port."),
                SchemaField("port", .integer, "port represents the port number of the endpoint."),
                SchemaField("appProtocol", .string, "The application protocol for this port."),
            ]),
        ]
    }
}
