import Kube9Model

extension PolicySource {
    /// An annotation `kube9 policy apply` sets so that errors name the user's file.
    public static let sourceFileAnnotation = "kube9.io/source-file"

    /// The policy source a Policy object (kube9.io/v1) describes: slot and name from its name,
    /// the budget from spec.budget held to the bounds (slot defaults fill the rest). Used by the
    /// server and by the agents' service proxies, so both read an object the same way.
    public static func from(object: JSON) throws(APIError) -> PolicySource {
        let objectName = ObjectMeta.name(of: object)
        guard let parts = PolicyStrategy.split(objectName), let slot = PolicySlot(rawValue: parts.slot) else {
            throw APIError.invalid(kind: "Policy", group: "kube9.io", name: objectName, causes: [
                .invalid("metadata.name", .string(objectName), "a Policy is named <slot>.<name>")
            ])
        }
        var budget = slot.defaultBudget
        if let value = object[path: ["spec", "budget", "instructions"]]?.intValue { budget.instructions = value }
        if let value = object[path: ["spec", "budget", "timeoutMilliseconds"]]?.intValue { budget.timeoutMilliseconds = value }
        if let value = object[path: ["spec", "budget", "memoryBytes"]]?.intValue { budget.memoryBytes = Int(clamping: value) }
        // Validation refuses out-of-range budgets; a stored object is held to the bounds anyway.
        budget = budget.bounded
        let chunk = object[path: ["metadata", "annotations", PolicySource.sourceFileAnnotation]]?.stringValue ?? "\(objectName).lua"
        return PolicySource(slot: slot, name: parts.name, source: object[path: ["spec", "source"]]?.stringValue ?? "",
                            chunkName: chunk, budget: budget, version: object[path: ["metadata", "generation"]]?.intValue ?? 0,
                            origin: "object")
    }

}
