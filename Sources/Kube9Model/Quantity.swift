/// A Kubernetes resource quantity ("250m", "2", "1.5", "512Mi", "1G", "1e3"), held as
/// thousandths of the base unit so that CPU millicores and memory bytes share one type.
public struct Quantity: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The value in thousandths of a unit (1 core = 1000, 1 byte = 1000).
    public var milliValue: Int64

    public init(milliValue: Int64) { self.milliValue = milliValue }

    /// A whole number of units.
    public init(units: Int64) { self.milliValue = units * 1000 }

    /// The value rounded up to whole units.
    public var value: Int64 { (milliValue + 999) / 1000 }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.milliValue < rhs.milliValue }

    static let suffixes: [(String, Double)] = [
        ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
        ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
        ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]

    /// Parses the canonical string forms. Returns nil for anything Kubernetes would reject,
    /// negative values included when `allowNegative` is false.
    public static func parse(_ text: String, allowNegative: Bool = false) -> Quantity? {
        var body = text
        var multiplier: Double = 1
        for (suffix, factor) in suffixes where body.hasSuffix(suffix) {
            body.removeLast(suffix.count)
            multiplier = factor
            break
        }
        if multiplier == 1, let exponentIndex = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let exponent = Int(body[body.index(after: exponentIndex)...]), abs(exponent) <= 18 else { return nil }
            body = String(body[..<exponentIndex])
            multiplier = pow10(exponent)
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }),
            let number = Double(body), number.isFinite
        else { return nil }
        if number < 0, !allowNegative { return nil }
        let milli = (number * multiplier * 1000).rounded(.up)
        guard abs(milli) < 9.2e18 else { return nil }
        return Quantity(milliValue: Int64(milli))
    }

    static func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(exponent) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }

    /// Reads a quantity from JSON, where Kubernetes accepts both strings and numbers.
    public static func from(_ value: JSON?) -> Quantity? {
        switch value {
        case .string(let text)?: return parse(text)
        case .int(let number)?: return number >= 0 ? Quantity(units: number) : nil
        case .double(let number)?: return number >= 0 ? Quantity(milliValue: Int64((number * 1000).rounded(.up))) : nil
        default: return nil
        }
    }

    /// A compact canonical form: millis as "250m", whole units as "2", binary sizes as "512Mi".
    public var description: String {
        if milliValue % 1000 != 0 { return "\(milliValue)m" }
        let units = milliValue / 1000
        for (suffix, factor) in [("Gi", Int64(1_073_741_824)), ("Mi", Int64(1_048_576)), ("Ki", Int64(1024))]
        where units != 0 && units % factor == 0 && units >= factor {
            return "\(units / factor)\(suffix)"
        }
        return "\(units)"
    }
}
