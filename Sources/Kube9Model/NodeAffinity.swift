/// Required node affinity (`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`):
/// the node must match at least one term; within a term every expression must hold.
public enum NodeAffinity {
    static let operators = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]

    /// The required terms of a pod, or nil when it has none.
    public static func requiredTerms(of pod: JSON) -> [JSON]? {
        pod[path: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]]?.arrayValue
    }

    /// Whether `node` satisfies the pod's required node affinity (true when it has none).
    public static func matches(pod: JSON, node: JSON) -> Bool {
        guard let terms = requiredTerms(of: pod) else { return true }
        let labels = ObjectMeta.labels(of: node)
        let fields = ["metadata.name": ObjectMeta.name(of: node)]
        return terms.contains { term in
            let expressions = term["matchExpressions"]?.arrayValue ?? []
            let fieldExpressions = term["matchFields"]?.arrayValue ?? []
            if expressions.isEmpty && fieldExpressions.isEmpty { return false }  // an empty term matches nothing
            return expressions.allSatisfy { holds($0, labels) } && fieldExpressions.allSatisfy { holds($0, fields) }
        }
    }

    static func holds(_ expression: JSON, _ values: [String: String]) -> Bool {
        let key = expression["key"]?.stringValue ?? ""
        let wanted = expression["values"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let actual = values[key]
        switch expression["operator"]?.stringValue {
        case "In": return actual.map { wanted.contains($0) } ?? false
        case "NotIn": return actual.map { !wanted.contains($0) } ?? true
        case "Exists": return actual != nil
        case "DoesNotExist": return actual == nil
        case "Gt": return compare(actual, wanted) { $0 > $1 }
        case "Lt": return compare(actual, wanted) { $0 < $1 }
        default: return false
        }
    }

    static func compare(_ actual: String?, _ wanted: [String], _ order: (Int64, Int64) -> Bool) -> Bool {
        guard let actual, let left = Int64(actual), wanted.count == 1, let right = Int64(wanted[0]) else { return false }
        return order(left, right)
    }

    /// `pod` with its required node affinity narrowed by `terms` as well (both must hold: each
    /// of the pod's terms joined with each of `terms`), as the scheduler applies a volume's node
    /// affinity. At most `maximumTerms` joined terms are kept.
    public static func requiring(_ pod: JSON, terms: [JSON]) -> JSON {
        guard !terms.isEmpty else { return pod }
        let joined: [JSON]
        if let own = requiredTerms(of: pod) {
            var product: [JSON] = []
            for left in own {
                for right in terms where product.count < maximumTerms {
                    var term: JSON = .emptyObject
                    for list in ["matchExpressions", "matchFields"] {
                        let items = (left[list]?.arrayValue ?? []) + (right[list]?.arrayValue ?? [])
                        if !items.isEmpty { term[list] = .array(items) }
                    }
                    product.append(term)
                }
            }
            joined = product
        } else {
            joined = Array(terms.prefix(maximumTerms))
        }
        var result = pod
        result[path: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]] = .array(joined)
        return result
    }

    /// The most joined terms `requiring` builds.
    public static let maximumTerms = 64

    /// Validation causes for the required terms of a pod spec.
    static func validate(_ pod: JSON) -> [FieldCause] {
        guard let terms = requiredTerms(of: pod) else { return [] }
        return validate(terms: terms, field: "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
    }

    /// Validation causes for node selector terms at `base` (a pod's required affinity, a volume's node affinity).
    static func validate(terms: [JSON], field base: String) -> [FieldCause] {
        var causes: [FieldCause] = []
        for (index, term) in terms.enumerated() {
            for list in ["matchExpressions", "matchFields"] {
                for (position, expression) in (term[list]?.arrayValue ?? []).enumerated() {
                    let field = "\(base)[\(index)].\(list)[\(position)]"
                    let op = expression["operator"]
                    guard let name = op?.stringValue, operators.contains(name) else {
                        causes.append(.notSupported("\(field).operator", op, supported: operators))
                        continue
                    }
                    let count = expression["values"]?.arrayValue?.count ?? 0
                    if (name == "In" || name == "NotIn") && count == 0 {
                        causes.append(.required("\(field).values", "must be specified when `operator` is 'In' or 'NotIn'"))
                    }
                    if (name == "Exists" || name == "DoesNotExist") && count > 0 {
                        causes.append(.forbidden("\(field).values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
                    }
                    if (name == "Gt" || name == "Lt") && count != 1 {
                        causes.append(.required("\(field).values", "must be specified single value when `operator` is 'Lt' or 'Gt'"))
                    }
                    if list == "matchFields", expression["key"]?.stringValue != "metadata.name" {
                        causes.append(.notSupported("\(field).key", expression["key"], supported: ["metadata.name"]))
                    }
                }
            }
        }
        return causes
    }
}

/// Taints and tolerations: the one check the scheduler and the DaemonSet controller share.
public enum Taints {
    /// Whether `toleration` tolerates `taint` (key, operator Equal or Exists, value, effect).
    public static func tolerates(_ toleration: JSON, _ taint: JSON) -> Bool {
        let key = toleration["key"]?.stringValue ?? ""
        let operatorName = toleration["operator"]?.stringValue ?? "Equal"
        if !key.isEmpty, key != taint["key"]?.stringValue { return false }
        if key.isEmpty, operatorName != "Exists" { return false }
        if operatorName != "Exists", (toleration["value"]?.stringValue ?? "") != (taint["value"]?.stringValue ?? "") { return false }
        let effect = toleration["effect"]?.stringValue ?? ""
        return effect.isEmpty || effect == taint["effect"]?.stringValue
    }

    /// The first NoSchedule or NoExecute taint of `node` that none of `tolerations` tolerates.
    public static func untolerated(node: JSON, tolerations: [JSON]) -> JSON? {
        (node[path: ["spec", "taints"]]?.arrayValue ?? []).first { taint in
            let effect = taint["effect"]?.stringValue ?? ""
            return (effect == "NoSchedule" || effect == "NoExecute") && !tolerations.contains { tolerates($0, taint) }
        }
    }
}
