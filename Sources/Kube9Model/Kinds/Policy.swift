/// Policies (kube9.io/v1): Lua sources for a policy slot, installed through the API.
/// The object is named `<slot>.<policy name>` (for example `scheduler.default`), so one name
/// can exist in several slots. Whether the source compiles is checked at admission by the
/// server, which owns the Lua host; this strategy checks the object's shape.
public struct PolicyStrategy: ResourceStrategy {
    public init() {}

    /// The slot names (kept equal to Kube9Policy's `PolicySlot`, which a test checks).
    public static let slots = ["scheduler", "loadbalancer", "autoscaler", "node-autoscaler", "admission", "authorizer", "crd"]
    /// The largest source accepted, in bytes.
    public static let maximumSourceBytes = 512 * 1024

    /// The bounds of each `spec.budget` field: (field, minimum, maximum). The maximums keep one
    /// call from holding a Lua thread or the machine's memory for long: at most 1e9 VM
    /// instructions, 5 s of wall clock and 256 MiB per state.
    public static let budgetBounds: [(field: String, minimum: Int64, maximum: Int64)] = [
        ("instructions", 1000, 1_000_000_000),
        ("timeoutMilliseconds", 1, 5000),
        ("memoryBytes", 1 << 20, 256 << 20),
    ]

    public let type = ResourceType(
        group: "kube9.io", version: "v1", resource: "policies", singular: "policy", kind: "Policy", namespaced: false,
        shortNames: ["pol"], selectableFields: ["spec.slot"])

    /// Splits `scheduler.default` into ("scheduler", "default"), or nil when the name has no slot prefix.
    public static func split(_ objectName: String) -> (slot: String, name: String)? {
        for slot in slots where objectName.hasPrefix(slot + ".") {
            return (slot, String(objectName.dropFirst(slot.count + 1)))
        }
        return nil
    }

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: false)
        let objectName = ObjectMeta.name(of: object)
        let slot = object[path: ["spec", "slot"]]
        if let slotName = slot?.stringValue, Self.slots.contains(slotName) {
            if !objectName.isEmpty {
                if let parts = Self.split(objectName), parts.slot == slotName {
                    if let error = NameRules.dns1123LabelError(parts.name) {
                        causes.append(.invalid("metadata.name", .string(objectName), "the part after \"\(slotName).\" must be a DNS label: \(error)"))
                    }
                } else {
                    causes.append(.invalid("metadata.name", .string(objectName), "a Policy is named <slot>.<name>, here \"\(slotName).<name>\""))
                }
            }
        } else {
            causes.append(slot == nil ? .required("spec.slot") : .notSupported("spec.slot", slot, supported: Self.slots))
        }
        let source = object[path: ["spec", "source"]]
        if let text = source?.stringValue {
            if text.trimmingSpaces.isEmpty { causes.append(.required("spec.source", "the Lua source of the policy")) }
            if text.utf8.count > Self.maximumSourceBytes {
                causes.append(FieldCause(reason: "FieldValueTooLong", field: "spec.source", message: "Too long: must have at most \(Self.maximumSourceBytes) bytes"))
            }
        } else {
            causes.append(source.map { .typeInvalid("spec.source", expected: "string", got: $0) } ?? .required("spec.source", "the Lua source of the policy"))
        }
        if let budget = object[path: ["spec", "budget"]], !budget.isNull {
            if case .object = budget {
                for bound in Self.budgetBounds {
                    CommonSchemas.checkInteger(budget[bound.field], "spec.budget.\(bound.field)", in: bound.minimum...bound.maximum, into: &causes)
                }
            } else {
                causes.append(.typeInvalid("spec.budget", expected: "object", got: budget))
            }
        }
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "<slot>.<policy name>"),
                TableColumn("Slot", description: "Where the policy plugs in."),
                TableColumn("Version", type: "integer", description: "metadata.generation: rises with every change of the spec."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { policy in
                [.string(ObjectMeta.name(of: policy)), .string(policy[path: ["spec", "slot"]]?.stringValue ?? ""),
                 .int(policy[path: ["metadata", "generation"]]?.intValue ?? 0),
                 .string(Timestamp.age(of: policy[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] {
        let p = "io.kube9.v1."
        return [
            SchemaDefinition(p + "Policy", "Policy is a Lua policy installed into a kube9 policy slot. The server swaps it in atomically once it compiles and honours the slot's hooks; a source that fails is refused with file:line and the previous version keeps serving.",
                kind: ("kube9.io", "v1", "Policy"),
                fields: CommonSchemas.topLevel(spec: p + "PolicySpec", status: nil, specDescription: "The slot, the Lua source and its limits.")),
            SchemaDefinition(p + "PolicySpec", "PolicySpec is the source of a policy and where it plugs in.", fields: [
                SchemaField("slot", .string, "One of scheduler, loadbalancer, autoscaler, node-autoscaler, admission, authorizer, crd. Must match the prefix of the object's name.", required: true),
                SchemaField("source", .string, "The Lua 5.4 source: a chunk returning { name = ..., api = 1, hooks... }.", required: true),
                SchemaField("budget", .ref(p + "PolicyBudget"), "Per-call limits; each field defaults to the slot's default."),
                SchemaField("failurePolicy", .string, "Informational: the slot's failure policy always applies (FailClosed, LeavePending, RoundRobin, KeepCurrent)."),
            ]),
            SchemaDefinition(p + "PolicyBudget", "PolicyBudget limits one call of a hook.", fields: [
                SchemaField("instructions", .integer, "Lua VM instructions per call (1000 to 1000000000)."),
                SchemaField("timeoutMilliseconds", .integer, "Wall-clock milliseconds per call (1 to 5000)."),
                SchemaField("memoryBytes", .integer, "Memory cap of each Lua state of the policy (1 MiB to 256 MiB)."),
            ]),
        ]
    }
}
