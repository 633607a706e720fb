import OrderedCollections

/// Protobuf decoding driven by message descriptors (field number → JSON name and type, from
/// k8s.io/api's generated.proto files), for the workload kinds kubectl sends as protobuf
/// (`kubectl create deployment`). A field number a descriptor does not list is refused with
/// 415 naming it, so nothing a client sent is dropped silently.
enum ProtobufMessages {
    indirect enum FieldType: Sendable {
        case string, int32, int64, bool
        /// A non-pointer bool or int32 in Go: false or 0 is the same as absent (JSON omits it).
        case flag, count
        case message(String)
        /// IntOrString (type = 1, intVal = 2, strVal = 3).
        case intOrString
        /// resource.Quantity (string = 1).
        case quantity
        /// map<string, string>
        case stringMap
        /// map<string, Quantity>
        case quantityMap
        /// map<string, bytes>: values become base64 strings, as JSON carries []byte.
        case bytesMap
        case repeated(FieldType)
    }

    struct Field: Sendable {
        let name: String
        let type: FieldType
        init(_ name: String, _ type: FieldType) {
            self.name = name
            self.type = type
        }
    }

    /// Messages by name: their fields by number.
    static let messages: [String: [Int: Field]] = [
        "ConfigMap": [1: Field("metadata", .message("ObjectMeta")), 2: Field("data", .stringMap), 3: Field("binaryData", .bytesMap),
                      4: Field("immutable", .bool)],
        "Secret": [1: Field("metadata", .message("ObjectMeta")), 2: Field("data", .bytesMap), 3: Field("type", .string),
                   4: Field("stringData", .stringMap), 5: Field("immutable", .bool)],
        "Job": [1: Field("metadata", .message("ObjectMeta")), 2: Field("spec", .message("JobSpec")), 3: Field("status", .message("Ignored"))],
        "JobSpec": [1: Field("parallelism", .int32), 2: Field("completions", .int32), 3: Field("activeDeadlineSeconds", .int64),
                    4: Field("selector", .message("LabelSelector")), 5: Field("manualSelector", .bool), 6: Field("template", .message("PodTemplateSpec")),
                    7: Field("backoffLimit", .int32), 8: Field("ttlSecondsAfterFinished", .int32), 9: Field("completionMode", .string),
                    10: Field("suspend", .bool)],
        "CronJob": [1: Field("metadata", .message("ObjectMeta")), 2: Field("spec", .message("CronJobSpec")), 3: Field("status", .message("Ignored"))],
        "CronJobSpec": [1: Field("schedule", .string), 2: Field("startingDeadlineSeconds", .int64), 3: Field("concurrencyPolicy", .string),
                        4: Field("suspend", .bool), 5: Field("jobTemplate", .message("JobTemplateSpec")), 6: Field("successfulJobsHistoryLimit", .int32),
                        7: Field("failedJobsHistoryLimit", .int32), 8: Field("timeZone", .string)],
        "JobTemplateSpec": [1: Field("metadata", .message("ObjectMeta")), 2: Field("spec", .message("JobSpec"))],
        "Deployment": [1: Field("metadata", .message("ObjectMeta")), 2: Field("spec", .message("DeploymentSpec")), 3: Field("status", .message("Ignored"))],
        "ReplicaSet": [1: Field("metadata", .message("ObjectMeta")), 2: Field("spec", .message("ReplicaSetSpec")), 3: Field("status", .message("Ignored"))],
        "HorizontalPodAutoscaler": [1: Field("metadata", .message("ObjectMeta")), 2: Field("spec", .message("HorizontalPodAutoscalerSpec")), 3: Field("status", .message("Ignored"))],
        "HorizontalPodAutoscalerSpec": [1: Field("scaleTargetRef", .message("CrossVersionObjectReference")), 2: Field("minReplicas", .int32),
                                        3: Field("maxReplicas", .int32), 4: Field("targetCPUUtilizationPercentage", .int32)],
        "CrossVersionObjectReference": [1: Field("kind", .string), 2: Field("name", .string), 3: Field("apiVersion", .string)],
        "DeploymentSpec": [1: Field("replicas", .int32), 2: Field("selector", .message("LabelSelector")), 3: Field("template", .message("PodTemplateSpec")),
                           4: Field("strategy", .message("DeploymentStrategy")), 5: Field("minReadySeconds", .count),
                           6: Field("revisionHistoryLimit", .int32), 7: Field("paused", .flag), 9: Field("progressDeadlineSeconds", .int32)],
        "ReplicaSetSpec": [1: Field("replicas", .int32), 2: Field("selector", .message("LabelSelector")), 3: Field("template", .message("PodTemplateSpec")),
                           4: Field("minReadySeconds", .count)],
        "DeploymentStrategy": [1: Field("type", .string), 2: Field("rollingUpdate", .message("RollingUpdateDeployment"))],
        "RollingUpdateDeployment": [1: Field("maxUnavailable", .intOrString), 2: Field("maxSurge", .intOrString)],
        "LabelSelector": [1: Field("matchLabels", .stringMap), 2: Field("matchExpressions", .repeated(.message("LabelSelectorRequirement")))],
        "LabelSelectorRequirement": [1: Field("key", .string), 2: Field("operator", .string), 3: Field("values", .repeated(.string))],
        // Server-owned fields (selfLink, timestamps, managedFields) are read and left out: the server sets them.
        "ObjectMeta": [1: Field("name", .string), 2: Field("generateName", .string), 3: Field("namespace", .string),
                       4: Field("", .string), 5: Field("uid", .string), 6: Field("resourceVersion", .string), 7: Field("", .int64),
                       8: Field("", .message("Ignored")), 9: Field("", .message("Ignored")), 10: Field("", .int64),
                       11: Field("labels", .stringMap), 12: Field("annotations", .stringMap),
                       13: Field("ownerReferences", .repeated(.message("OwnerReference"))), 14: Field("finalizers", .repeated(.string)),
                       17: Field("", .repeated(.message("Ignored")))],
        "OwnerReference": [1: Field("kind", .string), 3: Field("name", .string), 4: Field("uid", .string), 5: Field("apiVersion", .string),
                           6: Field("controller", .bool), 7: Field("blockOwnerDeletion", .bool)],
        "PodTemplateSpec": [1: Field("metadata", .message("ObjectMeta")), 2: Field("spec", .message("PodSpec"))],
        "PodSpec": [2: Field("containers", .repeated(.message("Container"))), 3: Field("restartPolicy", .string),
                    4: Field("terminationGracePeriodSeconds", .int64), 5: Field("activeDeadlineSeconds", .int64), 6: Field("dnsPolicy", .string),
                    7: Field("nodeSelector", .stringMap), 8: Field("serviceAccountName", .string), 9: Field("serviceAccount", .string),
                    10: Field("nodeName", .string), 11: Field("hostNetwork", .flag), 12: Field("hostPID", .flag), 13: Field("hostIPC", .flag),
                    16: Field("hostname", .string), 17: Field("subdomain", .string), 22: Field("tolerations", .repeated(.message("Toleration"))),
                    27: Field("shareProcessNamespace", .bool), 35: Field("setHostnameAsFQDN", .bool), 37: Field("hostUsers", .bool),
                    19: Field("schedulerName", .string), 20: Field("initContainers", .repeated(.message("Container"))),
                    21: Field("automountServiceAccountToken", .bool), 24: Field("priorityClassName", .string), 25: Field("priority", .int32),
                    30: Field("enableServiceLinks", .bool), 31: Field("preemptionPolicy", .string)],
        "Container": [1: Field("name", .string), 2: Field("image", .string), 3: Field("command", .repeated(.string)), 4: Field("args", .repeated(.string)),
                      5: Field("workingDir", .string), 6: Field("ports", .repeated(.message("ContainerPort"))), 7: Field("env", .repeated(.message("EnvVar"))),
                      8: Field("resources", .message("ResourceRequirements")), 13: Field("terminationMessagePath", .string),
                      14: Field("imagePullPolicy", .string), 16: Field("stdin", .flag), 17: Field("stdinOnce", .flag), 18: Field("tty", .flag),
                      20: Field("terminationMessagePolicy", .string)],
        "ContainerPort": [1: Field("name", .string), 2: Field("hostPort", .count), 3: Field("containerPort", .int32), 4: Field("protocol", .string), 5: Field("hostIP", .string)],
        "Toleration": [1: Field("key", .string), 2: Field("operator", .string), 3: Field("value", .string), 4: Field("effect", .string),
                       5: Field("tolerationSeconds", .int64)],
        "EnvVar": [1: Field("name", .string), 2: Field("value", .string)],
        "ResourceRequirements": [1: Field("limits", .quantityMap), 2: Field("requests", .quantityMap)],
    ]

