import Kube9Controllers
import Kube9Model

/// metrics.k8s.io/v1beta1 from the agents' usage reports (`MetricsTable`), like metrics-server:
/// NodeMetrics per node, PodMetrics per pod (its containers), CPU in nanocores, memory in KiB.
enum MetricsAPI {
    static let apiVersion = "metrics.k8s.io/v1beta1"

    static func usageJSON(_ usage: UsageReport.Usage) -> JSON {
        ["cpu": .string("\(usage.cpuNanoCores)n"), "memory": .string("\(usage.memoryBytes / 1024)Ki")]
    }

    static func window(_ seconds: Int64) -> JSON { .string("\(seconds)s") }

    /// GET on a metrics resource: a list (label selector on the node's or pod's labels) or one object.
    static func answer(_ route: ResourceRoute, query: [String: String], table: MetricsTable, registry: ObjectRegistry) throws(APIError) -> JSON {
        let labels = try query["labelSelector"].map { text throws(APIError) in try LabelSelector.parse(text) } ?? .everything
        let now = Timestamp.now()
        if route.type.kind == "NodeMetrics" {
            var items: [JSON] = []
            for (name, entry) in table.fresh().sorted(by: { $0.key < $1.key }) {
                if let only = route.name, only != name { continue }
                guard let node = try? registry.get(NodeStrategy().type, namespace: "", name: name).object, labels.matches(object: node) else { continue }
                items.append(["kind": "NodeMetrics", "apiVersion": .string(apiVersion),
                              "metadata": ["name": .string(name), "creationTimestamp": .string(now), "labels": node[path: ["metadata", "labels"]] ?? .emptyObject],
                              "timestamp": .string(Timestamp.format(entry.received)), "window": window(entry.report.windowSeconds),
                              "usage": usageJSON(entry.report.node)])
            }
            if let name = route.name {
                guard let item = items.first else { throw APIError.notFound(resource: "nodes", group: "metrics.k8s.io", name: name) }
                return item
            }
            return ["kind": "NodeMetricsList", "apiVersion": .string(apiVersion), "metadata": .emptyObject, "items": .array(items)]
        }
        var items: [JSON] = []
        for (key, entry) in table.pods().sorted(by: { $0.key < $1.key }) {
            let pod = entry.pod
            if let namespace = route.namespace, namespace != pod.namespace { continue }
            if let only = route.name, only != pod.name { continue }
            guard let object = try? registry.get(PodStrategy().type, namespace: pod.namespace, name: pod.name).object,
                  entry.describes(object), labels.matches(object: object) else { continue }
            _ = key
            items.append(["kind": "PodMetrics", "apiVersion": .string(apiVersion),
                          "metadata": ["name": .string(pod.name), "namespace": .string(pod.namespace), "creationTimestamp": .string(now),
                                       "labels": object[path: ["metadata", "labels"]] ?? .emptyObject],
                          "timestamp": .string(Timestamp.format(entry.received)), "window": window(entry.window),
                          "containers": .array(pod.containers.map { ["name": .string($0.name), "usage": usageJSON($0.usage)] })])
        }
        if let name = route.name {
            guard let item = items.first else { throw APIError.notFound(resource: "pods", group: "metrics.k8s.io", name: name) }
            return item
        }
        return ["kind": "PodMetricsList", "apiVersion": .string(apiVersion), "metadata": .emptyObject, "items": .array(items)]
    }
}
