/// A Lua value that can cross into Swift: nil, booleans, integers and floats kept apart,
/// strings, sequences (`array`) and string-keyed tables (`map`). Functions, userdata and
/// threads stay inside Lua and arrive as `.opaque` with their type name.
public enum LuaValue: Sendable, Hashable {
    case `nil`
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([LuaValue])
    case map([String: LuaValue])
    /// A value Swift cannot hold (function, userdata, thread), named by its Lua type.
    case opaque(String)

    /// The Lua type name ("nil", "boolean", "number", "string", "table", …).
    public var typeName: String {
        switch self {
        case .nil: return "nil"
        case .bool: return "boolean"
        case .integer, .number: return "number"
        case .string: return "string"
        case .array, .map: return "table"
        case .opaque(let name): return name
        }
    }

    /// The member `key` of a map, or nil.
    public subscript(key: String) -> LuaValue? {
        if case .map(let members) = self { return members[key] }
        return nil
    }

    /// The string, or nil for other kinds.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number as a Double (integers convert), or nil.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .number(let value): return value
        default: return nil
        }
    }

    /// The integer, or a float with no fraction, or nil.
    public var integerValue: Int64? {
        switch self {
        case .integer(let value): return value
        case .number(let value) where value.rounded() == value && abs(value) < 9.2e18: return Int64(value)
        default: return nil
        }
    }

    /// The boolean, or nil.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// Lua truthiness: everything but nil and false.
    public var isTruthy: Bool {
        switch self {
        case .nil, .bool(false): return false
        default: return true
        }
    }
}

extension LuaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(arrayLiteral elements: LuaValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .nil }
    public init(dictionaryLiteral elements: (String, LuaValue)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// Why a Lua operation failed, and where.
public struct LuaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public enum Kind: String, Sendable {
        /// The chunk does not compile.
        case syntax
        /// A runtime error raised by the script.
        case runtime
        /// The state's memory cap was reached.
        case memory
        /// The per-call instruction budget ran out.
        case budget
        /// The per-call wall-clock deadline passed.
        case deadline
        /// A value could not cross between Lua and Swift, or the caller misused the API.
        case value
    }

    public var kind: Kind
    /// The chunk name ("policies/scheduler/best_fit.lua"), when Lua reported one.
    public var chunk: String?
    /// The line in that chunk, when Lua reported one.
    public var line: Int?
    /// The message without the "chunk:line:" prefix.
    public var message: String
    /// Lua's stack traceback, when there is one.
    public var traceback: String?

    public init(kind: Kind, chunk: String? = nil, line: Int? = nil, message: String, traceback: String? = nil) {
        self.kind = kind
        self.chunk = chunk
        self.line = line
        self.message = message
        self.traceback = traceback
    }

    /// "chunk:line: message" when the location is known.
    public var location: String? {
        guard let chunk else { return nil }
        return line.map { "\(chunk):\($0)" } ?? chunk
    }

    public var description: String {
        (location.map { "\($0): " } ?? "") + message
    }

    /// Splits Lua's "chunk:line: message\nstack traceback:…" into its parts.
    static func parse(_ text: String, kind: Kind) -> LuaError {
        var body = text
        var traceback: String? = nil
        if let range = body.firstRange(of: "\nstack traceback:") {
            traceback = String(body[range.lowerBound...]).trimmingCharacters(in: "\n")
            body = String(body[..<range.lowerBound])
        }
        // "chunk:line: message" — the chunk itself may contain ':' only in a "[string ...]" form.
        let parts = body.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3, let line = Int(parts[1]), parts[2].hasPrefix(" ") {
            return LuaError(kind: kind, chunk: String(parts[0]), line: line, message: String(parts[2].dropFirst()), traceback: traceback)
        }
        return LuaError(kind: kind, message: body, traceback: traceback)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var slice = Substring(self)
        while slice.first == set { slice.removeFirst() }
        while slice.last == set { slice.removeLast() }
        return String(slice)
    }
}
