import Kube9Model
import Logging
import Synchronization

/// Keeps each Service's Endpoints (same name) and EndpointSlices (labelled
/// `kubernetes.io/service-name`) equal to what `EndpointsBuilder` computes.
///
/// ```
/// watch services ─┐                         ┌─▶ Endpoints NS/NAME         (create / update / delete)
///                 ├─▶ dirty services ─▶ sync ┤
/// watch pods ─────┤  (selector matched       └─▶ EndpointSlices NAME-xxxxx (per port list and 100 endpoints; stale ones deleted)
///                     before or after)
/// ```
///
/// Changes are coalesced for a few milliseconds, so a burst of pod updates costs one write
/// per service. A service without a selector keeps the Endpoints its owner wrote; they are
/// mirrored into slices NAME-mirror-xxxxx (EndpointsMirror), as Kubernetes does.
public final class EndpointsController: Sendable {
    static let component = "endpoint-controller"
    static let services = ServiceStrategy().type
    static let pods = PodStrategy().type
    static let endpoints = EndpointsStrategy().type
    static let slices = EndpointSliceStrategy().type

    struct State {
        var services: [String: JSON] = [:]
        /// Pods by namespace, then name.
        var pods: [String: [String: JSON]] = [:]
        var dirty: Set<String> = []
    }

    let client: any ClusterClient
    let logger: Logger
    let state = Mutex(State())
    let wake: AsyncStream<Void>
    let wakeContinuation: AsyncStream<Void>.Continuation
    /// How long changes are gathered before a sync.
    let coalesce: Duration

    public init(client: any ClusterClient, logger: Logger, coalesce: Duration = .milliseconds(10)) {
        self.client = client
        self.logger = logger
        self.coalesce = coalesce
        (wake, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    static func key(_ namespace: String, _ name: String) -> String { namespace + "/" + name }

    /// Runs until cancelled: follows services and pods, and syncs what changed.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.follow(Self.services) }
            group.addTask { await self.follow(Self.pods) }
            group.addTask { await self.follow(Self.endpoints) }
            group.addTask { await self.syncLoop() }
            await group.waitForAll()
        }
    }

