import Foundation
import Kube9Lua
import Kube9Threads
import Logging
import Synchronization

/// Every installed policy, by slot and name, with atomic hot swap.
///
/// ```
/// policies/<slot>/<name>.lua ─┐
///                             ├─▶ LoadedPolicy (compiled, contract checked) ─▶ swap into table
/// Policy objects (API watch) ─┘         │ fails? previous version keeps serving
///                                       ▼
/// callers ─▶ policy(slot, name) ─▶ LoadedPolicy.call(hook) ─▶ pooled LuaState
/// ```
public final class PolicyHost: Sendable {
    /// A policy's identity.
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var slot: PolicySlot
        public var name: String
        public init(slot: PolicySlot, name: String) {
            self.slot = slot
            self.name = name
        }
        public var description: String { "\(slot.rawValue)/\(name)" }
    }

    private let installed = Mutex<[Key: LoadedPolicy]>([:])
    private let builtins = Mutex<[Key: PolicySource]>([:])
    let logger: Logger

    public init(logger: Logger = Logger(label: "kube9.policy")) {
        self.logger = logger
    }

    /// The policy name a file maps to: its stem with '_' as '-' ("best_fit.lua" → "best-fit").
    public static func policyName(forFile path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent.replacingOccurrences(of: "_", with: "-")
    }

    /// The policy files under a directory laid out as `<slot>/<name>.lua`, sorted.
    /// Folders and files starting with '_' (such as `_meta`) and `testdata` are skipped.
    public static func policyFiles(in directory: String) -> [(slot: PolicySlot, path: String)] {
        var files: [(PolicySlot, String)] = []
        for slot in PolicySlot.allCases {
            let folder = (directory as NSString).appendingPathComponent(slot.rawValue)
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for entry in entries.sorted() where entry.hasSuffix(".lua") && !entry.hasPrefix("_") {
                files.append((slot, (folder as NSString).appendingPathComponent(entry)))
            }
        }
        return files
    }

    /// Loads every policy file of a directory as a built-in. Returns the ones that failed
    /// (they are not installed; the others are).
    @discardableResult
    public func loadBuiltins(from directory: String) -> [PolicyError] {
        var failures: [PolicyError] = []
        for (slot, path) in Self.policyFiles(in: directory) {
            let name = Self.policyName(forFile: path)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                failures.append(PolicyError(kind: .load, slot: slot, name: name, message: "cannot read \(path)"))
                continue
            }
            let source = PolicySource(slot: slot, name: name, source: text, chunkName: path, origin: "builtin")
            do {
                try install(source)
                builtins.withLock { $0[Key(slot: slot, name: name)] = source }
            } catch {
                logger.error("built-in policy failed to load", metadata: ["policy": "\(slot.rawValue)/\(name)", "error": "\(error)"])
                failures.append(error)
            }
        }
        return failures
    }

    /// Compiles and checks a source without installing it.
    public func check(_ source: PolicySource) throws(PolicyError) {
        _ = try LoadedPolicy(source, logger: logger)
    }

    /// Loads `source` and, only if it loads and honours its slot's contract, makes it the
    /// version new calls use. Calls already running finish on the version they started with.
    @discardableResult
    public func install(_ source: PolicySource) throws(PolicyError) -> LoadedPolicy {
        let loaded = try LoadedPolicy(source, logger: logger)
        let key = Key(slot: source.slot, name: source.name)
        installed.withLock { $0[key] = loaded }
        logger.info("policy installed", metadata: ["policy": "\(key)", "version": "\(source.version)", "origin": "\(source.origin)"])
        return loaded
    }

    /// Removes a policy that came from a Policy object; a built-in of the same key comes back.
    public func remove(slot: PolicySlot, name: String) {
        let key = Key(slot: slot, name: name)
        let builtin = builtins.withLock { $0[key] }
        if let builtin, let loaded = try? LoadedPolicy(builtin, logger: logger) {
            installed.withLock { $0[key] = loaded }
            logger.info("policy reverted to its built-in", metadata: ["policy": "\(key)"])
        } else {
            _ = installed.withLock { $0.removeValue(forKey: key) }
            logger.info("policy removed", metadata: ["policy": "\(key)"])
        }
    }

    /// `check` on the Lua executor, for async callers.
    public func check(_ source: PolicySource) async throws(PolicyError) {
        _ = try await LoadedPolicy.load(source, logger: logger)
    }

    /// `install` on the Lua executor, for async callers.
    @discardableResult
    public func install(_ source: PolicySource) async throws(PolicyError) -> LoadedPolicy {
        try await LuaExecutor.shared.run { () throws(PolicyError) -> LoadedPolicy in try self.install(source) }
    }

    /// `remove` on the Lua executor (it may load the built-in again), for async callers.
    public func remove(slot: PolicySlot, name: String) async {
        await LuaExecutor.shared.run { () -> Void in self.remove(slot: slot, name: name) }
    }

    /// `loadBuiltins` on the Lua executor, for async callers.
    @discardableResult
    public func loadBuiltins(from directory: String) async -> [PolicyError] {
        await LuaExecutor.shared.run { () -> [PolicyError] in self.loadBuiltins(from: directory) }
    }

    /// `call` on the Lua executor, for async callers.
    public func call(slot: PolicySlot, name: String, hook: String, _ arguments: [LuaValue]) async throws(PolicyError) -> [LuaValue] {
        guard let policy = policy(slot: slot, name: name) else {
            throw PolicyError(kind: .missing, slot: slot, name: name, message: "no \(slot.rawValue) policy named \(name) is installed")
        }
        return try await policy.call(hook, arguments)
    }

    /// The version of a policy new calls use, if one is installed.
    public func policy(slot: PolicySlot, name: String) -> LoadedPolicy? {
        installed.withLock { $0[Key(slot: slot, name: name)] }
    }

    /// Calls a hook of the current version of a policy.
    public func call(slot: PolicySlot, name: String, hook: String, _ arguments: [LuaValue]) throws(PolicyError) -> [LuaValue] {
        guard let policy = policy(slot: slot, name: name) else {
            throw PolicyError(kind: .missing, slot: slot, name: name, message: "no \(slot.rawValue) policy named \(name) is installed")
        }
        return try policy.call(hook, arguments)
    }

    /// Every installed policy, sorted by slot and name.
    public var all: [LoadedPolicy] {
        installed.withLock { Array($0.values) }.sorted {
            ($0.source.slot.rawValue, $0.source.name) < ($1.source.slot.rawValue, $1.source.name)
        }
    }
}
