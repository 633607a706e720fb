import Kube9Model
import Kube9Store

/// PUT and PATCH: the update rules, and writes that run an admission check or a reserver outside the store.
extension ObjectRegistry {
    // MARK: Update and patch

    /// Which part of an object a write replaces.
    public enum Part: Sendable { case main, status }

    /// PUT: replaces the object (or its status) with `body`, honouring its resourceVersion.
    public func update(_ strategy: any ResourceStrategy, namespace: String, name: String, body: JSON, part: Part = .main,
                       options: WriteOptions = WriteOptions()) async throws -> WriteResult {
        let type = strategy.type
        let object = try checkBody(body, type: type, namespace: namespace)
        let bodyName = ObjectMeta.name(of: object)
        if bodyName != name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        let warnings = try fieldWarnings(object, type: type, validation: options.fieldValidation)
        let result = try await write(strategy, namespace: namespace, name: name, dryRun: options.dryRun) { current throws in
            try Self.applyUpdate(strategy, current: current, proposed: object, part: part)
        }
        return WriteResult(object: result.object?.object ?? object, created: false, warnings: warnings)
    }

    /// PATCH: applies a merge, JSON or strategic merge patch to the current object atomically.
    public func patch(_ strategy: any ResourceStrategy, namespace: String, name: String, patchType: PatchType, patch: JSON,
                      part: Part = .main, options: WriteOptions = WriteOptions()) async throws -> WriteResult {
        let type = strategy.type
        let mergeKeys = strategy.mergeKeys
        let catalog = self.catalog
        let validation = options.fieldValidation
        let result = try await write(strategy, namespace: namespace, name: name, dryRun: options.dryRun) { current throws in
            var patched: JSON
            switch patchType {
            case .merge:
                guard case .object = patch else { throw APIError.badRequest("a merge patch must be a JSON object, got \(patch.typeName)") }
                patched = Patcher.mergePatch(current.object, patch)
            case .json: patched = try Patcher.jsonPatch(current.object, patch)
            case .strategic:
                guard case .object = patch else { throw APIError.badRequest("a strategic merge patch must be a JSON object, got \(patch.typeName)") }
                patched = try Patcher.strategicMerge(current.object, patch, mergeKeys: mergeKeys)
            case .apply:
                throw APIError.unsupportedMediaType("server-side apply (application/apply-patch+yaml) is not supported by kube9 yet; use client-side `kubectl apply`")
            }
            guard case .object = patched else {
                throw APIError.badRequest("the patched object must be a JSON object, got \(patched.typeName)")
            }
            try Self.checkStorable(patched, type: type)
            if validation == .strict, let definition = catalog.definitionName(of: type) {
                let unknown = catalog.schemas.unknownFields(in: patched, definition: definition)
                if !unknown.isEmpty {
                    throw APIError.badRequest("strict decoding error: " + unknown.map { "unknown field \"\($0)\"" }.joined(separator: ", "))
                }
            }
            if ObjectMeta.name(of: patched) != name {
                throw APIError.badRequest("the name of the object (\(ObjectMeta.name(of: patched))) does not match the name on the URL (\(name))")
            }
            return try Self.applyUpdate(strategy, current: current, proposed: patched, part: part)
        }
        return WriteResult(object: result.object?.object ?? .null, created: false, warnings: [])
    }

