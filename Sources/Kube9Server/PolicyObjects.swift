import Kube9Lua
import Kube9Model
import Kube9Policy
import Kube9Store
import Logging

/// The bridge between Policy objects (kube9.io/v1) and the Lua policy host: admission
/// compiles a source before it is stored, and a watch swaps each stored version in.
enum PolicyObjects {
    static let resource = PolicyStrategy().type.storageName
    /// An annotation `kube9 policy apply` sets so that errors name the user's file.
    static let sourceFileAnnotation = PolicySource.sourceFileAnnotation

    /// The policy source a Policy object describes (`PolicySource.from(object:)`).
    static func source(from object: JSON) throws(APIError) -> PolicySource { try PolicySource.from(object: object) }

    /// The admission check: refuses a Policy whose source does not load, naming file:line.
    static func admission(host: PolicyHost) -> ObjectRegistry.Admission {
        { object in
            let source = try source(from: object)
            do {
                try await host.check(source)
            } catch let error as PolicyError {
                throw APIError.invalid(kind: "Policy", group: "kube9.io", name: ObjectMeta.name(of: object), causes: [
                    FieldCause(reason: "FieldValueInvalid", field: "spec.source", message: error.location.map { "\($0): \(error.message)" } ?? error.message)
                ])
            }
        }
    }

    /// Follows Policy objects until the store closes: each stored version is installed
    /// (a version that fails to load leaves the previous one serving), deletions revert to
    /// the built-in of the same name or remove the policy.
    static func follow(store: any Store, host: PolicyHost, logger: Logger) async {
        let subscription: WatchSubscription
        do {
            subscription = try store.watch(WatchFilter(resource: resource, namespace: nil), fromRevision: nil)
        } catch {
            logger.error("cannot watch Policy objects", metadata: ["error": "\(error)"])
            return
        }
        for await event in subscription.events {
            guard let object = event.object?.object else { continue }
            do {
                let source = try source(from: object)
                switch event.kind {
                case .added, .modified:
                    if let current = host.policy(slot: source.slot, name: source.name), current.source == source { continue }
                    try await host.install(source)
                case .deleted:
                    await host.remove(slot: source.slot, name: source.name)
                case .bookmark:
                    continue
                }
            } catch {
                logger.error("Policy object not installed; the previous version keeps serving",
                             metadata: ["policy": "\(ObjectMeta.name(of: object))", "error": "\(error)"])
            }
        }
    }

    /// The rows of `GET /kube9/v1/policies`.
    static func stats(host: PolicyHost) -> JSON {
        .array(host.all.map { policy in
            let stats = policy.stats
            return ["slot": .string(policy.source.slot.rawValue), "name": .string(policy.source.name),
                    "declaredName": .string(policy.declaredName), "version": .int(policy.source.version),
                    "origin": .string(policy.source.origin), "chunk": .string(policy.source.chunkName),
                    "hooks": .array(policy.hooks.sorted().map { .string($0) }),
                    "calls": .int(Int64(stats.calls)), "errors": .int(Int64(stats.errors)), "kills": .int(Int64(stats.kills)),
                    "p99Microseconds": .double((stats.p99Microseconds * 10).rounded() / 10),
                    "budget": ["instructions": .int(policy.source.budget.instructions),
                               "timeoutMilliseconds": .int(policy.source.budget.timeoutMilliseconds),
                               "memoryBytes": .int(Int64(policy.source.budget.memoryBytes))]]
        })
    }

    /// `POST /kube9/v1/policies/{slot}/{name}/{hook}` with a JSON array of arguments.
    static func call(host: PolicyHost, slot slotName: String, name: String, hook: String, body: JSON) async throws(APIError) -> JSON {
        guard let slot = PolicySlot(rawValue: slotName) else {
            throw APIError.notFound(resource: "policies", group: "kube9.io", name: "\(slotName).\(name)")
        }
        guard let arguments = body.arrayValue else { throw APIError.badRequest("the body must be a JSON array of the hook's arguments") }
        do {
            let results = try await host.call(slot: slot, name: name, hook: hook, arguments.map(LuaValue.init(json:)))
            return ["results": .array(results.map(\.json))]
        } catch {
            if error.kind == .missing { throw APIError.notFound(resource: "policies", group: "kube9.io", name: "\(slotName).\(name)") }
            throw APIError.invalid(kind: "PolicyCall", group: "kube9.io", name: "\(slotName).\(name)", causes: [
                FieldCause(reason: error.kind.rawValue, field: hook, message: error.location.map { "\($0): \(error.message)" } ?? error.message)
            ])
        }
    }
}
