/// What ReplicationControllers, ReplicaSets and Deployments share: the pod template, the
/// selector, replicas, the Scale subresource's shape, and the labels and annotations the
/// controllers write.
public enum Workloads {
    /// The label a Deployment adds to each ReplicaSet's selector and pods: the hash of the template.
    public static let podTemplateHashLabel = "pod-template-hash"
    /// The revision of a ReplicaSet within its Deployment, and the Deployment's current one.
    public static let revisionAnnotation = "deployment.kubernetes.io/revision"
    /// Earlier revisions a ReplicaSet had (a rollback gives an old template a new revision).
    public static let revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
    /// The Deployment's replicas when it last scaled a ReplicaSet.
    public static let desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
    /// replicas + maxSurge when the Deployment last scaled a ReplicaSet.
    public static let maxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
    /// The largest replica count a workload may ask for.
    public static let maximumReplicas = Int64(Int32.max)

    /// A count read from a status a client may have written: clamped to 0…Int32.max (0 when absent).
    public static func count(_ value: JSON?) -> Int64 {
        min(max(value?.intValue ?? 0, 0), maximumReplicas)
    }

    /// Whether `new` differs from `old` only in status and resourceVersion (a controller's own status write).
    public static func onlyStatusChanged(_ old: JSON, _ new: JSON) -> Bool {
        var left = old
        var right = new
        for object in [0, 1] {
            var copy = object == 0 ? left : right
            copy["status"] = Optional<JSON>.none
            copy[path: ["metadata", "resourceVersion"]] = Optional<JSON>.none
            copy[path: ["metadata", "managedFields"]] = Optional<JSON>.none
            if object == 0 { left = copy } else { right = copy }
        }
        return left == right
    }

    /// `spec.replicas` (default 1), clamped to 0…Int32.max.
    public static func replicas(_ object: JSON) -> Int {
        guard let value = object[path: ["spec", "replicas"]]?.intValue else { return 1 }
        return Int(min(max(0, value), maximumReplicas))
    }

    /// The selector of a workload: a label map for a ReplicationController, a LabelSelector
    /// object for the apps kinds. An invalid one selects nothing (validation refuses it first).
    public static func selector(_ object: JSON) -> LabelSelector? {
        let selector = object[path: ["spec", "selector"]]
        if object["kind"]?.stringValue == "ReplicationController" {
            guard let members = selector?.objectValue, !members.isEmpty else { return nil }
            return LabelSelector(requirements: members.sorted { $0.key < $1.key }.compactMap { key, value in value.stringValue.map { .equals(key, $0) } })
        }
        let (parsed, causes) = LabelSelector.fromObject(selector, field: "spec.selector")
        return causes.isEmpty && !parsed.isEmpty ? parsed : nil
    }

