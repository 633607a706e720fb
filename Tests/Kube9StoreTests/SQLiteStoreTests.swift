import Foundation
import Kube9Model
import Kube9Store
import Testing

func temporaryStorePath() -> String {
    let directory = NSTemporaryDirectory() + "kube9-store-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory + "/kube9.db"
}

func key(_ name: String, namespace: String = "default") -> ObjectKey {
    ObjectKey(resource: "pods", namespace: namespace, name: name)
}

func object(_ name: String, _ value: Int64 = 0) -> JSON {
    ["metadata": ["name": .string(name)], "value": .int(value)]
}

func put(_ store: SQLiteStore, _ name: String, _ value: Int64 = 0) async throws -> MutationResult {
    try await store.mutate(key(name)) { _ in .put(object(name, value)) }
}

struct Boom: Error {}

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test("create, update and delete bump one global revision and stamp resourceVersion")
    func revisions() async throws {
        let store = try SQLiteStore(options: SQLiteStoreOptions(path: temporaryStorePath()))
        let created = try await put(store, "a")
        #expect(created.outcome == .created)
        #expect(created.object?.revision == 1)
        #expect(created.object?.object[path: ["metadata", "resourceVersion"]] == "1")
        let updated = try await put(store, "a", 2)
        #expect(updated.outcome == .updated)
        #expect(updated.previous?.revision == 1)
        _ = try await put(store, "b")
        let deleted = try await store.mutate(key("a")) { _ in .delete }
        #expect(deleted.outcome == .deleted)
        #expect(deleted.object?.revision == 4)
        #expect(store.currentRevision == 4)
        #expect(store.get(key("a")) == nil)
        #expect(store.list(resource: "pods", namespace: "default").objects.map(\.key.name) == ["b"])
        await store.close()
    }

    @Test("a throwing transform changes nothing and its error reaches the caller")
    func failedTransform() async throws {
        let store = try SQLiteStore(options: SQLiteStoreOptions(path: temporaryStorePath()))
        _ = try await put(store, "a")
        await #expect(throws: Boom.self) { try await store.mutate(key("a")) { _ in throw Boom() } }
        #expect(store.currentRevision == 1)
        await store.close()
    }

    @Test("concurrent writers share commits and every write is applied exactly once")
    func groupCommit() async throws {
        let store = try SQLiteStore(options: SQLiteStoreOptions(path: temporaryStorePath()))
        _ = try await put(store, "counter", 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    _ = try await store.mutate(key("counter")) { current in
                        .put(object("counter", (current?.object["value"]?.intValue ?? 0) + 1))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(store.get(key("counter"))?.object["value"] == 200)
        #expect(store.currentRevision == 201)
        await store.close()
    }

    @Test("state and revision survive a reopen")
    func persistence() async throws {
        let path = temporaryStorePath()
        var store = try SQLiteStore(options: SQLiteStoreOptions(path: path))
        for index in 0..<20 { _ = try await put(store, "p\(index)", Int64(index)) }
        _ = try await store.mutate(key("p3")) { _ in .delete }
        await store.close()
        store = try SQLiteStore(options: SQLiteStoreOptions(path: path))
        #expect(store.currentRevision == 21)
        #expect(store.count(resource: "pods") == 19)
        #expect(store.get(key("p7"))?.object["value"] == 7)
        #expect(store.get(key("p3")) == nil)
        #expect(try SQLiteStore.integrityCheck(path: path) == "ok")
        await store.close()
    }

    @Test("watch resumes from a revision, in order, and 410s past the history")
    func watchHistory() async throws {
        let store = try SQLiteStore(options: SQLiteStoreOptions(path: temporaryStorePath(), historyLimit: 10))
        for index in 0..<30 { _ = try await put(store, "w\(index % 5)", Int64(index)) }
        #expect(throws: StoreError.self) { try store.watch(WatchFilter(resource: "pods", namespace: nil), fromRevision: 5) }
        let subscription = try store.watch(WatchFilter(resource: "pods", namespace: nil), fromRevision: 25)
        _ = try await put(store, "late")
        var revisions: [Int64] = []
        for await event in subscription.events {
            revisions.append(event.revision)
            if revisions.count == 6 { break }
        }
        subscription.cancel()
        #expect(revisions == [26, 27, 28, 29, 30, 31])
        await store.close()
    }

    @Test("a watch without a revision starts with the current objects, then live changes")
    func watchInitialState() async throws {
        let store = try SQLiteStore(options: SQLiteStoreOptions(path: temporaryStorePath()))
        _ = try await put(store, "b")
        _ = try await put(store, "a")
        let subscription = try store.watch(WatchFilter(resource: "pods", namespace: "default"), fromRevision: nil)
        _ = try await store.mutate(key("a")) { _ in .delete }
        var seen: [String] = []
        for await event in subscription.events {
            seen.append("\(event.kind.rawValue) \(event.object?.key.name ?? "")")
            if seen.count == 3 { break }
        }
        #expect(seen == ["ADDED a", "ADDED b", "DELETED a"])
        await store.close()
    }

    @Test("compaction bounds the log and keeps the latest versions")
    func compaction() async throws {
        let path = temporaryStorePath()
        var store = try SQLiteStore(options: SQLiteStoreOptions(path: path, historyLimit: 20))
        for index in 0..<200 { _ = try await put(store, "c\(index % 3)", Int64(index)) }
        await store.close()
        store = try SQLiteStore(options: SQLiteStoreOptions(path: path, historyLimit: 20))
        #expect(store.count(resource: "pods") == 3)
        #expect(store.get(key("c2"))?.object["value"] == 197)
        #expect(store.currentRevision == 200)
        #expect(store.compactedRevision > 100)
        await store.close()
    }

    @Test("closing ends watches and refuses new writes")
    func closing() async throws {
        let store = try SQLiteStore(options: SQLiteStoreOptions(path: temporaryStorePath()))
        let subscription = try store.watch(WatchFilter(resource: "pods", namespace: nil), fromRevision: 0)
        await store.close()
        for await _ in subscription.events {}
        await #expect(throws: StoreError.self) { try await put(store, "x") }
    }
}
