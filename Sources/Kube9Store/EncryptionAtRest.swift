import Crypto
import Foundation
import Kube9Model

/// Changes an object's bytes on their way to and from the database (Kubernetes' storage value
/// transformer): the in-memory cache, watches and API answers always see the plain object.
public protocol StorageTransformer: Sendable {
    /// The resources (store names) whose objects it changes.
    var resources: Set<String> { get }
    /// The bytes to write for `key`'s object.
    func toStorage(_ bytes: [UInt8], key: ObjectKey) throws(EncryptionError) -> [UInt8]
    /// The object's bytes from what was written for `key`.
    func fromStorage(_ bytes: [UInt8], key: ObjectKey) throws(EncryptionError) -> [UInt8]
    /// Whether what was written for `key` should be written again (plain where it should be
    /// encrypted, or encrypted with a key that no longer writes): the store rewrites such rows at start.
    func isStale(_ bytes: [UInt8], key: ObjectKey) -> Bool
}

/// What went wrong reading or writing an encrypted value, naming the object and the key.
public struct EncryptionError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// AES-256-GCM encryption of whole objects of chosen resources (Secrets), as Kubernetes'
/// `aesgcm` provider does: the stored value is `k8s:enc:aesgcm:v1:<key name>:` followed by a
/// random 12-byte nonce, the ciphertext and the 16-byte tag; the object's store key
/// (`resource/namespace/name`) is authenticated with it, so a value cannot be moved to
/// another object. The first key encrypts; every key listed decrypts (rotation). Values
/// without the prefix are read as written (objects stored before encryption was on).
public struct AESGCMTransformer: StorageTransformer {
    public struct Key: Sendable {
        public let name: String
        let key: SymmetricKey
        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.key = SymmetricKey(data: bytes)
        }
    }

    /// Resources whose objects are encrypted (their store names, e.g. "secrets").
    public let resources: Set<String>
    /// The first encrypts; all decrypt.
    public let keys: [Key]
    static let prefix = Array("k8s:enc:aesgcm:v1:".utf8)

    public init(resources: Set<String>, keys: [Key]) {
        self.resources = resources
        self.keys = keys
    }

    static func authenticated(_ key: ObjectKey) -> [UInt8] { Array("\(key.resource)/\(key.namespace)/\(key.name)".utf8) }

    public func toStorage(_ bytes: [UInt8], key: ObjectKey) throws(EncryptionError) -> [UInt8] {
        guard resources.contains(key.resource), let writer = keys.first else { return bytes }
        do {
            let sealed = try AES.GCM.seal(bytes, using: writer.key, nonce: AES.GCM.Nonce(), authenticating: Self.authenticated(key))
            var output = Self.prefix + Array(writer.name.utf8) + [UInt8(ascii: ":")]
            output.append(contentsOf: sealed.nonce)
            output.append(contentsOf: sealed.ciphertext)
            output.append(contentsOf: sealed.tag)
            return output
        } catch {
            throw EncryptionError("encrypting \(key.resource) \(key.namespace)/\(key.name) failed: \(error)")
        }
    }

    public func isStale(_ bytes: [UInt8], key: ObjectKey) -> Bool {
        guard resources.contains(key.resource), let writer = keys.first else { return false }
        return !bytes.starts(with: Self.prefix + Array(writer.name.utf8) + [UInt8(ascii: ":")])
    }

    public func fromStorage(_ bytes: [UInt8], key: ObjectKey) throws(EncryptionError) -> [UInt8] {
        guard bytes.starts(with: Self.prefix) else { return bytes }
        let rest = bytes[Self.prefix.count...]
        guard let colon = rest.firstIndex(of: UInt8(ascii: ":")) else {
            throw EncryptionError("\(key.resource) \(key.namespace)/\(key.name): an encrypted value without a key name")
        }
        let name = String(decoding: rest[rest.startIndex..<colon], as: UTF8.self)
        guard let reader = keys.first(where: { $0.name == name }) else {
            throw EncryptionError("\(key.resource) \(key.namespace)/\(key.name) is encrypted with key \"\(name)\", which the encryption key file does not list (keys: \(keys.map(\.name).joined(separator: ", ")))")
        }
        let sealedBytes = bytes[(colon + 1)...]
        guard sealedBytes.count >= 12 + 16 else { throw EncryptionError("\(key.resource) \(key.namespace)/\(key.name): an encrypted value too short") }
        do {
            let box = try AES.GCM.SealedBox(combined: sealedBytes)
            return Array(try AES.GCM.open(box, using: reader.key, authenticating: Self.authenticated(key)))
        } catch {
            throw EncryptionError("\(key.resource) \(key.namespace)/\(key.name) does not decrypt with key \"\(name)\": \(error)")
        }
    }
}

/// The encryption key file in the data directory (`encryption-keys.json`, mode 0600):
/// `{"keys": [{"name": "key-1", "secret": "<base64 of 32 bytes>"}, …]}`, the first key writing.
/// Created with one random key on first start.
public enum EncryptionKeyFile {
    public static let fileName = "encryption-keys.json"

    /// Reads the file in `directory`, creating it with a new random key when it does not exist.
    public static func loadOrCreate(directory: String) throws(EncryptionError) -> [AESGCMTransformer.Key] {
        let path = (directory as NSString).appendingPathComponent(fileName)
        if !FileManager.default.fileExists(atPath: path) {
            let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            // A name of its own (the creation time), so a lost file replaced by a new one is told apart
            // from the key that wrote the rows.
            let name = "key-\(Timestamp.nowSeconds())"
            let document: JSON = ["keys": [["name": .string(name), "secret": .string(Base64.encode(secret))]]]
            let bytes = document.serialized() + [UInt8(ascii: "\n")]
            // Created 0600 at once (no moment readable by others); O_EXCL: two servers never both write one.
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if descriptor >= 0 {
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                close(descriptor)
                guard written == bytes.count else { throw EncryptionError("cannot write the encryption key file \(path)") }
            } else if errno != EEXIST {
                throw EncryptionError("cannot create the encryption key file \(path): errno \(errno)")
            }
        }
        guard let contents = FileManager.default.contents(atPath: path) else { throw EncryptionError("cannot read the encryption key file \(path)") }
        return try parse(Array(contents), path: path)
    }

    /// The keys a file's contents list, each checked: a name of [A-Za-z0-9._-], 32 bytes of base64, no name twice.
    public static func parse(_ contents: [UInt8], path: String) throws(EncryptionError) -> [AESGCMTransformer.Key] {
        guard let document = try? JSON.parse(contents), let entries = document["keys"]?.arrayValue, !entries.isEmpty else {
            throw EncryptionError("\(path): expected {\"keys\": [{\"name\": …, \"secret\": …}]} with at least one key")
        }
        var keys: [AESGCMTransformer.Key] = []
        for (index, entry) in entries.enumerated() {
            guard let name = entry["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 64,
                  name.utf8.allSatisfy({ NameRules.isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
            else { throw EncryptionError("\(path): keys[\(index)].name must be 1 to 64 characters of letters, digits, '-', '_' or '.'") }
            guard let secret = entry["secret"]?.stringValue.flatMap(Base64.decode), secret.count == 32 else {
                throw EncryptionError("\(path): keys[\(index)].secret must be 32 bytes in base64 (AES-256)")
            }
            guard !keys.contains(where: { $0.name == name }) else { throw EncryptionError("\(path): key name \"\(name)\" is listed twice") }
            keys.append(AESGCMTransformer.Key(name: name, bytes: secret))
        }
        return keys
    }
}
