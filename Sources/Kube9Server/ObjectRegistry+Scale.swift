import Kube9Model
import Kube9Store

/// The scale subresource (autoscaling/v1 Scale) of the kinds that have `spec.replicas`.
extension ObjectRegistry {
    /// GET .../NAME/scale.
    public func scale(_ strategy: any ResourceStrategy, namespace: String, name: String) throws(APIError) -> JSON {
        Workloads.scale(of: try get(strategy.type, namespace: namespace, name: name).object)
    }

    /// PUT .../NAME/scale: sets `spec.replicas` from a Scale, honouring its resourceVersion.
    public func updateScale(_ strategy: any ResourceStrategy, namespace: String, name: String, body: JSON,
                            options: WriteOptions = WriteOptions()) async throws -> JSON {
        let replicas = try Self.checkScale(body, name: name)
        let version = body[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
        let type = strategy.type
        let result = try await write(strategy, namespace: namespace, name: name, dryRun: options.dryRun) { current throws in
            if !version.isEmpty, version != String(current.revision) {
                throw APIError.conflict(resource: type.resource, group: type.group, name: name,
                                        message: "the object has been modified; please apply your changes to the latest version and try again")
            }
            var object = current.object
            object[path: ["spec", "replicas"]] = .int(replicas)
            return try Self.applyUpdate(strategy, current: current, proposed: object, part: .main)
        }
        return Workloads.scale(of: result.object?.object ?? .null)
    }

    /// PATCH .../NAME/scale: the patch applies to the Scale, whose replicas are then written.
    public func patchScale(_ strategy: any ResourceStrategy, namespace: String, name: String, patchType: PatchType, patch: JSON,
                           options: WriteOptions = WriteOptions()) async throws -> JSON {
        let current = try scale(strategy, namespace: namespace, name: name)
        let patched: JSON
        switch patchType {
        case .merge:
            guard case .object = patch else { throw APIError.badRequest("a merge patch must be a JSON object, got \(patch.typeName)") }
            patched = Patcher.mergePatch(current, patch)
        case .json: patched = try Patcher.jsonPatch(current, patch)
        case .strategic:
            guard case .object = patch else { throw APIError.badRequest("a strategic merge patch must be a JSON object, got \(patch.typeName)") }
            patched = try Patcher.strategicMerge(current, patch, mergeKeys: .metadata)
        case .apply:
            throw APIError.unsupportedMediaType("server-side apply (application/apply-patch+yaml) is not supported by kube9 yet; use client-side `kubectl apply`")
        }
        // The Scale read here carries the current resourceVersion; it is a precondition only when the patch set one.
        var body = patched
        if patch[path: ["metadata", "resourceVersion"]] == nil, patchType != .json || !(patch.arrayValue ?? []).contains(where: { $0["path"]?.stringValue == "/metadata/resourceVersion" }) {
            body[path: ["metadata", "resourceVersion"]] = Optional<JSON>.none
        }
        return try await updateScale(strategy, namespace: namespace, name: name, body: body, options: options)
    }

    /// The replicas of a Scale body; 400/422 naming what is wrong.
    static func checkScale(_ body: JSON, name: String) throws(APIError) -> Int64 {
        guard case .object = body else { throw APIError.badRequest("the body of the request must be a Scale object, got \(body.typeName)") }
        if let kind = body["kind"], !kind.isNull, kind.stringValue != "Scale" {
            throw APIError.badRequest("\(kind.stringValue ?? kind.text) cannot be handled as a Scale")
        }
        if let bodyName = body[path: ["metadata", "name"]]?.stringValue, !bodyName.isEmpty, bodyName != name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        var causes: [FieldCause] = []
        let replicas = body[path: ["spec", "replicas"]]
        CommonSchemas.checkInteger(replicas, "spec.replicas", in: 0...Workloads.maximumReplicas, into: &causes)
        if !causes.isEmpty { throw APIError.invalid(kind: "Scale", group: "autoscaling", name: name, causes: causes) }
        return replicas?.intValue ?? 0
    }
}
