/// Nodes (core/v1): machines that run pods. Status is written by the node's agent.
public struct NodeStrategy: ResourceStrategy {
    public init() {}

    /// Kube-9's node types (worker, master), kept as a label; agents also set node-role.kubernetes.io/<type>.
    public static let nodeTypeLabel = "kube9.io/node-type"
    /// `kube9.io/api: v0` marks a node registered through the Kube-9 v0 API: it has no agent,
    /// the server runs its pods, and its pods leave it only when it fails permanently.
    public static let kubeNineAPILabel = "kube9.io/api"

    /// Whether `node` was registered through the Kube-9 v0 API.
    public static func isKubeNineNode(_ node: JSON) -> Bool { ObjectMeta.labels(of: node)[kubeNineAPILabel] == "v0" }

    public let type = ResourceType(
        group: "", version: "v1", resource: "nodes", singular: "node", kind: "Node", namespaced: false,
        shortNames: ["no"], subresources: ["status"], selectableFields: ["spec.unschedulable"])

    public var mergeKeys: MergeKeys {
        MergeKeys.metadata.merging(MergeKeys(keyed: ["status.conditions": "type", "status.addresses": "type"]))
    }

    /// The fields of `status.nodeInfo`, all of which Kubernetes clients require (the official
    /// Python client refuses a Node without any one of them).
    public static let nodeInfoFields = ["machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                                        "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"]

    /// A complete `status.nodeInfo`: the given values, the host's own for the rest.
    public static func nodeInfo(kubeletVersion: String, containerRuntimeVersion: String, machineID: String, bootID: String = "") -> JSON {
        var info: JSON = [
            "machineID": .string(machineID), "systemUUID": .string(machineID), "bootID": .string(bootID),
            "kernelVersion": "", "osImage": "", "containerRuntimeVersion": .string(containerRuntimeVersion),
            "kubeletVersion": .string(kubeletVersion), "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
        ]
        #if arch(arm64)
        info["architecture"] = "arm64"
        #endif
        return info
    }

    /// Fills what clients require and an agent may leave out: every `status.nodeInfo` field (as
    /// "" when unknown) and the kubelet endpoint's `Port`, as a kubelet always sends them.
    static func fillRequired(_ object: inout JSON) {
        guard case .object? = object["status"] else { return }
        if let info = object[path: ["status", "nodeInfo"]] {
            guard case .object = info else { return }
            var filled = info
            for field in nodeInfoFields where filled[field] == nil || filled[field]?.isNull == true { filled[field] = "" }
            if filled["operatingSystem"]?.stringValue == "" { filled["operatingSystem"] = "linux" }
            object[path: ["status", "nodeInfo"]] = filled
        }
        if case .object? = object[path: ["status", "daemonEndpoints", "kubeletEndpoint"]],
           object[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]] == nil {
            object[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]] = 0
        }
    }

    // A registering agent sends its status with the create, as the kubelet does.
    public func prepareForCreate(_ object: inout JSON) {
        Self.fillRequired(&object)
    }

    public func prepareForUpdate(_ object: inout JSON, old: JSON) {
        object["status"] = old["status"]
    }

    public func prepareForStatusUpdate(_ object: inout JSON, old: JSON) {
        Self.fillRequired(&object)
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: false)
        CommonSchemas.checkType(object["spec"], "object", "spec", into: &causes)
        CommonSchemas.checkType(object[path: ["spec", "unschedulable"]], "boolean", "spec.unschedulable", into: &causes)
        if let taints = object[path: ["spec", "taints"]], !taints.isNull {
            if let list = taints.arrayValue {
                for (index, taint) in list.enumerated() {
                    let field = "spec.taints[\(index)]"
                    if (taint["key"]?.stringValue ?? "").isEmpty { causes.append(.required("\(field).key")) }
                    let effect = taint["effect"]
                    if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(effect?.stringValue ?? "") {
                        causes.append(.notSupported("\(field).effect", effect, supported: ["NoExecute", "NoSchedule", "PreferNoSchedule"]))
                    }
                }
            } else {
                causes.append(.typeInvalid("spec.taints", expected: "array", got: taints))
            }
        }
        for part in ["capacity", "allocatable"] {
            guard let map = object[path: ["status", part]], !map.isNull else { continue }
            guard let members = map.objectValue else {
                causes.append(.typeInvalid("status.\(part)", expected: "map of quantities", got: map))
                continue
            }
            for (name, value) in members {
                guard let quantity = Quantity.from(value) else {
                    causes.append(.invalid("status.\(part)[\(name)]", value, "must be a non-negative quantity"))
                    continue
                }
                if name == "cpu", quantity.milliValue <= 0 {
                    causes.append(.invalid("status.\(part)[cpu]", value, "must be greater than 0"))
                }
            }
        }
        if let type = object[path: ["metadata", "labels", Self.nodeTypeLabel]], !["worker", "master"].contains(type.stringValue ?? "") {
            causes.append(.notSupported("metadata.labels[\(Self.nodeTypeLabel)]", type, supported: ["master", "worker"]))
        }
        return causes
    }

    /// Ready or NotReady from the Ready condition (Unknown prints NotReady, as kubectl does;
    /// no condition at all prints Unknown), plus ",SchedulingDisabled" when cordoned.
    public static func statusText(_ node: JSON) -> String {
        let conditions = node[path: ["status", "conditions"]]?.arrayValue ?? []
        var text = "Unknown"
        if let ready = conditions.first(where: { $0["type"]?.stringValue == "Ready" }) {
            text = ready["status"]?.stringValue == "True" ? "Ready" : "NotReady"
        }
        if node[path: ["spec", "unschedulable"]]?.boolValue == true { text += ",SchedulingDisabled" }
        return text
    }

    /// Roles from `node-role.kubernetes.io/<role>` labels (and `kubernetes.io/role`), or "<none>".
    public static func roles(_ node: JSON) -> String {
        var roles: [String] = []
        for (key, value) in ObjectMeta.labels(of: node) {
            if key.hasPrefix("node-role.kubernetes.io/") {
                let role = String(key.dropFirst("node-role.kubernetes.io/".count))
                if !role.isEmpty { roles.append(role) }
            } else if key == "kubernetes.io/role", !value.isEmpty {
                roles.append(value)
            }
        }
        return roles.isEmpty ? "<none>" : roles.sorted().joined(separator: ",")
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Status", description: "The status of the node"),
                TableColumn("Roles", description: "The roles of the node"),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("Version", description: "Kubelet Version reported by the node."),
                TableColumn("Internal-IP", description: "List of addresses reachable to the node.", priority: 1),
                TableColumn("External-IP", description: "List of addresses reachable to the node.", priority: 1),
                TableColumn("OS-Image", description: "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 12).", priority: 1),
                TableColumn("Kernel-Version", description: "Kernel Version reported by the node from 'uname -r'.", priority: 1),
                TableColumn("Container-Runtime", description: "ContainerRuntime Version reported by the node.", priority: 1),
            ],
            cells: { node in
                let addresses = node[path: ["status", "addresses"]]?.arrayValue ?? []
                func address(_ type: String) -> String {
                    addresses.first { $0["type"]?.stringValue == type }?["address"]?.stringValue ?? "<none>"
                }
                func info(_ field: String) -> String {
                    let value = node[path: ["status", "nodeInfo", field]]?.stringValue ?? ""
                    return value.isEmpty ? "<unknown>" : value
                }
                return [
                    .string(ObjectMeta.name(of: node)), .string(Self.statusText(node)), .string(Self.roles(node)),
                    .string(Timestamp.age(of: node[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                    .string(node[path: ["status", "nodeInfo", "kubeletVersion"]]?.stringValue ?? ""),
                    .string(address("InternalIP")), .string(address("ExternalIP")),
                    .string(info("osImage")), .string(info("kernelVersion")), .string(info("containerRuntimeVersion")),
                ]
            })
    }

    public var schemas: [SchemaDefinition] {
        let c = "io.k8s.api.core.v1."
        return [
            SchemaDefinition(c + "Node", "Node is a worker node in kube9: a machine (a real host, a container, or a simulated node) that runs pods.",
                kind: ("", "v1", "Node"),
                fields: CommonSchemas.topLevel(spec: c + "NodeSpec", status: c + "NodeStatus",
                    specDescription: "Spec defines the behavior of a node.",
                    statusDescription: "Most recently observed status of the node. Populated by the node agent.")),
            SchemaDefinition(c + "NodeSpec", "NodeSpec describes the attributes that a node is created with.", fields: [
                SchemaField("podCIDR", .string, "PodCIDR represents the pod IP range assigned to the node."),
                SchemaField("podCIDRs", .array(.string), "podCIDRs represents the IP ranges assigned to the node for usage by Pods on that node."),
                SchemaField("providerID", .string, "ID of the node assigned by the cloud provider."),
                SchemaField("unschedulable", .boolean, "Unschedulable controls node schedulability of new pods. By default, node is schedulable."),
                SchemaField("taints", .array(.ref(c + "Taint")), "If specified, the node's taints."),
                SchemaField("configSource", .freeform, "Deprecated: Previously used to specify the source of the node's configuration."),
                SchemaField("externalID", .string, "Deprecated. Not all kubelets will set this field."),
            ]),
            SchemaDefinition(c + "Taint", "The node this Taint is attached to has the \"effect\" on any pod that does not tolerate the Taint.", fields: [
                SchemaField("key", .string, "Required. The taint key to be applied to a node.", required: true),
                SchemaField("value", .string, "The taint value corresponding to the taint key."),
                SchemaField("effect", .string, "Required. The effect of the taint on pods that do not tolerate the taint. Valid effects are NoSchedule, PreferNoSchedule and NoExecute.", required: true),
                SchemaField("timeAdded", .time, "TimeAdded represents the time at which the taint was added."),
            ]),
            SchemaDefinition(c + "NodeStatus", "NodeStatus is information about the current status of a node.", closed: false, fields: [
                SchemaField("capacity", .map(.quantity), "Capacity represents the total resources of a node."),
                SchemaField("allocatable", .map(.quantity), "Allocatable represents the resources of a node that are available for scheduling."),
                SchemaField("conditions", .array(.freeform), "Conditions is an array of current observed node conditions.", mergeKey: "type"),
                SchemaField("addresses", .array(.freeform), "List of addresses reachable to the node.", mergeKey: "type"),
                SchemaField("nodeInfo", .freeform, "Set of ids/uuids to uniquely identify the node."),
            ]),
        ]
    }
}

