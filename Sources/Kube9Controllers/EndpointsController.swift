import Kube9Model
import Logging
import Synchronization

/// Keeps each Service's Endpoints (same name) and EndpointSlices (labelled
/// `kubernetes.io/service-name`) equal to what `EndpointsBuilder` computes.
///
/// ```
/// watch services ─┐                         ┌─▶ Endpoints NS/NAME         (create / update / delete)
///                 ├─▶ dirty services ─▶ sync ┤
/// watch pods ─────┘  (selector matched       └─▶ EndpointSlices NAME-xxxxx (per port list and 100 endpoints; stale ones deleted)
///                     before or after)
/// ```
///
/// Changes are coalesced for a few milliseconds, so a burst of pod updates costs one write
/// per service. Services without a selector are left alone (their Endpoints are the user's).
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

    /// Brings one service's Endpoints and slices to their computed state (or removes them when the service is gone).
    func sync(namespace: String, name: String, service: JSON?, pods: [JSON]) async throws {
        let existingSlices = client.list(Self.slices, namespace: namespace).filter {
            ObjectMeta.labels(of: $0)[EndpointSliceStrategy.serviceNameLabel] == name
                && ObjectMeta.labels(of: $0)[EndpointSliceStrategy.managedByLabel] == EndpointSliceStrategy.managedBy
        }
        guard let service, ServiceStrategy.serviceType(service) != "ExternalName",
              let selector = service[path: ["spec", "selector"]]?.objectValue, !selector.isEmpty else {
            if service == nil || ServiceStrategy.serviceType(service ?? .null) == "ExternalName" {
                if client.get(Self.endpoints, namespace: namespace, name: name) != nil {
                    try? await client.delete(Self.endpoints, namespace: namespace, name: name, gracePeriodSeconds: nil)
                }
            }
            for slice in existingSlices {
                try? await client.delete(Self.slices, namespace: namespace, name: ObjectMeta.name(of: slice), gracePeriodSeconds: nil)
            }
            return
        }
        let groups = EndpointsBuilder.groups(service: service, pods: pods)
        let serviceLabels = service[path: ["metadata", "labels"]] ?? .emptyObject
        let labels = serviceLabels.objectValue == nil ? JSON.emptyObject : serviceLabels

        // Endpoints.
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

        // EndpointSlices: one per port list and 100 endpoints (NAME-xxxxx, NAME-xxxxx-2, ...); a
        // service with no endpoints keeps one empty slice.
        let sliceLabels: JSON = {
            var merged = labels
            merged[EndpointSliceStrategy.serviceNameLabel] = .string(name)
            merged[EndpointSliceStrategy.managedByLabel] = .string(EndpointSliceStrategy.managedBy)
            return merged
        }()
        let owner: JSON = ["apiVersion": "v1", "kind": "Service", "name": .string(name), "uid": .string(ObjectMeta.uid(of: service)),
                           "controller": true, "blockOwnerDeletion": true]
        var wanted: [String: JSON] = [:]
        for group in groups.isEmpty ? [EndpointsBuilder.Group(ports: [], endpoints: [])] : groups {
            let base = name + "-" + EndpointsBuilder.sliceSuffix(group.ports)
            for (index, chunk) in EndpointsBuilder.chunks(group).enumerated() {
                wanted[index == 0 ? base : base + "-\(index + 1)"] = EndpointsBuilder.sliceBody(chunk, namespace: namespace)
            }
        }
        for slice in existingSlices where wanted[ObjectMeta.name(of: slice)] == nil {
            try? await client.delete(Self.slices, namespace: namespace, name: ObjectMeta.name(of: slice), gracePeriodSeconds: nil)
        }
        for (sliceName, body) in wanted.sorted(by: { $0.key < $1.key }) {
            if let current = existingSlices.first(where: { ObjectMeta.name(of: $0) == sliceName }) {
                let same = ["addressType", "endpoints", "ports"].allSatisfy { (current[$0] ?? .null) == (body[$0] ?? .null) }
                    && (current[path: ["metadata", "labels"]] ?? .emptyObject) == sliceLabels
                if same { continue }
                try await client.modify(Self.slices, namespace: namespace, name: sliceName, status: false) { object in
                    for field in ["addressType", "endpoints", "ports"] { object[field] = body[field] }
                    object[path: ["metadata", "labels"]] = sliceLabels
                    object[path: ["metadata", "ownerReferences"]] = [owner]
                }
            } else {
                var object = body
                object["apiVersion"] = "discovery.k8s.io/v1"
                object["kind"] = "EndpointSlice"
                object["metadata"] = ["name": .string(sliceName), "namespace": .string(namespace), "labels": sliceLabels, "ownerReferences": [owner]]
                try await client.create(Self.slices, namespace: namespace, object: object)
            }
        }
    }
}
