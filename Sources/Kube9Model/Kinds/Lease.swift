/// Leases (coordination.k8s.io/v1): node heartbeats and leader election.
public struct LeaseStrategy: ResourceStrategy {
    public init() {}

    public let type = ResourceType(
        group: "coordination.k8s.io", version: "v1", resource: "leases", singular: "lease", kind: "Lease", namespaced: true)

    public func validate(_ object: JSON) -> [FieldCause] {
        var causes = ObjectMeta.validate(object, nameRule: NameRules.dns1123SubdomainError, namespaced: true)
        CommonSchemas.checkType(object["spec"], "object", "spec", into: &causes)
        CommonSchemas.checkType(object[path: ["spec", "holderIdentity"]], "string", "spec.holderIdentity", into: &causes)
        CommonSchemas.checkType(object[path: ["spec", "leaseTransitions"]], "integer", "spec.leaseTransitions", into: &causes)
        if let duration = object[path: ["spec", "leaseDurationSeconds"]], !duration.isNull {
            if let seconds = duration.intValue {
                if seconds <= 0 { causes.append(.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")) }
            } else {
                causes.append(.typeInvalid("spec.leaseDurationSeconds", expected: "integer", got: duration))
            }
        }
        for field in ["acquireTime", "renewTime"] {
            if let time = object[path: ["spec", field]], !time.isNull, Timestamp.parse(time.stringValue ?? "") == nil {
                causes.append(.invalid("spec.\(field)", time, "must be an RFC 3339 timestamp"))
            }
        }
        return causes
    }

    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Holder", description: "HolderIdentity contains the identity of the holder of a current lease."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
            ],
            cells: { lease in
                [.string(ObjectMeta.name(of: lease)), .string(lease[path: ["spec", "holderIdentity"]]?.stringValue ?? "<unknown>"),
                 .string(Timestamp.age(of: lease[path: ["metadata", "creationTimestamp"]]?.stringValue))]
            })
    }

    public var schemas: [SchemaDefinition] {
        let c = "io.k8s.api.coordination.v1."
        return [
            SchemaDefinition(c + "Lease", "Lease defines a lease concept.", kind: ("coordination.k8s.io", "v1", "Lease"),
                fields: CommonSchemas.topLevel(spec: c + "LeaseSpec", status: nil, specDescription: "spec contains the specification of the Lease.")),
            SchemaDefinition(c + "LeaseSpec", "LeaseSpec is a specification of a Lease.", fields: [
                SchemaField("holderIdentity", .string, "holderIdentity contains the identity of the holder of a current lease."),
                SchemaField("leaseDurationSeconds", .integer, "leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it."),
                SchemaField("acquireTime", .time, "acquireTime is a time when the current lease was acquired."),
                SchemaField("renewTime", .time, "renewTime is a time when the current holder of a lease has last updated the lease."),
                SchemaField("leaseTransitions", .integer, "leaseTransitions is the number of transitions of a lease between holders."),
                SchemaField("strategy", .string, "Strategy indicates the strategy for picking the leader for coordinated leader election."),
                SchemaField("preferredHolder", .string, "PreferredHolder signals to a lease holder that the lease has a more optimal holder and should be given up."),
            ]),
        ]
    }
}
