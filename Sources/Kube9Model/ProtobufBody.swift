/// Decodes the Kubernetes protobuf envelope ("k8s\0" + runtime.Unknown) that stock kubectl
/// sends for `create namespace`, `create service` and `create deployment`, and turns the kinds kube9 understands into JSON.
/// Anything else is refused with 415 naming the kind. Every length and number read is checked
/// against the bytes there are, so no body can make it read out of bounds or trap.
public enum ProtobufBody {
    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    struct Reader {
        let bytes: [UInt8]
        var index: Int
        let end: Int

        init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
            self.bytes = bytes
            self.index = start
            self.end = end ?? bytes.count
        }

        var atEnd: Bool { index >= end }

        /// A base-128 varint of at most 10 bytes (64 bits); longer or truncated ones are refused.
        mutating func varint() throws(APIError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < end else { throw APIError.badRequest("malformed protobuf body: truncated varint") }
                guard shift < 64 else { throw APIError.badRequest("malformed protobuf body: varint longer than 10 bytes") }
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }

        /// The next field: number, wire type and for length-delimited fields the byte range.
        mutating func field() throws(APIError) -> (number: Int, wireType: Int, range: Range<Int>?, value: UInt64) {
            let tag = try varint()
            // Field numbers are at most 2^29 - 1; anything else is not a protobuf message.
            guard tag >> 3 <= 536_870_911, tag >> 3 > 0 else { throw APIError.badRequest("malformed protobuf body: invalid field number") }
            let number = Int(tag >> 3)
            let wireType = Int(tag & 7)
            let remaining = end - index
            switch wireType {
            case 0: return (number, wireType, nil, try varint())
            case 1:
                guard remaining >= 8 else { throw APIError.badRequest("malformed protobuf body: truncated fixed64") }
                index += 8
                return (number, wireType, nil, 0)
            case 2:
                let declared = try varint()
                guard declared <= UInt64(end - index) else { throw APIError.badRequest("malformed protobuf body: length exceeds message") }
                let length = Int(declared)
                let range = index..<(index + length)
                index += length
                return (number, wireType, range, 0)
            case 5:
                guard remaining >= 4 else { throw APIError.badRequest("malformed protobuf body: truncated fixed32") }
                index += 4
                return (number, wireType, nil, 0)
            default:
                throw APIError.badRequest("malformed protobuf body: unsupported wire type \(wireType)")
            }
        }

