import Kube9Controllers
import Kube9Lua
import Kube9Model
import Kube9Policy

/// One HPA decision: scale target, metrics, the Lua policy, behavior, the write, the record.
extension HorizontalPodAutoscalerController {
    func reconcile(_ hpa: JSON, key: String) async throws {
        let namespace = ObjectMeta.namespace(of: hpa)
        let reference = hpa[path: ["spec", "scaleTargetRef"]] ?? .emptyObject
        let kind = reference["kind"]?.stringValue ?? ""
        let apiVersion = reference["apiVersion"]?.stringValue ?? (kind == "ReplicationController" ? "v1" : "apps/v1")
        let targetName = reference["name"]?.stringValue ?? ""
        let minimum = Int(min(max(hpa[path: ["spec", "minReplicas"]]?.intValue ?? 1, 1), Workloads.maximumReplicas))
        let maximum = Int(min(max(hpa[path: ["spec", "maxReplicas"]]?.intValue ?? 1, 1), Workloads.maximumReplicas))
        guard let type = client.resourceType(apiVersion: apiVersion, kind: kind), type.subresources.contains("scale"),
              let target = client.get(type, namespace: namespace, name: targetName) else {
            try await record(hpa, current: 0, desired: 0, metrics: [], conditions: [("AbleToScale", "False", "FailedGetScale", "the HPA controller was unable to get the target's current scale: \(kind)/\(targetName) not found in \(apiVersion)")],
                             event: ("Warning", "FailedGetScale", "\(kind)/\(targetName) not found in \(apiVersion)"), scaled: false)
            return
        }
        let current = Workloads.replicas(target)
        // Outside min/max (the user scaled it, or changed the bounds): back inside first, whatever the metrics.
        if current > 0, current > maximum || current < minimum {
            let bounded = min(max(current, minimum), maximum)
            try await setReplicas(type, namespace: namespace, name: targetName, uid: ObjectMeta.uid(of: target), bounded)
            let message = "replicas \(current) outside minReplicas \(minimum) / maxReplicas \(maximum): New size: \(bounded)"
            try await record(hpa, current: current, desired: bounded, metrics: [], conditions: [("AbleToScale", "True", "SucceededRescale", "the HPA controller was able to update the target scale to \(bounded)"),
                                                                                              ("ScalingLimited", "True", current > maximum ? "TooManyReplicas" : "TooFewReplicas", message)],
                             event: ("Normal", "SuccessfulRescale", message), scaled: true)
            return
        }
        if current == 0 {
            try await record(hpa, current: 0, desired: 0, metrics: [], conditions: [("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale"),
                                                                                 ("ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")], event: nil, scaled: false)
            return
        }
        let selector = Workloads.selector(target)
        let pods = client.list(Self.pods, namespace: namespace).filter { pod in
            selector?.matches(object: pod) == true && ObjectMeta.deletionTimestamp(of: pod) == nil && pod[path: ["status", "phase"]]?.stringValue == "Running"
        }
        let specs = hpa[path: ["spec", "metrics"]]?.arrayValue.flatMap { $0.isEmpty ? nil : $0 }
            ?? [["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": 80]]]]
        let usage = metrics.pods()
        var measured: [Measured] = []
        for spec in specs {
            switch measure(spec, pods: pods, usage: usage) {
            case .success(let value): measured.append(value)
            case .failure(let error):
                try await record(hpa, current: current, desired: current, metrics: [], conditions: [("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale"),
                                                                                                 ("ScalingActive", "False", error.reason, error.message)],
                                 event: ("Warning", error.reason, error.message), scaled: false)
                return
            }
        }
        let policyName = ObjectMeta.annotation(hpa, HorizontalPodAutoscalerStrategy.policyAnnotation) ?? HorizontalPodAutoscalerStrategy.defaultPolicy
        let inputs = measured.map { metric in
            let unit = metric.targetType == "Utilization" ? "%" : (metric.name == "cpu" ? " cores" : " bytes")
            return "\(metric.name) \(Self.number(metric.current))\(unit) (target \(Self.number(metric.target))\(unit)) over \(metric.pods) pods"
        }.joined(separator: ", ")
        let recommendation: Int
        do {
            recommendation = try await askPolicy(policyName, hpa: hpa, target: target, kind: kind, current: current, minimum: minimum, maximum: maximum, metrics: measured)
        } catch {
            let message = "autoscaler policy \(policyName) failed, keeping \(current) replicas: \(error)"
            try await record(hpa, current: current, desired: current, metrics: measured.map(\.status),
                             conditions: [("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale"),
                                          ("ScalingActive", "False", "FailedComputeMetricsReplicas", message)],
                             event: ("Warning", "FailedComputeMetricsReplicas", message), scaled: false)
            return
        }
        let now = Timestamp.nowSeconds()
        let rules = HorizontalPodAutoscalerStrategy.rules(hpa)
        let window = Int64(max(rules.up.stabilizationWindowSeconds, rules.down.stabilizationWindowSeconds, 1800))
        let (history, events) = histories.withLock { state -> ([ScalingBehavior.Record], [ScalingBehavior.Record]) in
            // A new HPA (or a restarted server) starts its scale-down window at the current count, as Kubernetes does.
            var entry = state[key] ?? History(recommendations: rules.down.stabilizationWindowSeconds > 0 ? [ScalingBehavior.Record(time: now, value: current)] : [])
            entry.recommendations.removeAll { now - $0.time > window }
            entry.events.removeAll { now - $0.time > 1800 }
            state[key] = entry
            return (entry.recommendations, entry.events)
        }
        let (desired, limited) = ScalingBehavior.decide(current: current, recommendation: recommendation, minimum: minimum, maximum: maximum,
                                                        history: history, events: events, up: rules.up, down: rules.down, now: now)
        histories.withLock { state in
            var entry = state[key, default: History()]
            entry.recommendations.append(ScalingBehavior.Record(time: now, value: recommendation))
            if desired != current { entry.events.append(ScalingBehavior.Record(time: now, value: desired - current)) }
            if entry.recommendations.count > Self.maximumHistory { entry.recommendations.removeFirst(entry.recommendations.count - Self.maximumHistory) }
            if entry.events.count > Self.maximumHistory { entry.events.removeFirst(entry.events.count - Self.maximumHistory) }
            state[key] = entry
        }
        let message = "\(inputs); policy \(policyName) recommends \(recommendation), stabilized and limited to \(desired)" + (limited.map { " (\($0))" } ?? "") + "; replicas \(current) → \(desired)"
        if desired != current { try await setReplicas(type, namespace: namespace, name: targetName, uid: ObjectMeta.uid(of: target), desired) }
        var conditions: [(String, String, String, String)] = [
            ("AbleToScale", "True", desired != current ? "SucceededRescale" : "ReadyForNewScale", desired != current ? "the HPA controller was able to update the target scale to \(desired)" : "recommended size matches current size"),
            ("ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from \(measured.map(\.name).joined(separator: ", "))"),
        ]
        conditions.append(limited.map { ("ScalingLimited", "True", $0, "the desired replica count was limited (\($0))") } ?? ("ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range"))
        try await record(hpa, current: current, desired: desired, metrics: measured.map(\.status), conditions: conditions,
                         event: desired != current ? ("Normal", "SuccessfulRescale", "New size: \(desired); \(message)") : ("Normal", "DesiredReplicasComputed", message),
                         scaled: desired != current, decision: "\(recommendation)/\(desired)/\(limited ?? "")/\(current)")
    }

    func setReplicas(_ type: ResourceType, namespace: String, name: String, uid: String, _ replicas: Int) async throws {
        try await client.modify(type, namespace: namespace, name: name, status: false) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            object[path: ["spec", "replicas"]] = .int(Int64(replicas))
        }
    }

    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "?" }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.3g", value)
    }

    /// Calls the policy's `desired_replicas(target, metrics)`; the answer must be a whole number from 0 to Int32.max.
    func askPolicy(_ name: String, hpa: JSON, target: JSON, kind: String, current: Int, minimum: Int, maximum: Int, metrics: [Measured]) async throws -> Int {
        guard let policy = host.policy(slot: .autoscaler, name: name) else {
            throw PolicyError(kind: .missing, slot: .autoscaler, name: name, message: "no autoscaler policy named \(name) is installed")
        }
        let targetValue: LuaValue = .map(["kind": .string(kind), "name": .string(ObjectMeta.name(of: target)), "namespace": .string(ObjectMeta.namespace(of: target)),
                                          "replicas": .integer(Int64(current)), "min_replicas": .integer(Int64(minimum)), "max_replicas": .integer(Int64(maximum))])
        let metricValues: LuaValue = .array(metrics.map { metric in
            .map(["name": .string(metric.name), "target_type": .string(metric.targetType), "target": .number(metric.target),
                  "current": .number(metric.current), "pods": .integer(Int64(metric.pods)),
                  "missing": .integer(Int64(metric.missing)), "unready": .integer(Int64(metric.unready))])
        })
        let results = try await policy.call("desired_replicas", [targetValue, metricValues])
        // Past Int32.max is as much as there can be (min/max clamp it next).
        switch results.first {
        case .integer(let value)? where value >= 0: return Int(min(value, Workloads.maximumReplicas))
        case .number(let value)? where value.isFinite && value >= 0 && value == value.rounded(): return Int(min(value, Double(Workloads.maximumReplicas)))
        default:
            throw PolicyError(kind: .runtime, slot: .autoscaler, name: name,
                              message: "desired_replicas returned \(results.first.map { "\($0.json.text)" } ?? "nothing"), not a whole number from 0 to \(Workloads.maximumReplicas)")
        }
    }

    /// Writes the status and records the decision as an event (not repeated while it stays the same).
    func record(_ hpa: JSON, current: Int, desired: Int, metrics: [JSON], conditions: [(String, String, String, String)],
                event: (String, String, String)?, scaled: Bool, decision: String? = nil) async throws {
        let uid = ObjectMeta.uid(of: hpa)
        let generation = hpa[path: ["metadata", "generation"]]?.intValue ?? 0
        let now = Timestamp.now()
        try await client.modify(Self.autoscalers, namespace: ObjectMeta.namespace(of: hpa), name: ObjectMeta.name(of: hpa), status: true) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            var status = object["status"] ?? .emptyObject
            if case .object = status {} else { status = .emptyObject }
            status["observedGeneration"] = .int(generation)
            status["currentReplicas"] = .int(Int64(current))
            status["desiredReplicas"] = .int(Int64(desired))
            status["currentMetrics"] = metrics.isEmpty ? Optional<JSON>.none : .array(metrics)
            if scaled { status["lastScaleTime"] = .string(now) }
            object["status"] = status
            for (type, value, reason, message) in conditions {
                Conditions.set(&object, type: type, status: value, reason: reason, message: message)
                // HPA conditions have no heartbeat time.
                if var list = object[path: ["status", "conditions"]]?.arrayValue, let index = list.firstIndex(where: { $0["type"]?.stringValue == type }) {
                    list[index]["lastHeartbeatTime"] = Optional<JSON>.none
                    object[path: ["status", "conditions"]] = .array(list)
                }
            }
        }
        guard let (type, reason, message) = event else { return }
        let key = Self.key(hpa)
        // The same decision again (same recommendation and outcome; inputs vary a little each time) is not a new event.
        let identity = reason + (decision ?? message)
        let repeated = histories.withLock { state -> Bool in
            if state[key, default: History()].lastDecision == identity { return true }
            state[key, default: History()].lastDecision = identity
            return false
        }
        if !repeated { await client.event(about: hpa, type: type, reason: reason, message: message, component: Self.component) }
    }
}
