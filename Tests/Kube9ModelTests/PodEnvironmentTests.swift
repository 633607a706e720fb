import Kube9Model
import Testing

@Suite("pod environment")
struct PodEnvironmentTests {
    static let pod: JSON = [
        "metadata": ["name": "web-1", "namespace": "shop", "uid": "u-1", "labels": ["app": "web"], "annotations": ["team": "blue"]],
        "spec": ["nodeName": "n1", "containers": [["name": "c", "image": "i", "resources": ["requests": ["cpu": "250m", "memory": "64Mi"], "limits": ["memory": "128Mi"]]]]],
    ]
    static let sources = PodEnvironment.Sources(
        configMap: { name in name == "settings" ? ["data": ["MODE": "fast", "LEVEL": "3"], "binaryData": ["BLOB": "aGk="]] : nil },
        secret: { name in name == "db" ? ["data": ["PASSWORD": .string(Base64.encode(Array("s3cret".utf8)))]] : nil })

    static func resolve(_ container: JSON, services: [(name: String, value: String)] = []) throws -> [String: String] {
        let list = try PodEnvironment.resolve(container: container, pod: pod, facts: PodEnvironment.PodFacts(podIP: "10.89.0.7", hostIP: "192.0.2.1",
                                              allocatableCPU: Quantity.parse("4"), allocatableMemory: Quantity.parse("8Gi")),
                                              serviceEnvironment: services, sources: sources)
        #expect(Set(list.map(\.name)).count == list.count, "each name once: \(list)")
        return Dictionary(list.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    @Test("envFrom, then env with valueFrom and $(VAR) expansion; services' variables only where the container has none")
    func resolution() throws {
        let container: JSON = [
            "name": "c", "resources": ["requests": ["cpu": "250m", "memory": "64Mi"], "limits": ["memory": "128Mi"]],
            "envFrom": [["configMapRef": ["name": "settings"], "prefix": "CFG_"], ["secretRef": ["name": "db"]], ["configMapRef": ["name": "absent", "optional": true]]],
            "env": [
                ["name": "MODE", "valueFrom": ["configMapKeyRef": ["name": "settings", "key": "MODE"]]],
                ["name": "BLOB", "valueFrom": ["configMapKeyRef": ["name": "settings", "key": "BLOB"]]],
                ["name": "PASS", "valueFrom": ["secretKeyRef": ["name": "db", "key": "PASSWORD"]]],
                ["name": "URL", "value": "db://$(PASS)@$(POD_IP):$(WEB_SERVICE_PORT)/$(UNKNOWN)/$$(LITERAL)"],
                ["name": "POD_IP", "valueFrom": ["fieldRef": ["fieldPath": "status.podIP"]]],
                ["name": "NAME", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]],
                ["name": "NS", "valueFrom": ["fieldRef": ["fieldPath": "metadata.namespace"]]],
                ["name": "UID", "valueFrom": ["fieldRef": ["fieldPath": "metadata.uid"]]],
                ["name": "APP", "valueFrom": ["fieldRef": ["fieldPath": "metadata.labels['app']"]]],
                ["name": "TEAM", "valueFrom": ["fieldRef": ["fieldPath": "metadata.annotations['team']"]]],
                ["name": "NODE", "valueFrom": ["fieldRef": ["fieldPath": "spec.nodeName"]]],
                ["name": "CPU_MILLI", "valueFrom": ["resourceFieldRef": ["resource": "requests.cpu", "divisor": "1m"]]],
                ["name": "CPU", "valueFrom": ["resourceFieldRef": ["resource": "requests.cpu"]]],
                ["name": "MEM_MI", "valueFrom": ["resourceFieldRef": ["resource": "limits.memory", "divisor": "1Mi"]]],
                ["name": "CPU_LIMIT", "valueFrom": ["resourceFieldRef": ["resource": "limits.cpu"]]],
                ["name": "MAYBE", "valueFrom": ["secretKeyRef": ["name": "db", "key": "NOPE", "optional": true]]],
                ["name": "WEB_SERVICE_HOST", "value": "mine"],
            ],
        ]
        let env = try Self.resolve(container, services: [("WEB_SERVICE_HOST", "10.96.0.5"), ("WEB_SERVICE_PORT", "80")])
        #expect(env["CFG_MODE"] == "fast" && env["CFG_LEVEL"] == "3" && env["PASSWORD"] == "s3cret")
        #expect(env["MODE"] == "fast" && env["BLOB"] == "hi" && env["PASS"] == "s3cret")
        // POD_IP is defined after URL, so it is not expanded there (Kubernetes' order rule).
        #expect(env["URL"] == "db://s3cret@$(POD_IP):80/$(UNKNOWN)/$(LITERAL)", "\(env["URL"] ?? "-")")
        #expect(env["POD_IP"] == "10.89.0.7" && env["NAME"] == "web-1" && env["NS"] == "shop" && env["UID"] == "u-1")
        #expect(env["APP"] == "web" && env["TEAM"] == "blue" && env["NODE"] == "n1")
        #expect(env["CPU_MILLI"] == "250" && env["CPU"] == "1" && env["MEM_MI"] == "128" && env["CPU_LIMIT"] == "4")
        #expect(env["MAYBE"] == nil)
        #expect(env["WEB_SERVICE_HOST"] == "mine" && env["WEB_SERVICE_PORT"] == "80")
    }

    @Test("a missing ConfigMap, Secret or key that is not optional is a problem naming it")
    func missing() {
        for (reference, expected) in [
            (["configMapKeyRef": ["name": "nope", "key": "k"]] as JSON, "configmap \"nope\" not found"),
            (["configMapKeyRef": ["name": "settings", "key": "k"]], "couldn't find key k in ConfigMap shop/settings"),
            (["secretKeyRef": ["name": "nope", "key": "k"]], "secret \"nope\" not found"),
            (["secretKeyRef": ["name": "db", "key": "k"]], "couldn't find key k in Secret shop/db"),
        ] {
            let error = #expect(throws: PodEnvironment.Problem.self) { _ = try Self.resolve(["name": "c", "env": [["name": "X", "valueFrom": reference]]]) }
            #expect(error?.description == expected)
        }
        let error = #expect(throws: PodEnvironment.Problem.self) { _ = try Self.resolve(["name": "c", "envFrom": [["secretRef": ["name": "gone"]]]]) }
        #expect(error?.description == "secret \"gone\" not found")
    }

    @Test("validation names the field: two sources, value with valueFrom, unknown field paths and resources, zero divisor, bad keys")
    func validation() {
        func causes(_ env: JSON, envFrom: JSON = .null) -> [String] {
            var pod: JSON = ["metadata": ["name": "p", "namespace": "default"], "spec": ["containers": [["name": "c", "image": "i", "env": env]]]]
            if envFrom != .null { pod[path: ["spec", "containers"]] = [["name": "c", "image": "i", "envFrom": envFrom]] }
            return PodStrategy().validate(pod).map(\.field)
        }
        let base = "spec.containers[0].env[0]"
        #expect(causes([["name": "A", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"], "secretKeyRef": ["name": "s", "key": "k"]]]]) == ["\(base).valueFrom"])
        #expect(causes([["name": "A", "value": "x", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]]]) == ["\(base).valueFrom"])
        #expect(causes([["name": "A", "valueFrom": ["fieldRef": ["fieldPath": "spec.secret"]]]]) == ["\(base).valueFrom.fieldRef.fieldPath"])
        #expect(causes([["name": "A", "valueFrom": ["resourceFieldRef": ["resource": "limits.gpu"]]]]) == ["\(base).valueFrom.resourceFieldRef.resource"])
        #expect(causes([["name": "A", "valueFrom": ["resourceFieldRef": ["resource": "limits.cpu", "divisor": "0"]]]]) == ["\(base).valueFrom.resourceFieldRef.divisor"])
        #expect(causes([["name": "A", "valueFrom": ["configMapKeyRef": ["name": "", "key": "a b"]]]]) == ["\(base).valueFrom.configMapKeyRef.name", "\(base).valueFrom.configMapKeyRef.key"])
        #expect(causes([["name": "A=B", "value": "x"]]) == ["\(base).name"])
        #expect(causes([["value": "x"]]) == ["\(base).name"])
        #expect(causes(.null, envFrom: [["configMapRef": ["name": "a"], "secretRef": ["name": "b"]], ["secretRef": [:]]]) == ["spec.containers[0].envFrom[0]", "spec.containers[0].envFrom[1].secretRef.name"])
        #expect(causes([["name": "A", "valueFrom": ["fieldRef": ["fieldPath": "metadata.labels['app']"]]]]).isEmpty)
        // A name becomes a URL path on the agent: only object names.
        #expect(causes([["name": "A", "valueFrom": ["secretKeyRef": ["name": "../../kube-system/secrets/admin", "key": "k"]]]]) == ["\(base).valueFrom.secretKeyRef.name"])
        #expect(causes(.null, envFrom: [["secretRef": ["name": "a?b"]]]) == ["spec.containers[0].envFrom[0].secretRef.name"])
        var pod: JSON = ["metadata": ["name": "p", "namespace": "default"],
                         "spec": ["volumes": [["name": "v", "secret": ["secretName": "../x"]], ["name": "w", "configMap": ["name": "c", "items": [["key": "k", "path": "./a"]]]]],
                                  "containers": [["name": "c", "image": "i", "volumeMounts": [["name": "v", "mountPath": "/a:b"], ["name": "w", "mountPath": "/w", "subPath": "x/../y"]]]]]]
        #expect(Set(PodStrategy().validate(pod).map(\.field)) == ["spec.volumes[0].secret.secretName", "spec.volumes[1].configMap.items[0].path",
                                                                   "spec.containers[0].volumeMounts[0].mountPath", "spec.containers[0].volumeMounts[1].subPath"])
        pod[path: ["spec", "volumes"]] = [["name": "v", "downwardAPI": ["items": [["path": "cpu", "resourceFieldRef": ["resource": "limits.cpu"]]]]]]
        pod[path: ["spec", "containers"]] = [["name": "c", "image": "i"]]
        #expect(PodStrategy().validate(pod).map(\.field) == ["spec.volumes[0].downwardAPI.items[0].resourceFieldRef.containerName"])
    }
}
