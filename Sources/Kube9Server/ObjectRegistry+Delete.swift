import Kube9Model
import Kube9Store

/// Deletion (graceful, finalizers, namespaces) and pod binding.
extension ObjectRegistry {
    // MARK: Delete

    /// Parsed DeleteOptions (body and query).
    public struct DeleteOptions: Sendable {
        public var gracePeriodSeconds: Int64?
        public var preconditionUID: String?
        public var preconditionResourceVersion: String?
        public var dryRun = false
        /// How dependents are treated: Background (the default: the object goes now, the garbage
        /// collector deletes its dependents after), Foreground (the object stays, with the
        /// foregroundDeletion finalizer, until its blocking dependents are gone) or Orphan (the
        /// dependents lose their reference to it first, through the orphan finalizer).
        public var propagationPolicy: PropagationPolicy?
        public init() {}
    }

    /// DeleteOptions.propagationPolicy.
    public enum PropagationPolicy: String, Sendable {
        case background = "Background", foreground = "Foreground", orphan = "Orphan"
    }

    /// The finalizer that keeps an owner while the garbage collector deletes its dependents.
    public static let foregroundFinalizer = "foregroundDeletion"
    /// The finalizer that keeps an owner while the garbage collector orphans its dependents.
    public static let orphanFinalizer = "orphan"

    /// The outcome of a delete: the object as it is now (gone, or marked for deletion).
    public struct DeleteResult: Sendable {
        public var object: JSON
        /// True when the object is gone; false when it waits for finalizers or a graceful stop.
        public var finished: Bool
    }

