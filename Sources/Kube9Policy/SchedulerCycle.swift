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
        guard node == nil else { return "assigned to \(node!)" }
        var counts: [String: Int] = [:]
        for reason in reasons.values { counts[reason, default: 0] += 1 }
        let parts = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value) \($0.key)" }
        return "0/\(total) nodes are available" + (parts.isEmpty ? "." : ": " + parts.joined(separator: ", ") + ".")
    }

    /// The decision as a Lua/JSON-friendly value: {node=…, scores={…}, reasons={…}}.
    public var value: LuaValue {
        var map: [String: LuaValue] = [
            "scores": .map(scores.mapValues { $0.rounded() == $0 ? .integer(Int64($0)) : .number($0) }),
            "reasons": .map(reasons.mapValues { .string($0) }),
        ]
        if let node { map["node"] = .string(node) }
        return .map(map)
    }
}

/// Runs a scheduler policy over a pod and candidate nodes, the way kube9's scheduler does:
/// `filter` each node (in name order), `score` the feasible ones (0…100), `normalize` if the
/// policy has it, then `select` if it has it, else the highest score with ties going to the
/// first node by name. Every value the policy returns is checked; a bad one is an error.
public enum SchedulerCycle {
    public static func run(_ policy: LoadedPolicy, pod: LuaValue, nodes: [LuaValue]) throws(PolicyError) -> SchedulingDecision {
        let slot = policy.source.slot
        let name = policy.source.name
        func contract(_ message: String) -> PolicyError { PolicyError(kind: .contract, slot: slot, name: name, message: message) }
        let ordered = nodes.sorted { ($0["name"]?.stringValue ?? "") < ($1["name"]?.stringValue ?? "") }
        var scores: [String: Double] = [:]
        var reasons: [String: String] = [:]
        var feasible: [String] = []
        for node in ordered {
            guard let nodeName = node["name"]?.stringValue else { throw contract("every node needs a name") }
            let filtered = try policy.call("filter", [pod, node])
            if filtered.first?.isTruthy == true {
                feasible.append(nodeName)
            } else {
                reasons[nodeName] = filtered.count > 1 ? (filtered[1].stringValue ?? "filtered by policy") : "filtered by policy"
            }
        }
        for nodeName in feasible {
            let node = ordered.first { $0["name"]?.stringValue == nodeName }!
            let result = try policy.call("score", [pod, node])
            guard let score = result.first?.doubleValue, score.isFinite, (0...100).contains(score) else {
                throw contract("score must return a number from 0 to 100 for node \(nodeName), got \(result.first.map { $0.json.text } ?? "nothing")")
            }
            scores[nodeName] = score
        }
        if policy.hooks.contains("normalize"), !scores.isEmpty {
            let result = try policy.call("normalize", [pod, .map(scores.mapValues { .number($0) })])
            guard case .map(let normalized)? = result.first else { throw contract("normalize must return a table of node name → score") }
            for (nodeName, value) in normalized {
                guard scores[nodeName] != nil, let score = value.doubleValue, (0...100).contains(score) else {
                    throw contract("normalize returned \(value.json.text) for \(nodeName); expected a score from 0 to 100 for a feasible node")
                }
                scores[nodeName] = score
            }
        }
        guard !feasible.isEmpty else { return SchedulingDecision(node: nil, scores: scores, reasons: reasons) }
        var chosen = feasible[0]
        if policy.hooks.contains("select") {
            let candidates: [LuaValue] = feasible.map { ["name": .string($0), "score": .number(scores[$0]!)] }
            let result = try policy.call("select", [pod, .array(candidates)])
            guard let picked = result.first?.stringValue, feasible.contains(picked) else {
                throw contract("select must return the name of a feasible node, got \(result.first.map { $0.json.text } ?? "nothing")")
            }
            chosen = picked
        } else {
            for nodeName in feasible where scores[nodeName]! > scores[chosen]! { chosen = nodeName }
        }
        return SchedulingDecision(node: chosen, scores: scores, reasons: reasons)
    }
}
