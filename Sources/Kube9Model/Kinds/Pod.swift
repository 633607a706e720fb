/// Pods (core/v1): defaults, validation, update rules, columns and schema.
public struct PodStrategy: ResourceStrategy {
    /// Annotation on a pod recreated after its node failed or was drained: the node it left.
    public static let rescheduledFromAnnotation = "kube9.io/rescheduled-from"

    /// True when kube9 recreates `pod` after evicting it: a bare pod (no controller owner)
    /// that has not finished.
    public static func isRecreatedAfterEviction(_ pod: JSON) -> Bool {
        let owned = (pod[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { $0["controller"]?.boolValue == true }
        let phase = pod[path: ["status", "phase"]]?.stringValue
        return !owned && phase != "Succeeded" && phase != "Failed"
    }

    /// The unbound copy of an evicted bare pod: same name, labels, annotations (plus the node it
    /// left) and spec without nodeName; a new uid comes with its creation.
    public static func replacement(of pod: JSON, leavingNode node: String) -> JSON {
        var replacement: JSON = ["apiVersion": "v1", "kind": "Pod"]
        var metadata: JSON = ["name": .string(ObjectMeta.name(of: pod)), "namespace": .string(ObjectMeta.namespace(of: pod))]
        for field in ["labels", "annotations", "finalizers"] {
            if let value = pod[path: ["metadata", field]] { metadata[field] = value }
        }
        metadata[path: ["annotations", rescheduledFromAnnotation]] = .string(node)
        replacement["metadata"] = metadata
        var spec = pod["spec"] ?? .emptyObject
        spec["nodeName"] = nil
        replacement["spec"] = spec
        return replacement
    }

    /// The longest grace period a pod may ask for (spec.terminationGracePeriodSeconds, or a
    /// delete's gracePeriodSeconds): 2^31 − 1 seconds, about 68 years, so that now + grace is
    /// always a time kube9 can write.
    public static let maximumGracePeriodSeconds = Int64(Int32.max)

    public init() {}

    public let type = ResourceType(
        group: "", version: "v1", resource: "pods", singular: "pod", kind: "Pod", namespaced: true,
        shortNames: ["po"], categories: ["all"], subresources: ["status", "binding", "log"],
        selectableFields: ["spec.nodeName", "spec.schedulerName", "spec.restartPolicy", "spec.serviceAccountName",
                           "status.phase", "status.podIP", "status.nominatedNodeName"])

    /// Merge keys of a PodSpec, relative to the spec (reused by workloads that embed one).
    public static let podSpecMergeKeys = MergeKeys(keyed: [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
        "containers.ports": "containerPort", "initContainers.ports": "containerPort",
        "containers.env": "name", "initContainers.env": "name",
        "containers.volumeMounts": "mountPath", "initContainers.volumeMounts": "mountPath",
        "volumes": "name", "imagePullSecrets": "name", "hostAliases": "ip",
    ])

    public var mergeKeys: MergeKeys {
        MergeKeys.metadata.merging(Self.podSpecMergeKeys, under: "spec")
            .merging(MergeKeys(keyed: ["status.conditions": "type"]))
    }

    public func prepareForCreate(_ object: inout JSON) {
        let spec = Self.defaultedSpec(object["spec"] ?? .emptyObject)
        object["spec"] = spec
        object["status"] = ["phase": "Pending", "qosClass": .string(Self.qosClass(spec))]
    }

    /// A pod spec with Kubernetes' defaults filled in (also applied to the pod templates of workloads).
    public static func defaultedSpec(_ spec: JSON) -> JSON {
        guard case .object = spec else { return spec }
        var spec = spec
        if spec["restartPolicy"] == nil { spec["restartPolicy"] = "Always" }
        if spec["dnsPolicy"] == nil { spec["dnsPolicy"] = "ClusterFirst" }
        if spec["schedulerName"] == nil { spec["schedulerName"] = "default-scheduler" }
        if spec["terminationGracePeriodSeconds"] == nil { spec["terminationGracePeriodSeconds"] = 30 }
        if spec["securityContext"] == nil { spec["securityContext"] = .emptyObject }
        if spec["enableServiceLinks"] == nil { spec["enableServiceLinks"] = true }
        if spec["preemptionPolicy"] == nil { spec["preemptionPolicy"] = "PreemptLowerPriority" }
        if spec["priority"] == nil { spec["priority"] = 0 }
        for listName in ["containers", "initContainers"] {
            guard let containers = spec[listName]?.arrayValue else { continue }
            spec[listName] = .array(containers.map(Self.defaultContainer))
        }
        return spec
    }

    static func defaultContainer(_ container: JSON) -> JSON {
        guard case .object = container else { return container }
        var result = container
        if result["imagePullPolicy"] == nil {
            let image = result["image"]?.stringValue ?? ""
            result["imagePullPolicy"] = (imageTag(image).isEmpty || imageTag(image) == "latest") && !image.contains("@") ? "Always" : "IfNotPresent"
        }
        if result["terminationMessagePath"] == nil { result["terminationMessagePath"] = "/dev/termination-log" }
        if result["terminationMessagePolicy"] == nil { result["terminationMessagePolicy"] = "File" }
        if result["resources"] == nil { result["resources"] = .emptyObject }
        // As in Kubernetes, a limit without a request makes the request equal to the limit.
        if let limits = result[path: ["resources", "limits"]]?.objectValue, !limits.isEmpty,
           result[path: ["resources", "requests"]]?.objectValue != nil || result[path: ["resources", "requests"]] == nil {
            var requests = result[path: ["resources", "requests"]] ?? .emptyObject
            for (name, limit) in limits where requests[name] == nil { requests[name] = limit }
            result[path: ["resources", "requests"]] = requests
        }
        if let ports = result["ports"]?.arrayValue {
            result["ports"] = .array(ports.map { port in
                var port = port
                if case .object = port, port["protocol"] == nil { port["protocol"] = "TCP" }
                return port
            })
        }
        return result
    }

    /// The tag of an image reference ("" when it has none): what follows the last ':' of its
    /// last path component ("busybox:1.36" → "1.36", "host:5000/app" → "", ":" → "").
    public static func imageTag(_ image: String) -> String {
        let last = image.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(image)
        guard let colon = last.lastIndex(of: ":") else { return "" }
        return String(last[last.index(after: colon)...])
    }

    /// Guaranteed, Burstable or BestEffort, from the containers' requests and limits.
    public static func qosClass(_ spec: JSON) -> String {
        let containers = spec["containers"]?.arrayValue ?? []
        var anySet = false
        var guaranteed = !containers.isEmpty
        for container in containers {
            let requests = container[path: ["resources", "requests"]]?.objectValue ?? [:]
            let limits = container[path: ["resources", "limits"]]?.objectValue ?? [:]
            if !requests.isEmpty || !limits.isEmpty { anySet = true }
            for resource in ["cpu", "memory"] {
                guard let limit = Quantity.from(limits[resource]) else { guaranteed = false; continue }
                if let request = Quantity.from(requests[resource]), request != limit { guaranteed = false }
            }
        }
        if !anySet { return "BestEffort" }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        guard let spec = object["spec"], case .object = spec else {
            causes.append(object["spec"].map { .typeInvalid("spec", expected: "object", got: $0) } ?? .required("spec"))
            return causes
        }
        var names = Set<String>()
        if let containers = spec["containers"], !containers.isNull {
            if let list = containers.arrayValue {
                if list.isEmpty { causes.append(.required("spec.containers")) }
                for (index, container) in list.enumerated() {
                    Self.validateContainer(container, field: "spec.containers[\(index)]", names: &names, into: &causes)
                }
            } else {
                causes.append(.typeInvalid("spec.containers", expected: "array", got: containers))
            }
        } else {
            causes.append(.required("spec.containers"))
        }
        if let initContainers = spec["initContainers"]?.arrayValue {
            for (index, container) in initContainers.enumerated() {
                Self.validateContainer(container, field: "spec.initContainers[\(index)]", names: &names, into: &causes)
                if let restart = container["restartPolicy"], !restart.isNull {
                    causes.append(restart.stringValue == "Always"
                        ? .forbidden("spec.initContainers[\(index)].restartPolicy", "sidecar containers (restartPolicy: Always) are not served by kube9 yet")
                        : .notSupported("spec.initContainers[\(index)].restartPolicy", restart, supported: ["Always"]))
                }
                for probe in ["livenessProbe", "readinessProbe", "startupProbe", "lifecycle"] where container[probe] != nil && container[probe]?.isNull == false {
                    causes.append(.forbidden("spec.initContainers[\(index)].\(probe)", "may not be set for init containers without restartPolicy=Always"))
                }
            }
        }
        if let policy = spec["restartPolicy"], !["Always", "OnFailure", "Never"].contains(policy.stringValue ?? "") {
            causes.append(.notSupported("spec.restartPolicy", policy, supported: ["Always", "OnFailure", "Never"]))
        }
        PodDNS.validate(spec, into: &causes)
        CommonSchemas.checkInteger(spec["terminationGracePeriodSeconds"], "spec.terminationGracePeriodSeconds",
                                   in: 0...Self.maximumGracePeriodSeconds, into: &causes)
        CommonSchemas.checkInteger(spec["activeDeadlineSeconds"], "spec.activeDeadlineSeconds", in: 1...Int64(Int32.max), into: &causes)
        CommonSchemas.checkInteger(spec["priority"], "spec.priority", in: Int64(Int32.min)...Int64(Int32.max), into: &causes)
        if let nodeName = spec["nodeName"], !nodeName.isNull {
            if let text = nodeName.stringValue {
                if !text.isEmpty, let error = NameRules.dns1123SubdomainError(text) { causes.append(.invalid("spec.nodeName", nodeName, error)) }
            } else {
                causes.append(.typeInvalid("spec.nodeName", expected: "string", got: nodeName))
            }
        }
        if let selector = spec["nodeSelector"], !selector.isNull {
            if let members = selector.objectValue {
                for (key, value) in members {
                    if let error = NameRules.qualifiedNameError(key) { causes.append(.invalid("spec.nodeSelector", .string(key), error)) }
                    if value.stringValue == nil { causes.append(.typeInvalid("spec.nodeSelector.\(key)", expected: "string", got: value)) }
                }
            } else {
                causes.append(.typeInvalid("spec.nodeSelector", expected: "map of strings", got: selector))
            }
        }
        if let tolerations = spec["tolerations"], !tolerations.isNull {
            if let list = tolerations.arrayValue {
                for (index, toleration) in list.enumerated() {
                    let field = "spec.tolerations[\(index)]"
                    if let op = toleration["operator"], !["Exists", "Equal"].contains(op.stringValue ?? "") {
                        causes.append(.notSupported("\(field).operator", op, supported: ["Equal", "Exists"]))
                    }
                    if let effect = toleration["effect"], !effect.isNull, !["", "NoSchedule", "PreferNoSchedule", "NoExecute"].contains(effect.stringValue ?? "?") {
                        causes.append(.notSupported("\(field).effect", effect, supported: ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
                    }
                }
            } else {
                causes.append(.typeInvalid("spec.tolerations", expected: "array", got: tolerations))
            }
        }
        causes += NodeAffinity.validate(object)
        Self.validateVolumes(spec, into: &causes)
        let volumeNames = Set((spec["volumes"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        for list in ["containers", "initContainers"] {
            for (index, container) in (spec[list]?.arrayValue ?? []).enumerated() {
                Self.validateMounts(container, field: "spec.\(list)[\(index)]", volumes: volumeNames, into: &causes)
            }
        }
        return causes
    }

    public func validateUpdate(_ object: JSON, old: JSON) -> [FieldCause] {
        var causes = validate(object)
        // Pod specs are immutable except images, activeDeadlineSeconds, tolerations and the grace period.
        func masked(_ spec: JSON?) -> JSON {
            var spec = spec ?? .emptyObject
            for listName in ["containers", "initContainers"] {
                if let list = spec[listName]?.arrayValue {
                    spec[listName] = .array(list.map { container in var container = container; container["image"] = nil; return container })
                }
            }
            spec["activeDeadlineSeconds"] = nil
            spec["tolerations"] = nil
            spec["terminationGracePeriodSeconds"] = nil
            return spec
        }
        let oldNode = old[path: ["spec", "nodeName"]]?.stringValue ?? ""
        let newNode = object[path: ["spec", "nodeName"]]?.stringValue ?? ""
        if !oldNode.isEmpty, oldNode != newNode {
            causes.append(.forbidden("spec.nodeName", "pod is already bound to \"\(oldNode)\"; nodeName cannot change"))
        } else if masked(object["spec"]) != masked(old["spec"]) {
            var oldMasked = masked(old["spec"])
            oldMasked["nodeName"] = nil
            var newMasked = masked(object["spec"])
            newMasked["nodeName"] = nil
            if oldMasked != newMasked {
                causes.append(.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"))
            }
        }
        return causes
    }


    static let core = "io.k8s.api.core.v1."
    public var schemas: [SchemaDefinition] {
        let c = Self.core
        return [
            SchemaDefinition(c + "Pod", "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.",
                kind: ("", "v1", "Pod"),
                fields: CommonSchemas.topLevel(spec: c + "PodSpec", status: c + "PodStatus",
                    specDescription: "Specification of the desired behavior of the pod.",
                    statusDescription: "Most recently observed status of the pod. This data may not be up to date. Populated by the system. Read-only.")),
            SchemaDefinition(c + "PodSpec", "PodSpec is a description of a pod.", fields: [
                SchemaField("containers", .array(.ref(c + "Container")), "List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated.", required: true, mergeKey: "name"),
                SchemaField("initContainers", .array(.ref(c + "Container")), "List of initialization containers belonging to the pod. Init containers are executed in order prior to containers being started.", mergeKey: "name"),
                SchemaField("ephemeralContainers", .array(.freeform), "List of ephemeral containers run in this pod.", mergeKey: "name"),
                SchemaField("volumes", .array(.ref(c + "Volume")), "List of volumes that can be mounted by containers belonging to the pod.", mergeKey: "name"),
                SchemaField("restartPolicy", .string, "Restart policy for all containers within the pod. One of Always, OnFailure, Never. Default to Always."),
                SchemaField("terminationGracePeriodSeconds", .integer, "Optional duration in seconds the pod needs to terminate gracefully. Defaults to 30 seconds."),
                SchemaField("activeDeadlineSeconds", .integer, "Optional duration in seconds the pod may be active on the node relative to StartTime before the system will actively try to mark it failed and kill associated containers."),
                SchemaField("dnsPolicy", .string, "Set DNS policy for the pod. Defaults to \"ClusterFirst\"."),
                SchemaField("dnsConfig", .freeform, "Specifies the DNS parameters of a pod."),
                SchemaField("nodeSelector", .map(.string), "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
                SchemaField("serviceAccountName", .string, "ServiceAccountName is the name of the ServiceAccount to use to run this pod."),
                SchemaField("serviceAccount", .string, "DeprecatedServiceAccount is a deprecated alias for ServiceAccountName."),
                SchemaField("automountServiceAccountToken", .boolean, "AutomountServiceAccountToken indicates whether a service account token should be automatically mounted."),
                SchemaField("nodeName", .string, "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName."),
                SchemaField("hostNetwork", .boolean, "Host networking requested for this pod. Use the host's network namespace."),
                SchemaField("hostPID", .boolean, "Use the host's pid namespace."),
                SchemaField("hostIPC", .boolean, "Use the host's ipc namespace."),
                SchemaField("hostUsers", .boolean, "Use the host's user namespace."),
                SchemaField("shareProcessNamespace", .boolean, "Share a single process namespace between all of the containers in a pod."),
                SchemaField("securityContext", .freeform, "SecurityContext holds pod-level security attributes and common container settings."),
                SchemaField("imagePullSecrets", .array(.freeform), "ImagePullSecrets is an optional list of references to secrets in the same namespace to use for pulling any of the images used by this PodSpec.", mergeKey: "name"),
                SchemaField("hostname", .string, "Specifies the hostname of the Pod. If not specified, the pod's hostname will be set to a system-defined value."),
                SchemaField("subdomain", .string, "If specified, the fully qualified Pod hostname will be \"<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>\"."),
                SchemaField("setHostnameAsFQDN", .boolean, "If true the pod's hostname will be configured as the pod's FQDN."),
                SchemaField("affinity", .freeform, "If specified, the pod's scheduling constraints."),
                SchemaField("schedulerName", .string, "If specified, the pod will be dispatched by specified scheduler. If not specified, the pod will be dispatched by default scheduler."),
                SchemaField("tolerations", .array(.ref(c + "Toleration")), "If specified, the pod's tolerations."),
                SchemaField("hostAliases", .array(.freeform), "HostAliases is an optional list of hosts and IPs that will be injected into the pod's hosts file.", mergeKey: "ip"),
                SchemaField("priorityClassName", .string, "If specified, indicates the pod's priority."),
                SchemaField("priority", .integer, "The priority value. Various system components use this field to find the priority of the pod."),
                SchemaField("preemptionPolicy", .string, "PreemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority."),
                SchemaField("readinessGates", .array(.freeform), "If specified, all readiness gates will be evaluated for pod readiness."),
                SchemaField("runtimeClassName", .string, "RuntimeClassName refers to a RuntimeClass object in the node.k8s.io group."),
                SchemaField("enableServiceLinks", .boolean, "EnableServiceLinks indicates whether information about services should be injected into pod's environment variables."),
                SchemaField("overhead", .map(.quantity), "Overhead represents the resource overhead associated with running a pod for a given RuntimeClass."),
                SchemaField("topologySpreadConstraints", .array(.freeform), "TopologySpreadConstraints describes how a group of pods ought to spread across topology domains."),
                SchemaField("os", .freeform, "Specifies the OS of the containers in the pod."),
                SchemaField("schedulingGates", .array(.freeform), "SchedulingGates is an opaque list of values that if specified will block scheduling the pod."),
                SchemaField("resourceClaims", .array(.freeform), "ResourceClaims defines which ResourceClaims must be allocated and reserved before the Pod is allowed to start."),
                SchemaField("resources", .ref(c + "ResourceRequirements"), "Resources is the total amount of CPU and Memory resources required by all containers in the pod."),
            ]),
            SchemaDefinition(c + "Container", "A single application container that you want to run within a pod.", fields: [
                SchemaField("name", .string, "Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name (DNS_LABEL). Cannot be updated.", required: true),
                SchemaField("image", .string, "Container image name. No registry is reachable from kube9 nodes: the image must exist locally."),
                SchemaField("command", .array(.string), "Entrypoint array. Not executed within a shell. The container image's ENTRYPOINT is used if this is not provided."),
                SchemaField("args", .array(.string), "Arguments to the entrypoint. The container image's CMD is used if this is not provided."),
                SchemaField("workingDir", .string, "Container's working directory. If not specified, the container runtime's default will be used."),
                SchemaField("ports", .array(.ref(c + "ContainerPort")), "List of ports to expose from the container.", mergeKey: "containerPort"),
                SchemaField("envFrom", .array(.freeform), "List of sources to populate environment variables in the container."),
                SchemaField("env", .array(.ref(c + "EnvVar")), "List of environment variables to set in the container. Cannot be updated.", mergeKey: "name"),
                SchemaField("resources", .ref(c + "ResourceRequirements"), "Compute Resources required by this container. Cannot be updated."),
                SchemaField("resizePolicy", .array(.freeform), "Resources resize policy for the container."),
                SchemaField("restartPolicy", .string, "RestartPolicy defines the restart behavior of individual containers in a pod."),
                SchemaField("volumeMounts", .array(.freeform), "Pod volumes to mount into the container's filesystem. Cannot be updated.", mergeKey: "mountPath"),
                SchemaField("volumeDevices", .array(.freeform), "volumeDevices is the list of block devices to be used by the container."),
                SchemaField("livenessProbe", .freeform, "Periodic probe of container liveness. Container will be restarted if the probe fails."),
                SchemaField("readinessProbe", .freeform, "Periodic probe of container service readiness. Container will be removed from service endpoints if the probe fails."),
                SchemaField("startupProbe", .freeform, "StartupProbe indicates that the Pod has successfully initialized."),
                SchemaField("lifecycle", .freeform, "Actions that the management system should take in response to container lifecycle events."),
                SchemaField("terminationMessagePath", .string, "Path at which the file to which the container's termination message will be written is mounted into the container's filesystem."),
                SchemaField("terminationMessagePolicy", .string, "Indicate how the termination message should be populated."),
                SchemaField("imagePullPolicy", .string, "Image pull policy. One of Always, Never, IfNotPresent."),
                SchemaField("securityContext", .freeform, "SecurityContext defines the security options the container should be run with."),
                SchemaField("stdin", .boolean, "Whether this container should allocate a buffer for stdin in the container runtime."),
                SchemaField("stdinOnce", .boolean, "Whether the container runtime should close the stdin channel after it has been opened by a single attach."),
                SchemaField("tty", .boolean, "Whether this container should allocate a TTY for itself."),
            ]),
            SchemaDefinition(c + "ContainerPort", "ContainerPort represents a network port in a single container.", fields: [
                SchemaField("containerPort", .integer, "Number of port to expose on the pod's IP address. This must be a valid port number, 0 < x < 65536.", required: true),
                SchemaField("hostPort", .integer, "Number of port to expose on the host."),
                SchemaField("hostIP", .string, "What host IP to bind the external port to."),
                SchemaField("name", .string, "If specified, this must be an IANA_SVC_NAME and unique within the pod."),
                SchemaField("protocol", .string, "Protocol for port. Must be UDP, TCP, or SCTP. Defaults to \"TCP\"."),
            ]),
            SchemaDefinition(c + "EnvVar", "EnvVar represents an environment variable present in a Container.", fields: [
                SchemaField("name", .string, "Name of the environment variable.", required: true),
                SchemaField("value", .string, "Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container."),
                SchemaField("valueFrom", .freeform, "Source for the environment variable's value. Cannot be used if value is not empty."),
            ]),
            SchemaDefinition(c + "ResourceRequirements", "ResourceRequirements describes the compute resource requirements.", fields: [
                SchemaField("limits", .map(.quantity), "Limits describes the maximum amount of compute resources allowed."),
                SchemaField("requests", .map(.quantity), "Requests describes the minimum amount of compute resources required. The scheduler uses requests to place pods."),
                SchemaField("claims", .array(.freeform), "Claims lists the names of resources, defined in spec.resourceClaims, that are used by this container."),
            ]),
            SchemaDefinition(c + "Toleration", "The pod this Toleration is attached to tolerates any taint that matches the triple <key,value,effect> using the matching operator <operator>.", fields: [
                SchemaField("key", .string, "Key is the taint key that the toleration applies to. Empty means match all taint keys."),
                SchemaField("operator", .string, "Operator represents a key's relationship to the value. Valid operators are Exists and Equal. Defaults to Equal."),
                SchemaField("value", .string, "Value is the taint value the toleration matches to."),
                SchemaField("effect", .string, "Effect indicates the taint effect to match. Empty means match all taint effects."),
                SchemaField("tolerationSeconds", .integer, "TolerationSeconds represents the period of time the toleration (which must be of effect NoExecute) tolerates the taint."),
            ]),
            SchemaDefinition(c + "Volume", "Volume represents a named volume in a pod that may be accessed by any container in the pod.", closed: false, fields: [
                SchemaField("name", .string, "name of the volume. Must be a DNS_LABEL and unique within the pod.", required: true),
            ]),
            SchemaDefinition(c + "PodStatus", "PodStatus represents information about the status of a pod.", closed: false, fields: [
                SchemaField("phase", .string, "The phase of a Pod is a simple, high-level summary of where the Pod is in its lifecycle: Pending, Running, Succeeded, Failed, Unknown."),
                SchemaField("conditions", .array(.freeform), "Current service state of pod.", mergeKey: "type"),
                SchemaField("message", .string, "A human readable message indicating details about why the pod is in this condition."),
                SchemaField("reason", .string, "A brief CamelCase message indicating details about why the pod is in this state."),
                SchemaField("hostIP", .string, "hostIP holds the IP address of the host to which the pod is assigned."),
                SchemaField("podIP", .string, "podIP address allocated to the pod."),
                SchemaField("startTime", .time, "RFC 3339 date and time at which the object was acknowledged by the Kubelet."),
                SchemaField("containerStatuses", .array(.freeform), "The list has one entry per container in the manifest."),
                SchemaField("qosClass", .string, "The Quality of Service (QOS) classification assigned to the pod based on resource requirements."),
            ]),
        ]
    }
}
