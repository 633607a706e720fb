extension ServiceStrategy {
    /// "80/TCP", "80:30080/TCP", joined with commas, as kubectl prints them.
    public static func portsText(_ service: JSON) -> String {
        let ports = service[path: ["spec", "ports"]]?.arrayValue ?? []
        if ports.isEmpty { return "<none>" }
        return ports.map { port in
            let number = port["port"]?.intValue.map(String.init) ?? "?"
            let proto = port["protocol"]?.stringValue ?? "TCP"
            if let nodePort = port["nodePort"]?.intValue, nodePort > 0 { return "\(number):\(nodePort)/\(proto)" }
            return "\(number)/\(proto)"
        }.joined(separator: ",")
    }

    /// The EXTERNAL-IP column: ingress addresses, `<pending>` for a LoadBalancer without one, the external name.
    public static func externalText(_ service: JSON) -> String {
        switch serviceType(service) {
        case "ExternalName": return service[path: ["spec", "externalName"]]?.stringValue ?? "<none>"
        case "LoadBalancer":
            let ingress = (service[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }
            return ingress.isEmpty ? "<pending>" : ingress.joined(separator: ",")
        default:
            let external = (service[path: ["spec", "externalIPs"]]?.arrayValue ?? []).compactMap(\.stringValue)
            return external.isEmpty ? "<none>" : external.joined(separator: ",")
        }
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Type", description: "type determines how the Service is exposed."),
                TableColumn("Cluster-IP", description: "clusterIP is the IP address of the service and is usually assigned randomly."),
                TableColumn("External-IP", description: "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                TableColumn("Port(s)", description: "The list of ports that are exposed by this service."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("Selector", description: "Route service traffic to pods with label keys and values matching this selector.", priority: 1),
            ],
            cells: { service in
                let selector = (service[path: ["spec", "selector"]]?.objectValue ?? [:]).map { "\($0.key)=\($0.value.stringValue ?? "")" }.sorted()
                let clusterIP = service[path: ["spec", "clusterIP"]]?.stringValue ?? ""
                return [.string(ObjectMeta.name(of: service)), .string(Self.serviceType(service)),
                        .string(clusterIP.isEmpty ? "<none>" : clusterIP), .string(Self.externalText(service)),
                        .string(Self.portsText(service)),
                        .string(Timestamp.age(of: service[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                        .string(selector.isEmpty ? "<none>" : selector.joined(separator: ","))]
            })
    }

    public var schemas: [SchemaDefinition] {
        let c = PodStrategy.core
        return [
            SchemaDefinition(c + "Service", "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
                kind: ("", "v1", "Service"),
                fields: CommonSchemas.topLevel(spec: c + "ServiceSpec", status: c + "ServiceStatus",
                    specDescription: "Spec defines the behavior of a service.",
                    statusDescription: "Most recently observed status of the service. Populated by the system. Read-only.")),
            SchemaDefinition(c + "ServiceSpec", "ServiceSpec describes the attributes that a user creates on a service.", fields: [
                SchemaField("ports", .array(.ref(c + "ServicePort")), "The list of ports that are exposed by this service.", mergeKey: "port"),
                SchemaField("selector", .map(.string), "Route service traffic to pods with label keys and values matching this selector."),
                SchemaField("clusterIP", .string, "clusterIP is the IP address of the service and is usually assigned randomly. \"None\" makes a headless service."),
                SchemaField("clusterIPs", .array(.string), "ClusterIPs is a list of IP addresses assigned to this service (kube9: one IPv4 address)."),
                SchemaField("type", .string, "type determines how the Service is exposed: ClusterIP (default), NodePort, LoadBalancer or ExternalName."),
                SchemaField("externalIPs", .array(.string), "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                SchemaField("sessionAffinity", .string, "Supports \"ClientIP\" and \"None\". Used to maintain session affinity."),
                SchemaField("loadBalancerIP", .string, "Only applies to Service Type: LoadBalancer. Deprecated."),
                SchemaField("loadBalancerSourceRanges", .array(.string), "If specified and supported by the platform, traffic through the load-balancer will be restricted to the specified client IPs."),
                SchemaField("externalName", .string, "externalName is the external reference that discovery mechanisms will return as an alias for this service (a DNS CNAME record)."),
                SchemaField("externalTrafficPolicy", .string, "externalTrafficPolicy describes how nodes distribute service traffic they receive on externally-facing addresses: Cluster or Local."),
                SchemaField("healthCheckNodePort", .integer, "healthCheckNodePort specifies the healthcheck nodePort for the service."),
                SchemaField("publishNotReadyAddresses", .boolean, "publishNotReadyAddresses indicates that any agent which deals with endpoints for this Service should disregard any indications of ready/not-ready."),
                SchemaField("sessionAffinityConfig", .ref(c + "SessionAffinityConfig"), "sessionAffinityConfig contains the configurations of session affinity."),
                SchemaField("ipFamilies", .array(.string), "IPFamilies is a list of IP families (e.g. IPv4, IPv6) assigned to this service."),
                SchemaField("ipFamilyPolicy", .string, "IPFamilyPolicy represents the dual-stack-ness requested or required by this Service."),
                SchemaField("allocateLoadBalancerNodePorts", .boolean, "allocateLoadBalancerNodePorts defines if NodePorts will be automatically allocated for services with type LoadBalancer."),
                SchemaField("loadBalancerClass", .string, "loadBalancerClass is the class of the load balancer implementation this Service belongs to."),
                SchemaField("internalTrafficPolicy", .string, "InternalTrafficPolicy describes how nodes distribute service traffic they receive on the ClusterIP."),
                SchemaField("trafficDistribution", .string, "TrafficDistribution offers a way to express preferences for how traffic is distributed to Service endpoints."),
            ]),
            SchemaDefinition(c + "ServicePort", "ServicePort contains information on service's port.", fields: [
                SchemaField("name", .string, "The name of this port within the service. This must be a DNS_LABEL."),
                SchemaField("protocol", .string, "The IP protocol for this port. Supports \"TCP\" and \"UDP\". Default is TCP."),
                SchemaField("appProtocol", .string, "The application protocol for this port."),
                SchemaField("port", .integer, "The port that will be exposed by this service.", required: true),
                SchemaField("targetPort", .quantity, "Number or name of the port to access on the pods targeted by the service."),
                SchemaField("nodePort", .integer, "The port on each node on which this service is exposed when type is NodePort or LoadBalancer."),
            ]),
            SchemaDefinition(c + "SessionAffinityConfig", "SessionAffinityConfig represents the configurations of session affinity.", fields: [
                SchemaField("clientIP", .ref(c + "ClientIPConfig"), "clientIP contains the configurations of Client IP based session affinity."),
            ]),
            SchemaDefinition(c + "ClientIPConfig", "ClientIPConfig represents the configurations of Client IP based session affinity.", fields: [
                SchemaField("timeoutSeconds", .integer, "timeoutSeconds specifies the seconds of ClientIP type session sticky time (0 < x <= 86400, default 10800)."),
            ]),
            SchemaDefinition(c + "ServiceStatus", "ServiceStatus represents the current status of a service.", fields: [
                SchemaField("loadBalancer", .ref(c + "LoadBalancerStatus"), "LoadBalancer contains the current status of the load-balancer, if one is present."),
                SchemaField("conditions", .array(.freeform), "Current service state", mergeKey: "type"),
            ]),
            SchemaDefinition(c + "LoadBalancerStatus", "LoadBalancerStatus represents the status of a load-balancer.", fields: [
                SchemaField("ingress", .array(.ref(c + "LoadBalancerIngress")), "Ingress is a list containing ingress points for the load-balancer."),
            ]),
            SchemaDefinition(c + "LoadBalancerIngress", "LoadBalancerIngress represents the status of a load-balancer ingress point.", fields: [
                SchemaField("ip", .string, "IP is set for load-balancer ingress points that are IP based."),
                SchemaField("hostname", .string, "Hostname is set for load-balancer ingress points that are DNS based."),
                SchemaField("ipMode", .string, "IPMode specifies how the load-balancer IP behaves: VIP or Proxy."),
                SchemaField("ports", .array(.freeform), "Ports is a list of records of service ports."),
            ]),
        ]
    }
}

extension ServiceStrategy {
    /// The environment Kubernetes gives a container for the services of its namespace that
    /// exist when it starts (kubelet's service links): `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT`,
    /// `{SVC}_SERVICE_PORT_{PORTNAME}`, and the Docker-link style `{SVC}_PORT`,
    /// `{SVC}_PORT_{PORT}_{PROTO}` with `_PROTO`, `_PORT`, `_ADDR`. Services without a cluster IP
    /// (headless, ExternalName) give none. Names are uppercased with '-' as '_'. With
    /// `enableServiceLinks: false` only the `kubernetes` service of `default` is linked.
    public static func environment(services: [JSON], namespace: String, serviceLinks: Bool) -> [(name: String, value: String)] {
        var variables: [(name: String, value: String)] = []
        let ownNames = Set(services.filter { ObjectMeta.namespace(of: $0) == namespace }.map(ObjectMeta.name(of:)))
        let linked = services.filter { service in
            let own = ObjectMeta.namespace(of: service) == namespace && serviceLinks
            // default/kubernetes is linked everywhere, unless the namespace has a service of that name (the local one wins).
            let master = ObjectMeta.namespace(of: service) == "default" && ObjectMeta.name(of: service) == "kubernetes"
                && (namespace == "default" || !(serviceLinks && ownNames.contains("kubernetes")))
            return own || master
        }.sorted { ObjectMeta.name(of: $0) < ObjectMeta.name(of: $1) }
        for service in linked {
            guard let ip = service[path: ["spec", "clusterIP"]]?.stringValue, IPv4Address(ip) != nil,
                  let ports = service[path: ["spec", "ports"]]?.arrayValue, let first = ports.first, let firstPort = first["port"]?.intValue else { continue }
            let prefix = ObjectMeta.name(of: service).uppercased().replacingOccurrences(of: "-", with: "_")
            variables.append((prefix + "_SERVICE_HOST", ip))
            variables.append((prefix + "_SERVICE_PORT", String(firstPort)))
            for port in ports {
                guard let name = port["name"]?.stringValue, !name.isEmpty, let number = port["port"]?.intValue else { continue }
                variables.append((prefix + "_SERVICE_PORT_" + name.uppercased().replacingOccurrences(of: "-", with: "_"), String(number)))
            }
            let firstProto = (first["protocol"]?.stringValue ?? "TCP").lowercased()
            variables.append((prefix + "_PORT", "\(firstProto)://\(ip):\(firstPort)"))
            for port in ports {
                guard let number = port["port"]?.intValue else { continue }
                let proto = port["protocol"]?.stringValue ?? "TCP"
                let base = "\(prefix)_PORT_\(number)_\(proto)"
                variables.append((base, "\(proto.lowercased())://\(ip):\(number)"))
                variables.append((base + "_PROTO", proto.lowercased()))
                variables.append((base + "_PORT", String(number)))
                variables.append((base + "_ADDR", ip))
            }
        }
        return variables
    }
}
