import OrderedCollections

/// A JSON document as the API stores it: key order is kept, integers and floats stay apart,
/// and unknown fields survive every round trip.
public enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(OrderedDictionary<String, JSON>)

    /// An empty JSON object.
    public static var emptyObject: JSON { .object([:]) }

    /// The member `key` of an object, or nil when this is not an object or has no such member.
    public subscript(key: String) -> JSON? {
        get {
            if case .object(let members) = self { return members[key] }
            return nil
        }
        set {
            guard case .object(var members) = self else {
                if let newValue { self = .object([key: newValue]) }
                return
            }
            self = .null  // release the storage so the write below does not copy it
            members[key] = newValue
            self = .object(members)
        }
    }

    /// The value at a path of object keys, or nil when any step is missing.
    public subscript(path path: [String]) -> JSON? {
        get {
            var current: JSON? = self
            for key in path { current = current?[key] }
            return current
        }
        set {
            guard let first = path.first else {
                if let newValue { self = newValue }
                return
            }
            if path.count == 1 {
                self[first] = newValue
                return
            }
            var child = self[first] ?? .emptyObject
            if case .object = child {} else { child = .emptyObject }
            child[path: Array(path.dropFirst())] = newValue
            self[first] = child
        }
    }

    /// The string value, or nil for other kinds.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer value (floats with no fraction count), or nil for other kinds.
    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value) where value.rounded() == value && abs(value) < 9.2e18: return Int64(value)
        default: return nil
        }
    }

    /// The boolean value, or nil for other kinds.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements, or nil when this is not an array.
    public var arrayValue: [JSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, or nil when this is not an object.
    public var objectValue: OrderedDictionary<String, JSON>? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// True for `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A name for the kind of value, used in error messages ("string", "object", …).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        var members = OrderedDictionary<String, JSON>()
        for (key, value) in elements { members[key] = value }
        self = .object(members)
    }
}

extension JSON {
    /// Equality that ignores the order of object keys (JSON's own notion of equal documents).
    /// Integers and floats with the same value are equal too.
    public func isEquivalent(to other: JSON) -> Bool {
        switch (self, other) {
        case (.object(let left), .object(let right)):
            guard left.count == right.count else { return false }
            for (key, value) in left {
                guard let match = right[key], value.isEquivalent(to: match) else { return false }
            }
            return true
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { $0.isEquivalent(to: $1) }
        case (.int(let left), .double(let right)), (.double(let right), .int(let left)):
            return Double(left) == right
        default:
            return self == other
        }
    }
}

extension JSON {
    /// The nesting depth: 0 for scalars, 1 for an array or object of scalars, and so on. Stops
    /// counting past `limit` (returns `limit + 1`), so the walk is bounded by the limit.
    public func depth(limit: Int = JSON.maximumDepth) -> Int {
        func walk(_ value: JSON, _ level: Int) -> Int {
            guard level <= limit else { return level }
            switch value {
            case .array(let elements):
                var deepest = level + 1
                for element in elements {
                    deepest = max(deepest, walk(element, level + 1))
                    if deepest > limit { return deepest }
                }
                return deepest
            case .object(let members):
                var deepest = level + 1
                for (_, member) in members {
                    deepest = max(deepest, walk(member, level + 1))
                    if deepest > limit { return deepest }
                }
                return deepest
            default:
                return level
            }
        }
        return walk(self, 0)
    }

    /// The length of `serialized()` in bytes, or nil as soon as it exceeds `limit` (the walk stops there).
    public func serializedSize(limit: Int) -> Int? {
        var total = 0
        func add(_ count: Int) -> Bool {
            total += count
            return total <= limit
        }
        func stringSize(_ text: String) -> Int {
            var size = 2
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09: size += 2
                case 0..<0x20: size += 6
                default: size += 1
                }
            }
            return size
        }
        func walk(_ value: JSON) -> Bool {
            switch value {
            case .null: return add(4)
            case .bool(let flag): return add(flag ? 4 : 5)
            case .int(let number): return add(String(number).utf8.count)
            case .double: var bytes: [UInt8] = []; value.write(to: &bytes); return add(bytes.count)
            case .string(let text): return add(stringSize(text))
            case .array(let elements):
                guard add(2 + max(0, elements.count - 1)) else { return false }
                for element in elements where !walk(element) { return false }
                return true
            case .object(let members):
                guard add(2 + max(0, members.count - 1)) else { return false }
                for (key, member) in members {
                    guard add(stringSize(key) + 1), walk(member) else { return false }
                }
                return true
            }
        }
        return walk(self) ? total : nil
    }
}
