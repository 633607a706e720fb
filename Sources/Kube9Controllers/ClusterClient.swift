import Kube9Model

/// How controllers and the scheduler read and write the cluster. Reads come from the watch
/// cache; every write goes through the API path (validation, admission, events), with the
/// caller's identity named in `component`.
public protocol ClusterClient: Sendable {
    /// The store revision: it changes whenever any object changes.
    var revision: Int64 { get }
    /// Objects of a kind (in one namespace, or all when nil), from the cache.
    func list(_ type: ResourceType, namespace: String?) -> [JSON]
    /// One object from the cache.
    func get(_ type: ResourceType, namespace: String, name: String) -> JSON?
    /// Reads the object, applies `change`, and writes it back (its status when `status` is true),
    /// retrying on conflicts. Returns the written object.
    @discardableResult
    func modify(_ type: ResourceType, namespace: String, name: String, status: Bool,
                _ change: @escaping @Sendable (inout JSON) -> Void) async throws -> JSON
    /// Creates an object.
    @discardableResult
    func create(_ type: ResourceType, namespace: String, object: JSON) async throws -> JSON
    /// Deletes an object; a grace period of 0 removes a bound pod at once.
    func delete(_ type: ResourceType, namespace: String, name: String, gracePeriodSeconds: Int64?) async throws
    /// Deletes an object only if its uid is still `uid` (nothing happens when it is gone or was
    /// replaced), with a propagation policy: "Background", "Foreground" or "Orphan".
    func delete(_ type: ResourceType, namespace: String, name: String, uid: String, propagation: String) async throws
    /// The served resource of a kind in an apiVersion (how owner references are resolved).
    func resourceType(apiVersion: String, kind: String) -> ResourceType?
    /// Every served resource (what the garbage collector follows).
    var resourceTypes: [ResourceType] { get }
    /// pods/binding.
    func bind(namespace: String, pod: String, node: String) async throws
    /// Records a core/v1 Event about `object`.
    func event(about object: JSON, type: String, reason: String, message: String, component: String) async
    /// Objects of a kind now, and every change after them (nothing missed, nothing twice). The
    /// stream ends when the client falls too far behind or the store closes: list again.
    func listAndWatch(_ type: ResourceType) throws -> (objects: [JSON], changes: AsyncStream<ClusterChange>)
}

/// One change of an object, as a watch reports it.
public struct ClusterChange: Sendable {
    public enum Kind: Sendable { case added, modified, deleted }
    public var kind: Kind
    /// The object after the change (for a deletion, as it was last).
    public var object: JSON
    public init(kind: Kind, object: JSON) {
        self.kind = kind
        self.object = object
    }
}

/// Condition helpers shared by controllers.
public enum Conditions {
    /// The condition of `type` in `status.conditions`, if any.
    public static func find(_ object: JSON, _ type: String) -> JSON? {
        (object[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == type }
    }

    /// Sets a condition, keeping lastTransitionTime when the status does not change.
    public static func set(_ object: inout JSON, type: String, status: String, reason: String, message: String, heartbeat: Bool = false) {
        var conditions = object[path: ["status", "conditions"]]?.arrayValue ?? []
        let now = JSON.string(Timestamp.now())
        var condition: JSON = ["type": .string(type), "status": .string(status), "reason": .string(reason), "message": .string(message)]
        if let index = conditions.firstIndex(where: { $0["type"]?.stringValue == type }) {
            let old = conditions[index]
            condition["lastTransitionTime"] = old["status"]?.stringValue == status ? (old["lastTransitionTime"] ?? now) : now
            condition["lastHeartbeatTime"] = heartbeat ? now : (old["lastHeartbeatTime"] ?? now)
            conditions[index] = condition
        } else {
            condition["lastTransitionTime"] = now
            condition["lastHeartbeatTime"] = now
            conditions.append(condition)
        }
        object[path: ["status", "conditions"]] = .array(conditions)
    }
}
