/// An IPv4 address as a 32-bit number. Parsing is strict (four decimal octets, no leading
/// zeros, nothing else), so any string a client sends either parses or is refused.
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// The address a.b.c.d.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses "10.96.0.1"; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0 >= "0" && $0 <= "9" }),
                  part == "0" || !part.hasPrefix("0"), let octet = UInt32(part), octet <= 255 else { return nil }
            result = result << 8 | octet
        }
        value = result
    }

    public var description: String {
        "\(value >> 24).\((value >> 16) & 0xff).\((value >> 8) & 0xff).\(value & 0xff)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 prefix ("10.96.0.0/12").
public struct IPv4Range: Sendable, Hashable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public var network: IPv4Address
    /// The prefix length, 0…32.
    public var prefixLength: Int

    /// The prefix of `length` bits (clamped to 0…32) that holds `address` (host bits cleared).
    public init(containing address: IPv4Address, prefixLength length: Int) {
        prefixLength = min(max(length, 0), 32)
        network = IPv4Address(address.value & Self.mask(prefixLength))
    }

    /// Parses "a.b.c.d/n"; nil for anything else. Host bits must be zero, as Kubernetes requires of CIDR flags.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(String(parts[0])),
              parts[1].count <= 2, parts[1].allSatisfy({ $0 >= "0" && $0 <= "9" }), let length = Int(parts[1]), length <= 32 else { return nil }
        let mask = Self.mask(length)
        guard address.value & ~mask == 0 else { return nil }
        network = address
        prefixLength = length
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

    /// The number of addresses in the range (up to 2^32).
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }

    public func contains(_ address: IPv4Address) -> Bool { address.value & Self.mask(prefixLength) == network.value }

    /// The address at `offset` from the network address, or nil past the end.
    public func address(at offset: UInt64) -> IPv4Address? {
        guard offset < size else { return nil }
        return IPv4Address(network.value &+ UInt32(truncatingIfNeeded: offset))
    }

    /// The offset of `address` in the range, or nil when outside.
    public func offset(of address: IPv4Address) -> UInt64? {
        contains(address) ? UInt64(address.value - network.value) : nil
    }

    public var description: String { "\(network)/\(prefixLength)" }
}
