import Kube9Model
import Testing

@Suite("ConfigMaps, Secrets and base64")
struct ConfigurationKindTests {
    static func fields(_ causes: [FieldCause]) -> [String] { causes.map(\.field) }

    @Test("base64: standard with padding round-trips every length; bad input is nil; URL-safe has no padding")
    func base64() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64.encode(bytes)
            #expect(text.utf8.count % 4 == 0)
            #expect(Base64.decode(text) == bytes)
            #expect(Base64.decodeURLSafe(Base64.encodeURLSafe(bytes)) == bytes)
            #expect(!Base64.encodeURLSafe(bytes).contains("="))
        }
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.decode("aGVsbG8=\n") == Array("hello".utf8))
        for bad in ["aGVsbG8", "aGVs=G8=", "a===", "aGVsbG8-", "????", "aGVsbG8=="] { #expect(Base64.decode(bad) == nil, "\(bad)") }
    }

    @Test("ConfigMap: keys, types, duplicates across data and binaryData, 1 MiB, immutable")
    func configMap() throws {
        let strategy = ConfigMapStrategy()
        let good: JSON = ["metadata": ["name": "app", "namespace": "default"], "data": ["a.conf": "x=1", "KEY_1": "v"], "binaryData": ["blob": "AAEC"]]
        #expect(strategy.validate(good).isEmpty)
        var bad = good
        bad["data"] = ["..x": "1", "a b": "2", "n": 3, "blob": "dup"]
        bad["binaryData"] = ["blob": "not base64!"]
        bad["immutable"] = "yes"
        let causes = strategy.validate(bad)
        #expect(Self.fields(causes).filter { $0 == "data" }.count == 2, "\(causes)")
        #expect(Self.fields(causes).contains("data[n]"))
        #expect(Self.fields(causes).contains("data[blob]"))
        #expect(Self.fields(causes).contains("binaryData[blob]"))
        #expect(Self.fields(causes).contains("immutable"))
        var big = good
        big["data"] = ["a": .string(String(repeating: "x", count: 1 << 19)), "b": .string(String(repeating: "y", count: (1 << 19) + 1))]
        #expect(strategy.validate(big).map(\.reason) == ["FieldValueTooLong"])
        var frozen = good
        frozen["immutable"] = true
        var changed = frozen
        changed["data"] = ["a.conf": "x=2"]
        #expect(Self.fields(strategy.validateUpdate(changed, old: frozen)) == ["data"])
        var thawed = frozen
        thawed["immutable"] = false
        #expect(Self.fields(strategy.validateUpdate(thawed, old: frozen)) == ["immutable"])
        var labelled = frozen
        labelled[path: ["metadata", "labels"]] = ["x": "y"]
        #expect(strategy.validateUpdate(labelled, old: frozen).isEmpty, "metadata may change")
        #expect(strategy.table.cells(good)[1] == .int(3))
    }

    @Test("Secret: stringData folds into data, type defaults and is immutable, built-in types need their keys")
    func secret() throws {
        let strategy = SecretStrategy()
        var secret: JSON = ["metadata": ["name": "s", "namespace": "default"], "data": ["a": "YQ=="], "stringData": ["a": "over", "b": "bee"]]
        strategy.prepareForCreate(&secret)
        #expect(secret["type"] == "Opaque")
        #expect(secret["stringData"] == nil)
        #expect(secret["data"] == ["a": .string(Base64.encode(Array("over".utf8))), "b": "YmVl"])
        #expect(strategy.validate(secret).isEmpty)
        var malformed: JSON = ["metadata": ["name": "s", "namespace": "default"], "stringData": ["a": 1]]
        strategy.prepareForCreate(&malformed)
        #expect(Self.fields(strategy.validate(malformed)) == ["stringData[a]"])
        var retyped = secret
        retyped["type"] = "kubernetes.io/tls"
        let tls = strategy.validate(retyped)
        #expect(Self.fields(tls) == ["data[tls.crt]", "data[tls.key]"], "\(tls)")
        #expect(Self.fields(strategy.validateUpdate(retyped, old: secret)).contains("type"))
        var docker: JSON = ["metadata": ["name": "d", "namespace": "default"], "type": "kubernetes.io/dockerconfigjson",
                            "data": [".dockerconfigjson": .string(Base64.encode(Array("{not json".utf8)))]]
        #expect(Self.fields(strategy.validate(docker)) == ["data[.dockerconfigjson]"])
        docker["data"] = [".dockerconfigjson": .string(Base64.encode(Array("{\"auths\":{}}".utf8)))]
        #expect(strategy.validate(docker).isEmpty)
        let token: JSON = ["metadata": ["name": "t", "namespace": "default"], "type": "kubernetes.io/service-account-token"]
        #expect(Self.fields(strategy.validate(token)) == ["metadata.annotations[kubernetes.io/service-account.name]"])
        let basic: JSON = ["metadata": ["name": "b", "namespace": "default"], "type": "kubernetes.io/basic-auth", "data": ["password": "cA=="]]
        #expect(strategy.validate(basic).isEmpty)
        // The redacted message never echoes a value.
        let leaky: JSON = ["metadata": ["name": "l", "namespace": "default"], "data": ["k": "super-secret-value"]]
        let causes = strategy.validate(leaky)
        #expect(Self.fields(causes) == ["data[k]"] && !causes[0].message.contains("super-secret"))
        #expect(strategy.table.cells(secret)[1] == "Opaque")
    }

    @Test("protobuf ConfigMap and Secret bodies, as kubectl create sends them, decode with bytes as base64")
    func protobuf() throws {
        func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(number << 3 | 2), UInt8(bytes.count)] + bytes }
        func entry(_ number: Int, _ key: String, _ value: [UInt8]) -> [UInt8] { field(number, field(1, Array(key.utf8)) + field(2, value)) }
        func envelope(_ kind: String, _ object: [UInt8]) -> [UInt8] {
            [0x6B, 0x38, 0x73, 0x00] + field(1, field(1, Array("v1".utf8)) + field(2, Array(kind.utf8))) + field(2, object)
        }
        let secret = try ProtobufBody.decode(envelope("Secret", field(1, field(1, Array("s".utf8))) + entry(2, "k", [0, 255, 7]) + field(3, Array("Opaque".utf8))))
        #expect(secret["data"] == ["k": .string(Base64.encode([0, 255, 7]))])
        #expect(secret["type"] == "Opaque" && secret["kind"] == "Secret")
        let map = try ProtobufBody.decode(envelope("ConfigMap", field(1, field(1, Array("c".utf8))) + entry(2, "a", Array("b".utf8)) + entry(3, "bin", [1])))
        #expect(map["data"] == ["a": "b"] && map["binaryData"] == ["bin": "AQ=="])
        #expect(throws: APIError.self) { try ProtobufBody.decode(envelope("ConfigMap", field(9, [1]))) }
    }
}

