import Foundation
import Kube9Model

/// Start-up: stale encrypted rows rewritten, then the live objects and recent history read into memory.
extension SQLiteStore {
    func fromStorage(_ bytes: [UInt8], key: ObjectKey) throws -> [UInt8] {
        guard let transformer = options.transformer else { return bytes }
        return try transformer.fromStorage(bytes, key: key)
    }

    /// Rewrites every stored row of the transformer's resources that is stale (plain, or under a
    /// key that no longer writes), history included, so an old key can leave the key file after one start.
    func rewriteStaleRows() throws {
        guard let transformer = options.transformer else { return }
        var stale: [(Int64, [UInt8])] = []
        for resource in transformer.resources.sorted() {
            try connection.query("SELECT revision, resource, namespace, name, data FROM log WHERE resource = ?", [.text(resource)]) { row in
                let key = ObjectKey(resource: row.text(1), namespace: row.text(2), name: row.text(3))
                let bytes = row.blob(4)
                guard transformer.isStale(bytes, key: key) else { return }
                stale.append((row.integer(0), try transformer.toStorage(try transformer.fromStorage(bytes, key: key), key: key)))
            }
        }
        guard !stale.isEmpty else { return }
        // secure_delete zeroes the replaced content, and the checkpoint empties the WAL, so the old
        // (plain or old-key) bytes do not stay in the files.
        try connection.execute("PRAGMA secure_delete = ON")
        defer { try? connection.execute("PRAGMA secure_delete = OFF") }
        try connection.execute("BEGIN IMMEDIATE")
        do {
            for (revision, bytes) in stale { try connection.run("UPDATE log SET data = ? WHERE revision = ?", [.blob(bytes), .integer(revision)]) }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
        try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        logger.info("stored rows re-encrypted with the current key", metadata: ["rows": "\(stale.count)"])
    }

    func load() throws {
        try rewriteStaleRows()
        var loaded = State()
        let compacted = try connection.scalar("SELECT value FROM meta WHERE key = 'compacted'") ?? 0
        let maximum = try connection.scalar("SELECT MAX(revision) FROM log") ?? 0
        loaded.revision = max(compacted, maximum)
        var count = 0
        try connection.query("""
            SELECT l.revision, l.resource, l.namespace, l.name, l.data FROM log l
            JOIN (SELECT MAX(revision) AS latest FROM log GROUP BY resource, namespace, name) m ON l.revision = m.latest
            WHERE l.kind != 2
            """) { row in
            let key = ObjectKey(resource: row.text(1), namespace: row.text(2), name: row.text(3))
            let bytes = try fromStorage(row.blob(4), key: key)
            let object = try JSON.parse(bytes)
            loaded.buckets[key.resource, default: [:]][key.namespace, default: [:]][key.name] =
                StoredObject(key: key, revision: row.integer(0), object: object, bytes: bytes)
            count += 1
        }
        // Recent history, for watches that resume across a restart.
        var floor = max(compacted, loaded.revision - Int64(options.historyLimit))
        var previousByKey: [ObjectKey: StoredObject] = [:]
        try connection.query("""
            SELECT revision, resource, namespace, name, kind, data FROM log WHERE revision > ? ORDER BY revision
            """, [.integer(floor)]) { row in
            let key = ObjectKey(resource: row.text(1), namespace: row.text(2), name: row.text(3))
            let bytes = try fromStorage(row.blob(5), key: key)
            let stored = StoredObject(key: key, revision: row.integer(0), object: try JSON.parse(bytes), bytes: bytes)
            let kind = Self.kind(code: row.integer(4))
            loaded.history.append(StoreEvent(kind: kind, object: stored, previous: previousByKey[key], revision: stored.revision))
            loaded.historyBytes += bytes.count
            while loaded.historyBytes > options.historyByteLimit, let dropped = loaded.history.popFirst() {
                loaded.historyBytes -= dropped.object?.bytes.count ?? 0
                floor = dropped.revision
            }
            previousByKey[key] = kind == .deleted ? nil : stored
        }
        loaded.compactedRevision = floor
        loaded.lastCompactionRevision = floor
        logger.info("store loaded", metadata: ["objects": "\(count)", "revision": "\(loaded.revision)", "path": "\(options.path)"])
        state.withLock { $0 = loaded }
    }
}
