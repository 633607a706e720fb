/// Services (core/v1): a stable virtual address and ports in front of the pods a selector
/// picks. This strategy defaults and checks the object's shape; the addresses it is given
/// (clusterIP, nodePorts, load-balancer ingress) come from the server's allocator, which owns
/// the ranges, and the endpoints from the endpoints controller.
public struct ServiceStrategy: ResourceStrategy {
    public init() {}

    public let type = ResourceType(
        group: "", version: "v1", resource: "services", singular: "service", kind: "Service", namespaced: true,
        shortNames: ["svc"], categories: ["all"], subresources: ["status"],
        selectableFields: ["spec.clusterIP", "spec.type"])

    public static let types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
    public static let protocols = ["TCP", "UDP"]
    /// The annotation naming the load-balancer policy of a service (`loadbalancer` slot).
    public static let loadBalancerPolicyAnnotation = "kube9.io/lb-policy"
    /// Default and bounds of sessionAffinityConfig.clientIP.timeoutSeconds (Kubernetes' own).
    public static let defaultAffinitySeconds: Int64 = 10800
    public static let maximumAffinitySeconds: Int64 = 86400
    /// At most this many ports per service (each one is a listener on every node).
    public static let maximumPorts = 100

    /// The service's type, "ClusterIP" when unset.
    public static func serviceType(_ service: JSON) -> String { service[path: ["spec", "type"]]?.stringValue ?? "ClusterIP" }

    /// True for types that get a node port per service port.
    public static func usesNodePorts(_ type: String) -> Bool { type == "NodePort" || type == "LoadBalancer" }

    public func prepareForCreate(_ object: inout JSON) {
        object["status"] = ["loadBalancer": .emptyObject]
        Self.applyDefaults(&object)
    }

    public func prepareForUpdate(_ object: inout JSON, old: JSON) {
        object["status"] = old["status"]
        // A type change drops what the old type needed (Kubernetes' dropTypeDependentFields):
        // node ports when the new type has none, the cluster IP when it becomes ExternalName.
        let newType = Self.serviceType(object)
        let oldType = Self.serviceType(old)
        if Self.usesNodePorts(oldType), !Self.usesNodePorts(newType), var ports = object[path: ["spec", "ports"]]?.arrayValue {
            for index in ports.indices where ports[index].objectValue != nil { ports[index]["nodePort"] = nil }
            object[path: ["spec", "ports"]] = .array(ports)
        }
        if newType == "ExternalName", oldType != "ExternalName", object[path: ["spec", "clusterIP"]] == old[path: ["spec", "clusterIP"]] {
            object[path: ["spec", "clusterIP"]] = nil
            object[path: ["spec", "clusterIPs"]] = nil
        }
        // An update that leaves out what the server allocated keeps it (kubectl apply and
        // replace send the spec without clusterIP or nodePort), as Kubernetes does.
        let type = Self.serviceType(object)
        if type != "ExternalName", Self.serviceType(old) != "ExternalName" {
            if (object[path: ["spec", "clusterIP"]]?.stringValue ?? "").isEmpty, let ip = old[path: ["spec", "clusterIP"]] {
                object[path: ["spec", "clusterIP"]] = ip
                object[path: ["spec", "clusterIPs"]] = old[path: ["spec", "clusterIPs"]]
            }
        }
        if Self.usesNodePorts(type), var ports = object[path: ["spec", "ports"]]?.arrayValue {
            let oldPorts = old[path: ["spec", "ports"]]?.arrayValue ?? []
            for index in ports.indices where (ports[index]["nodePort"]?.intValue ?? 0) == 0 {
                let match = oldPorts.first {
                    ($0["port"] == ports[index]["port"] && ($0["protocol"] ?? "TCP") == (ports[index]["protocol"] ?? "TCP"))
                        || ($0["name"]?.stringValue.map { !$0.isEmpty } == true && $0["name"] == ports[index]["name"])
                }
                if let nodePort = match?["nodePort"], (nodePort.intValue ?? 0) > 0 { ports[index]["nodePort"] = nodePort }
            }
            object[path: ["spec", "ports"]] = .array(ports)
        }
        Self.applyDefaults(&object)
    }