/// Namespaces (core/v1): name scopes. Deleting one deletes everything in it.
public struct NamespaceStrategy: ResourceStrategy {
    public init() {}

    public let type = ResourceType(
        group: "", version: "v1", resource: "namespaces", singular: "namespace", kind: "Namespace", namespaced: false,
        shortNames: ["ns"], verbs: ["create", "delete", "get", "list", "patch", "update", "watch"], subresources: ["status"],
        selectableFields: ["status.phase"])

    public func prepareForCreate(_ object: inout JSON) {
        if object[path: ["spec", "finalizers"]] == nil { object[path: ["spec", "finalizers"]] = ["kubernetes"] }
        object["status"] = ["phase": "Active"]
        var labels = object[path: ["metadata", "labels"]] ?? .emptyObject
        labels["kubernetes.io/metadata.name"] = .string(ObjectMeta.name(of: object))
        object[path: ["metadata", "labels"]] = labels
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123LabelError, namespaced: false)
        CommonSchemas.checkType(object["spec"], "object", "spec", into: &causes)
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Status", description: "The status of the namespace"),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { namespace in
                [.string(ObjectMeta.name(of: namespace)), .string(namespace[path: ["status", "phase"]]?.stringValue ?? "Active"),
                 .string(Timestamp.age(of: namespace[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] {
        let c = "io.k8s.api.core.v1."
        return [
            SchemaDefinition(c + "Namespace", "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
                kind: ("", "v1", "Namespace"),
                fields: CommonSchemas.topLevel(spec: c + "NamespaceSpec", status: c + "NamespaceStatus",
                    specDescription: "Spec defines the behavior of the Namespace.", statusDescription: "Status describes the current status of a Namespace.")),
            SchemaDefinition(c + "NamespaceSpec", "NamespaceSpec describes the attributes on a Namespace.", fields: [
                SchemaField("finalizers", .array(.string), "Finalizers is an opaque list of values that must be empty to permanently remove object from storage."),
            ]),
            SchemaDefinition(c + "NamespaceStatus", "NamespaceStatus is information about the current status of a Namespace.", fields: [
                SchemaField("phase", .string, "Phase is the current lifecycle phase of the namespace: Active or Terminating."),
                SchemaField("conditions", .array(.freeform), "Represents the latest available observations of a namespace's current state."),
            ]),
        ]
    }
}

/// Events (core/v1): records of what happened to an object, shown by `kubectl describe`.
public struct EventStrategy: ResourceStrategy {
    public init() {}

    /// A core/v1 Event about `object` (its namespace, or default for cluster objects), as
    /// controllers and agents record them. `host` is the node that saw it, when one did.
    public static func event(about object: JSON, type: String, reason: String, message: String, component: String,
                             host: String? = nil) -> JSON {
        let kind = object["kind"]?.stringValue ?? ""
        let name = ObjectMeta.name(of: object)
        let objectNamespace = ObjectMeta.namespace(of: object)
        let namespace = objectNamespace.isEmpty ? "default" : objectNamespace
        let now = JSON.string(Timestamp.now())
        var involved: JSON = ["kind": .string(kind), "name": .string(name), "uid": .string(ObjectMeta.uid(of: object)),
                              "apiVersion": object["apiVersion"] ?? "v1"]
        if !objectNamespace.isEmpty { involved["namespace"] = .string(objectNamespace) }
        var source: JSON = ["component": .string(component)]
        if let host { source["host"] = .string(host) }
        return [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["name": .string("\(name).\(NameRules.randomSuffix(length: 10))"), "namespace": .string(namespace)],
            "involvedObject": involved, "reason": .string(reason), "message": .string(message), "type": .string(type),
            "source": source, "reportingComponent": .string(component),
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        ]
    }

    public let type = ResourceType(
        group: "", version: "v1", resource: "events", singular: "event", kind: "Event", namespaced: true,
        shortNames: ["ev"],
        selectableFields: ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                           "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                           "reason", "reportingComponent", "source", "type"])

    public func specChanged(_ object: JSON, old: JSON) -> Bool { false }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        guard let involved = object["involvedObject"], case .object = involved else {
            causes.append(object["involvedObject"].map { .typeInvalid("involvedObject", expected: "object", got: $0) } ?? .required("involvedObject"))
            return causes
        }
        if let type = object["type"], !["Normal", "Warning"].contains(type.stringValue ?? "") {
            causes.append(.notSupported("type", type, supported: ["Normal", "Warning"]))
        }
        CommonSchemas.checkType(object["count"], "integer", "count", into: &causes)
        CommonSchemas.checkType(object["message"], "string", "message", into: &causes)
        CommonSchemas.checkType(object["reason"], "string", "reason", into: &causes)
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Last Seen", description: "Time of the last occurrence."),
                TableColumn("Type", description: "Type of this event (Normal, Warning)."),
                TableColumn("Reason", description: "Short, machine understandable string that gives the reason for this event."),
                TableColumn("Object", description: "The object this event is about."),
                TableColumn("Message", description: "A human-readable description of the status of this operation."),
            ],
            cells: { event in
                let last = event["lastTimestamp"]?.stringValue ?? event["eventTime"]?.stringValue ?? event[path: ["metadata", "creationTimestamp"]]?.stringValue
                let kind = (event[path: ["involvedObject", "kind"]]?.stringValue ?? "").lowercased()
                let name = event[path: ["involvedObject", "name"]]?.stringValue ?? ""
                return [.string(Timestamp.age(of: last)), .string(event["type"]?.stringValue ?? ""), .string(event["reason"]?.stringValue ?? ""),
                        .string("\(kind)/\(name)"), .string(event["message"]?.stringValue ?? "")]
            })
    }

    public var schemas: [SchemaDefinition] {
        let c = "io.k8s.api.core.v1."
        var fields = CommonSchemas.topLevel(spec: nil, status: nil)
        fields += [
            SchemaField("involvedObject", .ref(c + "ObjectReference"), "The object that this event is about.", required: true),
            SchemaField("reason", .string, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
            SchemaField("message", .string, "A human-readable description of the status of this operation."),
            SchemaField("source", .freeform, "The component reporting this event."),
            SchemaField("firstTimestamp", .time, "The time at which the event was first recorded."),
            SchemaField("lastTimestamp", .time, "The time at which the most recent occurrence of this event was recorded."),
            SchemaField("count", .integer, "The number of times this event has occurred."),
            SchemaField("type", .string, "Type of this event (Normal, Warning)."),
            SchemaField("eventTime", .time, "Time when this Event was first observed."),
            SchemaField("series", .freeform, "Data about the Event series this event represents."),
            SchemaField("action", .string, "What action was taken/failed regarding to the Regarding object."),
            SchemaField("related", .ref(c + "ObjectReference"), "Optional secondary object for more complex actions."),
            SchemaField("reportingComponent", .string, "Name of the controller that emitted this Event."),
            SchemaField("reportingInstance", .string, "ID of the controller instance."),
        ]
        return [
            SchemaDefinition(c + "Event", "Event is a report of an event somewhere in the cluster.", kind: ("", "v1", "Event"), fields: fields),
            SchemaDefinition(c + "ObjectReference", "ObjectReference contains enough information to let you inspect or modify the referred object.", fields: [
                SchemaField("apiVersion", .string, "API version of the referent."),
                SchemaField("kind", .string, "Kind of the referent."),
                SchemaField("name", .string, "Name of the referent."),
                SchemaField("namespace", .string, "Namespace of the referent."),
                SchemaField("uid", .string, "UID of the referent."),
                SchemaField("resourceVersion", .string, "Specific resourceVersion to which this reference is made, if any."),
                SchemaField("fieldPath", .string, "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement."),
            ]),
        ]
    }
}
