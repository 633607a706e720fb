import OrderedCollections

/// A field's type in an OpenAPI schema.
public indirect enum SchemaType: Sendable {
    case string
    case integer
    case boolean
    case number
    /// An RFC 3339 timestamp string.
    case time
    /// A resource quantity (string or number).
    case quantity
    /// A reference to another named definition.
    case ref(String)
    case array(SchemaType)
    /// A map with string keys.
    case map(SchemaType)
    /// Any JSON object; unknown fields are kept and not checked.
    case freeform
}

/// One property of a definition.
public struct SchemaField: Sendable {
    public var name: String
    public var type: SchemaType
    public var description: String
    public var required: Bool
    /// For lists that strategic merge patch merges by a key: that key (kubectl's 3-way diff reads it).
    public var mergeKey: String?
    /// For scalar lists that merge as sets.
    public var mergesAsSet: Bool

    public init(_ name: String, _ type: SchemaType, _ description: String, required: Bool = false, mergeKey: String? = nil, mergesAsSet: Bool = false) {
        self.name = name
        self.type = type
        self.description = description
        self.required = required
        self.mergeKey = mergeKey
        self.mergesAsSet = mergesAsSet
    }
}

/// A named OpenAPI definition ("io.k8s.api.core.v1.Pod"). A `closed` definition lists every
/// field Kubernetes defines, so strict field validation can report the unknown ones.
public struct SchemaDefinition: Sendable {
    public var name: String
    public var description: String
    public var fields: [SchemaField]
    /// group/version/kind when this definition is a top-level kind.
    public var kind: (group: String, version: String, kind: String)?
    public var closed: Bool

    public init(_ name: String, _ description: String, kind: (String, String, String)? = nil, closed: Bool = true, fields: [SchemaField]) {
        self.name = name
        self.description = description
        self.fields = fields
        self.kind = kind.map { (group: $0.0, version: $0.1, kind: $0.2) }
        self.closed = closed
    }

    /// The OpenAPI v3 schema object.
    public var openAPI: JSON {
        var properties = OrderedDictionary<String, JSON>()
        for field in fields {
            var property = SchemaDefinition.render(field.type, description: field.description)
            if let mergeKey = field.mergeKey {
                property["x-kubernetes-patch-merge-key"] = .string(mergeKey)
                property["x-kubernetes-patch-strategy"] = "merge"
                property["x-kubernetes-list-type"] = "map"
                property["x-kubernetes-list-map-keys"] = [.string(mergeKey)]
            } else if field.mergesAsSet {
                property["x-kubernetes-patch-strategy"] = "merge"
                property["x-kubernetes-list-type"] = "set"
            }
            properties[field.name] = property
        }
        var schema: JSON = ["description": .string(description), "type": "object", "properties": .object(properties)]
        let required = fields.filter(\.required).map { JSON.string($0.name) }
        if !required.isEmpty { schema["required"] = .array(required) }
        if !closed { schema["x-kubernetes-preserve-unknown-fields"] = true }
        if let kind {
            schema["x-kubernetes-group-version-kind"] = [["group": .string(kind.group), "kind": .string(kind.kind), "version": .string(kind.version)]]
        }
        return schema
    }

    static func render(_ type: SchemaType, description: String?) -> JSON {
        var schema: JSON
        switch type {
        case .string: schema = ["type": "string"]
        case .integer: schema = ["type": "integer", "format": "int64"]
        case .boolean: schema = ["type": "boolean"]
        case .number: schema = ["type": "number", "format": "double"]
        case .time: schema = ["type": "string", "format": "date-time"]
        case .quantity: schema = ["type": "string", "x-kubernetes-int-or-string": true]
        case .ref(let name): schema = ["allOf": [["$ref": .string("#/components/schemas/\(name)")]]]
        case .array(let element): schema = ["type": "array", "items": render(element, description: nil)]
        case .map(let element): schema = ["type": "object", "additionalProperties": render(element, description: nil)]
        case .freeform: schema = ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
        }
        if let description, !description.isEmpty { schema["description"] = .string(description) }
        return schema
    }
}

/// All definitions by name, for OpenAPI documents and strict field validation.
public struct SchemaCatalog: Sendable {
    public let definitions: [String: SchemaDefinition]

    public init(_ definitions: [SchemaDefinition]) {
        var byName: [String: SchemaDefinition] = [:]
        for definition in definitions { byName[definition.name] = definition }
        self.definitions = byName
    }

    /// The names of every definition reachable from `root`, root included.
    public func closure(of root: String) -> [String] {
        var seen: [String] = []
        var pending = [root]
        while let name = pending.popLast() {
            guard !seen.contains(name), let definition = definitions[name] else { continue }
            seen.append(name)
            for field in definition.fields { pending.append(contentsOf: Self.references(field.type)) }
        }
        return seen
    }

    static func references(_ type: SchemaType) -> [String] {
        switch type {
        case .ref(let name): return [name]
        case .array(let element), .map(let element): return references(element)
        default: return []
        }
    }

    /// Dotted paths of fields in `object` that a closed definition does not list
    /// (what `fieldValidation=Strict` rejects), and of values whose JSON type is wrong.
    public func unknownFields(in object: JSON, definition name: String) -> [String] {
        var problems: [String] = []
        check(object, type: .ref(name), path: "", into: &problems)
        return problems
    }

    func check(_ value: JSON, type: SchemaType, path: String, into problems: inout [String]) {
        if value.isNull { return }
        switch type {
        case .ref(let name):
            guard let definition = definitions[name], case .object(let members) = value else { return }
            for (key, child) in members {
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if let field = definition.fields.first(where: { $0.name == key }) {
                    check(child, type: field.type, path: childPath, into: &problems)
                } else if definition.closed {
                    problems.append(childPath)
                }
            }
        case .array(let element):
            guard case .array(let elements) = value else { return }
            for (index, child) in elements.enumerated() { check(child, type: element, path: "\(path)[\(index)]", into: &problems) }
        case .map(let element):
            guard case .object(let members) = value else { return }
            for (key, child) in members { check(child, type: element, path: "\(path).\(key)", into: &problems) }
        default:
            return
        }
    }
}
