import Kube9Model
import Testing

@Suite("pod DNS")
struct PodDNSTests {
    static func pod(_ spec: JSON) throws -> JSON {
        var pod: JSON = ["metadata": ["name": "p"], "spec": spec]
        pod[path: ["spec", "containers"]] = [["name": "c", "image": "a"]]
        PodStrategy().prepareForCreate(&pod)
        return pod
    }

    static let node = PodDNS.parse(resolvConf: "# the node's\nnameserver 192.0.2.9\nsearch home.test\noptions edns0\n")

    @Test("resolv.conf: nameservers in order, the last search (or domain) line, every option; comments skipped")
    func parseResolvConf() {
        let parsed = PodDNS.parse(resolvConf: "nameserver 10.0.0.2\n; old\n# nameserver 9.9.9.9\ndomain corp.test\nsearch a.test b.test\noptions ndots:2 rotate\nnameserver 10.0.0.3\n")
        #expect(parsed == PodDNS(nameservers: ["10.0.0.2", "10.0.0.3"], searches: ["a.test", "b.test"], options: ["ndots:2", "rotate"]))
        #expect(Self.node == PodDNS(nameservers: ["192.0.2.9"], searches: ["home.test"], options: ["edns0"]))
    }

    @Test("each dnsPolicy resolves as the kubelet writes resolv.conf; dnsConfig is merged on top")
    func resolve() {
        let clusterFirst = PodDNS.resolve(spec: [:], namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local", node: Self.node)
        #expect(clusterFirst == PodDNS(nameservers: ["10.96.0.10"], searches: ["team.svc.cluster.local", "svc.cluster.local", "cluster.local"], options: ["ndots:5"]))
        #expect(PodDNS.resolve(spec: ["dnsPolicy": "ClusterFirstWithHostNet"], namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local", node: Self.node) == clusterFirst)
        #expect(PodDNS.resolve(spec: [:], namespace: "team", clusterDNS: nil, domain: "cluster.local", node: Self.node) == nil, "no cluster DNS: the node's")
        #expect(PodDNS.resolve(spec: ["dnsPolicy": "Default"], namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local", node: Self.node) == nil)
        let none = PodDNS.resolve(spec: ["dnsPolicy": "None", "dnsConfig": ["nameservers": ["192.0.2.1"], "searches": ["a.test"], "options": [["name": "edns0"]]]],
                                  namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local", node: Self.node)
        #expect(none == PodDNS(nameservers: ["192.0.2.1"], searches: ["a.test"], options: ["edns0"]))
        let merged = PodDNS.resolve(spec: ["dnsConfig": ["nameservers": ["192.0.2.1", "10.96.0.10"], "searches": ["svc.cluster.local", "b.test"],
                                                         "options": [["name": "ndots", "value": "2"], ["name": "rotate"]]]],
                                    namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local", node: Self.node)
        #expect(merged == PodDNS(nameservers: ["10.96.0.10", "192.0.2.1"], searches: ["team.svc.cluster.local", "svc.cluster.local", "cluster.local", "b.test"],
                                 options: ["ndots:2", "rotate"]))
        let extraOnly = PodDNS.resolve(spec: ["dnsPolicy": "Default", "dnsConfig": ["nameservers": ["192.0.2.8"], "searches": ["c.test"]]],
                                       namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local", node: Self.node)
        #expect(extraOnly == PodDNS(nameservers: ["192.0.2.9", "192.0.2.8"], searches: ["home.test", "c.test"], options: ["edns0"]),
                "Default: the node's settings with dnsConfig appended")
    }

    @Test("bad DNS settings are 422 causes naming the field", arguments: [
        (#"{"dnsPolicy":"None"}"#, "spec.dnsConfig.nameservers"),
        (#"{"dnsPolicy":"Sometimes"}"#, "spec.dnsPolicy"),
        (#"{"dnsConfig":{"nameservers":["1.1.1.1","1.1.1.2","1.1.1.3","1.1.1.4"]}}"#, "spec.dnsConfig.nameservers"),
        (#"{"dnsConfig":{"nameservers":["not-an-ip"]}}"#, "spec.dnsConfig.nameservers[0]"),
        (#"{"dnsConfig":{"searches":["Bad_Domain"]}}"#, "spec.dnsConfig.searches[0]"),
        (#"{"dnsConfig":{"options":[{"value":"2"}]}}"#, "spec.dnsConfig.options[0].name"),
        (#"{"dnsConfig":{"options":[{"name":"nd ots"}]}}"#, "spec.dnsConfig.options[0]"),
    ])
    func invalid(spec: String, field: String) throws {
        let causes = PodStrategy().validate(try Self.pod(try JSON.parse(spec)))
        #expect(causes.contains { $0.field == field }, "\(causes)")
    }

    @Test("the search list may join to 2,048 characters, not 2,049")
    func searchListLength() throws {
        let long = String(repeating: "a", count: 63) + "." + String(repeating: "b", count: 63) + "." + String(repeating: "c", count: 63) + ".test"
        func searches(lastLength: Int) -> JSON {
            .array(Array(repeating: JSON.string(long), count: 10) + [.string(String(repeating: "d", count: 63) + "." + String(repeating: "e", count: lastLength - 69) + ".test")])
        }
        let fits = try Self.pod(["dnsConfig": ["searches": searches(lastLength: 78)]])
        #expect(PodStrategy().validate(fits).isEmpty, "\(PodStrategy().validate(fits))")
        let over = try Self.pod(["dnsConfig": ["searches": searches(lastLength: 79)]])
        #expect(PodStrategy().validate(over).map(\.field) == ["spec.dnsConfig.searches"])
    }

    @Test("a good dnsConfig passes")
    func valid() throws {
        let pod = try Self.pod(["dnsPolicy": "None", "dnsConfig": ["nameservers": ["192.0.2.1"], "searches": ["example.test", "svc.cluster.local."],
                                                                  "options": [["name": "ndots", "value": "2"]]]])
        #expect(PodStrategy().validate(pod).isEmpty, "\(PodStrategy().validate(pod))")
    }
}
