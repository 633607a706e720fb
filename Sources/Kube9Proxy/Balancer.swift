import Foundation
import Kube9Lua
import Kube9Model
import Kube9Policy
import Logging
import Synchronization

/// Picks the endpoint of each new connection: ClientIP affinity first, then the service's
/// `loadbalancer` policy in Lua (with each endpoint's live counts), checked by Swift; a
/// missing or failing policy falls back to round robin and is reported once per policy version.
public final class Balancer: Sendable {
    /// Live counts of one endpoint on this proxy.
    struct Counts {
        var active = 0
        var total = 0
        /// Uptime nanoseconds of recent failures (the last 30 s are reported).
        var failures: [UInt64] = []
    }

    /// An endpoint's address (the counts' key: no string is built per pick).
    struct EndpointKey: Hashable {
        var ip: String
        var port: Int
        var text: String { "\(ip):\(port)" }
    }

    struct PortState {
        var seq: Int64 = 0
        /// Turns of picks whose connect failed, given to the next new connections first (oldest
        /// first), so a retried connection does not cost the refused endpoint its turn.
        var returnedTurns: [Int64] = []
        var counts: [EndpointKey: Counts] = [:]
        /// client IP → (endpoint, last use in uptime nanoseconds).
        var affinity: [String: (EndpointKey, UInt64)] = [:]
    }

    let host: PolicyHost
    let logger: Logger
    let ports = Mutex<[String: PortState]>([:])
    /// Failures already reported (policy name and version), so a broken policy is one event, not one per connection.
    let reported = Mutex<Set<String>>([])
    /// Called once per broken policy version: (service port, message).
    let onPolicyFailure: @Sendable (ServiceTable.ServicePort, String) -> Void

    public init(host: PolicyHost, logger: Logger, onPolicyFailure: @escaping @Sendable (ServiceTable.ServicePort, String) -> Void = { _, _ in }) {
        self.host = host
        self.logger = logger
        self.onPolicyFailure = onPolicyFailure
    }

    static func key(_ endpoint: ServiceTable.Endpoint) -> EndpointKey { EndpointKey(ip: endpoint.ip, port: endpoint.port) }
    static let failureWindow: UInt64 = 30_000_000_000

    /// An endpoint chosen for a connection, with the turn (`connection.seq`) it took; nil for a
    /// ClientIP-affinity pick, which takes no turn.
    public struct Pick: Sendable {
        public let endpoint: ServiceTable.Endpoint
        public let turn: Int64?
        /// The turn was one given back before: a second failure does not give it back again
        /// (a dead endpoint would otherwise take every new connection's first try).
        public var givenBack = false
        /// The turn to give back if the connect fails: nil for an affinity pick or a turn given back once already.
        public var turnToGiveBack: Int64? { givenBack ? nil : turn }
    }

    /// The endpoint for a new connection from `clientIP`, leaving out `excluded` (endpoints that
    /// refused in this attempt); nil when none is left. Counts the connection as active.
    /// `usePolicy: false` takes round robin without calling Lua (the proxy does so when picks
    /// queue up faster than the Lua threads take them).
    public func pick(_ service: ServiceTable.ServicePort, clientIP: String, clientPort: Int, excluding excluded: Set<String> = [],
                     usePolicy: Bool = true) -> ServiceTable.Endpoint? {
        pickTurn(service, clientIP: clientIP, clientPort: clientPort, excluding: excluded, usePolicy: usePolicy)?.endpoint
    }

