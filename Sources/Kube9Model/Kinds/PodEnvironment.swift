/// A container's environment as the kubelet builds it: `envFrom` sources in order, then `env`
/// (`value` with `$(VAR)` expansion, or `valueFrom` a ConfigMap key, a Secret key, a pod field or
/// a resource), then the services' variables where the container defines none of its own.
/// The API server validates these fields with `validate`; the agent resolves them with `resolve`.
public enum PodEnvironment {
    /// Pod fields `fieldRef.fieldPath` may name (besides `metadata.labels['KEY']` and `metadata.annotations['KEY']`).
    public static let fieldPaths = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
                                    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
    /// Resources `resourceFieldRef.resource` may name.
    public static let resources = ["limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage"]

    /// Why a container's environment cannot be built now (kubectl shows it as CreateContainerConfigError).
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Where ConfigMaps and Secrets of the pod's namespace are read: the object, or nil when it does not exist.
    public struct Sources: Sendable {
        public var configMap: @Sendable (String) throws -> JSON?
        public var secret: @Sendable (String) throws -> JSON?
        public init(configMap: @escaping @Sendable (String) throws -> JSON?, secret: @escaping @Sendable (String) throws -> JSON?) {
            self.configMap = configMap
            self.secret = secret
        }
    }

    /// What the pod's fields resolve from beyond the pod object: its IP (known once the sandbox
    /// runs), the node's address and the node's allocatable cpu and memory (limits that are unset).
    public struct PodFacts: Sendable {
        public var podIP: String?
        public var hostIP: String?
        public var allocatableCPU: Quantity?
        public var allocatableMemory: Quantity?
        public init(podIP: String? = nil, hostIP: String? = nil, allocatableCPU: Quantity? = nil, allocatableMemory: Quantity? = nil) {
            self.podIP = podIP
            self.hostIP = hostIP
            self.allocatableCPU = allocatableCPU
            self.allocatableMemory = allocatableMemory
        }
    }

    // MARK: Validation

    /// A ConfigMap or Secret name a pod refers to: required, and a valid object name (it becomes a URL path).
    static func checkObjectName(_ value: JSON?, _ field: String, into causes: inout [FieldCause]) {
        guard let name = value?.stringValue, !name.isEmpty else {
            causes.append(.required(field))
            return
        }
        if let error = NameRules.dns1123SubdomainError(name) { causes.append(.invalid(field, .string(name), error)) }
    }

    static func checkKeyReference(_ reference: JSON, _ field: String, into causes: inout [FieldCause]) {
        checkObjectName(reference["name"], "\(field).name", into: &causes)
        if let key = reference["key"]?.stringValue, !key.isEmpty {
            if let error = ConfigurationData.keyError(key) { causes.append(.invalid("\(field).key", .string(key), error)) }
        } else {
            causes.append(.required("\(field).key"))
        }
        CommonSchemas.checkType(reference["optional"], "boolean", "\(field).optional", into: &causes)
    }