    static func applyDefaults(_ object: inout JSON) {
        guard var spec = object["spec"], spec.objectValue != nil else { return }
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        if spec["type"] == nil { spec["type"] = "ClusterIP" }
        if type != "ExternalName" {
            if spec["sessionAffinity"] == nil { spec["sessionAffinity"] = "None" }
            if spec["sessionAffinity"]?.stringValue == "ClientIP", spec[path: ["sessionAffinityConfig", "clientIP", "timeoutSeconds"]] == nil {
                spec[path: ["sessionAffinityConfig", "clientIP", "timeoutSeconds"]] = .int(Self.defaultAffinitySeconds)
            }
            if spec["internalTrafficPolicy"] == nil { spec["internalTrafficPolicy"] = "Cluster" }
            if spec["ipFamilies"] == nil { spec["ipFamilies"] = ["IPv4"] }
            if spec["ipFamilyPolicy"] == nil { spec["ipFamilyPolicy"] = "SingleStack" }
            if Self.usesNodePorts(type), spec["externalTrafficPolicy"] == nil { spec["externalTrafficPolicy"] = "Cluster" }
            if let ip = spec["clusterIP"]?.stringValue, !ip.isEmpty, spec["clusterIPs"] == nil { spec["clusterIPs"] = [.string(ip)] }
        }
        if var ports = spec["ports"]?.arrayValue {
            for index in ports.indices where ports[index].objectValue != nil {
                if ports[index]["protocol"] == nil { ports[index]["protocol"] = "TCP" }
                if ports[index]["targetPort"] == nil, let port = ports[index]["port"], port.intValue != nil { ports[index]["targetPort"] = port }
            }
            spec["ports"] = .array(ports)
        }
        object["spec"] = spec
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1035LabelError, namespaced: true)
        guard let spec = object["spec"], let members = spec.objectValue else {
            causes.append(object["spec"].map { .typeInvalid("spec", expected: "object", got: $0) } ?? .required("spec"))
            return causes
        }
        _ = members
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        if !Self.types.contains(type) { causes.append(.notSupported("spec.type", spec["type"], supported: Self.types)) }
        Self.validateSelector(spec["selector"], into: &causes)
        Self.validatePorts(spec, type: type, into: &causes)
        let clusterIP = spec["clusterIP"]
        if let clusterIP, !clusterIP.isNull {
            if let text = clusterIP.stringValue {
                if type == "ExternalName" {
                    if !text.isEmpty { causes.append(.forbidden("spec.clusterIP", "may not be set for type ExternalName")) }
                } else if !text.isEmpty, text != "None", IPv4Address(text) == nil {
                    causes.append(.invalid("spec.clusterIP", clusterIP, "must be a valid IPv4 address, \"None\" or empty"))
                } else if text == "None", type != "ClusterIP" {
                    causes.append(.invalid("spec.clusterIP", clusterIP, "may be \"None\" (headless) only for type ClusterIP"))
                }
                if let ips = spec["clusterIPs"]?.arrayValue, !text.isEmpty, ips.first?.stringValue != text {
                    causes.append(.invalid("spec.clusterIPs", spec["clusterIPs"], "must hold spec.clusterIP as its first element"))
                }
            } else {
                causes.append(.typeInvalid("spec.clusterIP", expected: "string", got: clusterIP))
            }
        }
        if let ips = spec["clusterIPs"], !ips.isNull, (ips.arrayValue?.count ?? 0) > 1 {
            causes.append(.invalid("spec.clusterIPs", ips, "kube9 serves IPv4 only: at most one address"))
        }
        if type == "ExternalName" {
            let name = spec["externalName"]?.stringValue ?? ""
            if name.isEmpty {
                causes.append(.required("spec.externalName", "required for type ExternalName"))
            } else if let error = NameRules.dns1123SubdomainError(name.hasSuffix(".") ? String(name.dropLast()) : name) {
                causes.append(.invalid("spec.externalName", spec["externalName"], error))
            }
        }
        if let affinity = spec["sessionAffinity"], !affinity.isNull, !["None", "ClientIP"].contains(affinity.stringValue ?? "") {
            causes.append(.notSupported("spec.sessionAffinity", affinity, supported: ["None", "ClientIP"]))
        }
        CommonSchemas.checkInteger(spec[path: ["sessionAffinityConfig", "clientIP", "timeoutSeconds"]],
                                   "spec.sessionAffinityConfig.clientIP.timeoutSeconds", in: 1...Self.maximumAffinitySeconds, into: &causes)
        CommonSchemas.checkType(spec["publishNotReadyAddresses"], "boolean", "spec.publishNotReadyAddresses", into: &causes)
        CommonSchemas.checkInteger(spec["healthCheckNodePort"], "spec.healthCheckNodePort", in: 0...65535, into: &causes)
        for (field, parse) in [("externalIPs", { IPv4Address($0) != nil }), ("loadBalancerSourceRanges", { IPv4Range($0) != nil })] as [(String, (String) -> Bool)] {
            guard let list = spec[field], !list.isNull else { continue }
            guard let entries = list.arrayValue else {
                causes.append(.typeInvalid("spec.\(field)", expected: "array", got: list))
                continue
            }
            for (index, entry) in entries.enumerated() where !(entry.stringValue.map(parse) ?? false) {
                causes.append(.invalid("spec.\(field)[\(index)]", entry, field == "externalIPs" ? "must be a valid IPv4 address" : "must be an IPv4 CIDR such as 10.0.0.0/8"))
            }
        }
        for (field, allowed) in [("internalTrafficPolicy", ["Cluster", "Local"]), ("externalTrafficPolicy", ["Cluster", "Local"]),
                                 ("ipFamilyPolicy", ["SingleStack", "PreferDualStack", "RequireDualStack"])] {
            if let value = spec[field], !value.isNull, !allowed.contains(value.stringValue ?? "") {
                causes.append(.notSupported("spec.\(field)", value, supported: allowed))
            }
        }
        if let families = spec["ipFamilies"], !families.isNull, families.arrayValue?.allSatisfy({ $0.stringValue == "IPv4" }) != true {
            causes.append(.notSupported("spec.ipFamilies", families, supported: ["IPv4"]))
        }
        if let ingress = object[path: ["status", "loadBalancer", "ingress"]], !ingress.isNull {
            for (index, entry) in (ingress.arrayValue ?? []).enumerated() {
                if let ip = entry["ip"]?.stringValue, IPv4Address(ip) == nil {
                    causes.append(.invalid("status.loadBalancer.ingress[\(index)].ip", entry["ip"], "must be a valid IPv4 address"))
                }
            }
        }
        return causes
    }

    static func validateSelector(_ selector: JSON?, into causes: inout [FieldCause]) {
        guard let selector, !selector.isNull else { return }
        guard let members = selector.objectValue else {
            causes.append(.typeInvalid("spec.selector", expected: "map of strings", got: selector))
            return
        }
        for (key, value) in members {
            if let error = NameRules.qualifiedNameError(key) { causes.append(.invalid("spec.selector", .string(key), error)) }
            if let text = value.stringValue {
                if let error = NameRules.labelValueError(text) { causes.append(.invalid("spec.selector.\(key)", value, error)) }
            } else {
                causes.append(.typeInvalid("spec.selector.\(key)", expected: "string", got: value))
            }
        }
    }

    static func validatePorts(_ spec: JSON, type: String, into causes: inout [FieldCause]) {
        guard let list = spec["ports"], !list.isNull else {
            if type != "ExternalName", spec["clusterIP"]?.stringValue != "None" { causes.append(.required("spec.ports")) }
            return
        }
        guard let ports = list.arrayValue else {
            causes.append(.typeInvalid("spec.ports", expected: "array", got: list))
            return
        }
        if ports.isEmpty, type != "ExternalName", spec["clusterIP"]?.stringValue != "None" { causes.append(.required("spec.ports")) }
        if ports.count > Self.maximumPorts {
            causes.append(FieldCause(reason: "FieldValueTooMany", field: "spec.ports", message: "Too many: \(ports.count): must have at most \(Self.maximumPorts) items"))
            return
        }
        var names: Set<String> = []
        var keys: Set<String> = []
        var nodePorts: Set<String> = []
        for (index, port) in ports.enumerated() {
            let field = "spec.ports[\(index)]"
            guard port.objectValue != nil else {
                causes.append(.typeInvalid(field, expected: "object", got: port))
                continue
            }
            let name = port["name"]?.stringValue ?? ""
            if let value = port["name"], !value.isNull, value.stringValue == nil { causes.append(.typeInvalid(field + ".name", expected: "string", got: value)) }
            if name.isEmpty {
                if ports.count > 1 { causes.append(.required(field + ".name", "required when there is more than one port")) }
            } else if let error = NameRules.dns1123LabelError(name) {
                causes.append(.invalid(field + ".name", port["name"], error))
            } else if !names.insert(name).inserted {
                causes.append(.duplicate(field + ".name", .string(name)))
            }
            let proto = port["protocol"]?.stringValue ?? "TCP"
            if !Self.protocols.contains(proto) { causes.append(.notSupported(field + ".protocol", port["protocol"], supported: Self.protocols)) }
            if let number = port["port"], !number.isNull {
                CommonSchemas.checkInteger(number, field + ".port", in: 1...65535, into: &causes)
                if let value = number.intValue, !keys.insert("\(value)/\(proto)").inserted {
                    causes.append(.duplicate(field, ["port": number, "protocol": .string(proto)]))
                }
            } else {
                causes.append(.required(field + ".port"))
            }
            if let target = port["targetPort"], !target.isNull {
                switch target {
                case .int(let value):
                    if !(1...65535).contains(value) { causes.append(.invalid(field + ".targetPort", target, "must be between 1 and 65535, inclusive")) }
                case .string(let text):
                    if let number = Int64(text) {
                        if !(1...65535).contains(number) { causes.append(.invalid(field + ".targetPort", target, "must be between 1 and 65535, inclusive")) }
                    } else if let error = NameRules.portNameError(text) {
                        causes.append(.invalid(field + ".targetPort", target, error))
                    }
                default:
                    causes.append(.typeInvalid(field + ".targetPort", expected: "integer or string", got: target))
                }
            }
            if let nodePort = port["nodePort"], !nodePort.isNull, nodePort.intValue != 0 {
                if !Self.usesNodePorts(type) {
                    causes.append(.forbidden(field + ".nodePort", "may not be used when `type` is '\(type)'"))
                } else {
                    CommonSchemas.checkInteger(nodePort, field + ".nodePort", in: 1...65535, into: &causes)
                    if let value = nodePort.intValue, !nodePorts.insert("\(value)/\(proto)").inserted {
                        causes.append(.duplicate(field + ".nodePort", nodePort))
                    }
                }
            }
            if let appProtocol = port["appProtocol"], !appProtocol.isNull, appProtocol.stringValue == nil {
                causes.append(.typeInvalid(field + ".appProtocol", expected: "string", got: appProtocol))
            }
        }
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        let oldIP = old[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        let newIP = object[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        if Self.serviceType(object) != "ExternalName", Self.serviceType(old) != "ExternalName", !oldIP.isEmpty, newIP != oldIP {
            causes.append(.invalid("spec.clusterIP", .string(newIP), "field is immutable"))
        }
        return causes
    }

    public var mergeKeys: MergeKeys {
        var keys = MergeKeys.metadata
        keys.keyed["spec.ports"] = "port"
        return keys
    }
}