    /// `pick`, also returning the turn taken. A first try (nothing excluded) takes a turn given
    /// back by a failed connect before a new one; a retry always takes a new turn. With
    /// `finished(…, failed: true, givingBack:)` this keeps round robin exact over the connections
    /// that opened: n of them over k endpoints split n/k each even when some connects were retried.
    public func pickTurn(_ service: ServiceTable.ServicePort, clientIP: String, clientPort: Int, excluding excluded: Set<String> = [],
                         usePolicy: Bool = true) -> Pick? {
        let candidates = excluded.isEmpty ? service.endpoints : service.endpoints.filter { !excluded.contains($0.key) }
        guard !candidates.isEmpty else { return nil }
        let now = DispatchTime.now().uptimeNanoseconds
        // Affinity, turn number and counts, under the lock (the state is changed in place: a
        // copy would copy its dictionaries at each pick); the Lua call outside it.
        var reused = false
        let (sticky, seq, counts) = ports.withLock { ports -> (ServiceTable.Endpoint?, Int64, [Counts]) in
            Self.withState(&ports, service.key) { state in
                if let seconds = service.affinitySeconds, let (endpointKey, last) = state.affinity[clientIP],
                   last <= now, now &- last <= UInt64(clamping: seconds) &* 1_000_000_000,
                   let endpoint = candidates.first(where: { $0.ip == endpointKey.ip && $0.port == endpointKey.port }) {
                    state.affinity[clientIP] = (endpointKey, now)
                    state.counts[endpointKey, default: Counts()].active += 1
                    state.counts[endpointKey, default: Counts()].total += 1
                    return (endpoint, 0, [])
                }
                if excluded.isEmpty, !state.returnedTurns.isEmpty {
                    reused = true
                    return (nil, state.returnedTurns.removeFirst(), usePolicy ? candidates.map { state.counts[Self.key($0)] ?? Counts() } : [])
                }
                let seq = state.seq
                state.seq &+= 1
                return (nil, seq, usePolicy ? candidates.map { state.counts[Self.key($0)] ?? Counts() } : [])
            }
        }
        if let sticky { return Pick(endpoint: sticky, turn: nil) }
        let index = usePolicy ? choose(service, candidates: candidates, counts: counts, seq: seq, clientIP: clientIP, clientPort: clientPort, now: now)
            : Self.roundRobin(seq, count: candidates.count)
        let chosen = candidates[index]
        ports.withLock { ports in
            Self.withState(&ports, service.key) { state in
                state.counts[Self.key(chosen), default: Counts()].active += 1
                state.counts[Self.key(chosen), default: Counts()].total += 1
                if let seconds = service.affinitySeconds {
                    state.affinity[clientIP] = (Self.key(chosen), now)
                    if state.affinity.count > Self.maximumAffinityEntries {
                        // Expired entries go first; unless that leaves room for a quarter more, the
                        // table starts over (so the filter does not run again at the next pick).
                        let timeout = UInt64(clamping: seconds) &* 1_000_000_000
                        state.affinity = state.affinity.filter { $0.value.1 <= now && now &- $0.value.1 <= timeout }
                        if state.affinity.count > Self.maximumAffinityEntries * 3 / 4 { state.affinity = [:] }
                    }
                }
            }
        }
        return Pick(endpoint: chosen, turn: seq, givenBack: reused)
    }

    static let maximumAffinityEntries = 100_000
    /// Turns kept for giving back; past this the oldest are dropped.
    static let maximumReturnedTurns = 64

    /// Round robin's index for turn `seq` among `count` (> 0) candidates.
    static func roundRobin(_ seq: Int64, count: Int) -> Int { Int(UInt64(bitPattern: seq) % UInt64(count)) }
    /// Picks waiting for the Lua threads past which new connections get round robin at once.
    public static let maximumQueuedPicks = 1024

    /// Runs `body` on the state of `key`, in place in `ports`.
    static func withState<Result>(_ ports: inout [String: PortState], _ key: String, _ body: (inout PortState) -> Result) -> Result {
        body(&ports[key, default: PortState()])
    }