    func follow(_ type: ResourceType) async {
        while !Task.isCancelled {
            do {
                let (objects, changes) = try client.listAndWatch(type)
                state.withLock { state in
                    if type == Self.services {
                        // Services deleted while the watch was down are synced too (their endpoints go).
                        state.dirty.formUnion(state.services.keys)
                        state.services = [:]
                        for object in objects { state.services[Self.key(ObjectMeta.namespace(of: object), ObjectMeta.name(of: object))] = object }
                        state.dirty.formUnion(state.services.keys)
                    } else if type == Self.endpoints {
                        // Hand-written Endpoints changed while the watch was down: mirror them again.
                        state.dirty.formUnion(state.services.filter { !Self.hasSelector($0.value) }.keys)
                    } else {
                        state.pods = [:]
                        for object in objects { state.pods[ObjectMeta.namespace(of: object), default: [:]][ObjectMeta.name(of: object)] = object }
                        state.dirty.formUnion(state.services.keys)
                    }
                }
                wakeContinuation.yield()
                for await change in changes {
                    apply(change, type: type)
                    wakeContinuation.yield()
                }
            } catch {
                logger.warning("endpoints controller: watch failed", metadata: ["resource": "\(type.resource)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    func apply(_ change: ClusterChange, type: ResourceType) {
        let object = change.object
        let namespace = ObjectMeta.namespace(of: object)
        let name = ObjectMeta.name(of: object)
        state.withLock { state in
            if type == Self.services {
                // (JSON is ExpressibleByNilLiteral: a `cond ? nil : object` would store .null, not remove.)
                if change.kind == .deleted {
                    state.services.removeValue(forKey: Self.key(namespace, name))
                } else {
                    state.services[Self.key(namespace, name)] = object
                }
                state.dirty.insert(Self.key(namespace, name))
                return
            }
            if type == Self.endpoints {
                // Only a selector-less service's Endpoints are its owner's (and mirrored); the others are this controller's output.
                if let service = state.services[Self.key(namespace, name)], !Self.hasSelector(service) { state.dirty.insert(Self.key(namespace, name)) }
                return
            }
            let previous = state.pods[namespace]?[name]
            if change.kind == .deleted {
                state.pods[namespace]?.removeValue(forKey: name)
            } else {
                state.pods[namespace, default: [:]][name] = object
            }
            for (key, service) in state.services where ObjectMeta.namespace(of: service) == namespace {
                if EndpointsBuilder.selects(service, object) || previous.map({ EndpointsBuilder.selects(service, $0) }) == true {
                    state.dirty.insert(key)
                }
            }
        }
    }

    func syncLoop() async {
        for await _ in wake {
            if Task.isCancelled { return }
            try? await Task.sleep(for: coalesce)
            let (work, pods) = state.withLock { state -> ([(String, JSON?)], [String: [JSON]]) in
                let keys = state.dirty
                state.dirty = []
                var pods: [String: [JSON]] = [:]
                let work = keys.sorted().map { key -> (String, JSON?) in
                    let namespace = String(key.prefix { $0 != "/" })
                    if pods[namespace] == nil { pods[namespace] = Array((state.pods[namespace] ?? [:]).values) }
                    return (key, state.services[key])
                }
                return (work, pods)
            }
            for (key, service) in work {
                let namespace = String(key.prefix { $0 != "/" })
                let name = String(key.dropFirst(namespace.count + 1))
                do {
                    try await sync(namespace: namespace, name: name, service: service, pods: pods[namespace] ?? [])
                } catch {
                    logger.warning("endpoints controller: sync failed", metadata: ["service": "\(key)", "error": "\(error)"])
                    state.withLock { _ = $0.dirty.insert(key) }
                    Task { [wakeContinuation] in
                        try? await Task.sleep(for: .seconds(1))
                        wakeContinuation.yield()
                    }
                }
            }
        }
    }

    static func hasSelector(_ service: JSON) -> Bool { !(service[path: ["spec", "selector"]]?.objectValue ?? [:]).isEmpty }

    /// Brings one service's Endpoints and slices to their computed state (or removes them when
    /// the service is gone). A service without a selector keeps the Endpoints its owner wrote,
    /// mirrored into slices (EndpointsMirror).
    func sync(namespace: String, name: String, service: JSON?, pods: [JSON]) async throws {
        let slices = client.list(Self.slices, namespace: namespace).filter { ObjectMeta.labels(of: $0)[EndpointSliceStrategy.serviceNameLabel] == name }
        let ownSlices = slices.filter { ObjectMeta.labels(of: $0)[EndpointSliceStrategy.managedByLabel] == EndpointSliceStrategy.managedBy }
        let mirroredSlices = slices.filter { ObjectMeta.labels(of: $0)[EndpointSliceStrategy.managedByLabel] == EndpointsMirror.managedBy }
        guard let service, ServiceStrategy.serviceType(service) != "ExternalName" else {
            if client.get(Self.endpoints, namespace: namespace, name: name) != nil {
                try? await client.delete(Self.endpoints, namespace: namespace, name: name, gracePeriodSeconds: nil)
            }
            for slice in ownSlices + mirroredSlices { try? await deleteSlice(slice) }
            return
        }
        let owner: JSON = ["apiVersion": "v1", "kind": "Service", "name": .string(name), "uid": .string(ObjectMeta.uid(of: service)),
                           "controller": true, "blockOwnerDeletion": true]
        guard Self.hasSelector(service) else {
            for slice in ownSlices { try? await deleteSlice(slice) }
            let endpoints = client.get(Self.endpoints, namespace: namespace, name: name)
            var wanted: [String: JSON] = [:]
            var labels: JSON = .emptyObject
            if let endpoints, EndpointsMirror.isMirrored(endpoints) {
                for (key, value) in ObjectMeta.labels(of: endpoints) where key != EndpointsMirror.skipMirrorLabel { labels[key] = .string(value) }
                wanted = Self.sliceBodies(EndpointsMirror.groups(endpoints), prefix: name + "-mirror-", namespace: namespace, keepEmpty: false)
            }
            labels[EndpointSliceStrategy.serviceNameLabel] = .string(name)
            labels[EndpointSliceStrategy.managedByLabel] = .string(EndpointsMirror.managedBy)
            try await writeSlices(wanted, existing: mirroredSlices, namespace: namespace, labels: labels, owner: owner)
            return
        }
        for slice in mirroredSlices { try? await deleteSlice(slice) }
        let groups = EndpointsBuilder.groups(service: service, pods: pods)
        let serviceLabels = service[path: ["metadata", "labels"]] ?? .emptyObject
        let labels = serviceLabels.objectValue == nil ? JSON.emptyObject : serviceLabels
        try await writeEndpoints(groups, namespace: namespace, name: name, labels: labels)

        // EndpointSlices: one per port list and 100 endpoints (NAME-xxxxx, NAME-xxxxx-2, ...); a
        // service with no endpoints keeps one empty slice.
        var sliceLabels = labels
        sliceLabels[EndpointSliceStrategy.serviceNameLabel] = .string(name)
        sliceLabels[EndpointSliceStrategy.managedByLabel] = .string(EndpointSliceStrategy.managedBy)
        try await writeSlices(Self.sliceBodies(groups, prefix: name + "-", namespace: namespace, keepEmpty: true),
                              existing: ownSlices, namespace: namespace, labels: sliceLabels, owner: owner)
    }

    /// The Endpoints object of a service with a selector: the groups, cut at 1,000 addresses.
    func writeEndpoints(_ groups: [EndpointsBuilder.Group], namespace: String, name: String, labels: JSON) async throws {
        let (kept, truncated) = EndpointsBuilder.truncatedForEndpoints(groups)
        let subsets = EndpointsBuilder.subsets(kept, namespace: namespace)
        let overCapacity: JSON? = truncated ? .string("truncated") : Optional<JSON>.none
        if let current = client.get(Self.endpoints, namespace: namespace, name: name) {
            if (current["subsets"] ?? .array([])) != subsets || (current[path: ["metadata", "labels"]] ?? .emptyObject) != labels
                || current[path: ["metadata", "annotations", EndpointsBuilder.overCapacityAnnotation]] != overCapacity {
                try await client.modify(Self.endpoints, namespace: namespace, name: name, status: false) { object in
                    object["subsets"] = subsets
                    object[path: ["metadata", "labels"]] = labels
                    if let overCapacity {
                        object[path: ["metadata", "annotations", EndpointsBuilder.overCapacityAnnotation]] = overCapacity
                    } else if var annotations = object[path: ["metadata", "annotations"]]?.objectValue {
                        annotations.removeValue(forKey: EndpointsBuilder.overCapacityAnnotation)
                        object[path: ["metadata", "annotations"]] = .object(annotations)
                    }
                }
            }
        } else {
            var metadata: JSON = ["name": .string(name), "namespace": .string(namespace), "labels": labels]
            if let overCapacity { metadata["annotations"] = [EndpointsBuilder.overCapacityAnnotation: overCapacity] }
            try await client.create(Self.endpoints, namespace: namespace, object: [
                "apiVersion": "v1", "kind": "Endpoints", "metadata": metadata, "subsets": subsets,
            ])
        }
    }

    /// Slice bodies by name: PREFIX + the port list's suffix (+ "-N" past the first 100 endpoints).
    static func sliceBodies(_ groups: [EndpointsBuilder.Group], prefix: String, namespace: String, keepEmpty: Bool) -> [String: JSON] {
        var wanted: [String: JSON] = [:]
        for group in groups.isEmpty && keepEmpty ? [EndpointsBuilder.Group(ports: [], endpoints: [])] : groups {
            let base = prefix + EndpointsBuilder.sliceSuffix(group.ports)
            for (index, chunk) in EndpointsBuilder.chunks(group).enumerated() {
                wanted[index == 0 ? base : base + "-\(index + 1)"] = EndpointsBuilder.sliceBody(chunk, namespace: namespace)
            }
        }
        return wanted
    }

    func deleteSlice(_ slice: JSON) async throws {
        try await client.delete(Self.slices, namespace: ObjectMeta.namespace(of: slice), name: ObjectMeta.name(of: slice), gracePeriodSeconds: nil)
    }

    /// Makes the slices `existing` (one manager's) equal to `wanted`: stale ones deleted, changed ones updated, new ones created.
    func writeSlices(_ wanted: [String: JSON], existing: [JSON], namespace: String, labels: JSON, owner: JSON) async throws {
        // Creates and updates before deletes, so an endpoint moving between slices is never in none.
        for (sliceName, body) in wanted.sorted(by: { ($0.key.count, $0.key) < ($1.key.count, $1.key) }) {
            if let current = existing.first(where: { ObjectMeta.name(of: $0) == sliceName }) {
                let same = ["addressType", "endpoints", "ports"].allSatisfy { (current[$0] ?? .null) == (body[$0] ?? .null) }
                    && (current[path: ["metadata", "labels"]] ?? .emptyObject) == labels
                if same { continue }
                try await client.modify(Self.slices, namespace: namespace, name: sliceName, status: false) { object in
                    for field in ["addressType", "endpoints", "ports"] { object[field] = body[field] }
                    object[path: ["metadata", "labels"]] = labels
                    object[path: ["metadata", "ownerReferences"]] = [owner]
                }
            } else {
                var object = body
                object["apiVersion"] = "discovery.k8s.io/v1"
                object["kind"] = "EndpointSlice"
                object["metadata"] = ["name": .string(sliceName), "namespace": .string(namespace), "labels": labels, "ownerReferences": [owner]]
                try await client.create(Self.slices, namespace: namespace, object: object)
            }
        }
        for slice in existing where wanted[ObjectMeta.name(of: slice)] == nil { try? await deleteSlice(slice) }
    }
}