    /// The autoscaling/v1 Scale of a workload: desired replicas, observed replicas and the
    /// selector in query form (what an autoscaler lists pods by).
    public static func scale(of object: JSON) -> JSON {
        var metadata: JSON = .emptyObject
        for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            metadata[field] = object[path: ["metadata", field]]
        }
        return ["kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": metadata,
                "spec": ["replicas": .int(Int64(replicas(object)))],
                "status": ["replicas": .int(count(object[path: ["status", "replicas"]])),
                           "selector": .string(selector(object)?.text ?? "")]]
    }

    /// Defaults of a workload's pod template (`spec.template.spec`), as Kubernetes defaults it.
    public static func defaultTemplate(_ object: inout JSON) {
        guard let spec = object[path: ["spec", "template", "spec"]] else { return }
        object[path: ["spec", "template", "spec"]] = PodStrategy.defaultedSpec(spec)
    }

    /// Validates `spec.template` as a pod would be validated, with paths under the template,
    /// plus the workload rules: restartPolicy Always, and labels the selector matches.
    /// `restartPolicies` are the template's allowed restart policies (Always for replicated
    /// workloads, OnFailure or Never for Jobs); `field` is where the template sits.
    public static func validateTemplate(_ object: JSON, selector: LabelSelector?, restartPolicies: [String] = ["Always"],
                                        field: String = "spec.template", into causes: inout [FieldCause]) {
        let path = field.split(separator: ".").map(String.init)
        guard let template = object[path: path], !template.isNull else {
            causes.append(.required(field))
            return
        }
        guard case .object = template else {
            causes.append(.typeInvalid(field, expected: "object", got: template))
            return
        }
        var metadata = template["metadata"] ?? .emptyObject
        if case .object = metadata {} else {
            causes.append(.typeInvalid("\(field).metadata", expected: "object", got: metadata))
            metadata = .emptyObject
        }
        metadata["name"] = "template"
        metadata["namespace"] = nil
        let pod: JSON = ["metadata": metadata, "spec": template["spec"] ?? .null]
        for cause in PodStrategy().validate(pod) where cause.field != "metadata.name" {
            var moved = cause
            moved.field = field + "." + cause.field
            causes.append(moved)
        }
        let policy = template[path: ["spec", "restartPolicy"]] ?? .string("Always")
        if !restartPolicies.contains(policy.stringValue ?? "") {
            causes.append(.notSupported("\(field).spec.restartPolicy", policy, supported: restartPolicies))
        }
        if let selector {
            let labels = ObjectMeta.labels(of: template)
            if !selector.matches(labels) {
                causes.append(.invalid("\(field).metadata.labels", template[path: ["metadata", "labels"]] ?? .emptyObject,
                                       "`selector` does not match template `labels`"))
            }
        }
    }

    /// Validates `spec.selector` (a non-empty LabelSelector) and `spec.template` against it, as the
    /// apps kinds do; `kind` names the workload in the empty-selector message.
    public static func validateSelectorAndTemplate(_ object: JSON, kind: String, into causes: inout [FieldCause]) {
        let (selector, selectorCauses) = LabelSelector.fromObject(object[path: ["spec", "selector"]], field: "spec.selector")
        causes += selectorCauses
        if selectorCauses.isEmpty, selector.isEmpty { causes.append(.invalid("spec.selector", object[path: ["spec", "selector"]], "empty selector is invalid for \(kind)")) }
        validateTemplate(object, selector: selectorCauses.isEmpty && !selector.isEmpty ? selector : nil, into: &causes)
    }

    /// Validates `spec.replicas` and `spec.minReadySeconds`.
    public static func validateCounts(_ object: JSON, into causes: inout [FieldCause]) {
        CommonSchemas.checkInteger(object[path: ["spec", "replicas"]], "spec.replicas", in: 0...maximumReplicas, into: &causes)
        CommonSchemas.checkInteger(object[path: ["spec", "minReadySeconds"]], "spec.minReadySeconds", in: 0...Int64(Int32.max), into: &causes)
    }

    /// A copy of `template` with keys in sorted order at every level and null members left out
    /// (as typed decoding reads them): two templates that differ only so compare and hash the same.
    public static func canonical(_ value: JSON) -> JSON {
        switch value {
        case .object(let members):
            var sorted = members.filter { !$0.value.isNull }
            sorted.sort { $0.key < $1.key }
            for (key, member) in sorted { sorted[key] = canonical(member) }
            return .object(sorted)
        case .array(let items): return .array(items.map(canonical))
        default: return value
        }
    }

    /// The template without the pod-template-hash label (how a ReplicaSet's template is compared with its Deployment's).
    public static func templateWithoutHash(_ template: JSON?) -> JSON {
        var template = template ?? .emptyObject
        if template[path: ["metadata", "labels", podTemplateHashLabel]] != nil {
            template[path: ["metadata", "labels", podTemplateHashLabel]] = Optional<JSON>.none
            if template[path: ["metadata", "labels"]]?.objectValue?.isEmpty == true { template[path: ["metadata", "labels"]] = Optional<JSON>.none }
        }
        if template[path: ["metadata"]]?.objectValue?.isEmpty == true { template["metadata"] = Optional<JSON>.none }
        return canonical(template)
    }

    /// The pod-template-hash of a template (FNV-1a over its canonical form, plus the collision
    /// count), spelled with Kubernetes' safe alphabet (no vowels, no look-alike digits).
    public static func templateHash(_ template: JSON?, collisionCount: Int64 = 0) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in templateWithoutHash(template).serialized() {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        if collisionCount > 0 {
            for byte in String(collisionCount).utf8 {
                hash ^= UInt32(byte)
                hash = hash &* 16_777_619
            }
        }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var text = ""
        var value = hash
        repeat {
            text.append(alphabet[Int(value % UInt32(alphabet.count))])
            value /= UInt32(alphabet.count)
        } while value > 0
        return text
    }

    /// "name" of each container, and their images, comma-joined (the wide table columns).
    static func containerColumns(_ object: JSON) -> (names: String, images: String) {
        let containers = object[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? []
        return (containers.map { $0["name"]?.stringValue ?? "" }.joined(separator: ","),
                containers.map { $0["image"]?.stringValue ?? "" }.joined(separator: ","))
    }
}

/// An int-or-string count such as a rolling update's maxSurge: a number, or a percentage of a total.
public enum IntOrPercent: Sendable, Equatable {
    case count(Int)
    case percent(Int)

    /// Reads the value at `field`; nil with causes when it is neither a non-negative integer nor "N%".
    public static func parse(_ value: JSON?, field: String, into causes: inout [FieldCause]) -> IntOrPercent? {
        guard let value, !value.isNull else { return nil }
        if let number = value.intValue, case .int = value {
            guard number >= 0, number <= Int64(Int32.max) else {
                causes.append(.invalid(field, value, "must be greater than or equal to 0 and at most \(Int32.max)"))
                return nil
            }
            return .count(Int(number))
        }
        if let text = value.stringValue, text.hasSuffix("%"), let number = Int(text.dropLast()), number >= 0, number <= 1_000_000 {
            return .percent(number)
        }
        causes.append(.invalid(field, value, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"))
        return nil
    }

    /// The count for `total`: a percentage rounds up or down as asked.
    public func resolve(total: Int, roundUp: Bool) -> Int {
        switch self {
        case .count(let number): return number
        case .percent(let percent):
            let product = Int64(percent) * Int64(total)
            let value = roundUp ? (product + 99) / 100 : product / 100
            return Int(min(value, Int64(Int32.max)))
        }
    }
}