    /// DELETE: removes the object now, or marks it (deletionTimestamp) when finalizers or a
    /// bound pod's grace period must run first.
    public func delete(_ strategy: any ResourceStrategy, namespace: String, name: String, options: DeleteOptions = DeleteOptions()) async throws -> DeleteResult {
        let type = strategy.type
        if type.kind == "Namespace", Self.systemNamespaces.contains(name) {
            throw APIError.forbidden(resource: "namespaces", group: "", name: name, message: "this namespace may not be deleted")
        }
        let key = Self.key(type, namespace: namespace, name: name)
        let now = Timestamp.nowSeconds()
        if let grace = options.gracePeriodSeconds, !(0...PodStrategy.maximumGracePeriodSeconds).contains(grace) {
            throw APIError.badRequest("gracePeriodSeconds: Invalid value: \(grace): must be between 0 and \(PodStrategy.maximumGracePeriodSeconds), inclusive")
        }
        let result = try await commit(key, dryRun: options.dryRun, type: type) { current in
            guard let current else { throw APIError.notFound(resource: type.resource, group: type.group, name: name) }
            let old = current.object
            if let uid = options.preconditionUID, uid != ObjectMeta.uid(of: old) {
                throw APIError.conflict(resource: type.resource, group: type.group, name: name,
                                        message: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(ObjectMeta.uid(of: old))")
            }
            if let version = options.preconditionResourceVersion, version != String(current.revision) {
                throw APIError.conflict(resource: type.resource, group: type.group, name: name,
                                        message: "Precondition failed: ResourceVersion in precondition: \(version), ResourceVersion in object meta: \(current.revision)")
            }
            var grace: Int64 = 0
            if type.kind == "Pod" {
                let bound = !(old[path: ["spec", "nodeName"]]?.stringValue ?? "").isEmpty
                let phase = old[path: ["status", "phase"]]?.stringValue ?? ""
                if bound, phase != "Succeeded", phase != "Failed" {
                    let requested = options.gracePeriodSeconds ?? old[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
                    grace = min(max(0, requested), PodStrategy.maximumGracePeriodSeconds)
                }
            }
            var finalizers = ObjectMeta.finalizers(of: old)
            // core/v1 ReplicationControllers orphan their pods unless told otherwise, as in Kubernetes.
            let policy = options.propagationPolicy ?? (type.kind == "ReplicationController" ? .orphan : nil)
            // Foreground and Orphan replace each other's finalizer, as in Kubernetes.
            switch policy {
            case .foreground?:
                finalizers.removeAll { $0 == Self.orphanFinalizer }
                if !finalizers.contains(Self.foregroundFinalizer) { finalizers.append(Self.foregroundFinalizer) }
            case .orphan?:
                finalizers.removeAll { $0 == Self.foregroundFinalizer }
                if !finalizers.contains(Self.orphanFinalizer) { finalizers.append(Self.orphanFinalizer) }
            case .background?, nil: break
            }
            let hasFinalizers = !finalizers.isEmpty
            if type.kind == "Namespace" || hasFinalizers || grace > 0 {
                var marked = old
                if finalizers != ObjectMeta.finalizers(of: old) { marked[path: ["metadata", "finalizers"]] = .array(finalizers.map { .string($0) }) }
                let existingGrace = old[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue
                if ObjectMeta.deletionTimestamp(of: old) == nil || (existingGrace ?? 0) > grace {
                    marked[path: ["metadata", "deletionTimestamp"]] = .string(Timestamp.format(now.saturatingAdd(grace)))
                    marked[path: ["metadata", "deletionGracePeriodSeconds"]] = .int(grace)
                }
                if type.kind == "Namespace" { marked[path: ["status", "phase"]] = "Terminating" }
                if grace == 0, !hasFinalizers, type.kind != "Namespace" { return .delete }
                return marked == old ? .none : .put(marked)
            }
            return .delete
        }
        let finished = result.outcome == .deleted
        let object = result.object?.object ?? .null
        if type.kind == "Namespace", !finished, !options.dryRun {
            try await finishNamespaceDeletion(name)
            return DeleteResult(object: object, finished: false)
        }
        return DeleteResult(object: object, finished: finished)
    }

    /// Deletes everything in a terminating namespace, then the namespace itself.
    func finishNamespaceDeletion(_ namespace: String) async throws {
        for strategy in catalog.strategies where strategy.type.namespaced {
            let (objects, _) = store.list(resource: strategy.type.storageName, namespace: namespace)
            for object in objects {
                _ = try? await store.mutate(object.key) { current in current == nil ? .none : .delete }
            }
        }
        _ = try await store.mutate(Self.key(namespaceType, namespace: "", name: namespace)) { current in
            guard let current else { return .none }
            return ObjectMeta.finalizers(of: current.object).isEmpty ? .delete : .none
        }
    }

    // MARK: Pod binding

    /// pods/binding: assigns a pending pod to a node, once.
    public func bind(namespace: String, podName: String, body: JSON) async throws {
        let pods = PodStrategy().type
        if let kind = body["kind"], !kind.isNull, kind.stringValue != "Binding" {
            throw APIError.badRequest("the body of a binding must be a Binding, got kind \(kind.text)")
        }
        guard let nodeName = body[path: ["target", "name"]]?.stringValue, !nodeName.isEmpty else {
            throw APIError.invalid(kind: "Binding", group: "", name: podName, causes: [.required("target.name")])
        }
        if let targetKind = body[path: ["target", "kind"]]?.stringValue, !targetKind.isEmpty, targetKind != "Node" {
            throw APIError.invalid(kind: "Binding", group: "", name: podName, causes: [.notSupported("target.kind", .string(targetKind), supported: ["Node"])])
        }
        let key = Self.key(pods, namespace: namespace, name: podName)
        let now = Timestamp.now()
        _ = try await store.mutate(key) { current in
            guard let current else { throw APIError.notFound(resource: "pods", group: "", name: podName) }
            if let uid = body[path: ["metadata", "uid"]]?.stringValue, !uid.isEmpty, uid != ObjectMeta.uid(of: current.object) {
                throw APIError.conflict(resource: "pods", group: "", name: podName, message: "the pod's uid does not match the binding's")
            }
            if let existing = current.object[path: ["spec", "nodeName"]]?.stringValue, !existing.isEmpty {
                throw APIError.conflict(resource: "pods", group: "", name: podName, message: "pod \(podName) is already assigned to node \"\(existing)\"")
            }
            if ObjectMeta.deletionTimestamp(of: current.object) != nil {
                throw APIError.conflict(resource: "pods", group: "", name: podName, message: "pod \(podName) is being deleted, cannot be assigned to a host")
            }
            var pod = current.object
            pod[path: ["spec", "nodeName"]] = .string(nodeName)
            var conditions = (pod[path: ["status", "conditions"]]?.arrayValue ?? []).filter { $0["type"]?.stringValue != "PodScheduled" }
            conditions.append(["type": "PodScheduled", "status": "True", "lastProbeTime": nil, "lastTransitionTime": .string(now)])
            pod[path: ["status", "conditions"]] = .array(conditions)
            return .put(pod)
        }
    }
}
