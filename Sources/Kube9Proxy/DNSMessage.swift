import Kube9Model

/// The few parts of the DNS wire format (RFC 1035) the cluster DNS needs: read the question
/// of a query, write a reply with A, CNAME and SRV answers. Every read is bounds-checked, so
/// no packet can make it read outside the bytes received or trap.
public enum DNSMessage {
    public static let typeA: UInt16 = 1
    public static let typeCNAME: UInt16 = 5
    public static let typeAAAA: UInt16 = 28
    public static let typeSRV: UInt16 = 33
    public static let typeANY: UInt16 = 255

    public enum ResponseCode: UInt8, Sendable {
        case noError = 0, formatError = 1, serverFailure = 2, nameError = 3, notImplemented = 4, refused = 5
    }

    /// The first question of a query.
    public struct Question: Sendable, Equatable {
        public var id: UInt16
        /// Recursion desired and the opcode bits of the query's flags, echoed in the reply.
        public var flags: UInt16
        /// Lowercased, without the trailing dot ("web.default.svc.cluster.local").
        public var name: String
        public var type: UInt16
        public var qclass: UInt16
        /// The question's bytes as received (echoed in the reply).
        public var wire: [UInt8]
    }

    /// One answer record.
    public enum Record: Sendable, Equatable {
        case a(name: String, ip: IPv4Address)
        case cname(name: String, target: String)
        case srv(name: String, priority: UInt16, weight: UInt16, port: UInt16, target: String)
    }

    /// Parses the header and first question; nil for anything that is not a well-formed query.
    public static func parseQuery(_ bytes: [UInt8]) -> Question? {
        guard bytes.count >= 12, bytes.count <= 4096 else { return nil }
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        let flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        guard flags & 0x8000 == 0 else { return nil }  // a response, not a query
        let questions = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
        guard questions >= 1 else { return nil }
        var index = 12
        var labels: [String] = []
        var total = 0
        while true {
            guard index < bytes.count else { return nil }
            let length = Int(bytes[index])
            index += 1
            if length == 0 { break }
            // No compression pointers in a question (and labels are at most 63 bytes).
            guard length <= 63, index + length <= bytes.count else { return nil }
            total += length + 1
            guard total <= 255 else { return nil }
            labels.append(String(decoding: bytes[index..<(index + length)], as: UTF8.self).lowercased())
            index += length
        }
        guard index + 4 <= bytes.count else { return nil }
        let type = UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
        let qclass = UInt16(bytes[index + 2]) << 8 | UInt16(bytes[index + 3])
        return Question(id: id, flags: flags, name: labels.joined(separator: "."), type: type, qclass: qclass, wire: Array(bytes[12..<(index + 4)]))
    }

    /// A name in wire form (labels, no compression); names that do not fit are cut at 255 bytes.
    static func encodeName(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") where !label.isEmpty {
            let bytes = Array(label.utf8.prefix(63))
            guard out.count + bytes.count + 2 <= 255 else { break }
            out.append(UInt8(bytes.count))
            out.append(contentsOf: bytes)
        }
        out.append(0)
        return out
    }

    static func append16(_ value: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(value & 0xff))
    }

    /// The reply to `question`: its code, the answers and additional records (TTL 5 s, as
    /// CoreDNS's default for services). Records that do not fit in `maximumBytes` (512, plain
    /// UDP) are left out and the reply is marked truncated.
    public static func reply(to question: Question, code: ResponseCode, answers: [Record], additional: [Record] = [],
                             ttl: UInt32 = 5, maximumBytes: Int = 512) -> [UInt8] {
        var body = question.wire
        var answerCount: UInt16 = 0
        var additionalCount: UInt16 = 0
        var truncated = false
        for (index, record) in (answers + additional).enumerated() {
            let encoded = encode(record, ttl: ttl, questionName: question.name)
            if 12 + body.count + encoded.count > maximumBytes {
                truncated = index < answers.count
                break
            }
            body.append(contentsOf: encoded)
            if index < answers.count { answerCount += 1 } else { additionalCount += 1 }
        }
        var out: [UInt8] = []
        append16(question.id, to: &out)
        // QR, the query's opcode and RD, AA, RA, TC when cut, and the code.
        let flags: UInt16 = 0x8000 | (question.flags & 0x7900) | 0x0400 | 0x0080 | (truncated ? 0x0200 : 0) | UInt16(code.rawValue)
        append16(flags, to: &out)
        append16(1, to: &out)
        append16(answerCount, to: &out)
        append16(0, to: &out)
        append16(additionalCount, to: &out)
        return out + body
    }

    /// One record; an owner name equal to the question's is written as a pointer to it (offset 12).
    static func encode(_ record: Record, ttl: UInt32, questionName: String) -> [UInt8] {
        let name: String
        let type: UInt16
        var data: [UInt8] = []
        switch record {
        case .a(let owner, let ip):
            name = owner
            type = typeA
            data = [UInt8(ip.value >> 24), UInt8((ip.value >> 16) & 0xff), UInt8((ip.value >> 8) & 0xff), UInt8(ip.value & 0xff)]
        case .cname(let owner, let target):
            name = owner
            type = typeCNAME
            data = encodeName(target)
        case .srv(let owner, let priority, let weight, let port, let target):
            name = owner
            type = typeSRV
            append16(priority, to: &data)
            append16(weight, to: &data)
            append16(port, to: &data)
            data.append(contentsOf: encodeName(target))
        }
        var out = name == questionName ? [0xC0, 0x0C] : encodeName(name)
        append16(type, to: &out)
        append16(1, to: &out)  // IN
        out.append(contentsOf: [UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xff), UInt8((ttl >> 8) & 0xff), UInt8(ttl & 0xff)])
        append16(UInt16(data.count), to: &out)
        out.append(contentsOf: data)
        return out
    }
}
