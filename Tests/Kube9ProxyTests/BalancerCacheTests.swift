import Foundation
import Kube9Lua
import Kube9Policy
@testable import Kube9Proxy
import Logging
import Testing

/// The endpoint tables a loadbalancer policy sees are kept in its Lua state between picks
/// (LoadedPolicy.pick); these check that what it sees is still right.
@Suite("balancer: endpoint tables kept between picks")
struct BalancerCacheTests {
    static func install(_ host: PolicyHost, _ name: String, _ pick: String, version: Int64 = 1) throws {
        _ = try host.install(PolicySource(slot: .loadbalancer, name: name, source: "return { name = '\(name)', api = 1, pick = \(pick) }",
                                          chunkName: "\(name).lua", version: version, origin: "object"))
    }

    @Test("counts are fresh at every pick; a changed endpoint list is seen at once")
    func freshCountsAndEndpoints() throws {
        let host = PolicyHost(logger: Logger(label: "test"))
        // Picks the endpoint with the most active connections (ties: the first): the counts must be this pick's.
        try Self.install(host, "busiest", """
            function(service, endpoints, connection)
              local best = 1
              for i, e in ipairs(endpoints) do if e.active > endpoints[best].active then best = i end end
              return best
            end
            """)
        let reports = FailureLog()
        let balancer = Balancer(host: host, logger: Logger(label: "test")) { _, message in reports.add(message) }
        let two = BalancerTests.port("busiest")
        let first = try #require(balancer.pick(two, clientIP: "10.0.0.1", clientPort: 1))
        #expect(first.ip == "10.89.0.2")
        // 10.89.0.2 has one open connection now: the next picks follow it while it stays open.
        #expect(balancer.pick(two, clientIP: "10.0.0.1", clientPort: 2)?.ip == "10.89.0.2")
        balancer.finished(two, first, failed: false)
        balancer.finished(two, first, failed: false)
        // Three endpoints: the last one, made busiest by hand, is seen with its count.
        let three = BalancerTests.port("busiest", endpoints: 3)
        let last = three.endpoints[2]
        _ = balancer.ports.withLock { $0[three.key, default: Balancer.PortState()].counts[Balancer.key(last), default: Balancer.Counts()].active = 5 }
        #expect(balancer.pick(three, clientIP: "10.0.0.1", clientPort: 3)?.ip == "10.89.0.4")
        #expect(reports.messages.isEmpty, "\(reports.messages)")
    }

    @Test("a policy that damages its tables (drops an endpoint, replaces one) still gets the whole list at every pick, with no failure")
    func damagedTables() throws {
        let host = PolicyHost(logger: Logger(label: "test"))
        try Self.install(host, "vandal", """
            function(service, endpoints, connection)
              local n = #endpoints
              local answer = n
              if connection.seq % 2 == 0 then endpoints[n] = nil else endpoints[1] = "gone" end
              return answer
            end
            """)
        let reports = FailureLog()
        let balancer = Balancer(host: host, logger: Logger(label: "test")) { _, message in reports.add(message) }
        let three = BalancerTests.port("vandal", endpoints: 3)
        let picks = (0..<6).compactMap { _ in balancer.pick(three, clientIP: "10.0.0.1", clientPort: 1)?.ip }
        #expect(picks == Array(repeating: "10.89.0.4", count: 6), "each pick saw 3 endpoints: \(picks)")
        #expect(reports.messages.isEmpty, "\(reports.messages)")
    }

    @Test("after a pick fails, the next one starts from fresh tables")
    func afterFailure() throws {
        let host = PolicyHost(logger: Logger(label: "test"))
        // Fails on its first pick (after breaking the table), then answers the endpoint count.
        try Self.install(host, "flaky", """
            (function()
              local calls = 0
              return function(service, endpoints, connection)
                calls = calls + 1
                if calls == 1 then endpoints[2] = nil; error("first call fails") end
                return #endpoints
              end
            end)()
            """)
        let reports = FailureLog()
        let balancer = Balancer(host: host, logger: Logger(label: "test")) { _, message in reports.add(message) }
        let three = BalancerTests.port("flaky", endpoints: 3)
        #expect(balancer.pick(three, clientIP: "10.0.0.1", clientPort: 1) != nil)
        #expect(reports.messages.count == 1)
        let later = (0..<3).compactMap { _ in balancer.pick(three, clientIP: "10.0.0.1", clientPort: 1)?.ip }
        #expect(later == ["10.89.0.4", "10.89.0.4", "10.89.0.4"], "\(later)")
        #expect(reports.messages.count == 1)
    }
}
