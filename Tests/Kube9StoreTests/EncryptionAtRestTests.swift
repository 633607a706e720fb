import Foundation
import Kube9Model
import Kube9Store
import Testing

@Suite("encryption at rest")
struct EncryptionAtRestTests {
    static func secretKey(_ name: String) -> ObjectKey { ObjectKey(resource: "secrets", namespace: "default", name: name) }

    static func options(_ path: String, keys: [AESGCMTransformer.Key]) -> SQLiteStoreOptions {
        var options = SQLiteStoreOptions(path: path)
        options.transformer = AESGCMTransformer(resources: ["secrets"], keys: keys)
        return options
    }

    /// Every byte of the database, its WAL and shared-memory files.
    static func rawBytes(_ path: String) -> Data {
        ["", "-wal", "-shm"].reduce(into: Data()) { all, suffix in all.append(FileManager.default.contents(atPath: path + suffix) ?? Data()) }
    }

    @Test("a secret's value never reaches the database file; it reads back after a restart, under a rotated key too")
    func secretsEncrypted() async throws {
        let path = temporaryStorePath()
        let directory = (path as NSString).deletingLastPathComponent
        let first = try EncryptionKeyFile.loadOrCreate(directory: directory)
        #expect(first.count == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + EncryptionKeyFile.fileName)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // Loading again reads the same key, not a new one.
        #expect(try EncryptionKeyFile.loadOrCreate(directory: directory).map(\.name) == first.map(\.name))

        let marker = "hunter2-plain-marker"
        let secret: JSON = ["metadata": ["name": "db"], "data": ["password": .string(Base64.encode(Array(marker.utf8)))], "note": .string(marker)]
        var store = try SQLiteStore(options: Self.options(path, keys: first))
        _ = try await store.mutate(Self.secretKey("db")) { _ in .put(secret) }
        _ = try await store.mutate(ObjectKey(resource: "configmaps", namespace: "default", name: "c")) { _ in .put(["metadata": ["name": "c"], "data": ["k": "configmap-plain-marker"]]) }
        #expect(store.get(Self.secretKey("db"))?.object["note"] == .string(marker))
        await store.close()
        let raw = Self.rawBytes(path)
        #expect(raw.range(of: Data(marker.utf8)) == nil, "the secret's value is in the database file")
        #expect(raw.range(of: Data(Base64.encode(Array(marker.utf8)).utf8)) == nil)
        #expect(raw.range(of: Data("k8s:enc:aesgcm:v1:\(first.first?.name ?? "-"):".utf8)) != nil)
        #expect(raw.range(of: Data("configmap-plain-marker".utf8)) != nil, "only secrets are encrypted")

        // Rotation: a new first key writes, the old one still reads; the start re-encrypts every
        // stored row (history included), so the old key can then leave the file.
        let firstName = try #require(first.first?.name)
        let rotated = [AESGCMTransformer.Key(name: "key-2", bytes: Array(repeating: 7, count: 32))] + first
        store = try SQLiteStore(options: Self.options(path, keys: rotated))
        #expect(store.get(Self.secretKey("db"))?.object["note"] == .string(marker))
        await store.close()
        let afterRotation = Self.rawBytes(path)
        #expect(afterRotation.range(of: Data("k8s:enc:aesgcm:v1:key-2:".utf8)) != nil)
        #expect(afterRotation.range(of: Data("k8s:enc:aesgcm:v1:\(firstName):".utf8)) == nil, "a row is still under the old key")
        store = try SQLiteStore(options: Self.options(path, keys: [rotated[0]]))
        #expect(store.get(Self.secretKey("db"))?.object["note"] == .string(marker))
        await store.close()

        // A key the file does not list: the store refuses to start, naming the key.
        let error = #expect(throws: (any Error).self) { _ = try SQLiteStore(options: Self.options(path, keys: first)) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("key-2"), "\(String(describing: error))")

        // Secrets stored before encryption are encrypted at the next start.
        let plainPath = temporaryStorePath()
        store = try SQLiteStore(options: SQLiteStoreOptions(path: plainPath))
        _ = try await store.mutate(Self.secretKey("old")) { _ in .put(secret) }
        await store.close()
        #expect(Self.rawBytes(plainPath).range(of: Data(marker.utf8)) != nil)
        store = try SQLiteStore(options: Self.options(plainPath, keys: first))
        #expect(store.get(Self.secretKey("old"))?.object["note"] == .string(marker))
        await store.close()
        #expect(Self.rawBytes(plainPath).range(of: Data(marker.utf8)) == nil, "a plain row survived the start")
    }

    @Test("a value moved to another object, a wrong key or a damaged value does not decrypt")
    func tamper() throws {
        let transformer = AESGCMTransformer(resources: ["secrets"], keys: [AESGCMTransformer.Key(name: "k", bytes: Array(repeating: 1, count: 32))])
        let sealed = try transformer.toStorage(Array("{\"a\":1}".utf8), key: Self.secretKey("a"))
        #expect(try transformer.fromStorage(sealed, key: Self.secretKey("a")) == Array("{\"a\":1}".utf8))
        #expect(throws: EncryptionError.self) { try transformer.fromStorage(sealed, key: Self.secretKey("b")) }
        var damaged = sealed
        damaged[damaged.count - 1] ^= 1
        #expect(throws: EncryptionError.self) { try transformer.fromStorage(damaged, key: Self.secretKey("a")) }
        #expect(throws: EncryptionError.self) { try transformer.fromStorage(Array(sealed.prefix(30)), key: Self.secretKey("a")) }
        let other = AESGCMTransformer(resources: ["secrets"], keys: [AESGCMTransformer.Key(name: "k", bytes: Array(repeating: 2, count: 32))])
        #expect(throws: EncryptionError.self) { try other.fromStorage(sealed, key: Self.secretKey("a")) }
        // Two writes of one value differ (a fresh nonce each time).
        #expect(try transformer.toStorage(Array("{}".utf8), key: Self.secretKey("a")) != transformer.toStorage(Array("{}".utf8), key: Self.secretKey("a")))
    }

    @Test("key files with bad names, short secrets, duplicates or no keys are refused with the field")
    func keyFiles() {
        let good = Base64.encode(Array(repeating: UInt8(3), count: 32))
        for (contents, expected) in [
            ("{}", "at least one key"), ("{\"keys\": []}", "at least one key"), ("not json", "at least one key"),
            ("{\"keys\": [{\"name\": \"a b\", \"secret\": \"\(good)\"}]}", "keys[0].name"),
            ("{\"keys\": [{\"name\": \"a\", \"secret\": \"c2hvcnQ=\"}]}", "keys[0].secret"),
            ("{\"keys\": [{\"name\": \"a\", \"secret\": \"\(good)\"}, {\"name\": \"a\", \"secret\": \"\(good)\"}]}", "listed twice"),
        ] {
            let error = #expect(throws: EncryptionError.self) { _ = try EncryptionKeyFile.parse(Array(contents.utf8), path: "f") }
            #expect(error?.description.contains(expected) == true, "\(contents): \(String(describing: error))")
        }
    }
}
