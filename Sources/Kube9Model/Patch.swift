import OrderedCollections

/// The PATCH forms the API accepts, by request Content-Type.
public enum PatchType: String, Sendable {
    case merge = "application/merge-patch+json"
    case json = "application/json-patch+json"
    case strategic = "application/strategic-merge-patch+json"
    case apply = "application/apply-patch+yaml"
}

/// Strategic-merge metadata for one kind: which lists merge by which key, and which lists
/// of scalars merge as sets. Paths are dotted field names with list levels left out
/// (`spec.containers.ports`).
public struct MergeKeys: Sendable {
    /// List path → the key that identifies an element (e.g. `spec.containers` → `name`).
    public var keyed: [String: String]
    /// Paths of scalar lists that merge as sets (e.g. `metadata.finalizers`).
    public var scalarSets: Set<String>

    public init(keyed: [String: String] = [:], scalarSets: Set<String> = []) {
        self.keyed = keyed
        self.scalarSets = scalarSets
    }

    /// The keys every kind shares (metadata).
    public static let metadata = MergeKeys(keyed: ["metadata.ownerReferences": "uid"], scalarSets: ["metadata.finalizers"])

    /// Adds `other`'s keys with each path placed under `prefix` (e.g. a PodSpec under `spec.template.spec`).
    public func merging(_ other: MergeKeys, under prefix: String = "") -> MergeKeys {
        var result = self
        let lead = prefix.isEmpty ? "" : prefix + "."
        for (path, key) in other.keyed { result.keyed[lead + path] = key }
        for path in other.scalarSets { result.scalarSets.insert(lead + path) }
        return result
    }
}

