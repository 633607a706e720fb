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

    @Test("each dnsPolicy resolves as the kubelet writes resolv.conf; dnsConfig is merged on top")
    func resolve() {
        let clusterFirst = PodDNS.resolve(spec: [:], namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local")
        #expect(clusterFirst == PodDNS(nameservers: ["10.96.0.10"], searches: ["team.svc.cluster.local", "svc.cluster.local", "cluster.local"], options: ["ndots:5"]))
        #expect(PodDNS.resolve(spec: ["dnsPolicy": "ClusterFirstWithHostNet"], namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local") == clusterFirst)
        #expect(PodDNS.resolve(spec: [:], namespace: "team", clusterDNS: nil, domain: "cluster.local") == nil, "no cluster DNS: the node's")
        #expect(PodDNS.resolve(spec: ["dnsPolicy": "Default"], namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local") == nil)
        let none = PodDNS.resolve(spec: ["dnsPolicy": "None", "dnsConfig": ["nameservers": ["192.0.2.1"], "searches": ["a.test"], "options": [["name": "edns0"]]]],
                                  namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local")
        #expect(none == PodDNS(nameservers: ["192.0.2.1"], searches: ["a.test"], options: ["edns0"]))
        let merged = PodDNS.resolve(spec: ["dnsConfig": ["nameservers": ["192.0.2.1", "10.96.0.10"], "searches": ["svc.cluster.local", "b.test"],
                                                         "options": [["name": "ndots", "value": "2"], ["name": "rotate"]]]],
                                    namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local")
        #expect(merged == PodDNS(nameservers: ["10.96.0.10", "192.0.2.1"], searches: ["team.svc.cluster.local", "svc.cluster.local", "cluster.local", "b.test"],
                                 options: ["ndots:2", "rotate"]))
        let extraOnly = PodDNS.resolve(spec: ["dnsPolicy": "Default", "dnsConfig": ["searches": ["c.test"]]], namespace: "team", clusterDNS: "10.96.0.10", domain: "cluster.local")
        #expect(extraOnly == PodDNS(nameservers: [], searches: ["c.test"], options: []), "the node's nameservers with the extra search")
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

    @Test("a good dnsConfig passes")
    func valid() throws {
        let pod = try Self.pod(["dnsPolicy": "None", "dnsConfig": ["nameservers": ["192.0.2.1"], "searches": ["example.test", "svc.cluster.local."],
                                                                  "options": [["name": "ndots", "value": "2"]]]])
        #expect(PodStrategy().validate(pod).isEmpty, "\(PodStrategy().validate(pod))")
    }
}
