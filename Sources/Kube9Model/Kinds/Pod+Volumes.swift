/// Pods: the checks of `spec.volumes` and of each container's `volumeMounts`.
extension PodStrategy {
    /// Volume sources kube9 serves (one per volume).
    public static let volumeSources = ["emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected", "persistentVolumeClaim"]

    static func validateVolumes(_ spec: JSON, into causes: inout [FieldCause]) {
        guard let volumes = spec["volumes"], !volumes.isNull else { return }
        guard let list = volumes.arrayValue else {
            causes.append(.typeInvalid("spec.volumes", expected: "array", got: volumes))
            return
        }
        var names = Set<String>()
        for (index, volume) in list.enumerated() {
            let field = "spec.volumes[\(index)]"
            guard case .object(let members) = volume else {
                causes.append(.typeInvalid(field, expected: "object", got: volume))
                continue
            }
            if let name = volume["name"]?.stringValue, !name.isEmpty {
                if let error = NameRules.dns1123LabelError(name) { causes.append(.invalid("\(field).name", .string(name), error)) }
                if !names.insert(name).inserted { causes.append(.duplicate("\(field).name", .string(name))) }
            } else {
                causes.append(.required("\(field).name"))
            }
            let kinds = members.keys.filter { $0 != "name" && members[$0] != .null }
            guard kinds.count == 1, let kind = kinds.first else {
                causes.append(kinds.isEmpty ? .required(field, "must specify a volume type")
                                            : .forbidden(field, "may not specify more than 1 volume type (\(kinds.sorted().joined(separator: ", ")))"))
                continue
            }
            guard volumeSources.contains(kind) else {
                causes.append(.notSupported("\(field).\(kind)", nil, supported: volumeSources))
                continue
            }
            guard let source = volume[kind], case .object = source else {
                causes.append(.typeInvalid("\(field).\(kind)", expected: "object", got: volume[kind] ?? .null))
                continue
            }
            let at = "\(field).\(kind)"
            switch kind {
            case "hostPath":
                let path = source["path"]?.stringValue ?? ""
                if !path.hasPrefix("/") { causes.append(path.isEmpty ? .required("\(at).path") : .invalid("\(at).path", .string(path), "must be an absolute path")) }
                else if path.contains(":") { causes.append(.invalid("\(at).path", .string(path), "must not contain ':'")) }
                let types = ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"]
                if let type = source["type"], !type.isNull, !types.contains(type.stringValue ?? "-") {
                    causes.append(.notSupported("\(at).type", type, supported: types.filter { !$0.isEmpty }))
                }
            case "emptyDir":
                if let medium = source["medium"], !medium.isNull, !["", "Memory"].contains(medium.stringValue ?? "-") {
                    causes.append(.notSupported("\(at).medium", medium, supported: ["", "Memory"]))
                }
                if let limit = source["sizeLimit"], !limit.isNull, case .failure(let problem) = Quantity.checked(limit) {
                    causes.append(.invalid("\(at).sizeLimit", limit, problem.message))
                }
            case "configMap", "secret":
                let nameField = kind == "secret" ? "secretName" : "name"
                PodEnvironment.checkObjectName(source[nameField], "\(at).\(nameField)", into: &causes)
                checkItems(source, at, keyed: true, into: &causes)
            case "downwardAPI":
                checkItems(source, at, keyed: false, into: &causes)
            case "projected":
                for (position, projection) in (source["sources"]?.arrayValue ?? []).enumerated() {
                    let here = "\(at).sources[\(position)]"
                    let parts = ["configMap", "secret", "downwardAPI", "serviceAccountToken"].filter { projection[$0] != nil }
                    guard parts.count == 1, let part = parts.first, let inner = projection[part] else {
                        causes.append(.forbidden(here, "must specify exactly one of configMap, secret, downwardAPI or serviceAccountToken"))
                        continue
                    }
                    if part == "serviceAccountToken" {
                        causes.append(.notSupported("\(here).serviceAccountToken", nil, supported: ["configMap", "secret", "downwardAPI"]))
                    } else {
                        if part != "downwardAPI" { PodEnvironment.checkObjectName(inner["name"], "\(here).\(part).name", into: &causes) }
                        checkItems(inner, "\(here).\(part)", keyed: part != "downwardAPI", into: &causes)
                    }
                }
            default:
                PodEnvironment.checkObjectName(source["claimName"], "\(at).claimName", into: &causes)
            }
        }
    }

