#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Kubernetes name and label rules (apimachinery's validation package), returning the
/// message Kubernetes prints when a rule is broken, or nil when the value is fine.
public enum NameRules {
    static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// ASCII letter or digit.
    public static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    /// RFC 1123 label: at most 63 characters, lowercase alphanumerics and '-', starting and ending alphanumeric.
    public static func dns1123LabelError(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.count > 63 { return "must be no more than 63 characters" }
        let valid = bytes.first.map(isLowerAlphanumeric) == true && bytes.last.map(isLowerAlphanumeric) == true
            && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        if !valid {
            return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        }
        return nil
    }

    /// RFC 1035 label (Service names): an RFC 1123 label that starts with a letter.
    public static func dns1035LabelError(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.count > 63 { return "must be no more than 63 characters" }
        let valid = bytes.first.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) } == true
            && bytes.last.map(isLowerAlphanumeric) == true
            && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        if !valid {
            return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        }
        return nil
    }

    /// An IANA service name (named ports): at most 15 characters, lowercase alphanumerics and
    /// '-', at least one letter, no '-' at either end or twice in a row.
    public static func portNameError(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.isEmpty || bytes.count > 15 { return "must be no more than 15 characters" }
        if !bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }) {
            return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
        }
        if !bytes.contains(where: { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }) { return "must contain at least one letter (a-z)" }
        if value.contains("--") { return "must not contain consecutive hyphens" }
        if bytes.first == UInt8(ascii: "-") || bytes.last == UInt8(ascii: "-") { return "must not begin or end with a hyphen" }
        return nil
    }

    /// RFC 1123 subdomain: at most 253 characters, dot-separated labels.
    public static func dns1123SubdomainError(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.count > 253 { return "must be no more than 253 characters" }
        let valid = bytes.first.map(isLowerAlphanumeric) == true && bytes.last.map(isLowerAlphanumeric) == true
            && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
            && !value.contains("..") && !value.contains(".-") && !value.contains("-.")
        if !valid {
            return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        }
        return nil
    }

    /// A qualified name part: at most 63 characters, alphanumerics, '-', '_' and '.', alphanumeric at both ends.
    static func namePartError(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.isEmpty { return "name part must be non-empty" }
        if bytes.count > 63 { return "name part must be no more than 63 characters" }
        let valid = bytes.first.map(isAlphanumeric) == true && bytes.last.map(isAlphanumeric) == true
            && bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
        if !valid {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        }
        return nil
    }

    /// A label or annotation key: an optional DNS subdomain prefix and '/', then a name part.
    public static func qualifiedNameError(_ value: String) -> String? {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return namePartError(value)
        case 2:
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            if let error = dns1123SubdomainError(String(parts[0])) { return "prefix part \(error)" }
            return namePartError(String(parts[1]))
        default:
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
    }

    /// A label value: empty, or at most 63 characters like a name part.
    public static func labelValueError(_ value: String) -> String? {
        if value.isEmpty { return nil }
        if value.utf8.count > 63 { return "must be no more than 63 characters" }
        if namePartError(value) != nil {
            return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        }
        return nil
    }

    static let randomAlphabet: [Character] = Array("bcdfghjklmnpqrstvwxz2456789")

    /// Five random characters from Kubernetes' generateName alphabet (no vowels, no confusable digits).
    public static func randomSuffix(length: Int = 5) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in randomAlphabet[Int(generator.next() % UInt64(randomAlphabet.count))] })
    }

    /// A random RFC 4122 version 4 UUID in lowercase.
    public static func newUID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { byte -> String in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined()
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }
}

/// RFC 3339 timestamps in UTC with second precision, as Kubernetes writes `metav1.Time`.
public enum Timestamp {
    /// Seconds since the Unix epoch, now.
    public static func nowSeconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }

    /// Formats seconds since the epoch as `2006-01-02T15:04:05Z`.
    public static func format(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
    }

    /// The current time formatted.
    public static func now() -> String { format(nowSeconds()) }

    /// The current time as a `metav1.MicroTime` (`2006-01-02T15:04:05.000000Z`), as Leases and
    /// Events' eventTime use.
    public static func nowMicro() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let micros = String(Int(spec.tv_nsec / 1000))
        return String(format(Int64(spec.tv_sec)).dropLast()) + "." + String(repeating: "0", count: 6 - micros.count) + micros + "Z"
    }

    /// Parses an RFC 3339 timestamp (fractional seconds and offsets accepted) into epoch seconds.
    public static func parse(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int32 = 0
            for index in range {
                let byte = bytes[index]
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int32(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), bytes[4] == UInt8(ascii: "-"), let month = number(5..<7), bytes[7] == UInt8(ascii: "-"),
            let day = number(8..<10), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        }
        var offsetSeconds: Int64 = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            index += 1
        } else if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            guard let offsetHour = number(index + 1..<index + 3), let offsetMinute = number(index + 4..<index + 6) else { return nil }
            offsetSeconds = Int64(offsetHour) * 3600 + Int64(offsetMinute) * 60
            if bytes[index] == UInt8(ascii: "+") { offsetSeconds = -offsetSeconds }
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let epoch = timegm(&parts)
        return Int64(epoch) + offsetSeconds
    }

    /// Kubernetes' short human duration ("5s", "3m20s", "4h", "2d3h", "12d", "2y").
    public static func humanDuration(seconds: Int64) -> String {
        let value = max(0, seconds)
        if value < 120 { return "\(value)s" }
        let minutes = value / 60
        if minutes < 10 { return value % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(value % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = value / 3600
        if hours < 8 { return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m" }
        if hours < 48 { return "\(hours)h" }
        let days = hours / 24
        if hours < 24 * 8 { return hours % 24 == 0 ? "\(days)d" : "\(days)d\(hours % 24)h" }
        if days < 365 * 2 { return "\(days)d" }
        let years = days / 365
        if years < 8 { return days % 365 == 0 ? "\(years)y" : "\(years)y\(days % 365)d" }
        return "\(years)y"
    }

    /// The age of an object whose `metadata.creationTimestamp` is `timestamp`, or "<unknown>".
    public static func age(of timestamp: String?) -> String {
        guard let timestamp, let seconds = parse(timestamp) else { return "<unknown>" }
        return humanDuration(seconds: nowSeconds() - seconds)
    }
}
