import HTTPTypes
import Hummingbird
import Kube9Model

/// autoscaling/v1 HorizontalPodAutoscalers (`kubectl autoscale` creates them), served over the
/// stored autoscaling/v2 objects by conversion: create, get, list and delete. Updates, patches
/// and watches are refused with a message to use autoscaling/v2.
extension APIHandler {
    static let autoscalingV1Prefix = "/apis/autoscaling/v1"

    func autoscalingV1(_ request: Request, path: String, query: [String: String]) async throws -> Response {
        let segments = path.split(separator: "/").map(String.init)
        // apis autoscaling v1 [namespaces NS] horizontalpodautoscalers [NAME]
        let rest = Array(segments.dropFirst(3))
        if rest.isEmpty {
            try requireGet(request.method, path)
            return Self.jsonResponse(200, ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "autoscaling/v1",
                                           "resources": [["name": "horizontalpodautoscalers", "singularName": "horizontalpodautoscaler", "namespaced": true,
                                                          "kind": "HorizontalPodAutoscaler", "verbs": ["create", "delete", "get", "list"], "shortNames": ["hpa"]]]])
        }
        var namespace: String? = nil
        var remainder = rest
        if remainder.count >= 2, remainder[0] == "namespaces" {
            namespace = remainder[1].removingPercentEncoding
            remainder = Array(remainder.dropFirst(2))
        }
        guard let resource = remainder.first, resource == "horizontalpodautoscalers", remainder.count <= 2 else { throw APIError.unknownPath(path) }
        let name = remainder.count == 2 ? remainder[1].removingPercentEncoding : nil
        let strategy = HorizontalPodAutoscalerStrategy()
        let type = strategy.type
        switch (request.method, name) {
        case (.post, nil):
            guard let namespace else { throw APIError.methodNotAllowed("create of horizontalpodautoscalers needs a namespace in the path") }
            var body = try await readBody(request)
            if let version = body["apiVersion"]?.stringValue, version != "autoscaling/v1" {
                throw APIError.badRequest("the API version in the data (\(version)) does not match the expected API version (autoscaling/v1)")
            }
            body = HorizontalPodAutoscalerV1.toV2(body)
            let result = try await registry.create(strategy, namespace: namespace, body: body, options: writeOptions(query))
            return Self.jsonResponse(201, HorizontalPodAutoscalerV1.fromV2(result.object), warnings: result.warnings)
        case (.get, nil):
            if Self.isTrue(query["watch"]) { throw APIError.methodNotAllowed("watch autoscaling/v2 horizontalpodautoscalers; kube9 serves autoscaling/v1 for create, get, list and delete") }
            let labels = try query["labelSelector"].map { text throws(APIError) in try LabelSelector.parse(text) } ?? .everything
            let (objects, revision, _) = try registry.list(type, namespace: namespace, labels: labels, fields: .everything)
            return Self.jsonResponse(200, ["kind": "HorizontalPodAutoscalerList", "apiVersion": "autoscaling/v1", "metadata": ["resourceVersion": .string(String(revision))],
                                           "items": .array(objects.map { HorizontalPodAutoscalerV1.fromV2($0.object) })])
        case (.get, let name?):
            return Self.jsonResponse(200, HorizontalPodAutoscalerV1.fromV2(try registry.get(type, namespace: namespace ?? "", name: name).object))
        case (.delete, let name?):
            let options = try await deleteOptions(request, query: query)
            let result = try await registry.delete(strategy, namespace: namespace ?? "", name: name, options: options)
            return Self.jsonResponse(200, HorizontalPodAutoscalerV1.fromV2(result.object))
        default:
            throw APIError.methodNotAllowed("kube9 serves autoscaling/v1 horizontalpodautoscalers for create, get, list and delete; use autoscaling/v2 for \(request.method.rawValue)")
        }
    }
}