    /// The policy's index into `candidates` (0-based), or round robin when it fails.
    func choose(_ service: ServiceTable.ServicePort, candidates: [ServiceTable.Endpoint], counts: [Counts], seq: Int64,
                clientIP: String, clientPort: Int, now: UInt64) -> Int {
        let fallback = Self.roundRobin(seq, count: candidates.count)
        guard let policy = host.policy(slot: .loadbalancer, name: service.policy) else {
            report(service, version: "missing", "no loadbalancer policy named \(service.policy) is installed; using round robin")
            return fallback
        }
        // The endpoint tables stay in the policy's state between picks (sent again when the
        // candidates change); each pick sends only their counts.
        var hasher = Hasher()
        hasher.combine(candidates)
        let signature = Int64(hasher.finalize())
        var flatCounts: [Int64] = []
        flatCounts.reserveCapacity(counts.count * 3)
        for count in counts {
            flatCounts.append(Int64(count.active))
            flatCounts.append(Int64(count.total))
            flatCounts.append(Int64(count.failures.filter { $0 > now || now &- $0 <= Self.failureWindow }.count))
        }
        let serviceValue: LuaValue = .map(["name": .string(service.name), "namespace": .string(service.namespace),
                                           "port": .integer(Int64(service.port)), "protocol": .string(service.proto)])
        let connection: LuaValue = .map(["client_ip": .string(clientIP), "client_port": .integer(Int64(clientPort)), "seq": .integer(seq)])
        do {
            let result = try policy.pick(key: service.key, signature: signature, endpoints: { Self.endpointTables(candidates) }, counts: flatCounts,
                                         service: serviceValue, connection: connection)
            guard case .integer(let index)? = result, index >= 1, index <= Int64(candidates.count) else {
                report(service, version: "\(policy.source.version)", "policy \(service.policy) returned \(result.map { "\($0.json.text)" } ?? "nothing"), not an index from 1 to \(candidates.count); using round robin")
                return fallback
            }
            return Int(index - 1)
        } catch {
            report(service, version: "\(policy.source.version)", "policy \(service.policy) failed: \(error); using round robin")
            return fallback
        }
    }

    /// The endpoints as the policy sees them (`active`, `total` and `failures` are written by each pick).
    static func endpointTables(_ candidates: [ServiceTable.Endpoint]) -> LuaValue {
        .array(candidates.map { endpoint in
            .map(["ip": .string(endpoint.ip), "port": .integer(Int64(endpoint.port)), "pod": .string(endpoint.pod),
                  "node": .string(endpoint.node), "weight": .integer(Int64(endpoint.weight))])
        })
    }

    func report(_ service: ServiceTable.ServicePort, version: String, _ message: String) {
        let key = "\(service.key)|\(service.policy)|\(version)"
        guard reported.withLock({ $0.insert(key).inserted }) else { return }
        logger.warning("load balancer policy fell back to round robin", metadata: ["service": "\(service.key)", "message": "\(message)"])
        onPolicyFailure(service, message)
    }

    /// A connection to `endpoint` ended (or never opened: `failed`). A failed connect's turn, when
    /// given, goes back to the port so the next new connection takes it.
    public func finished(_ service: ServiceTable.ServicePort, _ endpoint: ServiceTable.Endpoint, failed: Bool, givingBack turn: Int64? = nil) {
        let now = DispatchTime.now().uptimeNanoseconds
        let endpointKey = Self.key(endpoint)
        ports.withLock { ports in
            Self.withState(&ports, service.key) { state in
                Self.update(&state.counts[endpointKey, default: Counts()], failed: failed, now: now)
                if failed, let turn {
                    state.returnedTurns.append(turn)
                    if state.returnedTurns.count > Self.maximumReturnedTurns { state.returnedTurns.removeFirst() }
                }
                // A refused endpoint loses its sticky clients.
                if failed { state.affinity = state.affinity.filter { $0.value.0 != endpointKey } }
            }
        }
    }

    static func update(_ counts: inout Counts, failed: Bool, now: UInt64) {
        counts.active = max(0, counts.active - 1)
        guard failed else { return }
        counts.failures.removeAll { $0 <= now && now &- $0 > failureWindow }
        counts.failures.append(now)
        if counts.failures.count > 100 { counts.failures.removeFirst(counts.failures.count - 100) }
    }

    /// Connections per endpoint so far for a service port ("ip:port" → total), for tests and `/stats`.
    public func totals(_ serviceKey: String) -> [String: Int] {
        ports.withLock { ports in
            Dictionary(uniqueKeysWithValues: (ports[serviceKey]?.counts ?? [:]).map { ($0.key.text, $0.value.total) })
        }
    }
}
