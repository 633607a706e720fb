import Kube9Controllers
import Kube9Lua
import Kube9Model
import Kube9Policy

/// The node autoscaler's policy call and its writes.
extension NodeAutoscalerController {
    func clusterValue(views: [NodeView], pending: [JSON], upcoming: [String: (String, Int64)], managed: Int) -> LuaValue {
        let shapes: [LuaValue] = configuration.shapes.map { shape in
            .map(["name": .string(shape.name), "cpu": .integer(shape.milliCPU), "memory": .integer(shape.memoryBytes), "pods": .integer(Int64(shape.pods))])
        }
        let pendingValues: [LuaValue] = pending.prefix(1000).map { pod in
            let own = Self.requests(pod)
            return .map(["name": .string(ObjectMeta.name(of: pod)), "namespace": .string(ObjectMeta.namespace(of: pod)),
                         "cpu": .integer(own.cpu), "memory": .integer(own.memory)])
        }
        let upcomingValues: [LuaValue] = upcoming.sorted { $0.key < $1.key }.map { .map(["name": .string($0.key), "shape": .string($0.value.0)]) }
        return .map(["nodes": .array(views.prefix(5000).map(\.lua)), "pending": .array(pendingValues), "shapes": .array(shapes),
                     "upcoming": .array(upcomingValues), "managed": .integer(Int64(managed)),
                     "min_nodes": .integer(Int64(configuration.minNodes)), "max_nodes": .integer(Int64(configuration.maxNodes)),
                     "unneeded_seconds": .integer(configuration.scaleDownUnneededSeconds)])
    }

    /// Calls `decide(cluster)`; the answer must be `{add = {shape = count}, remove = {names}}` (either may be missing).
    func decide(_ cluster: LuaValue) async throws -> (add: [String: Int], remove: [String]) {
        let name = configuration.policy
        guard let policy = host.policy(slot: .nodeAutoscaler, name: name) else {
            throw PolicyError(kind: .missing, slot: .nodeAutoscaler, name: name, message: "no node-autoscaler policy named \(name) is installed")
        }
        let results = try await policy.call("decide", [cluster])
        func bad(_ what: String) -> PolicyError {
            PolicyError(kind: .runtime, slot: .nodeAutoscaler, name: name, message: "decide returned \(what); expected {add = {shape = count}, remove = {node names}}")
        }
        guard case .map(let decision)? = results.first else {
            if case .array(let items)? = results.first, items.isEmpty { return ([:], []) }
            throw bad(results.first.map { "\($0.json.text)" } ?? "nothing")
        }
        var add: [String: Int] = [:]
        switch decision["add"] {
        case nil: break
        case .map(let entries)?:
            for (shape, count) in entries {
                guard case .integer(let value) = count, value >= 0, value <= 1000 else { throw bad("add.\(shape) = \(count.json.text)") }
                add[shape] = Int(value)
            }
        case .array(let items)? where items.isEmpty: break
        case let other?: throw bad("add = \(other.json.text)")
        }
        var remove: [String] = []
        switch decision["remove"] {
        case nil: break
        case .array(let items)?:
            for item in items.prefix(1000) {
                guard case .string(let node) = item else { throw bad("a remove entry \(item.json.text)") }
                remove.append(node)
            }
        case .map(let entries)? where entries.isEmpty: break
        case let other?: throw bad("remove = \(other.json.text)")
        }
        return (add, remove)
    }

    /// Asks the provider for nodes; each pending pod (up to 100) gets a TriggeredScaleUp event.
    func add(_ additions: [String: Int], pending: [JSON], reason: String) async {
        var started: [String] = []
        for (shapeName, count) in additions.sorted(by: { $0.key < $1.key }) {
            guard let shape = configuration.shapes.first(where: { $0.name == shapeName }) else { continue }
            for _ in 0..<count {
                let name = "auto-\(shape.name)-\(NameRules.randomSuffix())"
                let now = Timestamp.nowSeconds()
                state.withLock { $0.upcoming[name] = (shape.name, now) }
                started.append(name)
                let provider = self.provider
                let logger = self.logger
                let labels = [NodeAutoscalerConfiguration.groupLabel: NodeAutoscalerConfiguration.groupValue, NodeAutoscalerConfiguration.shapeLabel: shape.name]
                Task {
                    do { try await provider.add(name: name, shape: shape, labels: labels) } catch {
                        logger.warning("node autoscaler: add failed", metadata: ["node": "\(name)", "error": "\(error)"])
                        self.state.withLock { _ = $0.upcoming.removeValue(forKey: name) }
                        await self.note("Warning", "FailedScaleUp", "could not add node \(name): \(error)")
                    }
                }
            }
        }
        let now = Timestamp.nowSeconds()
        state.withLock { state in
            for pod in pending { state.triggered[ObjectMeta.uid(of: pod), default: (0, now)] = ((state.triggered[ObjectMeta.uid(of: pod)]?.0 ?? 0) + 1, now) }
        }
        let summary = additions.sorted { $0.key < $1.key }.map { "\($0.key) +\($0.value)" }.joined(separator: ", ")
        let message = "scale-up: \(summary) (\(started.joined(separator: ", "))): \(reason); max \(configuration.maxNodes)"
        for pod in pending.prefix(100) {
            await client.event(about: pod, type: "Normal", reason: "TriggeredScaleUp", message: message, component: Self.component)
        }
        await note("Normal", "ScaleUp", message)
    }

    /// An event about the node-autoscaler Policy (cluster-wide decisions have no other object), not repeated while it stays the same.
    func note(_ type: String, _ reason: String, _ message: String) async {
        let repeated = state.withLock { state -> Bool in
            if state.lastMessage == reason + message { return true }
            state.lastMessage = reason + message
            return false
        }
        guard !repeated else { return }
        let about: JSON = ["apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": ["name": .string("node-autoscaler.\(configuration.policy)"), "uid": ""]]
        await client.event(about: about, type: type, reason: reason, message: message, component: Self.component)
    }
}
