/// Checked arithmetic for numbers that come from requests: sums of quantities, counts,
/// durations. Out of range never traps: it saturates, or the caller is told (nil).
extension Int64 {
    /// `self + other`, clamped to `Int64.min...Int64.max`.
    public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        if !overflow { return sum }
        return other > 0 ? .max : .min
    }

    /// `self - other`, clamped to `Int64.min...Int64.max`.
    public func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        if !overflow { return difference }
        return other < 0 ? .max : .min
    }

    /// `self * other`, clamped to `Int64.min...Int64.max`.
    public func saturatingMultiply(_ other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        if !overflow { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }

    /// `self + other`, or nil when the sum does not fit.
    public func checkedAdd(_ other: Int64) -> Int64? {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? nil : sum
    }

    /// `self * other`, or nil when the product does not fit.
    public func checkedMultiply(_ other: Int64) -> Int64? {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? nil : product
    }

    /// The integer nearest to `value` when it is finite and fits in Int64 (with a margin below
    /// 2^63, where Double can no longer tell neighbours apart); nil otherwise.
    public init?(checkedRounding value: Double, rule: FloatingPointRoundingRule = .toNearestOrAwayFromZero) {
        let rounded = value.rounded(rule)
        guard rounded.isFinite, rounded > -9.2e18, rounded < 9.2e18 else { return nil }
        self.init(rounded)
    }
}

extension Sequence where Element == Int64 {
    /// The sum of the elements, clamped to `Int64.min...Int64.max` at every step.
    public func saturatingSum() -> Int64 { reduce(0) { $0.saturatingAdd($1) } }
}

extension Int {
    /// `Int(value)` when it fits, else the nearest bound.
    public init(clampingToInt value: Int64) {
        self = Int(clamping: value)
    }
}