    /// `items` (key and path, or a pod field or resource for downwardAPI) and `mode`/`defaultMode` in 0–0777.
    static func checkItems(_ source: JSON, _ field: String, keyed: Bool, into causes: inout [FieldCause]) {
        CommonSchemas.checkInteger(source["defaultMode"], "\(field).defaultMode", in: 0...0o777, into: &causes)
        guard let items = source["items"], !items.isNull else { return }
        guard let list = items.arrayValue else {
            causes.append(.typeInvalid("\(field).items", expected: "array", got: items))
            return
        }
        for (index, item) in list.enumerated() {
            let at = "\(field).items[\(index)]"
            let path = item["path"]?.stringValue ?? ""
            if !VolumeProjection.isSafeRelativePath(path) {
                causes.append(path.isEmpty ? .required("\(at).path") : .invalid("\(at).path", .string(path), "must be a relative path without '..'"))
            }
            CommonSchemas.checkInteger(item["mode"], "\(at).mode", in: 0...0o777, into: &causes)
            if keyed {
                if (item["key"]?.stringValue ?? "").isEmpty { causes.append(.required("\(at).key")) }
            } else if let fieldPath = item[path: ["fieldRef", "fieldPath"]]?.stringValue {
                let allowed = PodEnvironment.fieldPaths + ["metadata.labels", "metadata.annotations"]
                if !allowed.contains(fieldPath), PodEnvironment.labelOrAnnotation(fieldPath) == nil {
                    causes.append(.notSupported("\(at).fieldRef.fieldPath", .string(fieldPath), supported: allowed))
                }
            } else if let reference = item["resourceFieldRef"] {
                // In a volume the container must be named (there is no "this container").
                if (reference["containerName"]?.stringValue ?? "").isEmpty { causes.append(.required("\(at).resourceFieldRef.containerName")) }
                let resource = reference["resource"]
                if !PodEnvironment.resources.contains(resource?.stringValue ?? "") {
                    causes.append(.notSupported("\(at).resourceFieldRef.resource", resource, supported: PodEnvironment.resources))
                }
            } else {
                causes.append(.required("\(at).fieldRef", "a downwardAPI item needs fieldRef or resourceFieldRef"))
            }
        }
    }

    /// A container's `volumeMounts`: a known volume, an absolute mountPath once per container, a safe subPath.
    static func validateMounts(_ container: JSON, field: String, volumes: Set<String>, into causes: inout [FieldCause]) {
        guard let mounts = container["volumeMounts"], !mounts.isNull else { return }
        guard let list = mounts.arrayValue else {
            causes.append(.typeInvalid("\(field).volumeMounts", expected: "array", got: mounts))
            return
        }
        var targets = Set<String>()
        for (index, mount) in list.enumerated() {
            let at = "\(field).volumeMounts[\(index)]"
            let name = mount["name"]?.stringValue ?? ""
            if name.isEmpty {
                causes.append(.required("\(at).name"))
            } else if !volumes.contains(name) {
                causes.append(FieldCause(reason: "FieldValueNotFound", field: "\(at).name", message: "Not found: \"\(name)\""))
            }
            let target = mount["mountPath"]?.stringValue ?? ""
            if target.isEmpty {
                causes.append(.required("\(at).mountPath"))
            } else if !target.hasPrefix("/") {
                causes.append(.invalid("\(at).mountPath", .string(target), "must be an absolute path"))
            } else if target.contains(":") {
                causes.append(.invalid("\(at).mountPath", .string(target), "must not contain ':'"))
            } else if !targets.insert(target).inserted {
                causes.append(.invalid("\(at).mountPath", .string(target), "must be unique"))
            }
            if let subPath = mount["subPath"]?.stringValue, !subPath.isEmpty, !VolumeProjection.isSafeRelativePath(subPath) || subPath.contains(":") {
                causes.append(.invalid("\(at).subPath", .string(subPath), "must be a relative path without '..'"))
            }
            CommonSchemas.checkType(mount["readOnly"], "boolean", "\(at).readOnly", into: &causes)
        }
    }
}
