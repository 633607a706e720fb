/// A Kubernetes resource quantity ("250m", "2", "1.5", "512Mi", "1G", "1e3"), held as
/// thousandths of the base unit so that CPU millicores and memory bytes share one type.
/// Values are bounded by `Quantity.maximumMilliValue`; arithmetic on quantities saturates.
public struct Quantity: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The value in thousandths of a unit (1 core = 1000, 1 byte = 1000).
    public var milliValue: Int64

    /// The largest value a quantity may have, in thousandths (9e18, about 9e15 units: 8 PiB of
    /// memory or 9 quadrillion cores). Larger values are refused where they are parsed.
    public static let maximumMilliValue: Int64 = 9_000_000_000_000_000_000

    public init(milliValue: Int64) { self.milliValue = milliValue }

    /// A whole number of units (saturating at the Int64 bounds).
    public init(units: Int64) { self.milliValue = units.saturatingMultiply(1000) }

    /// The value rounded up to whole units.
    public var value: Int64 {
        let (whole, remainder) = milliValue.quotientAndRemainder(dividingBy: 1000)
        return remainder > 0 ? whole + 1 : whole
    }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.milliValue < rhs.milliValue }

    /// Why a text is not an acceptable quantity.
    public enum Problem: Error, Sendable, Equatable {
        /// Not of the quantity syntax.
        case syntax
        /// Below zero where only non-negative values are allowed.
        case negative
        /// Above `maximumMilliValue` (or below its negation).
        case tooLarge

        /// The message Kubernetes-style validation prints for it.
        public var message: String {
            switch self {
            case .syntax: return "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            case .negative: return "must be greater than or equal to 0"
            case .tooLarge: return "quantity is too large: must be at most 9e15 (9000000000000000000m)"
            }
        }
    }

    static let suffixes: [(String, Double)] = [
        ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
        ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
        ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]

    /// Parses the canonical string forms, or says why the text is not a quantity.
    public static func parseChecked(_ text: String, allowNegative: Bool = false) -> Result<Quantity, Problem> {
        guard text.utf8.count <= 64 else { return .failure(.syntax) }
        var body = Substring(text)
        var multiplier: Double = 1
        // Suffixes compared as bytes (String.hasSuffix walks grapheme clusters: slow in a scheduler pass).
        let bytes = text.utf8
        for (suffix, factor) in suffixes where bytes.count >= suffix.utf8.count && bytes.suffix(suffix.utf8.count).elementsEqual(suffix.utf8) {
            body = body.dropLast(suffix.count)
            multiplier = factor
            break
        }
        if multiplier == 1, let exponentIndex = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            let exponentText = body[body.index(after: exponentIndex)...]
            // At most a sign and three digits: abs() of a huge exponent would trap, and anything past ±30 is out of range anyway.
            guard exponentText.utf8.count <= 4, let exponent = Int(exponentText), exponentText.allSatisfy({ $0.isASCII }) else {
                let digits = exponentText.filter { $0.isASCII && $0.isNumber }
                return .failure(digits.count != exponentText.utf8.count - (exponentText.hasPrefix("+") ? 1 : 0) ? .syntax : .tooLarge)
            }
            guard abs(exponent) <= 30 else { return .failure(exponent > 0 ? .tooLarge : .syntax) }
            body = body[..<exponentIndex]
            multiplier = pow10(exponent)
        }
        guard !body.isEmpty, body.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." || $0 == "-" || $0 == "+" }),
            let number = Double(body), number.isFinite
        else { return .failure(.syntax) }
        if number < 0, !allowNegative { return .failure(.negative) }
        let milli = (number * multiplier * 1000).rounded(.up)
        guard milli.isFinite, abs(milli) <= Double(maximumMilliValue) else { return .failure(.tooLarge) }
        return .success(Quantity(milliValue: Int64(milli)))
    }

    /// Parses the canonical string forms. Returns nil for anything Kubernetes would reject,
    /// negative values included when `allowNegative` is false, and values above the maximum.
    public static func parse(_ text: String, allowNegative: Bool = false) -> Quantity? {
        try? parseChecked(text, allowNegative: allowNegative).get()
    }

    static func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(exponent) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }

    /// Reads a quantity from JSON, where Kubernetes accepts both strings and numbers, or says why not.
    public static func checked(_ value: JSON?) -> Result<Quantity, Problem> {
        switch value {
        case .string(let text)?: return parseChecked(text)
        case .int(let number)?:
            if number < 0 { return .failure(.negative) }
            guard let milli = number.checkedMultiply(1000), milli <= maximumMilliValue else { return .failure(.tooLarge) }
            return .success(Quantity(milliValue: milli))
        case .double(let number)?:
            if number < 0 { return .failure(.negative) }
            let milli = (number * 1000).rounded(.up)
            guard milli.isFinite, milli <= Double(maximumMilliValue) else { return .failure(.tooLarge) }
            return .success(Quantity(milliValue: Int64(milli)))
        default:
            return .failure(.syntax)
        }
    }

    /// Reads a quantity from JSON, where Kubernetes accepts both strings and numbers.
    public static func from(_ value: JSON?) -> Quantity? {
        try? checked(value).get()
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
