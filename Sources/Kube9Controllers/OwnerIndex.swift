import Kube9Model
import Logging
import Synchronization

/// What the Job, CronJob and DaemonSet controllers share to turn watch events into queue keys
/// ("namespace/name"): each owner's key by uid, and its last version, so the owner's own status
/// writes are no reason to sync it again.
final class OwnerIndex: Sendable {
    let keys = Mutex<[String: String]>([:])
    let seen = Mutex<[String: JSON]>([:])

    static func key(_ object: JSON) -> String { "\(ObjectMeta.namespace(of: object))/\(ObjectMeta.name(of: object))" }

    /// Starts over from a fresh list of owners; returns their keys.
    func reset(_ owners: [JSON]) -> [String] {
        keys.withLock { keys in keys = Dictionary(owners.map { (ObjectMeta.uid(of: $0), Self.key($0)) }, uniquingKeysWith: { first, _ in first }) }
        seen.withLock { seen in seen = Dictionary(owners.map { (ObjectMeta.uid(of: $0), $0) }, uniquingKeysWith: { first, _ in first }) }
        return owners.map(Self.key)
    }

    /// Records a change of an owner; returns its key when it needs a sync (not deleted, not only its status).
    func apply(_ change: ClusterChange) -> String? {
        let uid = ObjectMeta.uid(of: change.object)
        keys.withLock { $0[uid] = change.kind == .deleted ? nil : Self.key(change.object) }
        let statusOnly = seen.withLock { seen -> Bool in
            let previous = seen[uid]
            seen[uid] = change.kind == .deleted ? nil : change.object
            return change.kind == .modified && previous.map { Workloads.onlyStatusChanged($0, change.object) } == true
        }
        return change.kind == .deleted || statusOnly ? nil : Self.key(change.object)
    }

    /// The key of the owner of `kind` that controls `object`, if it is known.
    func owner(of object: JSON, kind: String) -> String? {
        guard let owner = ObjectMeta.controllerReference(of: object), owner.kind == kind else { return nil }
        return keys.withLock { $0[owner.uid] }
    }

    var allKeys: [String] { keys.withLock { Array($0.values) } }

    /// Lists and watches `type` until cancelled, listing again after a failure or the end of a watch.
    static func follow(_ type: ResourceType, client: any ClusterClient, logger: Logger, component: String,
                       listed: ([JSON]) -> Void, changed: (ClusterChange) -> Void) async {
        while !Task.isCancelled {
            do {
                let (objects, changes) = try client.listAndWatch(type)
                listed(objects)
                for await change in changes { changed(change) }
            } catch {
                logger.warning("\(component): watch failed", metadata: ["resource": "\(type.resource)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Syncs the owner named by `key` when it still exists: forgets the key's failures on success,
    /// retries it with back-off on an error.
    static func sync(_ key: String, type: ResourceType, client: any ClusterClient, queue: WorkQueue, logger: Logger, component: String,
                     _ body: (JSON) async throws -> Void) async {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let owner = client.get(type, namespace: parts[0], name: parts[1]) else { return }
        do {
            try await body(owner)
            queue.forget(key)
        } catch {
            logger.info("\(component): sync failed, will retry", metadata: ["object": "\(key)", "error": "\(error)"])
            queue.retry(key)
        }
    }
}
