/// A parsed label selector (`app=web,tier!=db,env in (a,b),!legacy,gpu`), matched against
/// an object's `metadata.labels`. An empty selector matches everything.
public struct LabelSelector: Sendable, Equatable {
    /// One requirement of a selector.
    public enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)
    }

    /// All requirements; every one must hold.
    public var requirements: [Requirement]

    /// A selector that matches every object.
    public static let everything = LabelSelector(requirements: [])

    public init(requirements: [Requirement]) { self.requirements = requirements }

    /// True when the selector has no requirements.
    public var isEmpty: Bool { requirements.isEmpty }

    /// Parses the query-string form. Throws `APIError.badRequest` naming the bad part.
    public static func parse(_ text: String) throws(APIError) -> LabelSelector {
        var requirements: [Requirement] = []
        var scanner = SelectorScanner(text: text)
        scanner.skipSpaces()
        if scanner.atEnd { return .everything }
        while true {
            scanner.skipSpaces()
            if scanner.consume("!") {
                scanner.skipSpaces()
                let key = scanner.readWord()
                try validateKey(key, text)
                requirements.append(.doesNotExist(key))
            } else {
                let key = scanner.readWord()
                try validateKey(key, text)
                scanner.skipSpaces()
                if scanner.consume("!=") {
                    scanner.skipSpaces()
                    let value = scanner.readWord()
                    try validateValue(value, text)
                    requirements.append(.notEquals(key, value))
                } else if scanner.consume("==") || scanner.consume("=") {
                    scanner.skipSpaces()
                    let value = scanner.readWord()
                    try validateValue(value, text)
                    requirements.append(.equals(key, value))
                } else if scanner.peekKeyword("notin") || scanner.peekKeyword("in") {
                    let negated = scanner.consume("notin")
                    if !negated { _ = scanner.consume("in") }
                    scanner.skipSpaces()
                    guard scanner.consume("(") else {
                        throw APIError.badRequest("unable to parse requirement: found '\(scanner.rest)', expected: '(' in label selector \"\(text)\"")
                    }
                    var values = Set<String>()
                    while true {
                        scanner.skipSpaces()
                        let value = scanner.readWord()
                        try validateValue(value, text)
                        values.insert(value)
                        scanner.skipSpaces()
                        if scanner.consume(",") { continue }
                        if scanner.consume(")") { break }
                        throw APIError.badRequest("unable to parse requirement: expected ',' or ')' in label selector \"\(text)\"")
                    }
                    requirements.append(negated ? .notIn(key, values) : .isIn(key, values))
                } else {
                    requirements.append(.exists(key))
                }
            }
            scanner.skipSpaces()
            if scanner.atEnd { break }
            guard scanner.consume(",") else {
                throw APIError.badRequest("unable to parse requirement: found '\(scanner.rest)', expected: ',' or end of label selector \"\(text)\"")
            }
        }
        return LabelSelector(requirements: requirements)
    }

    static func validateKey(_ key: String, _ text: String) throws(APIError) {
        if key.isEmpty { throw APIError.badRequest("unable to parse requirement: empty key in label selector \"\(text)\"") }
        if let error = NameRules.qualifiedNameError(key) {
            throw APIError.badRequest("unable to parse requirement: invalid label key \"\(key)\": \(error)")
        }
    }

    static func validateValue(_ value: String, _ text: String) throws(APIError) {
        if let error = NameRules.labelValueError(value) {
            throw APIError.badRequest("unable to parse requirement: invalid label value: \"\(value)\": \(error)")
        }
    }

    /// True when `labels` satisfies every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        for requirement in requirements {
            switch requirement {
            case .equals(let key, let value): if labels[key] != value { return false }
            case .notEquals(let key, let value): if labels[key] == value { return false }
            case .isIn(let key, let values): guard let value = labels[key], values.contains(value) else { return false }
            case .notIn(let key, let values): if let value = labels[key], values.contains(value) { return false }
            case .exists(let key): if labels[key] == nil { return false }
            case .doesNotExist(let key): if labels[key] != nil { return false }
            }
        }
        return true
    }

    /// True when the object's `metadata.labels` satisfy the selector.
    public func matches(object: JSON) -> Bool {
        if isEmpty { return true }
        return matches(ObjectMeta.labels(of: object))
    }
}

