import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// One malformed request and the Status it must get.
struct BadRequest: CustomTestStringConvertible, Sendable {
    var name: String
    var method: String
    var path: String
    var contentType = "application/json"
    var body: [UInt8]? = nil
    var code: Int
    var reason: String

    var testDescription: String { name }

    init(_ name: String, _ method: String, _ path: String, body: String? = nil, contentType: String = "application/json", code: Int, reason: String) {
        self.name = name
        self.method = method
        self.path = path
        self.body = body.map { Array($0.utf8) }
        self.contentType = contentType
        self.code = code
        self.reason = reason
    }

    init(_ name: String, _ method: String, _ path: String, bytes: [UInt8], contentType: String = "application/json", code: Int, reason: String) {
        self.init(name, method, path, contentType: contentType, code: code, reason: reason)
        self.body = bytes
    }
}

func pod(_ metadata: String, spec: String = #"{"containers":[{"name":"c","image":"busybox"}]}"#, extra: String = "") -> String {
    #"{"apiVersion":"v1","kind":"Pod","metadata":\#(metadata),"spec":\#(spec)\#(extra)}"#
}

let pods = "/api/v1/namespaces/default/pods"

let badRequests: [BadRequest] = [
    BadRequest("truncated JSON", "POST", pods, body: "{", code: 400, reason: "BadRequest"),
    BadRequest("JSON array body", "POST", pods, body: "[]", code: 400, reason: "BadRequest"),
    BadRequest("JSON string body", "POST", pods, body: "\"pod\"", code: 400, reason: "BadRequest"),
    BadRequest("empty body", "POST", pods, body: "", code: 400, reason: "BadRequest"),
    BadRequest("trailing garbage", "POST", pods, body: pod(#"{"name":"g"}"#) + "}", code: 400, reason: "BadRequest"),
    BadRequest("duplicate JSON key", "POST", pods, body: #"{"kind":"Pod","kind":"Pod","metadata":{"name":"d"}}"#, code: 400, reason: "BadRequest"),
    BadRequest("wrong kind", "POST", pods, body: #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n"}}"#, code: 400, reason: "BadRequest"),
    BadRequest("wrong apiVersion", "POST", pods, body: #"{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"n"}}"#, code: 400, reason: "BadRequest"),
    BadRequest("metadata is a string", "POST", pods, body: #"{"apiVersion":"v1","kind":"Pod","metadata":"x"}"#, code: 400, reason: "BadRequest"),
    BadRequest("namespace differs from URL", "POST", pods, body: pod(#"{"name":"n","namespace":"other"}"#), code: 400, reason: "BadRequest"),
    BadRequest("resourceVersion on create", "POST", pods, body: pod(#"{"name":"n","resourceVersion":"5"}"#), code: 400, reason: "BadRequest"),
    BadRequest("upper-case name", "POST", pods, body: pod(#"{"name":"Bad_Name"}"#), code: 422, reason: "Invalid"),
    BadRequest("name of 300 characters", "POST", pods, body: pod(#"{"name":"\#(String(repeating: "a", count: 300))"}"#), code: 422, reason: "Invalid"),
    BadRequest("no name and no generateName", "POST", pods, body: pod(#"{"labels":{"a":"b"}}"#), code: 422, reason: "Invalid"),
    BadRequest("bad generateName", "POST", pods, body: pod(#"{"generateName":"UP-"}"#), code: 422, reason: "Invalid"),
    BadRequest("no containers", "POST", pods, body: pod(#"{"name":"n"}"#, spec: #"{"containers":[]}"#), code: 422, reason: "Invalid"),
    BadRequest("no spec", "POST", pods, body: #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"n"}}"#, code: 422, reason: "Invalid"),
    BadRequest("containers is a string", "POST", pods, body: pod(#"{"name":"n"}"#, spec: #"{"containers":"c"}"#), code: 422, reason: "Invalid"),
    BadRequest("container without image", "POST", pods, body: pod(#"{"name":"n"}"#, spec: #"{"containers":[{"name":"c"}]}"#), code: 422, reason: "Invalid"),
    BadRequest("duplicate container names", "POST", pods, body: pod(#"{"name":"n"}"#, spec: #"{"containers":[{"name":"c","image":"a"},{"name":"c","image":"b"}]}"#), code: 422, reason: "Invalid"),
    BadRequest("container port 70000", "POST", pods, body: pod(#"{"name":"n"}"#, spec: #"{"containers":[{"name":"c","image":"a","ports":[{"containerPort":70000}]}]}"#), code: 422, reason: "Invalid"),
    BadRequest("unknown restartPolicy", "POST", pods, body: pod(#"{"name":"n"}"#, spec: #"{"restartPolicy":"Sometimes","containers":[{"name":"c","image":"a"}]}"#), code: 422, reason: "Invalid"),
    BadRequest("bad label value", "POST", pods, body: pod(#"{"name":"n","labels":{"app":"-bad-"}}"#), code: 422, reason: "Invalid"),
    BadRequest("bad label key", "POST", pods, body: pod(#"{"name":"n","labels":{"a/b/c":"x"}}"#), code: 422, reason: "Invalid"),
    BadRequest("cpu request that is not a quantity", "POST", pods, body: pod(#"{"name":"n"}"#, spec: #"{"containers":[{"name":"c","image":"a","resources":{"requests":{"cpu":"lots"}}}]}"#), code: 422, reason: "Invalid"),
    BadRequest("request above limit", "POST", pods, body: pod(#"{"name":"n"}"#, spec: #"{"containers":[{"name":"c","image":"a","resources":{"requests":{"cpu":"2"},"limits":{"cpu":"1"}}}]}"#), code: 422, reason: "Invalid"),
    BadRequest("unknown field with fieldValidation=Strict", "POST", pods + "?fieldValidation=Strict", body: pod(#"{"name":"n"}"#, spec: #"{"containers":[{"name":"c","image":"a","imag":"typo"}]}"#), code: 400, reason: "BadRequest"),
    BadRequest("bad fieldValidation value", "POST", pods + "?fieldValidation=Loose", body: pod(#"{"name":"n"}"#), code: 400, reason: "BadRequest"),
    BadRequest("bad dryRun value", "POST", pods + "?dryRun=Some", body: pod(#"{"name":"n"}"#), code: 400, reason: "BadRequest"),
    BadRequest("create in a missing namespace", "POST", "/api/v1/namespaces/nowhere/pods", body: pod(#"{"name":"n"}"#), code: 404, reason: "NotFound"),
    BadRequest("create an existing pod", "POST", pods, body: pod(#"{"name":"existing"}"#), code: 409, reason: "AlreadyExists"),
    BadRequest("unknown resource", "GET", "/api/v1/widgets", code: 404, reason: "NotFound"),
    BadRequest("unknown group", "GET", "/apis/nosuch.example.com/v1/things", code: 404, reason: "NotFound"),
    BadRequest("unknown core version", "GET", "/api/v9/pods", code: 404, reason: "NotFound"),
    BadRequest("unknown subresource", "GET", pods + "/existing/nosuch", code: 404, reason: "NotFound"),
    BadRequest("missing pod", "GET", pods + "/missing", code: 404, reason: "NotFound"),
    BadRequest("unclosed set in label selector", "GET", pods + "?labelSelector=a%20in%20(", code: 400, reason: "BadRequest"),
    BadRequest("label selector with no key", "GET", pods + "?labelSelector=%3Dx", code: 400, reason: "BadRequest"),
    BadRequest("unsupported field selector", "GET", pods + "?fieldSelector=spec.nonsense%3D1", code: 400, reason: "BadRequest"),
    BadRequest("field selector with no operator", "GET", pods + "?fieldSelector=foo", code: 400, reason: "BadRequest"),
    BadRequest("non-numeric resourceVersion", "GET", pods + "?resourceVersion=abc", code: 400, reason: "BadRequest"),
    BadRequest("negative watch resourceVersion", "GET", pods + "?watch=1&resourceVersion=-5", code: 400, reason: "BadRequest"),
    BadRequest("negative limit", "GET", pods + "?limit=-1", code: 400, reason: "BadRequest"),
    BadRequest("garbage continue token", "GET", pods + "?limit=1&continue=!!!", code: 400, reason: "BadRequest"),
    BadRequest("20 MB body", "POST", pods, bytes: Array(repeating: UInt8(ascii: " "), count: 20 * 1024 * 1024), code: 413, reason: "RequestEntityTooLarge"),
    BadRequest("nesting 1,000 levels deep", "POST", pods, body: String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000), code: 400, reason: "BadRequest"),
    BadRequest("text/plain body", "POST", pods, body: "name: x", contentType: "text/plain", code: 415, reason: "UnsupportedMediaType"),
    BadRequest("YAML body", "POST", pods, body: "apiVersion: v1", contentType: "application/yaml", code: 415, reason: "UnsupportedMediaType"),
    BadRequest("garbage protobuf", "POST", "/api/v1/namespaces", body: "not protobuf", contentType: "application/vnd.kubernetes.protobuf", code: 400, reason: "BadRequest"),
    BadRequest("PATCH as plain JSON", "PATCH", pods + "/existing", body: "{}", contentType: "application/json", code: 415, reason: "UnsupportedMediaType"),
    BadRequest("JSON patch on a missing path", "PATCH", pods + "/existing", body: #"[{"op":"replace","path":"/spec/nothing/here","value":1}]"#, contentType: "application/json-patch+json", code: 422, reason: "Invalid"),
    BadRequest("JSON patch with unknown op", "PATCH", pods + "/existing", body: #"[{"op":"frobnicate","path":"/a"}]"#, contentType: "application/json-patch+json", code: 400, reason: "BadRequest"),
    BadRequest("merge patch that is an array", "PATCH", pods + "/existing", body: "[1]", contentType: "application/merge-patch+json", code: 400, reason: "BadRequest"),
    BadRequest("strategic patch with unknown directive", "PATCH", pods + "/existing", body: #"{"$frob":1}"#, contentType: "application/strategic-merge-patch+json", code: 400, reason: "BadRequest"),
    BadRequest("patch changing a container name", "PATCH", pods + "/existing", body: #"{"spec":{"containers":[{"name":"c","$patch":"delete"},{"name":"d","image":"x"}]}}"#, contentType: "application/strategic-merge-patch+json", code: 422, reason: "Invalid"),
    BadRequest("patch a missing pod", "PATCH", pods + "/missing", body: "{}", contentType: "application/merge-patch+json", code: 404, reason: "NotFound"),
    BadRequest("PUT with a stale resourceVersion", "PUT", pods + "/existing", body: pod(#"{"name":"existing","resourceVersion":"1"}"#), code: 409, reason: "Conflict"),
    BadRequest("PUT with a non-numeric resourceVersion", "PUT", pods + "/existing", body: pod(#"{"name":"existing","resourceVersion":"x"}"#), code: 400, reason: "BadRequest"),
    BadRequest("PUT whose name differs from the URL", "PUT", pods + "/existing", body: pod(#"{"name":"other"}"#), code: 400, reason: "BadRequest"),
    BadRequest("PUT of a missing pod", "PUT", pods + "/missing", body: pod(#"{"name":"missing"}"#), code: 404, reason: "NotFound"),
    BadRequest("DELETE a missing pod", "DELETE", pods + "/missing", code: 404, reason: "NotFound"),
    BadRequest("DELETE with a non-integer grace period", "DELETE", pods + "/existing", body: #"{"gracePeriodSeconds":"soon"}"#, code: 400, reason: "BadRequest"),
    BadRequest("DELETE with a wrong uid precondition", "DELETE", pods + "/existing", body: #"{"preconditions":{"uid":"nope"}}"#, code: 409, reason: "Conflict"),
    BadRequest("DELETE the default namespace", "DELETE", "/api/v1/namespaces/default", code: 403, reason: "Forbidden"),
    BadRequest("binding without a target", "POST", pods + "/existing/binding", body: #"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"existing"}}"#, code: 422, reason: "Invalid"),
    BadRequest("POST to an object path", "POST", pods + "/existing", body: "{}", code: 405, reason: "MethodNotAllowed"),
    BadRequest("pod log without a runtime", "GET", pods + "/existing/log", code: 400, reason: "BadRequest"),
]

/// Acceptance 5 of K1: malformed requests get 4xx Statuses and change nothing.
@Suite("bad requests", .serialized)
struct BadRequestTests {
    @Test("at least 40 cases")
    func enoughCases() {
        #expect(badRequests.count >= 40)
    }

    @Test("each bad request gets its Status and leaves the store unchanged", arguments: badRequests)
    func badRequest(_ request: BadRequest) async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let connection = try server.connection()
        if (try connection.request("GET", pods + "/existing")).status == 404 {
            let created = try connection.request("POST", pods, body: Array(pod(#"{"name":"existing"}"#).utf8))
            #expect(created.status == 201)
        }
        let before = try connection.request("GET", "/api/v1/pods").json()
        let beforeNamespaces = try connection.request("GET", "/api/v1/namespaces").json()
        let reply = try connection.request(request.method, request.path, body: request.body, contentType: request.contentType)
        #expect(reply.status == request.code, "\(request.name): \(reply.text.prefix(300))")
        #expect(reply.status < 500)
        let status = try reply.json()
        #expect(status["kind"]?.stringValue == "Status")
        #expect(status["reason"]?.stringValue == request.reason, "\(request.name): \(reply.text.prefix(300))")
        #expect(status["code"]?.intValue == Int64(request.code))
        let message = status["message"]?.stringValue ?? ""
        #expect(message.count > 0)
        let after = try connection.request("GET", "/api/v1/pods").json()
        let afterNamespaces = try connection.request("GET", "/api/v1/namespaces").json()
        #expect(after == before, "\(request.name) changed the pods")
        #expect(afterNamespaces == beforeNamespaces, "\(request.name) changed the namespaces")
        #expect(try connection.request("GET", "/readyz").status == 200)
    }

    @Test("invalid objects name each bad field in the Status causes")
    func causesNameFields() throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let body = pod(#"{"name":"Bad_Name"}"#, spec: #"{"restartPolicy":"Sometimes","containers":[{"name":"c","ports":[{"containerPort":0}]}]}"#)
        let reply = try server.connection().request("POST", pods, body: Array(body.utf8))
        let causes = try reply.json()[path: ["details", "causes"]]?.arrayValue ?? []
        let fields = Set(causes.compactMap { $0["field"]?.stringValue })
        #expect(fields == ["metadata.name", "spec.restartPolicy", "spec.containers[0].image", "spec.containers[0].ports[0].containerPort"])
    }
}