/// Applies patches to JSON documents. Failures throw `APIError` (400 for a malformed patch,
/// 422 for a patch that cannot apply to this document).
public enum Patcher {
    /// RFC 7386 JSON merge patch: objects merge, `null` deletes, everything else replaces.
    public static func mergePatch(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(let patchMembers) = patch else { return patch }
        var result: OrderedDictionary<String, JSON> = target.objectValue ?? [:]
        for (key, value) in patchMembers {
            if value.isNull {
                result.removeValue(forKey: key)
            } else {
                result[key] = mergePatch(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    // MARK: JSON patch (RFC 6902)

    /// Applies an RFC 6902 operation list.
    public static func jsonPatch(_ target: JSON, _ patch: JSON) throws(APIError) -> JSON {
        guard let operations = patch.arrayValue else {
            throw APIError.badRequest("json patch must be an array of operations, got \(patch.typeName)")
        }
        var document = target
        for (index, operation) in operations.enumerated() {
            guard let op = operation["op"]?.stringValue else {
                throw APIError.badRequest("json patch operation \(index) has no \"op\"")
            }
            guard let path = operation["path"]?.stringValue else {
                throw APIError.badRequest("json patch operation \(index) (\(op)) has no \"path\"")
            }
            let pointer = try parsePointer(path)
            switch op {
            case "add":
                guard let value = operation["value"] else { throw APIError.badRequest("json patch add at \(path) has no value") }
                document = try insert(value, at: pointer, in: document, replacing: false, path: path)
            case "replace":
                guard let value = operation["value"] else { throw APIError.badRequest("json patch replace at \(path) has no value") }
                _ = try read(pointer, in: document, path: path)
                document = try insert(value, at: pointer, in: document, replacing: true, path: path)
            case "remove":
                document = try remove(pointer, in: document, path: path).document
            case "move", "copy":
                guard let from = operation["from"]?.stringValue else { throw APIError.badRequest("json patch \(op) to \(path) has no \"from\"") }
                let fromPointer = try parsePointer(from)
                let value: JSON
                if op == "move" {
                    let removed = try remove(fromPointer, in: document, path: from)
                    document = removed.document
                    value = removed.value
                } else {
                    value = try read(fromPointer, in: document, path: from)
                }
                document = try insert(value, at: pointer, in: document, replacing: false, path: path)
            case "test":
                let expected = operation["value"] ?? .null
                let actual = try read(pointer, in: document, path: path)
                if actual != expected {
                    throw APIError.invalid(kind: "", group: "", name: "", causes: [
                        .invalid(path, actual, "json patch test operation failed: expected \(expected.text)")
                    ])
                }
            default:
                throw APIError.badRequest("json patch operation \(index) has unknown op \"\(op)\"")
            }
        }
        return document
    }

    static func parsePointer(_ path: String) throws(APIError) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw APIError.badRequest("json patch path \"\(path)\" must start with '/'") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func read(_ pointer: [String], in document: JSON, path: String) throws(APIError) -> JSON {
        var current = document
        for token in pointer {
            switch current {
            case .object(let members):
                guard let next = members[token] else { throw missing(path) }
                current = next
            case .array(let elements):
                guard let index = Int(token), elements.indices.contains(index) else { throw missing(path) }
                current = elements[index]
            default:
                throw missing(path)
            }
        }
        return current
    }

    static func missing(_ path: String) -> APIError {
        APIError.invalid(kind: "", group: "", name: "", causes: [
            FieldCause(reason: "FieldValueInvalid", field: path, message: "json patch: doc is missing path \"\(path)\"")
        ])
    }

    static func insert(_ value: JSON, at pointer: [String], in document: JSON, replacing: Bool, path: String) throws(APIError) -> JSON {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var members):
            if rest.isEmpty {
                members[token] = value
            } else {
                guard let child = members[token] else { throw missing(path) }
                members[token] = try insert(value, at: rest, in: child, replacing: replacing, path: path)
            }
            return .object(members)
        case .array(var elements):
            if rest.isEmpty {
                if token == "-", !replacing {
                    elements.append(value)
                } else if let index = Int(token), index >= 0 {
                    if replacing {
                        guard elements.indices.contains(index) else { throw missing(path) }
                        elements[index] = value
                    } else {
                        guard index <= elements.count else { throw missing(path) }
                        elements.insert(value, at: index)
                    }
                } else {
                    throw missing(path)
                }
            } else {
                guard let index = Int(token), elements.indices.contains(index) else { throw missing(path) }
                elements[index] = try insert(value, at: rest, in: elements[index], replacing: replacing, path: path)
            }
            return .array(elements)
        default:
            throw missing(path)
        }
    }

    static func remove(_ pointer: [String], in document: JSON, path: String) throws(APIError) -> (document: JSON, value: JSON) {
        guard let token = pointer.first else { throw APIError.badRequest("json patch cannot remove the whole document") }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var members):
            guard let child = members[token] else { throw missing(path) }
            if rest.isEmpty {
                members.removeValue(forKey: token)
                return (.object(members), child)
            }
            let result = try remove(rest, in: child, path: path)
            members[token] = result.document
            return (.object(members), result.value)
        case .array(var elements):
            guard let index = Int(token), elements.indices.contains(index) else { throw missing(path) }
            if rest.isEmpty {
                let value = elements.remove(at: index)
                return (.array(elements), value)
            }
            let result = try remove(rest, in: elements[index], path: path)
            elements[index] = result.document
            return (.array(elements), result.value)
        default:
            throw missing(path)
        }
    }

    // MARK: Strategic merge patch

    /// Applies a strategic merge patch with the directives kubectl sends: `$patch`
    /// (replace, delete, merge), `$retainKeys`, `$setElementOrder/<list>`,
    /// `$deleteFromPrimitiveList/<list>`, and `null` to delete a field. Lists named in
    /// `mergeKeys` merge element by element; other lists are replaced.
    public static func strategicMerge(_ target: JSON, _ patch: JSON, mergeKeys: MergeKeys) throws(APIError) -> JSON {
        try strategicMergeObject(target, patch, path: "", mergeKeys: mergeKeys) ?? .emptyObject
    }

