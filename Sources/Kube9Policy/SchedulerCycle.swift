import Kube9Lua

/// The decision of one scheduling cycle: the chosen node, or why none fits.
public struct SchedulingDecision: Sendable, Equatable {
    /// The node the pod should be bound to, or nil when it fits nowhere.
    public var node: String?
    /// Score of each feasible node (0…100).
    public var scores: [String: Double]
    /// Why each infeasible node was filtered out.
    public var reasons: [String: String]

    /// kube-scheduler's summary: "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {…}."
    public var summary: String {
        let total = scores.count + reasons.count
        if let node { return "assigned to \(node)" }
        var counts: [String: Int] = [:]
        for reason in reasons.values { counts[reason, default: 0] += 1 }
        let parts = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value) \($0.key)" }
        return "0/\(total) nodes are available" + (parts.isEmpty ? "." : ": " + parts.joined(separator: ", ") + ".")
    }

    /// The decision as a Lua/JSON-friendly value: {node=…, scores={…}, reasons={…}}.
    public var value: LuaValue {
        var map: [String: LuaValue] = [
            "scores": .map(scores.mapValues { Int64(exactly: $0).map(LuaValue.integer) ?? .number($0) }),
            "reasons": .map(reasons.mapValues { .string($0) }),
        ]
        if let node { map["node"] = .string(node) }
        return .map(map)
    }
}

/// Runs a scheduler policy over a pod and candidate nodes, the way kube9's scheduler does:
/// `filter` each node (in name order), `score` the feasible ones (0…100), `normalize` if the
/// policy has it, then `select` if it has it, else the highest score with ties going to the
/// first node by name. The cycle itself runs inside Lua (`kube9._cycle`) over node views
/// mirrored into the state; every value the policy returns is checked there.
public enum SchedulerCycle {
    public static func run(_ policy: LoadedPolicy, pod: LuaValue, nodes: [LuaValue]) throws(PolicyError) -> SchedulingDecision {
        for node in nodes where node["name"]?.stringValue == nil {
            throw PolicyError(kind: .contract, slot: policy.source.slot, name: policy.source.name, message: "every node needs a name")
        }
        return try policy.schedule(pod: pod, mirror: NodeMirror.of(nodes), wantScores: true)
    }
}