    /// Checks `env` and `envFrom` of a container at `field` (e.g. `spec.containers[0]`).
    static func validate(_ container: JSON, field: String, into causes: inout [FieldCause]) {
        if let env = container["env"], !env.isNull {
            guard let list = env.arrayValue else {
                causes.append(.typeInvalid("\(field).env", expected: "array", got: env))
                return
            }
            for (index, variable) in list.enumerated() {
                let here = "\(field).env[\(index)]"
                guard case .object = variable else {
                    causes.append(.typeInvalid(here, expected: "object", got: variable))
                    continue
                }
                if let name = variable["name"]?.stringValue, !name.isEmpty {
                    if name.contains("=") { causes.append(.invalid("\(here).name", .string(name), "a valid environment variable name must not contain '='")) }
                } else {
                    causes.append(.required("\(here).name"))
                }
                CommonSchemas.checkType(variable["value"], "string", "\(here).value", into: &causes)
                guard let source = variable["valueFrom"], !source.isNull else { continue }
                if !(variable["value"]?.stringValue ?? "").isEmpty {
                    causes.append(.invalid("\(here).valueFrom", nil, "may not be specified when `value` is not empty"))
                }
                let kinds = ["configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef"].filter { source[$0] != nil && source[$0] != .null }
                guard kinds.count == 1, let kind = kinds.first, let reference = source[kind], case .object = reference else {
                    causes.append(.invalid("\(here).valueFrom", nil, "must specify exactly one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
                    continue
                }
                let at = "\(here).valueFrom.\(kind)"
                switch kind {
                case "configMapKeyRef", "secretKeyRef":
                    checkKeyReference(reference, at, into: &causes)
                case "fieldRef":
                    let path = reference["fieldPath"]
                    if let text = path?.stringValue, !text.isEmpty {
                        if !fieldPaths.contains(text), labelOrAnnotation(text) == nil {
                            causes.append(.notSupported("\(at).fieldPath", path, supported: fieldPaths + ["metadata.annotations['KEY']", "metadata.labels['KEY']"]))
                        }
                    } else {
                        causes.append(.required("\(at).fieldPath"))
                    }
                default:
                    let resource = reference["resource"]
                    if let text = resource?.stringValue, !text.isEmpty {
                        if !resources.contains(text) { causes.append(.notSupported("\(at).resource", resource, supported: resources)) }
                    } else {
                        causes.append(.required("\(at).resource"))
                    }
                    if let divisor = reference["divisor"], !divisor.isNull {
                        switch Quantity.checked(divisor) {
                        case .success(let quantity) where quantity.milliValue <= 0:
                            causes.append(.invalid("\(at).divisor", divisor, "must be greater than 0"))
                        case .failure(let problem): causes.append(.invalid("\(at).divisor", divisor, problem.message))
                        default: break
                        }
                    }
                    CommonSchemas.checkType(reference["containerName"], "string", "\(at).containerName", into: &causes)
                }
            }
        }
        if let envFrom = container["envFrom"], !envFrom.isNull {
            guard let list = envFrom.arrayValue else {
                causes.append(.typeInvalid("\(field).envFrom", expected: "array", got: envFrom))
                return
            }
            for (index, source) in list.enumerated() {
                let here = "\(field).envFrom[\(index)]"
                let kinds = ["configMapRef", "secretRef"].filter { source[$0] != nil && source[$0] != .null }
                guard kinds.count == 1, let kind = kinds.first, let reference = source[kind], case .object = reference else {
                    causes.append(.invalid(here, nil, "must specify exactly one of: `configMapRef` or `secretRef`"))
                    continue
                }
                checkObjectName(reference["name"], "\(here).\(kind).name", into: &causes)
                CommonSchemas.checkType(reference["optional"], "boolean", "\(here).\(kind).optional", into: &causes)
                CommonSchemas.checkType(source["prefix"], "string", "\(here).prefix", into: &causes)
            }
        }
    }

    /// ("labels" | "annotations", KEY) for `metadata.labels['KEY']`.
    static func labelOrAnnotation(_ path: String) -> (String, String)? {
        for map in ["labels", "annotations"] {
            let head = "metadata.\(map)['"
            if path.hasPrefix(head), path.hasSuffix("']"), path.utf8.count > head.utf8.count + 2 {
                return (map, String(path.dropFirst(head.count).dropLast(2)))
            }
        }
        return nil
    }

    // MARK: Resolution

    /// The container's variables in the order the runtime gets them (later ones win on a name),
    /// or the first problem (a missing ConfigMap, Secret or key that is not optional).
    public static func resolve(container: JSON, pod: JSON, facts: PodFacts, serviceEnvironment: [(name: String, value: String)],
                               sources: Sources) throws -> [(name: String, value: String)] {
        var values: [String: String] = [:]
        var order: [String] = []
        func set(_ name: String, _ value: String) {
            if values.updateValue(value, forKey: name) == nil { order.append(name) }
        }
        let namespace = ObjectMeta.namespace(of: pod)
        for source in container["envFrom"]?.arrayValue ?? [] {
            let prefix = source["prefix"]?.stringValue ?? ""
            if let reference = source["configMapRef"], let name = reference["name"]?.stringValue {
                guard let map = try sources.configMap(name) else {
                    if reference["optional"]?.boolValue == true { continue }
                    throw Problem("configmap \"\(name)\" not found")
                }
                for (key, value) in map["data"]?.objectValue ?? [:] where !(prefix + key).contains("=") {
                    set(prefix + key, value.stringValue ?? "")
                }
            } else if let reference = source["secretRef"], let name = reference["name"]?.stringValue {
                guard let secret = try sources.secret(name) else {
                    if reference["optional"]?.boolValue == true { continue }
                    throw Problem("secret \"\(name)\" not found")
                }
                for (key, value) in secret["data"]?.objectValue ?? [:] where !(prefix + key).contains("=") {
                    set(prefix + key, String(decoding: Base64.decode(value.stringValue ?? "") ?? [], as: UTF8.self))
                }
            }
        }
        let services = Dictionary(serviceEnvironment.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        for variable in container["env"]?.arrayValue ?? [] {
            guard let name = variable["name"]?.stringValue, !name.isEmpty else { continue }
            if let source = variable["valueFrom"], source.objectValue != nil {
                if let value = try valueFrom(source, container: container, pod: pod, namespace: namespace, facts: facts, sources: sources) {
                    set(name, value)
                }
            } else {
                set(name, expand(variable["value"]?.stringValue ?? "") { values[$0] ?? services[$0] })
            }
        }
        let own = Set(order)
        return serviceEnvironment.filter { !own.contains($0.name) } + order.map { ($0, values[$0] ?? "") }
    }

    /// One `valueFrom`; nil when an optional source or key is missing (the variable is left out).
    static func valueFrom(_ source: JSON, container: JSON, pod: JSON, namespace: String, facts: PodFacts, sources: Sources) throws -> String? {
        if let reference = source["configMapKeyRef"], let name = reference["name"]?.stringValue, let key = reference["key"]?.stringValue {
            let optional = reference["optional"]?.boolValue == true
            guard let map = try sources.configMap(name) else {
                if optional { return nil }
                throw Problem("configmap \"\(name)\" not found")
            }
            if let value = map["data"]?[key]?.stringValue { return value }
            if let value = map["binaryData"]?[key]?.stringValue { return String(decoding: Base64.decode(value) ?? [], as: UTF8.self) }
            if optional { return nil }
            throw Problem("couldn't find key \(key) in ConfigMap \(namespace)/\(name)")
        }
        if let reference = source["secretKeyRef"], let name = reference["name"]?.stringValue, let key = reference["key"]?.stringValue {
            let optional = reference["optional"]?.boolValue == true
            guard let secret = try sources.secret(name) else {
                if optional { return nil }
                throw Problem("secret \"\(name)\" not found")
            }
            if let value = secret["data"]?[key]?.stringValue { return String(decoding: Base64.decode(value) ?? [], as: UTF8.self) }
            if optional { return nil }
            throw Problem("couldn't find key \(key) in Secret \(namespace)/\(name)")
        }
        if let path = source[path: ["fieldRef", "fieldPath"]]?.stringValue {
            return fieldValue(path, pod: pod, facts: facts)
        }
        if let reference = source["resourceFieldRef"], let resource = reference["resource"]?.stringValue {
            return try resourceValue(resource, reference: reference, container: container, pod: pod, facts: facts)
        }
        return nil
    }

    /// A pod field's value, as the downward API gives it.
    public static func fieldValue(_ path: String, pod: JSON, facts: PodFacts) -> String {
        if let (map, key) = labelOrAnnotation(path) { return pod[path: ["metadata", map, key]]?.stringValue ?? "" }
        switch path {
        case "metadata.name": return ObjectMeta.name(of: pod)
        case "metadata.namespace": return ObjectMeta.namespace(of: pod)
        case "metadata.uid": return ObjectMeta.uid(of: pod)
        case "spec.nodeName": return pod[path: ["spec", "nodeName"]]?.stringValue ?? ""
        case "spec.serviceAccountName": return pod[path: ["spec", "serviceAccountName"]]?.stringValue ?? "default"
        case "status.podIP", "status.podIPs": return facts.podIP ?? pod[path: ["status", "podIP"]]?.stringValue ?? ""
        case "status.hostIP", "status.hostIPs": return facts.hostIP ?? pod[path: ["status", "hostIP"]]?.stringValue ?? ""
        default: return ""
        }
    }

    /// A container's request or limit divided by `divisor` (default 1), rounded up, as the
    /// downward API gives it; an unset limit is the node's allocatable amount.
    public static func resourceValue(_ resource: String, reference: JSON, container: JSON, pod: JSON, facts: PodFacts) throws -> String {
        var target = container
        if let name = reference["containerName"]?.stringValue, !name.isEmpty {
            let all = (pod[path: ["spec", "containers"]]?.arrayValue ?? []) + (pod[path: ["spec", "initContainers"]]?.arrayValue ?? [])
            guard let named = all.first(where: { $0["name"]?.stringValue == name }) else { throw Problem("resourceFieldRef names no container \(name)") }
            target = named
        }
        let parts = resource.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw Problem("unsupported resource \(resource)") }
        var amount = Quantity.from(target[path: ["resources", parts[0], parts[1]]])
        if amount == nil, parts[0] == "limits" {
            amount = parts[1] == "cpu" ? facts.allocatableCPU : parts[1] == "memory" ? facts.allocatableMemory : nil
        }
        let divisor = Quantity.from(reference["divisor"]).flatMap { $0.milliValue > 0 ? $0 : nil } ?? Quantity.parse("1")
        guard let divisorMilli = divisor?.milliValue, divisorMilli > 0 else { return "0" }
        let milli = amount?.milliValue ?? 0
        let (quotient, remainder) = milli.quotientAndRemainder(dividingBy: divisorMilli)
        return String(remainder > 0 ? quotient.saturatingAdd(1) : quotient)
    }

    /// `$(NAME)` replaced by `lookup(NAME)` when it has a value, left as written when not;
    /// `$$` is a literal `$` (Kubernetes' expansion rules for env values, command and args).
    public static func expand(_ text: String, _ lookup: (String) -> String?) -> String {
        guard text.contains("$") else { return text }
        let characters = Array(text)
        var output = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            guard character == "$", index + 1 < characters.count else {
                output.append(character)
                index += 1
                continue
            }
            let next = characters[index + 1]
            if next == "$" {
                output.append("$")
                index += 2
            } else if next == "(", let close = characters[(index + 2)...].firstIndex(of: ")") {
                let name = String(characters[(index + 2)..<close])
                output += lookup(name) ?? "$(\(name))"
                index = close + 1
            } else {
                output.append(character)
                index += 1
            }
        }
        return output
    }
}
