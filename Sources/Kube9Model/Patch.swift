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
        // Removals are collected and done in one pass: one removal shifts the whole dictionary.
        var removals = Set<String>()
        for (key, value) in patchMembers {
            if value.isNull {
                if result[key] != nil { removals.insert(key) }
            } else {
                result[key] = mergePatch(result[key] ?? .null, value)
            }
        }
        if !removals.isEmpty { result.removeAll { removals.contains($0.key) } }
        return .object(result)
    }

    // MARK: JSON patch (RFC 6902)

    /// The most operations one JSON patch may carry (Kubernetes' own limit).
    public static let maximumJSONPatchOperations = 10_000
    /// The most bytes a JSON patch may add to a document, counted as it is applied (copies
    /// included, removals not subtracted): a patch cannot make memory grow without bound.
    public static let maximumJSONPatchGrowth = 8 * 1024 * 1024
    /// The most element moves (inserting into or removing from the middle of a list or an
    /// ordered object shifts what follows) one JSON patch may cost.
    public static let maximumJSONPatchWork = 10_000_000

    /// Applies an RFC 6902 operation list.
    public static func jsonPatch(_ target: JSON, _ patch: JSON) throws(APIError) -> JSON {
        guard let operations = patch.arrayValue else {
            throw APIError.badRequest("json patch must be an array of operations, got \(patch.typeName)")
        }
        guard operations.count <= maximumJSONPatchOperations else {
            throw APIError.invalid(kind: "", group: "", name: "", causes: [
                FieldCause(reason: "FieldValueTooMany", field: "", message: "Too many: \(operations.count): must have at most \(maximumJSONPatchOperations) items (json patch operations)")
            ])
        }
        var document = target
        var growth = 0
        var work = 0
        // Nothing a patch builds may nest deeper than the parser reads: the document would not
        // load again, and recursion over it would be unbounded.
        func checkDepth(_ value: JSON, at pointer: [String], path: String) throws(APIError) {
            if pointer.count + value.depth(limit: JSON.maximumDepth) > JSON.maximumDepth {
                throw APIError.invalid(kind: "", group: "", name: "", causes: [
                    FieldCause(reason: "FieldValueInvalid", field: path, message: "json patch: the result would nest deeper than \(JSON.maximumDepth) levels")
                ])
            }
        }
        func grow(by value: JSON, path: String) throws(APIError) {
            let room = maximumJSONPatchGrowth - growth
            guard let size = value.serializedSize(limit: room) else {
                throw APIError.invalid(kind: "", group: "", name: "", causes: [
                    FieldCause(reason: "FieldValueTooLong", field: path, message: "Too long: json patch operations may add at most \(maximumJSONPatchGrowth) bytes")
                ])
            }
            growth += size
        }
        for (index, operation) in operations.enumerated() {
            guard let op = operation["op"]?.stringValue else {
                throw APIError.badRequest("json patch operation \(index) has no \"op\"")
            }
            guard let path = operation["path"]?.stringValue else {
                throw APIError.badRequest("json patch operation \(index) (\(op)) has no \"path\"")
            }
            let pointer = try parsePointer(path)
            if pointer.count > JSON.maximumDepth { throw missing(path) }
            if work > maximumJSONPatchWork {
                throw APIError.invalid(kind: "", group: "", name: "", causes: [
                    FieldCause(reason: "FieldValueInvalid", field: path, message: "json patch is too expensive to apply (more than \(maximumJSONPatchWork) element moves)")
                ])
            }
            switch op {
            case "add":
                guard let value = operation["value"] else { throw APIError.badRequest("json patch add at \(path) has no value") }
                try checkDepth(value, at: pointer, path: path)
                try grow(by: value, path: path)
                try insert(value, at: pointer[...], in: &document, replacing: false, path: path, work: &work)
            case "replace":
                guard let value = operation["value"] else { throw APIError.badRequest("json patch replace at \(path) has no value") }
                _ = try read(pointer, in: document, path: path)
                try checkDepth(value, at: pointer, path: path)
                try grow(by: value, path: path)
                try insert(value, at: pointer[...], in: &document, replacing: true, path: path, work: &work)
            case "remove":
                _ = try remove(pointer[...], in: &document, path: path, work: &work)
            case "move", "copy":
                guard let from = operation["from"]?.stringValue else { throw APIError.badRequest("json patch \(op) to \(path) has no \"from\"") }
                let fromPointer = try parsePointer(from)
                let value: JSON
                if op == "move" {
                    if pointer.count > fromPointer.count, Array(pointer.prefix(fromPointer.count)) == fromPointer {
                        throw APIError.invalid(kind: "", group: "", name: "", causes: [
                            FieldCause(reason: "FieldValueInvalid", field: path, message: "json patch: a value cannot be moved into one of its children")
                        ])
                    }
                    value = try remove(fromPointer[...], in: &document, path: from, work: &work)
                } else {
                    value = try read(fromPointer, in: document, path: from)
                    try grow(by: value, path: path)
                }
                try checkDepth(value, at: pointer, path: path)
                try insert(value, at: pointer[...], in: &document, replacing: false, path: path, work: &work)
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

    /// An array index token: decimal digits only, no sign, no leading zeros (RFC 6901).
    static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token.utf8.count <= 18, token.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        if token.utf8.count > 1, token.utf8.first == UInt8(ascii: "0") { return nil }
        return Int(token)
    }

    static func read(_ pointer: [String], in document: JSON, path: String) throws(APIError) -> JSON {
        var current = document
        for token in pointer {
            switch current {
            case .object(let members):
                guard let next = members[token] else { throw missing(path) }
                current = next
            case .array(let elements):
                guard let index = arrayIndex(token), elements.indices.contains(index) else { throw missing(path) }
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

    /// Inserts (or replaces) in place: each level's storage is taken out of `document` before
    /// it changes, so nothing is copied on the way down.
    static func insert(_ value: JSON, at pointer: ArraySlice<String>, in document: inout JSON, replacing: Bool, path: String, work: inout Int) throws(APIError) {
        guard let token = pointer.first else {
            document = value
            return
        }
        let rest = pointer.dropFirst()
        switch document {
        case .object(var members):
            document = .null
            if rest.isEmpty {
                members[token] = value
            } else {
                guard var child = members[token] else { throw missing(path) }
                members[token] = .null
                try insert(value, at: rest, in: &child, replacing: replacing, path: path, work: &work)
                members[token] = child
            }
            document = .object(members)
        case .array(var elements):
            document = .null
            if rest.isEmpty {
                if token == "-", !replacing {
                    elements.append(value)
                } else if let index = arrayIndex(token) {
                    if replacing {
                        guard elements.indices.contains(index) else { throw missing(path) }
                        elements[index] = value
                    } else {
                        guard index <= elements.count else { throw missing(path) }
                        work += elements.count - index
                        elements.insert(value, at: index)
                    }
                } else {
                    throw missing(path)
                }
            } else {
                guard let index = arrayIndex(token), elements.indices.contains(index) else { throw missing(path) }
                var child = elements[index]
                elements[index] = .null
                try insert(value, at: rest, in: &child, replacing: replacing, path: path, work: &work)
                elements[index] = child
            }
            document = .array(elements)
        default:
            throw missing(path)
        }
    }

    /// Removes in place and returns the removed value.
    static func remove(_ pointer: ArraySlice<String>, in document: inout JSON, path: String, work: inout Int) throws(APIError) -> JSON {
        guard let token = pointer.first else { throw APIError.badRequest("json patch cannot remove the whole document") }
        let rest = pointer.dropFirst()
        switch document {
        case .object(var members):
            guard var child = members[token] else { throw missing(path) }
            document = .null
            let removed: JSON
            if rest.isEmpty {
                work += members.count
                members.removeValue(forKey: token)
                removed = child
            } else {
                members[token] = .null
                removed = try remove(rest, in: &child, path: path, work: &work)
                members[token] = child
            }
            document = .object(members)
            return removed
        case .array(var elements):
            guard let index = arrayIndex(token), elements.indices.contains(index) else { throw missing(path) }
            document = .null
            let removed: JSON
            if rest.isEmpty {
                work += elements.count - index
                removed = elements.remove(at: index)
            } else {
                var child = elements[index]
                elements[index] = .null
                removed = try remove(rest, in: &child, path: path, work: &work)
                elements[index] = child
            }
            document = .array(elements)
            return removed
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
        var removals = Set<String>()
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
                    let unwanted = Set(list)
                    result[field] = .array(existing.filter { !unwanted.contains($0) })
                }
                continue
            }
            if key.hasPrefix("$") { throw APIError.badRequest("unknown strategic merge directive \"\(key)\" at \(path.isEmpty ? "<root>" : path)") }
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            if value.isNull {
                removals.insert(key)
                continue
            }
            switch value {
            case .object:
                if let merged = try strategicMergeObject(result[key] ?? .null, value, path: childPath, mergeKeys: mergeKeys) {
                    result[key] = merged
                } else {
                    removals.insert(key)
                }
            case .array(let patchList):
                result[key] = .array(try strategicMergeList(result[key]?.arrayValue ?? [], patchList, path: childPath, mergeKeys: mergeKeys))
            default:
                result[key] = value
            }
        }
        if !removals.isEmpty { result.removeAll { removals.contains($0.key) } }
        for (field, order) in elementOrders {
            guard let list = result[field]?.arrayValue else { continue }
            let childPath = path.isEmpty ? field : "\(path).\(field)"
            result[field] = .array(reorder(list, by: order, mergeKey: mergeKeys.keyed[childPath]))
        }
        if let retainKeys {
            let keep = Set(retainKeys)
            result.removeAll { !keep.contains($0.key) }
        }
        return .object(result)
    }

    static func strategicMergeList(_ target: [JSON], _ patch: [JSON], path: String, mergeKeys: MergeKeys) throws(APIError) -> [JSON] {
        if let mergeKey = mergeKeys.keyed[path] {
            // `$patch: replace` as an element replaces the whole list with the other elements.
            if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
                return patch.filter { $0["$patch"] == nil }
            }
            // Elements by their key, so each patch element finds its match in constant time.
            var result: [JSON?] = target
            var positions: [JSON: [Int]] = [:]
            for (index, element) in target.enumerated() {
                if let key = element[mergeKey] { positions[key, default: []].append(index) }
            }
            for element in patch {
                guard case .object = element else {
                    throw APIError.badRequest("list \(path) merges by \(mergeKey): every element must be an object")
                }
                let directive = element["$patch"]?.stringValue
                guard let keyValue = element[mergeKey] else {
                    throw APIError.badRequest("list \(path) merges by \(mergeKey): element has no \(mergeKey)")
                }
                if directive == "delete" {
                    for index in positions[keyValue] ?? [] { result[index] = nil }
                    positions[keyValue] = nil
                    continue
                }
                if let existing = positions[keyValue]?.first, let current = result[existing] {
                    if let merged = try strategicMergeObject(current, element, path: path, mergeKeys: mergeKeys) {
                        result[existing] = merged
                    } else {
                        result[existing] = nil
                        positions[keyValue]?.removeFirst()
                        if positions[keyValue]?.isEmpty == true { positions[keyValue] = nil }
                    }
                } else if let created = try strategicMergeObject(.emptyObject, element, path: path, mergeKeys: mergeKeys) {
                    positions[keyValue, default: []].append(result.count)
                    result.append(created)
                }
            }
            return result.compactMap { $0 }
        }
        if mergeKeys.scalarSets.contains(path) {
            var result = target
            var present = Set(target)
            for element in patch {
                if case .object(let members) = element, members["$patch"]?.stringValue == "replace" {
                    return patch.filter { $0["$patch"] == nil }
                }
                if present.insert(element).inserted { result.append(element) }
            }
            return result
        }
        // Lists without a merge strategy are replaced; strip directives from their elements.
        return patch.filter { $0["$patch"]?.stringValue != "delete" }
    }

    static func reorder(_ list: [JSON], by order: [JSON], mergeKey: String?) -> [JSON] {
        func identity(_ element: JSON) -> JSON { mergeKey.flatMap { element[$0] } ?? element }
        var remaining: [JSON?] = list
        var positions: [JSON: [Int]] = [:]
        for (index, element) in list.enumerated() { positions[identity(element), default: []].append(index) }
        var ordered: [JSON] = []
        for wanted in order {
            let key = mergeKey.flatMap { wanted[$0] } ?? wanted
            guard var indices = positions[key], let index = indices.first else { continue }
            indices.removeFirst()
            positions[key] = indices.isEmpty ? nil : indices
            if let element = remaining[index] {
                ordered.append(element)
                remaining[index] = nil
            }
        }
        return ordered + remaining.compactMap { $0 }
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
