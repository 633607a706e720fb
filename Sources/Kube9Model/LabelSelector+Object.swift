/// metav1.LabelSelector objects (`matchLabels`, `matchExpressions`), as workloads, services of
/// the apps group and autoscalers carry them, read into the same `LabelSelector` the query
/// form parses to; and the query form written back (a Scale's `status.selector`).
extension LabelSelector {
    /// The largest number of requirements a selector object may hold.
    public static let maximumRequirements = 256

    /// Reads a LabelSelector object at `field`; every problem is a cause naming its path.
    /// `null` or a missing selector is empty (matches everything).
    public static func fromObject(_ selector: JSON?, field: String) -> (selector: LabelSelector, causes: [FieldCause]) {
        guard let selector, !selector.isNull else { return (.everything, []) }
        guard case .object = selector else { return (.everything, [.typeInvalid(field, expected: "object", got: selector)]) }
        var requirements: [Requirement] = []
        var causes: [FieldCause] = []
        if let labels = selector["matchLabels"], !labels.isNull {
            if let members = labels.objectValue {
                for (key, value) in members.sorted(by: { $0.key < $1.key }) {
                    if let error = NameRules.qualifiedNameError(key) { causes.append(.invalid("\(field).matchLabels", .string(key), error)) }
                    guard let text = value.stringValue else {
                        causes.append(.typeInvalid("\(field).matchLabels.\(key)", expected: "string", got: value))
                        continue
                    }
                    if let error = NameRules.labelValueError(text) { causes.append(.invalid("\(field).matchLabels", value, error)) }
                    requirements.append(.equals(key, text))
                }
            } else {
                causes.append(.typeInvalid("\(field).matchLabels", expected: "map of strings", got: labels))
            }
        }
        if let expressions = selector["matchExpressions"], !expressions.isNull {
            if let list = expressions.arrayValue {
                for (index, expression) in list.enumerated() {
                    let path = "\(field).matchExpressions[\(index)]"
                    guard let key = expression["key"]?.stringValue, !key.isEmpty else { causes.append(.required("\(path).key")); continue }
                    if let error = NameRules.qualifiedNameError(key) { causes.append(.invalid("\(path).key", .string(key), error)) }
                    let values = expression["values"]?.arrayValue ?? []
                    let texts = values.compactMap(\.stringValue)
                    if texts.count != values.count { causes.append(.typeInvalid("\(path).values", expected: "array of strings", got: expression["values"] ?? .null)) }
                    for text in texts { if let error = NameRules.labelValueError(text) { causes.append(.invalid("\(path).values", .string(text), error)) } }
                    let op = expression["operator"]?.stringValue ?? ""
                    switch op {
                    case "In", "NotIn":
                        if texts.isEmpty { causes.append(.required("\(path).values", "must be specified when `operator` is 'In' or 'NotIn'")) }
                        requirements.append(op == "In" ? .isIn(key, Set(texts)) : .notIn(key, Set(texts)))
                    case "Exists", "DoesNotExist":
                        if !values.isEmpty { causes.append(.forbidden("\(path).values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")) }
                        requirements.append(op == "Exists" ? .exists(key) : .doesNotExist(key))
                    default:
                        causes.append(.notSupported("\(path).operator", expression["operator"], supported: ["DoesNotExist", "Exists", "In", "NotIn"]))
                    }
                }
            } else {
                causes.append(.typeInvalid("\(field).matchExpressions", expected: "array", got: expressions))
            }
        }
        if requirements.count > maximumRequirements {
            causes.append(.invalid(field, nil, "must have at most \(maximumRequirements) requirements"))
        }
        return (LabelSelector(requirements: requirements), causes)
    }

    /// The query-string form (`app=web,tier in (a,b)`), which `parse` reads back to the same selector.
    public var text: String {
        requirements.map { requirement in
            switch requirement {
            case .equals(let key, let value): return "\(key)=\(value)"
            case .notEquals(let key, let value): return "\(key)!=\(value)"
            case .isIn(let key, let values): return "\(key) in (\(values.sorted().joined(separator: ",")))"
            case .notIn(let key, let values): return "\(key) notin (\(values.sorted().joined(separator: ",")))"
            case .exists(let key): return key
            case .doesNotExist(let key): return "!\(key)"
            }
        }.joined(separator: ",")
    }
}