        func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
    }

    /// Decodes an envelope into a JSON object of the kind it carries.
    public static func decode(_ bytes: [UInt8]) throws(APIError) -> JSON {
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else {
            throw APIError.badRequest("malformed protobuf body: missing the k8s envelope prefix")
        }
        var reader = Reader(bytes, from: 4)
        var apiVersion = ""
        var kind = ""
        var raw: Range<Int>? = nil
        while !reader.atEnd {
            let field = try reader.field()
            switch field.number {
            case 1:
                guard let range = field.range else { continue }
                var typeReader = Reader(bytes, from: range.lowerBound, to: range.upperBound)
                while !typeReader.atEnd {
                    let typeField = try typeReader.field()
                    guard let typeRange = typeField.range else { continue }
                    if typeField.number == 1 { apiVersion = typeReader.string(typeRange) }
                    if typeField.number == 2 { kind = typeReader.string(typeRange) }
                }
            case 2: raw = field.range
            default: continue
            }
        }
        guard let raw else { throw APIError.badRequest("malformed protobuf body: no object in the envelope") }
        switch (apiVersion, kind) {
        case ("v1", "Namespace"):
            return try namespace(bytes, raw)
        case ("v1", "Service"):
            return try service(bytes, raw)
        case ("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("autoscaling/v1", "HorizontalPodAutoscaler"), ("v1", "ConfigMap"), ("v1", "Secret"), ("batch/v1", "Job"), ("batch/v1", "CronJob"):
            var object: JSON = ["apiVersion": .string(apiVersion), "kind": .string(kind)]
            for (key, value) in (try ProtobufMessages.decode(kind, bytes, raw)).objectValue ?? [:] where key != "status" { object[key] = value }
            return object
        default:
            throw APIError.unsupportedMediaType("kube9 decodes protobuf bodies only for v1 Namespace, Service, ConfigMap and Secret, apps/v1 Deployment and ReplicaSet, batch/v1 Job and CronJob, autoscaling/v1 HorizontalPodAutoscaler; \(apiVersion) \(kind) must be sent as application/json")
        }
    }

    static func namespace(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> JSON {
        var object: JSON = ["apiVersion": "v1", "kind": "Namespace"]
        var reader = Reader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let field = try reader.field()
            guard let fieldRange = field.range else { continue }
            switch field.number {
            case 1: object["metadata"] = try objectMeta(bytes, fieldRange)
            case 2:
                var finalizers: [JSON] = []
                var specReader = Reader(bytes, from: fieldRange.lowerBound, to: fieldRange.upperBound)
                while !specReader.atEnd {
                    let specField = try specReader.field()
                    if specField.number == 1, let value = specField.range { finalizers.append(.string(specReader.string(value))) }
                }
                if !finalizers.isEmpty { object["spec"] = ["finalizers": .array(finalizers)] }
            default: continue
            }
        }
        return object
    }

    static func objectMeta(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> JSON {
        var metadata = JSON.emptyObject
        var labels = JSON.emptyObject
        var annotations = JSON.emptyObject
        var finalizers: [JSON] = []
        var reader = Reader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let field = try reader.field()
            guard let fieldRange = field.range else { continue }
            switch field.number {
            case 1, 2, 3:
                // proto2 sends unset strings as empty: keep only the ones with a value.
                let value = reader.string(fieldRange)
                if !value.isEmpty { metadata[["name", "generateName", "namespace"][field.number - 1]] = .string(value) }
            case 11, 12:
                var entryReader = Reader(bytes, from: fieldRange.lowerBound, to: fieldRange.upperBound)
                var key = ""
                var value = ""
                while !entryReader.atEnd {
                    let entry = try entryReader.field()
                    guard let entryRange = entry.range else { continue }
                    if entry.number == 1 { key = entryReader.string(entryRange) }
                    if entry.number == 2 { value = entryReader.string(entryRange) }
                }
                if field.number == 11 { labels[key] = .string(value) } else { annotations[key] = .string(value) }
            case 14: finalizers.append(.string(reader.string(fieldRange)))
            default: continue
            }
        }
        if labels.objectValue?.isEmpty == false { metadata["labels"] = labels }
        if annotations.objectValue?.isEmpty == false { metadata["annotations"] = annotations }
        if !finalizers.isEmpty { metadata["finalizers"] = .array(finalizers) }
        return metadata
    }

    /// A string-to-string map entry (key = 1, value = 2).
    static func mapEntry(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> (String, String) {
        var reader = Reader(bytes, from: range.lowerBound, to: range.upperBound)
        var key = ""
        var value = ""
        while !reader.atEnd {
            let entry = try reader.field()
            guard let entryRange = entry.range else { continue }
            if entry.number == 1 { key = reader.string(entryRange) }
            if entry.number == 2 { value = reader.string(entryRange) }
        }
        return (key, value)
    }

    /// A protobuf int32 as sent (a varint holding the 64-bit two's complement for negatives).
    static func int32(_ value: UInt64) -> Int64 { Int64(Int32(truncatingIfNeeded: value)) }

    /// core/v1 Service (k8s.io/api/core/v1/generated.proto): metadata = 1, spec = 2.
    static func service(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> JSON {
        var object: JSON = ["apiVersion": "v1", "kind": "Service"]
        var reader = Reader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let field = try reader.field()
            guard let fieldRange = field.range else { continue }
            switch field.number {
            case 1: object["metadata"] = try objectMeta(bytes, fieldRange)
            case 2: object["spec"] = try serviceSpec(bytes, fieldRange)
            default: continue
            }
        }
        return object
    }

    static func serviceSpec(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> JSON {
        var spec = JSON.emptyObject
        var ports: [JSON] = []
        var selector = JSON.emptyObject
        var lists: [String: [JSON]] = [:]
        let strings = [3: "clusterIP", 4: "type", 7: "sessionAffinity", 8: "loadBalancerIP", 10: "externalName",
                       11: "externalTrafficPolicy", 17: "ipFamilyPolicy", 21: "loadBalancerClass", 22: "internalTrafficPolicy", 23: "trafficDistribution"]
        let stringLists = [5: "externalIPs", 9: "loadBalancerSourceRanges", 18: "clusterIPs", 19: "ipFamilies"]
        var reader = Reader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let field = try reader.field()
            switch (field.number, field.range) {
            case (1, let value?): ports.append(try servicePort(bytes, value))
            case (2, let value?):
                let (key, text) = try mapEntry(bytes, value)
                selector[key] = .string(text)
            case (13, nil): spec["publishNotReadyAddresses"] = .bool(field.value != 0)
            case (20, nil): spec["allocateLoadBalancerNodePorts"] = .bool(field.value != 0)
            case (12, nil): if field.value != 0 { spec["healthCheckNodePort"] = .int(int32(field.value)) }
            case (let number, let value?):
                if let name = strings[number] {
                    let text = reader.string(value)
                    if !text.isEmpty { spec[name] = .string(text) }
                } else if let name = stringLists[number] {
                    lists[name, default: []].append(.string(reader.string(value)))
                }
            default: continue
            }
        }
        if !ports.isEmpty { spec["ports"] = .array(ports) }
        if selector.objectValue?.isEmpty == false { spec["selector"] = selector }
        for (name, values) in lists.sorted(by: { $0.key < $1.key }) { spec[name] = .array(values) }
        return spec
    }

    static func servicePort(_ bytes: [UInt8], _ range: Range<Int>) throws(APIError) -> JSON {
        var port = JSON.emptyObject
        var reader = Reader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let field = try reader.field()
            switch (field.number, field.range) {
            case (1, let value?): if !reader.string(value).isEmpty { port["name"] = .string(reader.string(value)) }
            case (2, let value?): if !reader.string(value).isEmpty { port["protocol"] = .string(reader.string(value)) }
            case (6, let value?): if !reader.string(value).isEmpty { port["appProtocol"] = .string(reader.string(value)) }
            case (3, nil): port["port"] = .int(int32(field.value))
            case (5, nil): if field.value != 0 { port["nodePort"] = .int(int32(field.value)) }
            case (4, let value?):
                // IntOrString: type = 1 (0 int, 1 string), intVal = 2, strVal = 3.
                var inner = Reader(bytes, from: value.lowerBound, to: value.upperBound)
                var isString = false
                var number: Int64 = 0
                var text = ""
                while !inner.atEnd {
                    let member = try inner.field()
                    switch (member.number, member.range) {
                    case (1, nil): isString = member.value == 1
                    case (2, nil): number = int32(member.value)
                    case (3, let textRange?): text = inner.string(textRange)
                    default: continue
                    }
                }
                port["targetPort"] = isString ? .string(text) : .int(number)
            default: continue
            }
        }
        return port
    }
}