    static func strategicMergeObject(_ target: JSON, _ patch: JSON, path: String, mergeKeys: MergeKeys) throws(APIError) -> JSON? {
        guard case .object(let patchMembers) = patch else { return patch }
        if let directive = patchMembers["$patch"]?.stringValue {
            switch directive {
            case "delete": return nil
            case "replace":
                var replaced = patchMembers
                replaced.removeValue(forKey: "$patch")
                return .object(replaced)
            case "merge": break
            default: throw APIError.badRequest("unknown $patch directive \"\(directive)\" at \(path.isEmpty ? "<root>" : path)")
            }
        }
        var result: OrderedDictionary<String, JSON> = target.objectValue ?? [:]
        var elementOrders: [String: [JSON]] = [:]
        var retainKeys: [String]? = nil
        for (key, value) in patchMembers {
            if key == "$patch" { continue }
            if key == "$retainKeys" {
                guard let list = value.arrayValue else { throw APIError.badRequest("$retainKeys at \(path) must be a list") }
                retainKeys = list.compactMap(\.stringValue)
                continue
            }
            if key.hasPrefix("$setElementOrder/") {
                guard let list = value.arrayValue else { throw APIError.badRequest("\(key) at \(path) must be a list") }
                elementOrders[String(key.dropFirst("$setElementOrder/".count))] = list
                continue
            }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                guard let list = value.arrayValue else { throw APIError.badRequest("\(key) at \(path) must be a list") }
                if let existing = result[field]?.arrayValue {
                    result[field] = .array(existing.filter { !list.contains($0) })
                }
                continue
            }
            if key.hasPrefix("$") { throw APIError.badRequest("unknown strategic merge directive \"\(key)\" at \(path.isEmpty ? "<root>" : path)") }
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            if value.isNull {
                result.removeValue(forKey: key)
                continue
            }
            switch value {
            case .object:
                if let merged = try strategicMergeObject(result[key] ?? .null, value, path: childPath, mergeKeys: mergeKeys) {
                    result[key] = merged
                } else {
                    result.removeValue(forKey: key)
                }
            case .array(let patchList):
                result[key] = .array(try strategicMergeList(result[key]?.arrayValue ?? [], patchList, path: childPath, mergeKeys: mergeKeys))
            default:
                result[key] = value
            }
        }
        for (field, order) in elementOrders {
            guard let list = result[field]?.arrayValue else { continue }
            let childPath = path.isEmpty ? field : "\(path).\(field)"
            result[field] = .array(reorder(list, by: order, mergeKey: mergeKeys.keyed[childPath]))
        }
        if let retainKeys {
            let keep = Set(retainKeys)
            for key in Array(result.keys) where !keep.contains(key) { result.removeValue(forKey: key) }
        }
        return .object(result)
    }

    static func strategicMergeList(_ target: [JSON], _ patch: [JSON], path: String, mergeKeys: MergeKeys) throws(APIError) -> [JSON] {
        if let mergeKey = mergeKeys.keyed[path] {
            // `$patch: replace` as an element replaces the whole list with the other elements.
            if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
                return patch.filter { $0["$patch"] == nil }
            }
            var result = target
            for element in patch {
                guard case .object = element else {
                    throw APIError.badRequest("list \(path) merges by \(mergeKey): every element must be an object")
                }
                let directive = element["$patch"]?.stringValue
                guard let keyValue = element[mergeKey] else {
                    throw APIError.badRequest("list \(path) merges by \(mergeKey): element has no \(mergeKey)")
                }
                let existing = result.firstIndex { $0[mergeKey] == keyValue }
                if directive == "delete" {
                    result.removeAll { $0[mergeKey] == keyValue }
                    continue
                }
                if let existing {
                    if let merged = try strategicMergeObject(result[existing], element, path: path, mergeKeys: mergeKeys) {
                        result[existing] = merged
                    } else {
                        result.remove(at: existing)
                    }
                } else if let created = try strategicMergeObject(.emptyObject, element, path: path, mergeKeys: mergeKeys) {
                    result.append(created)
                }
            }
            return result
        }
        if mergeKeys.scalarSets.contains(path) {
            var result = target
            for element in patch {
                if case .object(let members) = element, members["$patch"]?.stringValue == "replace" {
                    return patch.filter { $0["$patch"] == nil }
                }
                if !result.contains(element) { result.append(element) }
            }
            return result
        }
        // Lists without a merge strategy are replaced; strip directives from their elements.
        return patch.filter { $0["$patch"]?.stringValue != "delete" }
    }

    static func reorder(_ list: [JSON], by order: [JSON], mergeKey: String?) -> [JSON] {
        func identity(_ element: JSON) -> JSON { mergeKey.flatMap { element[$0] } ?? element }
        let orderIdentities = order.map { element in mergeKey.flatMap { key in element[key] } ?? element }
        var ordered: [JSON] = []
        var remaining = list
        for wanted in orderIdentities {
            if let index = remaining.firstIndex(where: { identity($0) == wanted }) {
                ordered.append(remaining.remove(at: index))
            }
        }
        return ordered + remaining
    }
}

extension String {
    /// Replaces every occurrence of `target` with `replacement`.
    public func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
