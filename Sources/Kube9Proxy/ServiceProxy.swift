import Foundation
import Kube9Client
import Kube9Model
import Kube9Policy
import Kube9Runtime
import Kube9Threads
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The service proxy of a node (kube-proxy's job, in the agent): follows Services,
/// EndpointSlices and loadbalancer Policies, and carries TCP connections from cluster IPs,
/// node ports and load-balancer addresses to ready endpoints.
///
/// ```
/// watch services, endpointslices ─▶ ServiceTable ─▶ TCPProxy.reconcile (listeners per frontend)
/// watch policies (loadbalancer) ──▶ PolicyHost ──▶ Balancer.pick (Lua, per new connection)
/// client ─▶ clusterIP:port ─▶ listener ─▶ pick ─▶ connect endpoint (refused: next pick) ─▶ relay
/// ```
///
/// Cluster IPs and load-balancer addresses are made local to this host by a `local` route for
/// each range on `lo` (`ip route replace local 10.96.0.0/12 dev lo`): any address of the range
/// then accepts connections here, from the host and from containers, whose packets reach the
/// host through their bridge. That needs CAP_NET_ADMIN; without it the proxy says so and
/// serves node ports only. The cluster DNS (ClusterDNS) listens on the DNS address of the
/// service range. docs/services.md.
public final class ServiceProxy: Sendable {
    public struct Configuration: Sendable {
        public var serverURL: String
        public var serviceRange: String
        public var loadBalancerRange: String
        /// Built-in policy directories (policies/loadbalancer/*.lua are loaded).
        public var policyDirectories: [String]
        /// Where the cluster DNS listens (UDP port 53); nil runs none.
        public var dnsAddress: String?
        public var clusterDomain: String
        /// Where the cluster DNS sends names outside the domain ("ip:port"); empty refuses them.
        public var dnsUpstreams: [String]
        public init(serverURL: String, serviceRange: String = "10.96.0.0/12", loadBalancerRange: String = "10.200.0.0/24", policyDirectories: [String] = [],
                    dnsAddress: String? = "10.96.0.10", clusterDomain: String = "cluster.local", dnsUpstreams: [String] = []) {
            self.dnsAddress = dnsAddress
            self.dnsUpstreams = dnsUpstreams
            self.clusterDomain = clusterDomain
            self.serverURL = serverURL
            self.serviceRange = serviceRange
            self.loadBalancerRange = loadBalancerRange
            self.policyDirectories = policyDirectories
        }
    }

    let configuration: Configuration
    let logger: Logger
    let host: PolicyHost
    let balancer: Balancer
    let group: MultiThreadedEventLoopGroup
    let tcp: TCPProxy
    let udp: UDPProxy
    let dns: ClusterDNS
    let pickers = WorkerThreads(threads: 2, name: "kube9-lb-pick", stackSize: 1 << 20)
    /// What the watches' callbacks and the listeners share (a class: Mutex and Atomic cannot be copied into closures).
    final class Shared: Sendable {
        let table = Mutex(ServiceTable())
        let dirty = Atomic<Bool>(false)
    }
    let shared = Shared()
    let services: ListWatch
    let slices: ListWatch
    let policies: ListWatch
    let running = Atomic<Bool>(true)
    let started = Atomic<Bool>(false)
    /// Signalled when the sync loop returns.
    let syncLoopEnded = DispatchSemaphore(value: 0)
    /// The cluster DNS's own event loop (a flood of queries must not hold the relay's).
    let dnsGroup: MultiThreadedEventLoopGroup
    /// Frontends that could not be opened, with the reason (shown by the agent's log).
    let failed = Mutex<[ServiceTable.Frontend: String]>([:])

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let host = PolicyHost(logger: logger)
        self.host = host
        let serverURL = configuration.serverURL
        let balancer = Balancer(host: host, logger: logger) { service, message in
            Self.recordPolicyFailure(serverURL: serverURL, service: service, message: message, logger: logger)
        }
        self.balancer = balancer
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let shared = self.shared
        let lookup: @Sendable (ServiceTable.Frontend) -> ServiceTable.ServicePort? = { frontend in shared.table.withLock { $0.frontends[frontend] } }
        tcp = TCPProxy(group: group, balancer: balancer, pickers: pickers, logger: logger, lookup: lookup)
        udp = UDPProxy(group: group, balancer: balancer, pickers: pickers, lookup: lookup)
        let mark: @Sendable () -> Void = { shared.dirty.store(true, ordering: .releasing) }
        let services = ListWatch(serverURL: configuration.serverURL, path: "/api/v1/services", logger: logger, onChange: mark)
        let slices = ListWatch(serverURL: configuration.serverURL, path: "/apis/discovery.k8s.io/v1/endpointslices", logger: logger, onChange: mark)
        self.services = services
        self.slices = slices
        // DNS answers on a loop of its own: a flood of queries must not hold the loop that relays connections.
        let dnsGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.dnsGroup = dnsGroup
        dns = ClusterDNS(domain: configuration.clusterDomain, upstreams: configuration.dnsUpstreams, group: dnsGroup, logger: logger) { (services.items, slices.items) }
        policies = ListWatch(serverURL: configuration.serverURL, path: "/apis/kube9.io/v1/policies?fieldSelector=spec.slot%3Dloadbalancer",
                             logger: logger, onChange: mark)
    }

    /// Makes the service and load-balancer ranges local (or says why not), loads the built-in
    /// policies, starts the watches and the sync loop on threads of their own.
    public func start() {
        for range in [configuration.serviceRange, configuration.loadBalancerRange] {
            if let problem = Self.addLocalRoute(range) {
                logger.warning("service proxy: addresses of \(range) will not be reachable on this host (cluster IPs and load-balancer addresses need a local route; node ports still work): \(problem)")
            }
        }
        for directory in configuration.policyDirectories {
            let errors = host.loadBuiltins(from: directory).filter { $0.slot == .loadbalancer }
            for error in errors { logger.warning("service proxy: built-in policy failed to load", metadata: ["error": "\(error)"]) }
        }
        services.start()
        slices.start()
        policies.start()
        if let address = configuration.dnsAddress {
            do {
                try dns.listen(host: address, port: 53)
                logger.info("cluster DNS listening", metadata: ["address": "\(address):53", "upstreams": "\(configuration.dnsUpstreams.isEmpty ? "none (outside names are refused)" : configuration.dnsUpstreams.joined(separator: ","))"])
                do {
                    try dns.listenTCP(host: address, port: 53)
                } catch {
                    logger.warning("service proxy: the cluster DNS cannot listen on TCP \(address):53, so answers cut to 512 bytes cannot be fetched whole: \(error)")
                }
            } catch {
                logger.warning("service proxy: the cluster DNS cannot listen on \(address):53, so pods cannot resolve service names through this node: \(error)")
            }
        }
        started.store(true, ordering: .releasing)
        let thread = Thread { [self] in syncLoop() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    public func stop() {
        running.store(false, ordering: .releasing)
        services.stop()
        slices.stop()
        policies.stop()
        // The sync loop may be binding listeners: let it finish (a loop pass is short) so none opens after the close.
        if started.load(ordering: .acquiring) { _ = syncLoopEnded.wait(timeout: .now() + 5) }
        tcp.closeAll()
        udp.closeAll()
        dns.close()
        dnsGroup.shutdownGracefully { _ in }
    }

    /// Records a `LoadBalancerPolicyFailed` Warning event on the service (on a thread of its own: it is an HTTP call).
    static func recordPolicyFailure(serverURL: String, service: ServiceTable.ServicePort, message: String, logger: Logger) {
        let thread = Thread {
            let about: JSON = ["apiVersion": "v1", "kind": "Service",
                               "metadata": ["name": .string(service.name), "namespace": .string(service.namespace), "uid": .string(service.uid)]]
            let event = EventStrategy.event(about: about, type: "Warning", reason: "LoadBalancerPolicyFailed", message: message, component: "kube9-proxy")
            do {
                let connection = try HTTPConnection(baseURL: serverURL)
                _ = try connection.request("POST", "/api/v1/namespaces/\(service.namespace)/events", body: event.serialized())
            } catch {
                logger.warning("service proxy: could not record an event", metadata: ["error": "\(error)"])
            }
        }
        thread.start()
    }

    /// `ip route replace local RANGE dev lo`; nil when it worked.
    static func addLocalRoute(_ range: String) -> String? {
        guard IPv4Range(range) != nil else { return "not an IPv4 range: \(range)" }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        guard let ip = Subprocess.resolveExecutable("ip", path: path) else { return "the `ip` command was not found" }
        guard let result = try? Subprocess.run(ip, ["route", "replace", "local", range, "dev", "lo"], timeoutSeconds: 10) else {
            return "`ip route replace local \(range) dev lo` could not run"
        }
        return result.status == 0 ? nil : "`ip route replace local \(range) dev lo` failed: \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    }

    func syncLoop() {
        var installed: [String: Int64] = [:]
        var retry = BindRetry()
        while running.load(ordering: .acquiring) {
            let now = DispatchTime.now().uptimeNanoseconds
            if shared.dirty.exchange(false, ordering: .acquiringAndReleasing), services.hasSynced, slices.hasSynced {
                installed = syncPolicies(installed)
                let fresh = ServiceTable(services: services.items, slices: slices.items)
                let changed = shared.table.withLock { current -> Bool in
                    defer { current = fresh }
                    return Set(current.frontends.keys) != Set(fresh.frontends.keys)
                }
                if changed { retry.record(failed: reconcileListeners(Set(fresh.frontends.keys)), now: now) }
            }
            if retry.isDue(now: now), running.load(ordering: .acquiring) {
                // A frontend that could not listen (its port was taken, its address not yet local) is tried again.
                retry.record(failed: reconcileListeners(shared.table.withLock { Set($0.frontends.keys) }), now: now)
            }
            usleep(20_000)
        }
        syncLoopEnded.signal()
    }

    /// Opens and closes listeners for `wanted`; logs frontends that newly fail or recover.
    /// True when some frontend still cannot listen.
    func reconcileListeners(_ wanted: Set<ServiceTable.Frontend>) -> Bool {
        let failures = tcp.reconcile(wanted).merging(udp.reconcile(wanted)) { first, _ in first }
        let (newFailures, recovered) = failed.withLock { known -> ([ServiceTable.Frontend: String], [ServiceTable.Frontend]) in
            let new = failures.filter { known[$0.key] != $0.value }
            let recovered = known.keys.filter { failures[$0] == nil && wanted.contains($0) }
            known = failures
            return (new, recovered)
        }
        for (frontend, reason) in newFailures.sorted(by: { $0.key.description < $1.key.description }) {
            logger.warning("service proxy: cannot listen on \(frontend) (tried again with back-off): \(reason)")
        }
        for frontend in recovered.sorted(by: { $0.description < $1.description }) {
            logger.info("service proxy: now listening on \(frontend)")
        }
        return !failures.isEmpty
    }

    /// Installs loadbalancer Policy objects (and removes deleted ones) into the proxy's host.
    func syncPolicies(_ installed: [String: Int64]) -> [String: Int64] {
        var now: [String: Int64] = [:]
        for object in policies.items {
            guard let source = try? PolicySource.from(object: object), source.slot == .loadbalancer else { continue }
            now[source.name] = source.version
            if installed[source.name] == source.version { continue }
            do {
                _ = try host.install(source)
            } catch {
                logger.warning("service proxy: policy refused", metadata: ["policy": "\(source.name)", "error": "\(error)"])
            }
        }
        for name in installed.keys where now[name] == nil { host.remove(slot: .loadbalancer, name: name) }
        return now
    }

    /// Connections per endpoint so far for a service port key ("ns/name:port/TCP").
    public func totals(_ key: String) -> [String: Int] { balancer.totals(key) }
}

/// When frontends that failed to listen are tried again: 1 s after a failing reconcile, then
/// doubling to 30 s while they keep failing; never once everything listens.
struct BindRetry {
    static let firstDelay: UInt64 = 1_000_000_000
    static let maximumDelay: UInt64 = 30_000_000_000
    private(set) var delay: UInt64 = BindRetry.firstDelay
    /// Uptime nanoseconds of the next try, nil when nothing failed.
    private(set) var next: UInt64?

    func isDue(now: UInt64) -> Bool { next.map { now >= $0 } ?? false }

    /// The outcome of a reconcile at `now`.
    mutating func record(failed: Bool, now: UInt64) {
        guard failed else {
            next = nil
            delay = Self.firstDelay
            return
        }
        next = now &+ delay
        delay = min(delay &* 2, Self.maximumDelay)
    }
}
