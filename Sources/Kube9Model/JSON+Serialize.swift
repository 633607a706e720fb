import OrderedCollections

// MARK: - Serialization

extension JSON {
    /// The compact UTF-8 encoding of this value.
    public func serialized() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(to: &output)
        return output
    }

    /// The compact encoding as a String.
    public var text: String { String(decoding: serialized(), as: UTF8.self) }

    /// The compact encoding with whole floats written as Python writes them (`1.0`, not Go's
    /// `1`): for the Kube-9 v0 API, whose clients tell floats from integers.
    public func serializedWithFloatPoints() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(to: &output, floatPoints: true)
        return output
    }

    /// Appends the compact UTF-8 encoding of this value to `output`. Whole floats are written
    /// without a fraction (as Kubernetes' Go encoder does) unless `floatPoints`.
    public func write(to output: inout [UInt8], floatPoints: Bool = false) {
        switch self {
        case .null: output.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let value): output.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
        case .int(let value): output.append(contentsOf: String(value).utf8)
        case .double(let value):
            if value.rounded() == value, abs(value) < 1e15 {
                output.append(contentsOf: String(Int64(value)).utf8)
                if floatPoints { output.append(contentsOf: Array(".0".utf8)) }
            } else {
                output.append(contentsOf: "\(value)".utf8)
            }
        case .string(let value): JSON.writeString(value, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                element.write(to: &output, floatPoints: floatPoints)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in members {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                JSON.writeString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                value.write(to: &output, floatPoints: floatPoints)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `value` as a quoted JSON string.
    public static func writeString(_ value: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(0x5C); output.append(0x22)
            case UInt8(ascii: "\\"): output.append(0x5C); output.append(0x5C)
            case 0x0A: output.append(0x5C); output.append(UInt8(ascii: "n"))
            case 0x0D: output.append(0x5C); output.append(UInt8(ascii: "r"))
            case 0x09: output.append(0x5C); output.append(UInt8(ascii: "t"))
            case 0..<0x20:
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0xF)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// A human-readable, indented encoding (two spaces), ending without a newline.
    public func prettyText(indent: String = "") -> String {
        switch self {
        case .array(let elements) where !elements.isEmpty:
            let inner = indent + "  "
            return "[\n" + elements.map { inner + $0.prettyText(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let members) where !members.isEmpty:
            let inner = indent + "  "
            return "{\n" + members.map { key, value in
                inner + JSON.string(key).text + ": " + value.prettyText(indent: inner)
            }.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return text
        }
    }
}
