import Kube9Model

/// What Kubernetes' HPA does to a recommendation before it is applied: the stabilization
/// windows (scale down to the highest recommendation of the window, up to the lowest) and the
/// rate policies (Pods or Percent per period, the Max, Min or Disabled of them), then the
/// min and max replicas. Pure functions over a history of recommendations and scale events.
public enum ScalingBehavior {
    /// A recommendation or a scale event at a time (Unix seconds).
    public struct Record: Sendable, Equatable {
        public var time: Int64
        public var value: Int
        public init(time: Int64, value: Int) {
            self.time = time
            self.value = value
        }
    }

    public typealias Rules = HorizontalPodAutoscalerStrategy.Rules

    /// The stabilized recommendation: the current count moved toward `recommendation` only as
    /// far as every recommendation within each direction's window agrees.
    public static func stabilize(current: Int, recommendation: Int, history: [Record], up: Rules, down: Rules, now: Int64) -> Int {
        var upRecommendation = recommendation
        var downRecommendation = recommendation
        for record in history {
            // As Kubernetes: records after now − window (a record exactly one window old has left it).
            if now - record.time < Int64(up.stabilizationWindowSeconds) { upRecommendation = min(upRecommendation, record.value) }
            if now - record.time < Int64(down.stabilizationWindowSeconds) { downRecommendation = max(downRecommendation, record.value) }
        }
        var result = current
        if result < upRecommendation { result = upRecommendation }
        if result > downRecommendation { result = downRecommendation }
        return result
    }

    /// The most replicas the rules allow now (`events`: past changes, positive for scale-ups).
    public static func scaleUpLimit(current: Int, events: [Record], rules: Rules, now: Int64) -> Int {
        if rules.selectPolicy == "Disabled" || rules.policies.isEmpty { return current }
        let limits = rules.policies.map { policy -> Int in
            let added = events.filter { now - $0.time < Int64(policy.periodSeconds) && $0.value > 0 }.reduce(0) { $0 + $1.value }
            let start = max(0, current - added)
            if policy.percent { return Int((Int64(start) * Int64(100 + policy.value) + 99) / 100) }
            return start.addingReportingOverflow(policy.value).overflow ? Int.max : start + policy.value
        }
        // Never below the current count: a scale-up limit does not scale down (Kubernetes: max(limit, current)).
        return max(current, rules.selectPolicy == "Min" ? (limits.min() ?? current) : (limits.max() ?? current))
    }

    /// The fewest replicas the rules allow now (`events`: past changes, negative for scale-downs).
    public static func scaleDownLimit(current: Int, events: [Record], rules: Rules, now: Int64) -> Int {
        if rules.selectPolicy == "Disabled" || rules.policies.isEmpty { return current }
        let limits = rules.policies.map { policy -> Int in
            let removed = events.filter { now - $0.time < Int64(policy.periodSeconds) && $0.value < 0 }.reduce(0) { $0 - $1.value }
            let start = current + removed
            if policy.percent { return max(0, Int(Int64(start) * Int64(max(0, 100 - policy.value)) / 100)) }
            return max(0, start - policy.value)
        }
        // Max picks the policy that allows the biggest change: the lowest floor.
        // Never above the current count: a scale-down limit does not scale up.
        return min(current, rules.selectPolicy == "Min" ? (limits.max() ?? current) : (limits.min() ?? current))
    }

    /// The replicas to set: stabilized, rate-limited, within min and max; and why it was limited, if it was.
    public static func decide(current: Int, recommendation: Int, minimum: Int, maximum: Int, history: [Record], events: [Record],
                              up: Rules, down: Rules, now: Int64) -> (replicas: Int, limited: String?) {
        let stabilized = stabilize(current: current, recommendation: recommendation, history: history, up: up, down: down, now: now)
        var result = stabilized
        var limited: String? = nil
        if stabilized > current {
            let limit = scaleUpLimit(current: current, events: events, rules: up, now: now)
            if limit < result { result = limit; limited = "ScaleUpLimit" }
        } else if stabilized < current {
            let limit = scaleDownLimit(current: current, events: events, rules: down, now: now)
            if limit > result { result = limit; limited = "ScaleDownLimit" }
        }
        if result > maximum { result = maximum; limited = "TooManyReplicas" }
        if result < minimum { result = minimum; limited = "TooFewReplicas" }
        return (result, limited)
    }
}
