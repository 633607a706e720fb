/// Base64 as Kubernetes uses it: the standard alphabet with padding for `[]byte` fields (Secret
/// `data`, ConfigMap `binaryData`), and the URL-safe alphabet without padding for opaque tokens.
public enum Base64 {
    static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let standardLookup = lookup(standard)
    static let urlSafeLookup = lookup(urlSafe)

    static func lookup(_ alphabet: [UInt8]) -> [Int8] {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }

    /// Standard base64 with `=` padding (RFC 4648 §4), as JSON carries `[]byte`.
    public static func encode(_ bytes: some Collection<UInt8>) -> String { encode(bytes, alphabet: standard, padding: true) }

    /// URL-safe base64 without padding (RFC 4648 §5).
    public static func encodeURLSafe(_ bytes: some Collection<UInt8>) -> String { encode(bytes, alphabet: urlSafe, padding: false) }

    static func encode(_ bytes: some Collection<UInt8>, alphabet: [UInt8], padding: Bool) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let count = min(3, input.count - index)
            let value = (UInt32(input[index]) << 16) | (UInt32(count > 1 ? input[index + 1] : 0) << 8) | UInt32(count > 2 ? input[index + 2] : 0)
            for position in 0...count { output.append(alphabet[Int((value >> (18 - 6 * UInt32(position))) & 63)]) }
            if padding { for _ in count..<3 { output.append(UInt8(ascii: "=")) } }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes standard base64: padded to a multiple of 4 characters, `=` only at the end; nil
    /// for anything else (Go's `base64.StdEncoding`, which Kubernetes' JSON decoding uses, also
    /// skips line breaks).
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = text.utf8.filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard characters.count % 4 == 0 else { return nil }
        var end = characters.count
        var padding = 0
        while end > 0, characters[end - 1] == UInt8(ascii: "="), padding < 2 {
            end -= 1
            padding += 1
        }
        guard end % 4 != 1 else { return nil }
        return decodeDigits(characters[0..<end], lookup: standardLookup)
    }

    /// Decodes URL-safe base64 without padding (trailing `=` tolerated); nil for anything else.
    public static func decodeURLSafe(_ text: String) -> [UInt8]? {
        var characters = Array(text.utf8)
        while characters.last == UInt8(ascii: "=") { characters.removeLast() }
        guard characters.count % 4 != 1 else { return nil }
        return decodeDigits(characters[...], lookup: urlSafeLookup)
    }

    static func decodeDigits(_ digits: ArraySlice<UInt8>, lookup: [Int8]) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(digits.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in digits {
            let value = lookup[Int(byte)]
            guard value >= 0 else { return nil }
            buffer = ((buffer << 6) | UInt32(value)) & 0xFFFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return output
    }
}
