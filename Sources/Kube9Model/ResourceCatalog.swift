/// Every resource kube9 serves, with lookups by URL parts.
public struct ResourceCatalog: Sendable {
    /// Strategies in discovery order.
    public let strategies: [any ResourceStrategy]
    /// All schema definitions of all kinds.
    public let schemas: SchemaCatalog

    public init(strategies: [any ResourceStrategy]) {
        self.strategies = strategies
        self.schemas = SchemaCatalog(CommonSchemas.definitions + strategies.flatMap(\.schemas))
    }

    /// The built-in kinds.
    public static let builtin = ResourceCatalog(strategies: [
        PodStrategy(), NodeStrategy(), NamespaceStrategy(), EventStrategy(), ServiceStrategy(), EndpointsStrategy(),
        EndpointSliceStrategy(), LeaseStrategy(), PolicyStrategy(), ReplicationControllerStrategy(),
        DeploymentStrategy(), ReplicaSetStrategy(), NodeMetricsStrategy(), PodMetricsStrategy(),
        HorizontalPodAutoscalerStrategy(), ConfigMapStrategy(), SecretStrategy(), JobStrategy(), CronJobStrategy(), DaemonSetStrategy(),
        StatefulSetStrategy(), StorageClassStrategy(), PersistentVolumeStrategy(), PersistentVolumeClaimStrategy(),
    ])

    /// The strategy serving `resource` in `group`/`version`.
    public func strategy(group: String, version: String, resource: String) -> (any ResourceStrategy)? {
        strategies.first { $0.type.group == group && $0.type.version == version && $0.type.resource == resource }
    }

    /// The strategy for a kind in an apiVersion ("v1", "coordination.k8s.io/v1").
    public func strategy(apiVersion: String, kind: String) -> (any ResourceStrategy)? {
        strategies.first { $0.type.apiVersion == apiVersion && $0.type.kind == kind }
    }

    /// Group-versions served, core first: ("", "v1"), ("coordination.k8s.io", "v1")…
    public var groupVersions: [(group: String, version: String)] {
        var seen: [(group: String, version: String)] = []
        for strategy in strategies where !seen.contains(where: { $0.group == strategy.type.group && $0.version == strategy.type.version }) {
            seen.append((strategy.type.group, strategy.type.version))
        }
        return seen
    }

    /// The schema definition name of a kind ("io.k8s.api.core.v1.Pod").
    public func definitionName(of type: ResourceType) -> String? {
        schemas.definitions.values.first { $0.kind?.kind == type.kind && $0.kind?.group == type.group && $0.kind?.version == type.version }?.name
    }
}
