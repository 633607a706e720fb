// libFuzzer entry point over Kube9Model (built by scripts/fuzz with -sanitize=fuzzer,address;
// not a SwiftPM target: libFuzzer brings its own main). KUBE9_FUZZ_TARGET picks the target:
//   json       JSON parser: parse, serialize, parse again, same value; depth and size helpers
//   quantity   Quantity parsing (strings and JSON numbers), description, sums
//   selectors  label and field selectors: parse, match against a fixed object
//   protobuf   the protobuf envelope decoder
//   patch      JSON patch, merge patch and strategic merge (input: a JSON array [document, patch])
//   objects    defaulting, validation, the API type check and table rows of every kind
// Any trap (force unwrap, overflow, out of bounds) is a crash libFuzzer reports.
import Foundation

let fuzzTarget = ProcessInfo.processInfo.environment["KUBE9_FUZZ_TARGET"] ?? "json"

/// A pod the selectors and patches run against.
let samplePod: JSON = (try? JSON.parse(#"""
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","labels":{"app":"web","tier":"front"},"annotations":{"a":"b"},"finalizers":["x/y"]},
 "spec":{"containers":[{"name":"c","image":"busybox:1.36","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}],
   "resources":{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"1"}}}],"nodeName":"n1","tolerations":[{"key":"k","operator":"Exists"}]},
 "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}
"""#)) ?? .emptyObject

func fuzzJSON(_ bytes: [UInt8]) {
    guard let value = try? JSON.parse(bytes) else { return }
    let text = value.serialized()
    guard let again = try? JSON.parse(text) else { fatalError("a serialized value does not parse again") }
    if !again.isEquivalent(to: value) { fatalError("a value changed in a round trip") }
    _ = value.depth()
    _ = value.serializedSize(limit: 1 << 20)
    _ = value.prettyText()
    _ = value.serializedWithFloatPoints()
    _ = value.intValue
}

func fuzzQuantity(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let quantity = Quantity.parse(text) {
        _ = quantity.description
        _ = quantity.value
        _ = [quantity.milliValue, quantity.milliValue, Int64.max].saturatingSum()
    }
    _ = Quantity.parse(text, allowNegative: true)
    if let json = try? JSON.parse(bytes) { _ = Quantity.checked(json) }
}

func fuzzSelectors(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let labels = try? LabelSelector.parse(text) { _ = labels.matches(object: samplePod) }
    let fields: Set<String> = ["metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"]
    if let selector = try? FieldSelector.parse(text, supportedFields: fields, kind: "Pod") {
        _ = selector.matches(object: samplePod)
        _ = selector.requiredValue(of: "spec.nodeName")
    }
    _ = Timestamp.parse(text)
    _ = NameRules.qualifiedNameError(text)
    _ = NameRules.dns1123SubdomainError(text)
    _ = NameRules.labelValueError(text)
}

func fuzzProtobuf(_ bytes: [UInt8]) {
    _ = try? ProtobufBody.decode([0x6B, 0x38, 0x73, 0x00] + bytes)
    _ = try? ProtobufBody.decode(bytes)
}

func fuzzPatch(_ bytes: [UInt8]) {
    guard let input = try? JSON.parse(bytes), let parts = input.arrayValue, parts.count == 2 else { return }
    let document = parts[0].objectValue == nil ? samplePod : parts[0]
    let patch = parts[1]
    _ = try? Patcher.jsonPatch(document, patch)
    _ = Patcher.mergePatch(document, patch)
    for strategy in ResourceCatalog.builtin.strategies {
        _ = try? Patcher.strategicMerge(document, patch, mergeKeys: strategy.mergeKeys)
    }
}

func fuzzObjects(_ bytes: [UInt8]) {
    guard let input = try? JSON.parse(bytes) else { return }
    for strategy in ResourceCatalog.builtin.strategies {
        var object = input
        if case .object = object {
            object["apiVersion"] = .string(strategy.type.apiVersion)
            object["kind"] = .string(strategy.type.kind)
        }
        strategy.prepareForCreate(&object)
        _ = strategy.validate(object)
        _ = APITypes.check(object, kind: strategy.type.kind)
        _ = strategy.validateUpdate(object, old: samplePod)
        var updated = object
        strategy.prepareForUpdate(&updated, old: samplePod)
        strategy.prepareForStatusUpdate(&updated, old: samplePod)
        _ = strategy.specChanged(updated, old: object)
        _ = strategy.table.row(for: object, includeObject: "Object")
        _ = ResourceCatalog.builtin.schemas.unknownFields(in: object, definition: ResourceCatalog.builtin.definitionName(of: strategy.type) ?? "")
        _ = PodStrategy.qosClass(object["spec"] ?? .null)
    }
    _ = PodStrategy.isRecreatedAfterEviction(input)
    _ = PodStrategy.replacement(of: input, leavingNode: "n")
    _ = NodeStrategy.statusText(input)
    _ = NodeStrategy.roles(input)
    _ = NodeAffinity.matches(pod: input, node: samplePod)
    _ = EventStrategy.event(about: input, type: "Normal", reason: "R", message: "m", component: "fuzz")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch fuzzTarget {
    case "json": fuzzJSON(bytes)
    case "quantity": fuzzQuantity(bytes)
    case "selectors": fuzzSelectors(bytes)
    case "protobuf": fuzzProtobuf(bytes)
    case "patch": fuzzPatch(bytes)
    case "objects": fuzzObjects(bytes)
    default: fatalError("unknown KUBE9_FUZZ_TARGET \(fuzzTarget)")
    }
    return 0
}