@Suite("jobs")
struct JobKindTests {
    @Test("defaults: generated selector from the uid, completions and parallelism 1, backoffLimit 6; validation names the field")
    func defaultsAndValidation() {
        let strategy = JobStrategy()
        var job: JSON = ["metadata": ["name": "j", "namespace": "default", "uid": "u-1"],
                         "spec": ["template": ["spec": ["restartPolicy": "Never", "containers": [["name": "c", "image": "i"]]]]]]
        strategy.prepareForCreate(&job)
        #expect(job[path: ["spec", "selector", "matchLabels", JobStrategy.controllerUIDLabel]] == "u-1")
        #expect(job[path: ["spec", "template", "metadata", "labels", "job-name"]] == "j")
        #expect(job[path: ["spec", "completions"]] == 1 && job[path: ["spec", "parallelism"]] == 1 && job[path: ["spec", "backoffLimit"]] == 6)
        #expect(strategy.validate(job).isEmpty, "\(strategy.validate(job))")
        var bad = job
        bad[path: ["spec", "parallelism"]] = -1
        bad[path: ["spec", "activeDeadlineSeconds"]] = 0
        bad[path: ["spec", "completionMode"]] = "Sometimes"
        bad[path: ["spec", "template", "spec", "restartPolicy"]] = "Always"
        #expect(Set(strategy.validate(bad).map(\.field)) == ["spec.parallelism", "spec.activeDeadlineSeconds", "spec.completionMode", "spec.template.spec.restartPolicy"])
        var indexed = job
        indexed[path: ["spec", "completionMode"]] = "Indexed"
        indexed[path: ["spec", "completions"]] = .int(JobStrategy.maximumIndexed + 1)
        #expect(strategy.validate(indexed).map(\.field) == ["spec.completions"])
        var changed = job
        changed[path: ["spec", "completions"]] = 3
        changed[path: ["spec", "template", "spec", "containers"]] = [["name": "c", "image": "other"]]
        #expect(Set(strategy.validateUpdate(changed, old: job).map(\.field)) == ["spec.completions", "spec.template"])
        var running = job
        running[path: ["status", "succeeded"]] = 2
        #expect(strategy.table.cells(running)[1] == "Running" && strategy.table.cells(running)[2] == "2/1")
    }
}
