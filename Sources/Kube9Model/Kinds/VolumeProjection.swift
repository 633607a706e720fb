/// The files of a pod's content volumes (configMap, secret, downwardAPI, projected) as the
/// kubelet lays them out: keys or `items` paths, `defaultMode` or per-item `mode`, `optional`
/// sources. The API server checks the paths with `isSafeRelativePath`; the agent writes the files.
public enum VolumeProjection {
    /// One file of a volume: a relative path, its bytes and its permission bits.
    public struct File: Equatable, Sendable {
        public var path: String
        public var bytes: [UInt8]
        public var mode: Int
        public init(path: String, bytes: [UInt8], mode: Int) {
            self.path = path
            self.bytes = bytes
            self.mode = mode
        }
    }

    /// Kubernetes' default file mode for these volumes (0644).
    public static let defaultMode = 0o644

    /// A relative path of real names: no `..` or `.` element, no empty one, not starting with `..` (items, subPath).
    public static func isSafeRelativePath(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && !path.hasPrefix("..") && path.utf8.count <= 4096
            && path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { $0 != ".." && $0 != "." && !$0.isEmpty }
    }

    /// The files of `volume`, or nil when it is not a content volume.
    public static func payload(_ volume: JSON, pod: JSON, sources: PodEnvironment.Sources, facts: PodEnvironment.PodFacts) throws -> [File]? {
        let namespace = ObjectMeta.namespace(of: pod)
        if let source = volume["configMap"] {
            return try keyed(source, object: try sources.configMap(source["name"]?.stringValue ?? ""), kind: "ConfigMap", namespace: namespace,
                             mode: mode(source["defaultMode"]))
        }
        if let source = volume["secret"] {
            return try keyed(source, object: try sources.secret(source["secretName"]?.stringValue ?? ""), kind: "Secret", namespace: namespace,
                             mode: mode(source["defaultMode"]), nameField: "secretName")
        }
        if let source = volume["downwardAPI"] {
            return try downward(source, pod: pod, facts: facts, mode: mode(source["defaultMode"]))
        }
        if let source = volume["projected"] {
            let fallback = mode(source["defaultMode"])
            var files: [File] = []
            for projection in source["sources"]?.arrayValue ?? [] {
                if let part = projection["configMap"] {
                    files += try keyed(part, object: try sources.configMap(part["name"]?.stringValue ?? ""), kind: "ConfigMap", namespace: namespace, mode: fallback)
                } else if let part = projection["secret"] {
                    files += try keyed(part, object: try sources.secret(part["name"]?.stringValue ?? ""), kind: "Secret", namespace: namespace, mode: fallback)
                } else if let part = projection["downwardAPI"] {
                    files += try downward(part, pod: pod, facts: facts, mode: fallback)
                }
            }
            return files
        }
        return nil
    }

    static func mode(_ value: JSON?) -> Int {
        guard let number = value?.intValue, (0...0o777).contains(number) else { return defaultMode }
        return Int(number)
    }

    /// A ConfigMap's or Secret's keys as files (all, or the listed `items`).
    static func keyed(_ source: JSON, object: JSON?, kind: String, namespace: String, mode: Int, nameField: String = "name") throws -> [File] {
        let name = source[nameField]?.stringValue ?? ""
        let optional = source["optional"]?.boolValue == true
        guard let object else {
            if optional { return [] }
            throw PodEnvironment.Problem("\(kind.lowercased()) \"\(name)\" not found")
        }
        var values: [String: [UInt8]] = [:]
        if kind == "Secret" {
            for (key, value) in object["data"]?.objectValue ?? [:] { values[key] = Base64.decode(value.stringValue ?? "") ?? [] }
        } else {
            for (key, value) in object["data"]?.objectValue ?? [:] { values[key] = Array((value.stringValue ?? "").utf8) }
            for (key, value) in object["binaryData"]?.objectValue ?? [:] { values[key] = Base64.decode(value.stringValue ?? "") ?? [] }
        }
        guard let items = source["items"]?.arrayValue, !items.isEmpty else {
            return values.keys.sorted().filter { ConfigurationData.keyError($0) == nil }.map { File(path: $0, bytes: values[$0] ?? [], mode: mode) }
        }
        var files: [File] = []
        for item in items {
            guard let key = item["key"]?.stringValue, let path = item["path"]?.stringValue, isSafeRelativePath(path) else { continue }
            guard let bytes = values[key] else {
                if optional { continue }
                throw PodEnvironment.Problem("configured to use key \(key) of \(kind) \(namespace)/\(name), which does not exist")
            }
            files.append(File(path: path, bytes: bytes, mode: item["mode"].map { self.mode($0) } ?? mode))
        }
        return files
    }

    /// downwardAPI items: pod fields (labels and annotations as `key="value"` lines) and resources.
    static func downward(_ source: JSON, pod: JSON, facts: PodEnvironment.PodFacts, mode: Int) throws -> [File] {
        var files: [File] = []
        for item in source["items"]?.arrayValue ?? [] {
            guard let path = item["path"]?.stringValue, isSafeRelativePath(path) else { continue }
            let text: String
            if let field = item[path: ["fieldRef", "fieldPath"]]?.stringValue {
                if field == "metadata.labels" || field == "metadata.annotations" {
                    let map = pod[path: ["metadata", field == "metadata.labels" ? "labels" : "annotations"]]?.objectValue ?? [:]
                    text = map.keys.sorted().map { key in "\(key)=\"\(escape(map[key]?.stringValue ?? ""))\"" }.joined(separator: "\n")
                } else {
                    text = PodEnvironment.fieldValue(field, pod: pod, facts: facts)
                }
            } else if let reference = item["resourceFieldRef"], let resource = reference["resource"]?.stringValue {
                let containers = pod[path: ["spec", "containers"]]?.arrayValue ?? []
                let named = reference["containerName"]?.stringValue
                guard let container = containers.first(where: { $0["name"]?.stringValue == named }) else {
                    throw PodEnvironment.Problem("downwardAPI item \(path): resourceFieldRef names no container \(named ?? "")")
                }
                text = try PodEnvironment.resourceValue(resource, reference: reference, container: container, pod: pod, facts: facts)
            } else {
                continue
            }
            files.append(File(path: path, bytes: Array(text.utf8), mode: item["mode"].map { self.mode($0) } ?? mode))
        }
        return files
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