    /// Writes the mutation `change` computes from the current object. Without an admission
    /// check for the kind, `change` runs inside the store transform (atomic with the commit).
    /// With one, `change` and the check run outside the store, and the commit requires that
    /// the object has not changed meanwhile (else the whole attempt is repeated): the check
    /// never runs on the store's writer thread.
    func write(_ strategy: any ResourceStrategy, namespace: String, name: String, dryRun: Bool,
               _ change: @escaping @Sendable (StoredObject) throws -> Mutation) async throws -> MutationResult {
        let type = strategy.type
        let key = Self.key(type, namespace: namespace, name: name)
        let reserve = reservers[type.storageName]
        guard admission[type.storageName] != nil || reserve != nil else {
            return try await commit(key, dryRun: dryRun, type: type) { current in
                guard let current else { throw APIError.notFound(resource: type.resource, group: type.group, name: name) }
                return try change(current)
            }
        }
        for _ in 0..<8 {
            guard let current = store.get(key) else { throw APIError.notFound(resource: type.resource, group: type.group, name: name) }
            var mutation = try change(current)
            var release: (@Sendable () -> Void)? = nil
            defer { release?() }
            if case .put(var object) = mutation {
                try await admission[type.storageName]?(object)
                if let reserve {
                    release = try reserve(&object, current.object)
                    mutation = .put(object)
                }
            }
            let seen = current.revision
            let planned = mutation
            do {
                return try await commit(key, dryRun: dryRun, type: type) { latest in
                    guard let latest else { throw APIError.notFound(resource: type.resource, group: type.group, name: name) }
                    guard latest.revision == seen else { throw ConcurrentChange() }
                    return planned
                }
            } catch is ConcurrentChange {
                continue
            }
        }
        throw APIError.conflict(resource: type.resource, group: type.group, name: name,
                                message: "the object kept changing while its admission check ran; please try again")
    }

    /// The object changed between an admission check and its commit.
    struct ConcurrentChange: Error {}

    /// The shared update rules: preconditions, server-owned metadata, the status/main split,
    /// generation, validation, no-op detection and finalizer completion.
    static func applyUpdate(_ strategy: any ResourceStrategy, current: StoredObject, proposed: JSON, part: Part) throws -> Mutation {
        let type = strategy.type
        let name = current.key.name
        let old = current.object
        if let version = proposed[path: ["metadata", "resourceVersion"]]?.stringValue, !version.isEmpty, version != String(current.revision) {
            guard Int64(version) != nil else { throw APIError.badRequest("invalid resourceVersion \"\(version)\": must be an integer") }
            throw APIError.conflict(resource: type.resource, group: type.group, name: name,
                                    message: "the object has been modified; please apply your changes to the latest version and try again")
        }
        if let uid = proposed[path: ["metadata", "uid"]]?.stringValue, !uid.isEmpty, uid != ObjectMeta.uid(of: old) {
            throw APIError.conflict(resource: type.resource, group: type.group, name: name,
                                    message: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(ObjectMeta.uid(of: old))")
        }
        var object: JSON
        switch part {
        case .status:
            object = old
            object["status"] = proposed["status"]
            strategy.prepareForStatusUpdate(&object, old: old)
        case .main:
            object = proposed
            strategy.prepareForUpdate(&object, old: old)
        }
        var metadata = object["metadata"] ?? .emptyObject
        if case .object = metadata {} else { metadata = .emptyObject }
        for field in ["uid", "creationTimestamp", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
            metadata[field] = old[path: ["metadata", field]]
        }
        metadata["resourceVersion"] = old[path: ["metadata", "resourceVersion"]]
        metadata["selfLink"] = nil
        object["metadata"] = metadata
        if part == .main, strategy.specChanged(object, old: old) {
            let generation = old[path: ["metadata", "generation"]]?.intValue ?? 0
            object[path: ["metadata", "generation"]] = .int(generation.saturatingAdd(1))
        }
        let causes = Self.withTypeCheck(strategy.validateUpdate(object, old: old), object, type: type)
        if !causes.isEmpty { throw APIError.invalid(kind: type.kind, group: type.group, name: name, causes: causes) }
        if ObjectMeta.deletionTimestamp(of: old) != nil {
            let oldFinalizers = Set(ObjectMeta.finalizers(of: old))
            let newFinalizers = ObjectMeta.finalizers(of: object)
            if let added = newFinalizers.first(where: { !oldFinalizers.contains($0) }) {
                throw APIError.invalid(kind: type.kind, group: type.group, name: name, causes: [
                    .forbidden("metadata.finalizers", "no new finalizers (\(added)) can be added if the object is being deleted")
                ])
            }
            if newFinalizers.isEmpty, (old[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue ?? 0) == 0 || type.kind != "Pod" {
                return .delete
            }
        }
        if object == old { return .none }
        return .put(object)
    }
}
