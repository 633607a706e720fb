@testable import Kube9Server
import Kube9Model
import Testing

@Suite("request paths, discovery, OpenAPI and protobuf")
struct ServerUnitTests {
    let catalog = ResourceCatalog.builtin

    @Test("paths resolve to resources, namespaces and subresources")
    func paths() throws {
        guard case .resource(let route) = try RequestPath.parse("/api/v1/namespaces/ns1/pods/p1/status", catalog: catalog) else {
            Issue.record("not a resource"); return
        }
        #expect(route.type.resource == "pods")
        #expect(route.namespace == "ns1")
        #expect(route.name == "p1")
        #expect(route.subresource == "status")
        guard case .resource(let namespaceRoute) = try RequestPath.parse("/api/v1/namespaces/t", catalog: catalog) else {
            Issue.record("not a resource"); return
        }
        #expect(namespaceRoute.type.resource == "namespaces")
        #expect(namespaceRoute.name == "t")
        guard case .resource(let lease) = try RequestPath.parse("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", catalog: catalog) else {
            Issue.record("not a resource"); return
        }
        #expect(lease.type.kind == "Lease")
        #expect(throws: APIError.self) { try RequestPath.parse("/api/v1/pods/p1", catalog: catalog) }
        #expect(throws: APIError.self) { try RequestPath.parse("/api/v1/namespaces/a/pods/p/exec", catalog: catalog) }
    }

    @Test("aggregated discovery is chosen by the Accept header")
    func discovery() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        #expect(Discovery.aggregatedVersion(accept: accept) == "v2")
        #expect(Discovery.aggregatedVersion(accept: "application/json") == nil)
        let document = Discovery(catalog: catalog).aggregated(core: true, version: "v2")
        let resources = document["items"]?.arrayValue?.first?["versions"]?.arrayValue?.first?["resources"]?.arrayValue ?? []
        let pods = resources.first { $0["resource"] == "pods" }
        #expect(pods?["shortNames"] == ["po"])
        #expect(pods?["scope"] == "Namespaced")
        #expect(pods?[path: ["responseKind", "kind"]] == "Pod")
    }

    @Test("every PATCH operation carries its GVK and the fieldValidation parameter")
    func openAPI() throws {
        let documents = OpenAPIDocuments(catalog: catalog)
        let core = try JSON.parse(documents.documents["api/v1"]!.bytes)
        let patch = core[path: ["paths", "/api/v1/namespaces/{namespace}/pods/{name}", "patch"]]
        #expect(patch?[path: ["x-kubernetes-group-version-kind", "kind"]] == "Pod")
        #expect(patch?["parameters"]?.arrayValue?.contains { $0["name"] == "fieldValidation" } == true)
        let containers = core[path: ["components", "schemas", "io.k8s.api.core.v1.PodSpec", "properties", "containers"]]
        #expect(containers?["x-kubernetes-patch-merge-key"] == "name")
        #expect(documents.index[path: ["paths", "apis/coordination.k8s.io/v1", "serverRelativeURL"]]?.stringValue?.hasPrefix("/openapi/v3/apis/coordination.k8s.io/v1?hash=") == true)
    }

    @Test("the protobuf envelope of kubectl create namespace decodes")
    func protobufNamespace() throws {
        // k8s\0, Unknown{typeMeta{apiVersion "v1", kind "Namespace"}, raw Namespace{metadata{name "t", labels{a:b}}}}
        func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(bytes.count)] + bytes }
        let metadata = field(1, Array("t".utf8)) + field(2, []) + field(11, field(1, Array("a".utf8)) + field(2, Array("b".utf8)))
        let namespace = field(1, metadata)
        let typeMeta = field(1, Array("v1".utf8)) + field(2, Array("Namespace".utf8))
        let body: [UInt8] = [0x6B, 0x38, 0x73, 0x00] + field(1, typeMeta) + field(2, namespace)
        let decoded = try ProtobufBody.decode(body)
        #expect(decoded[path: ["metadata", "name"]] == "t")
        #expect(decoded[path: ["metadata", "generateName"]] == nil)
        #expect(decoded[path: ["metadata", "labels", "a"]] == "b")
        #expect(throws: APIError.self) { try ProtobufBody.decode([1, 2, 3]) }
    }

    @Test("query booleans follow Go's ParseBool (the Python client sends watch=True)")
    func booleans() {
        for value in ["1", "t", "T", "true", "TRUE", "True"] { #expect(APIHandler.isTrue(value)) }
        for value in ["0", "false", "yes", "", nil] { #expect(!APIHandler.isTrue(value)) }
    }

    @Test("continue tokens round trip and garbage is refused")
    func continueTokens() {
        let token = ContinueToken.encode(revision: 42, namespace: "default", name: "p-7")
        #expect(ContinueToken.decode(token)?.revision == 42)
        #expect(ContinueToken.decode(token)?.name == "p-7")
        #expect(ContinueToken.decode("!!!") == nil)
    }
}