    /// Decodes a message of `name` in `range` into a JSON object.
    static func decode(_ name: String, _ bytes: [UInt8], _ range: Range<Int>, depth: Int = 0) throws(APIError) -> JSON {
        guard depth < 16 else { throw APIError.badRequest("malformed protobuf body: messages nest too deep") }
        if name == "Ignored" { return .emptyObject }
        guard let fields = messages[name] else { throw APIError.unsupportedMediaType("kube9 cannot decode protobuf \(name); send application/json") }
        var object = JSON.emptyObject
        // Lists and maps are gathered here and set once: appending to a JSON member would copy it each time.
        var lists: [String: [JSON]] = [:]
        var maps: [String: [(String, JSON)]] = [:]
        var order: [String] = []
        var reader = ProtobufBody.Reader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let raw = try reader.field()
            guard let field = fields[raw.number] else {
                throw APIError.unsupportedMediaType("kube9 cannot decode field \(raw.number) of protobuf \(name); send application/json")
            }
            if field.name.isEmpty {
                _ = try value(field.type, raw, bytes: bytes, reader: reader, depth: depth)
                continue
            }
            switch field.type {
            case .repeated(let element):
                if lists[field.name] == nil { order.append(field.name) }
                lists[field.name, default: []].append(try value(element, raw, bytes: bytes, reader: reader, depth: depth))
            case .stringMap, .quantityMap, .bytesMap:
                guard let entry = raw.range else { throw APIError.badRequest("malformed protobuf body: \(name).\(field.name) is not a map entry") }
                let (key, text) = try ProtobufBody.mapEntry(bytes, entry)
                let member: JSON
                switch field.type {
                case .quantityMap: member = .string(try quantityEntry(bytes, entry) ?? "")
                case .bytesMap: member = .string(Base64.encode(try bytesEntry(bytes, entry)))
                default: member = .string(text)
                }
                if maps[field.name] == nil { order.append(field.name) }
                maps[field.name, default: []].append((key, member))
            default:
                let decoded = try value(field.type, raw, bytes: bytes, reader: reader, depth: depth)
                // proto2 writes unset strings as empty: keep the ones with a value.
                if case .string(let text) = decoded, text.isEmpty { continue }
                if case .flag = field.type, decoded == .bool(false) { continue }
                if case .count = field.type, decoded == .int(0) { continue }
                object[field.name] = decoded
            }
        }
        for name in order {
            if let list = lists[name] { object[name] = .array(list) }
            if let entries = maps[name] {
                var members = OrderedDictionary<String, JSON>()
                members.reserveCapacity(entries.count)
                for (key, member) in entries { members[key] = member }
                object[name] = .object(members)
            }
        }
        return object
    }

    /// The raw value of a map<string, bytes> entry (value = 2).
    static func bytesEntry(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> ArraySlice<UInt8> {
        var reader = ProtobufBody.Reader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let entry = try reader.field()
            if entry.number == 2, let inner = entry.range { return bytes[inner] }
        }
        return []
    }

    /// The value of a map<string, Quantity> entry (value = 2, a Quantity whose string = 1).
    static func quantityEntry(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> String? {
        var reader = ProtobufBody.Reader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let entry = try reader.field()
            if entry.number == 2, let inner = entry.range { return try quantity(bytes, inner) }
        }
        return nil
    }

    static func quantity(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> String {
        var reader = ProtobufBody.Reader(bytes, from: range.lowerBound, to: range.upperBound)
        var text = ""
        while !reader.atEnd {
            let member = try reader.field()
            if member.number == 1, let value = member.range { text = reader.string(value) }
        }
        return text
    }

    static func value(_ type: FieldType, _ raw: (number: Int, wireType: Int, range: Range<Int>?, value: UInt64), bytes: [UInt8],
                      reader: ProtobufBody.Reader, depth: Int) throws(APIError) -> JSON {
        func needRange() throws(APIError) -> Range<Int> {
            guard let range = raw.range else { throw APIError.badRequest("malformed protobuf body: field \(raw.number) should be length-delimited") }
            return range
        }
        func needVarint() throws(APIError) -> UInt64 {
            guard raw.wireType == 0 else { throw APIError.badRequest("malformed protobuf body: field \(raw.number) should be a varint") }
            return raw.value
        }
        switch type {
        case .string: return .string(reader.string(try needRange()))
        case .int32, .count: return .int(ProtobufBody.int32(try needVarint()))
        case .int64: return .int(Int64(bitPattern: try needVarint()))
        case .bool, .flag: return .bool(try needVarint() != 0)
        case .message(let name): return try decode(name, bytes, try needRange(), depth: depth + 1)
        case .quantity: return .string(try quantity(bytes, try needRange()))
        case .intOrString:
            let range = try needRange()
            var inner = ProtobufBody.Reader(bytes, from: range.lowerBound, to: range.upperBound)
            var isString = false
            var number: Int64 = 0
            var text = ""
            while !inner.atEnd {
                let member = try inner.field()
                switch (member.number, member.range) {
                case (1, nil): isString = member.value == 1
                case (2, nil): number = ProtobufBody.int32(member.value)
                case (3, let textRange?): text = inner.string(textRange)
                default: continue
                }
            }
            return isString ? .string(text) : .int(number)
        case .repeated(let element):
            return try value(element, raw, bytes: bytes, reader: reader, depth: depth)
        case .stringMap, .quantityMap, .bytesMap:
            throw APIError.badRequest("malformed protobuf body: nested repeated field \(raw.number)")
        }
    }
}