/// A parsed field selector (`metadata.name=x,status.phase!=Running`). Which fields may be
/// selected depends on the resource; `FieldSelector.parse` checks them against that list.
public struct FieldSelector: Sendable, Equatable {
    /// One requirement: the field path, the value, and whether equality is negated.
    public struct Requirement: Sendable, Equatable {
        public var field: String
        public var value: String
        public var negated: Bool
    }

    /// All requirements; every one must hold.
    public var requirements: [Requirement]

    /// A selector that matches every object.
    public static let everything = FieldSelector(requirements: [])

    public init(requirements: [Requirement]) { self.requirements = requirements }

    /// True when the selector has no requirements.
    public var isEmpty: Bool { requirements.isEmpty }

    /// Parses `text`; each field must be in `supportedFields` (dotted paths). Throws
    /// `APIError.badRequest` for a syntax error or an unsupported field.
    public static func parse(_ text: String, supportedFields: Set<String>, kind: String) throws(APIError) -> FieldSelector {
        var requirements: [Requirement] = []
        let trimmed = text.trimmingSpaces
        if trimmed.isEmpty { return .everything }
        for term in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let part = String(term).trimmingSpaces
            let field: String
            let value: String
            let negated: Bool
            if let range = part.firstRange(of: "!=") {
                field = String(part[..<range.lowerBound]); value = String(part[range.upperBound...]); negated = true
            } else if let range = part.firstRange(of: "==") {
                field = String(part[..<range.lowerBound]); value = String(part[range.upperBound...]); negated = false
            } else if let range = part.firstRange(of: "=") {
                field = String(part[..<range.lowerBound]); value = String(part[range.upperBound...]); negated = false
            } else {
                throw APIError.badRequest("invalid selector: '\(text)'; can't understand '\(part)'")
            }
            let fieldName = field.trimmingSpaces
            guard supportedFields.contains(fieldName) else {
                throw APIError.badRequest("field label not supported: \(fieldName)" + (kind.isEmpty ? "" : " (for \(kind))"))
            }
            requirements.append(Requirement(field: fieldName, value: value.trimmingSpaces, negated: negated))
        }
        return FieldSelector(requirements: requirements)
    }

    /// True when every selected field of `object` compares as required. A missing field is "".
    public func matches(object: JSON) -> Bool {
        for requirement in requirements {
            let path = requirement.field.split(separator: ".").map(String.init)
            let actual: String
            switch object[path: path] {
            case .string(let value)?: actual = value
            case .int(let value)?: actual = String(value)
            case .bool(let value)?: actual = value ? "true" : "false"
            default: actual = ""
            }
            if (actual == requirement.value) == requirement.negated { return false }
        }
        return true
    }

    /// The value required by an equality on `field`, if the selector has one (used to index watches).
    public func requiredValue(of field: String) -> String? {
        requirements.first { $0.field == field && !$0.negated }?.value
    }
}

struct SelectorScanner {
    let characters: [Character]
    var index = 0

    init(text: String) { characters = Array(text) }

    var atEnd: Bool { index >= characters.count }
    var rest: String { String(characters[min(index, characters.count)...]) }

    mutating func skipSpaces() {
        while index < characters.count, characters[index] == " " { index += 1 }
    }

    mutating func consume(_ token: String) -> Bool {
        let tokenCharacters = Array(token)
        guard index + tokenCharacters.count <= characters.count,
            Array(characters[index..<index + tokenCharacters.count]) == tokenCharacters
        else { return false }
        index += tokenCharacters.count
        return true
    }

    func peekKeyword(_ keyword: String) -> Bool {
        let keywordCharacters = Array(keyword)
        guard index + keywordCharacters.count <= characters.count,
            Array(characters[index..<index + keywordCharacters.count]) == keywordCharacters
        else { return false }
        let after = index + keywordCharacters.count
        return after == characters.count || characters[after] == " " || characters[after] == "("
    }

    mutating func readWord() -> String {
        let start = index
        while index < characters.count, !" ,=!()".contains(characters[index]) { index += 1 }
        return String(characters[start..<index])
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    public var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\n" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\n" { slice.removeLast() }
        return String(slice)
    }
}
