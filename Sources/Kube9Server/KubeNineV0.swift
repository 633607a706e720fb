import Kube9Controllers
import Kube9Model
import Kube9Policy

/// The Kube-9 v0 API (the Python project kube9 succeeds), mapped onto real Node and Pod
/// objects. Ids are object names. See docs/kube9-v0.md.
struct KubeNineV0 {
    let registry: ObjectRegistry
    let heartbeats: HeartbeatService

    static let nodes = NodeStrategy()
    static let pods = PodStrategy()

    enum Route {
        case nodes, nodesHealth, node(String), heartbeat(String), pods, pod(String)
    }

    /// The v0 route of a path, if it is one.
    static func route(_ path: String) -> Route? {
        let parts = path.split(separator: "/").map(String.init)
        switch parts.count {
        case 1 where parts[0] == "nodes": return .nodes
        case 1 where parts[0] == "pods": return .pods
        case 2 where parts[0] == "nodes" && parts[1] == "health": return .nodesHealth
        case 2 where parts[0] == "nodes": return .node(parts[1])
        case 2 where parts[0] == "pods": return .pod(parts[1])
        case 3 where parts[0] == "nodes" && parts[2] == "heartbeat": return .heartbeat(parts[1])
        default: return nil
        }
    }

    // MARK: Shapes

    /// What the bound, unfinished pods use on each node, in one pass over the pods.
    func usage() -> [String: (cpuMillis: Int64, pods: [String])] {
        var byNode: [String: (cpuMillis: Int64, pods: [String])] = [:]
        for stored in registry.store.list(resource: "pods", namespace: nil).objects {
            let pod = stored.object
            guard let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty else { continue }
            let phase = pod[path: ["status", "phase"]]?.stringValue
            if phase == "Succeeded" || phase == "Failed" { continue }
            byNode[node, default: (0, [])].cpuMillis += SchedulerViews.requests(of: pod).cpuMillis
            byNode[node, default: (0, [])].pods.append(ObjectMeta.name(of: pod))
        }
        return byNode
    }

    static func cores(_ millis: Int64) -> JSON {
        millis % 1000 == 0 ? .int(millis / 1000) : .double(Double(millis) / 1000)
    }

    func health(_ node: JSON) -> String {
        let ready = Conditions.find(node, "Ready")?["status"]?.stringValue
        return ready == "True" ? "healthy" : ready == "Unknown" ? "failed" : "unhealthy"
    }

    func nodeShape(_ node: JSON, usage: [String: (cpuMillis: Int64, pods: [String])]? = nil) -> JSON {
        let name = ObjectMeta.name(of: node)
        let total = SchedulerViews.allocatable(of: node).cpuMillis
        let (used, unsorted) = (usage ?? self.usage())[name] ?? (0, [])
        let pods = unsorted.sorted()
        var shape: JSON = [
            "id": .string(name), "name": .string(name),
            "node_type": .string(ObjectMeta.labels(of: node)[NodeStrategy.nodeTypeLabel] ?? "worker"),
            "cpu_cores_total": Self.cores(total), "cpu_cores_avail": Self.cores(total - used),
            "health_status": .string(health(node)), "pod_ids": .array(pods.map { .string($0) }),
            "created_at": node[path: ["metadata", "creationTimestamp"]] ?? .null,
        ]
        if let beat = heartbeats.table.last(name) {
            shape["seconds_since_heartbeat"] = .double(Double(Int((Double(HeartbeatTable.now() - beat) / 1e9) * 10)) / 10)
        }
        return shape
    }

    func podShape(_ pod: JSON) -> JSON {
        let containers = pod[path: ["spec", "containers"]]?.arrayValue ?? []
        let node = pod[path: ["spec", "nodeName"]]?.stringValue
        return [
            "id": .string(ObjectMeta.name(of: pod)), "name": .string(ObjectMeta.name(of: pod)),
            "cpu_cores_req": Self.cores(SchedulerViews.requests(of: pod).cpuMillis),
            "node_id": node.map { .string($0) } ?? .null,
            "status": .string(node == nil ? "pending" : (pod[path: ["status", "phase"]]?.stringValue ?? "Pending").lowercased()),
            "containers": .array(containers.map { container in
                ["name": container["name"] ?? "", "image": container["image"] ?? "",
                 "cpu_req": container[path: ["resources", "requests", "cpu"]].flatMap { Quantity.from($0) }.map { Self.cores($0.milliValue) } ?? 0]
            }),
        ]
    }

    // MARK: Handlers

    /// Answers a v0 request: (status code, JSON body).
    func handle(_ route: Route, method: String, body: () async throws -> JSON) async throws -> (Int, JSON) {
        switch (route, method) {
        case (.nodes, "GET"):
            let usage = usage()
            return (200, .array(registry.store.list(resource: "nodes", namespace: nil).objects.map { nodeShape($0.object, usage: usage) }))
        case (.nodes, "POST"):
            return try await addNode(try await body())
        case (.nodesHealth, "GET"):
            let usage = usage()
            return (200, .array(registry.store.list(resource: "nodes", namespace: nil).objects.map { stored in
                let shape = nodeShape(stored.object, usage: usage)
                return ["id": shape["id"]!, "name": shape["name"]!, "health_status": shape["health_status"]!,
                        "seconds_since_heartbeat": shape["seconds_since_heartbeat"] ?? .null]
            }))
        case (.node(let name), "GET"):
            return (200, nodeShape(try registry.get(Self.nodes.type, namespace: "", name: name).object))
        case (.node(let name), "DELETE"):
            _ = try await registry.delete(Self.nodes, namespace: "", name: name)
            heartbeats.table.forget(name)
            return (200, ["message": .string("node \(name) deleted")])
        case (.heartbeat(let name), "POST"):
            try await heartbeats.beat(node: name)
            return (200, ["message": "heartbeat received", "node": nodeShape(try registry.get(Self.nodes.type, namespace: "", name: name).object)])
        case (.pods, "GET"):
            return (200, .array(registry.store.list(resource: "pods", namespace: "default").objects.map { podShape($0.object) }))
        case (.pods, "POST"):
            return try await addPod(try await body())
        case (.pod(let name), "GET"):
            return (200, podShape(try registry.get(Self.pods.type, namespace: "default", name: name).object))
        case (.pod(let name), "DELETE"):
            var options = ObjectRegistry.DeleteOptions()
            options.gracePeriodSeconds = 0
            _ = try await registry.delete(Self.pods, namespace: "default", name: name, options: options)
            return (200, ["message": .string("pod \(name) deleted")])
        default:
            throw APIError.methodNotAllowed("the Kube-9 v0 API does not allow \(method) here")
        }
    }

    static func number(_ value: JSON?, field: String, positive: Bool = true, kind: String = "Node", name: String = "") throws(APIError) -> Double? {
        guard let value, !value.isNull else { return nil }
        let number: Double
        switch value {
        case .int(let integer): number = Double(integer)
        case .double(let double): number = double
        default: throw APIError.invalid(kind: kind, group: "", name: name, causes: [.typeInvalid(field, expected: "number", got: value)])
        }
        if positive, number <= 0 { throw APIError.invalid(kind: kind, group: "", name: name, causes: [.invalid(field, value, "must be greater than 0")]) }
        return number
    }

    /// POST /nodes/ {name, cpu_cores_avail, node_type}: registers a node (an existing name is re-registered).
    func addNode(_ body: JSON) async throws -> (Int, JSON) {
        guard case .object = body else { throw APIError.badRequest("the body must be a JSON object") }
        let name = body["name"]?.stringValue ?? ""
        guard let cores = try Self.number(body["cpu_cores_avail"], field: "cpu_cores_avail", name: name) else {
            throw APIError.invalid(kind: "Node", group: "", name: name, causes: [.required("cpu_cores_avail")])
        }
        let type = body["node_type"]?.stringValue ?? "worker"
        guard ["worker", "master"].contains(type) else {
            throw APIError.invalid(kind: "Node", group: "", name: name, causes: [.notSupported("node_type", body["node_type"], supported: ["master", "worker"])])
        }
        let cpu = JSON.string(Quantity(milliValue: Int64((cores * 1000).rounded())).description)
        let now = JSON.string(Timestamp.now())
        let node: JSON = [
            "apiVersion": "v1", "kind": "Node",
            "metadata": ["name": .string(name), "labels": ["kubernetes.io/hostname": .string(name), NodeStrategy.nodeTypeLabel: .string(type),
                                                            "node-role.kubernetes.io/\(type)": ""]],
            "status": ["capacity": ["cpu": cpu, "memory": "64Gi", "pods": "110"], "allocatable": ["cpu": cpu, "memory": "64Gi", "pods": "110"],
                       "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady", "message": "registered through the Kube-9 v0 API",
                                       "lastHeartbeatTime": now, "lastTransitionTime": now]],
                       "nodeInfo": ["kubeletVersion": "kube9-v0", "containerRuntimeVersion": "none://v0"]],
        ]
        do {
            let created = try await registry.create(Self.nodes, namespace: "", body: node)
            heartbeats.table.beat(name)
            return (201, nodeShape(created.object))
        } catch APIError.alreadyExists {
            var existing = try registry.get(Self.nodes.type, namespace: "", name: name).object
            existing[path: ["metadata", "labels"]] = node[path: ["metadata", "labels"]]
            _ = try await registry.update(Self.nodes, namespace: "", name: name, body: existing)
            var withStatus = try registry.get(Self.nodes.type, namespace: "", name: name).object
            withStatus["status"] = node["status"]
            let updated = try await registry.update(Self.nodes, namespace: "", name: name, body: withStatus, part: .status)
            heartbeats.table.beat(name)
            return (200, nodeShape(updated.object))
        }
    }

    /// POST /pods/ {name, cpu_cores_req, containers, volumes, config}: creates the pod and waits
    /// briefly for the scheduler; as in Kube-9, a pod that fits nowhere is not kept.
    func addPod(_ body: JSON) async throws -> (Int, JSON) {
        guard case .object = body else { throw APIError.badRequest("the body must be a JSON object") }
        let name = body["name"]?.stringValue ?? ""
        guard let total = try Self.number(body["cpu_cores_req"], field: "cpu_cores_req", kind: "Pod", name: name) else {
            throw APIError.invalid(kind: "Pod", group: "", name: name, causes: [.required("cpu_cores_req")])
        }
        var env: [JSON] = []
        for item in body["config"]?.arrayValue ?? [] {
            if let key = item["key"]?.stringValue { env.append(["name": .string(key), "value": .string(item["value"]?.stringValue ?? "")]) }
        }
        var volumes: [JSON] = []
        var mounts: [JSON] = []
        for volume in body["volumes"]?.arrayValue ?? [] {
            guard let volumeName = volume["name"]?.stringValue else { continue }
            volumes.append(["name": .string(volumeName), "emptyDir": .emptyObject])
            if let path = volume["path"]?.stringValue { mounts.append(["name": .string(volumeName), "mountPath": .string(path)]) }
        }
        var remaining = Int64((total * 1000).rounded())
        var containers: [JSON] = []
        let given = body["containers"]?.arrayValue ?? [["name": .string(name), "image": "busybox"]]
        for (index, item) in given.enumerated() {
            let cpu = try Self.number(item["cpu_req"], field: "containers[\(index)].cpu_req", positive: false, kind: "Pod", name: name).map { Int64(($0 * 1000).rounded()) } ?? 0
            var requests: JSON = [:]
            var share = min(cpu, remaining)
            if index == given.count - 1 { share = remaining }  // the pod's total request is cpu_cores_req
            remaining -= share
            if share > 0 { requests["cpu"] = .string(Quantity(milliValue: share).description) }
            if let memory = try Self.number(item["memory_req"], field: "containers[\(index)].memory_req", positive: false, kind: "Pod", name: name), memory > 0 {
                requests["memory"] = .string("\(Int(memory))Mi")
            }
            var container: JSON = ["name": item["name"] ?? .string("c\(index)"), "image": item["image"] ?? "busybox", "resources": ["requests": requests]]
            if let command = item["command"]?.stringValue { container["command"] = .array(command.split(separator: " ").map { .string(String($0)) }) }
            if let arguments = item["args"]?.stringValue { container["args"] = .array(ShellWords.split(arguments).map { .string($0) }) }
            if !env.isEmpty { container["env"] = .array(env) }
            if !mounts.isEmpty { container["volumeMounts"] = .array(mounts) }
            containers.append(container)
        }
        var pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name), "labels": ["kube9.io/api": "v0"]],
                         "spec": ["containers": .array(containers)]]
        if !volumes.isEmpty { pod[path: ["spec", "volumes"]] = .array(volumes) }
        _ = try await registry.create(Self.pods, namespace: "default", body: pod)
        for _ in 0..<100 {
            let current = try registry.get(Self.pods.type, namespace: "default", name: name).object
            if current[path: ["spec", "nodeName"]]?.stringValue != nil { return (201, podShape(current)) }
            if let condition = Conditions.find(current, "PodScheduled"), condition["status"] == "False" {
                var options = ObjectRegistry.DeleteOptions()
                options.gracePeriodSeconds = 0
                _ = try? await registry.delete(Self.pods, namespace: "default", name: name, options: options)
                return (400, ["error": .string("pod \(name) could not be scheduled: \(condition["message"]?.stringValue ?? "")")])
            }
            try await Task.sleep(for: .milliseconds(30))
        }
        return (202, podShape(try registry.get(Self.pods.type, namespace: "default", name: name).object))
    }
}

/// Splits a command line as a POSIX shell would for simple quoting ('…', "…", spaces).
enum ShellWords {
    static func split(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character? = nil
        var inWord = false
        for character in text {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character == " " {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
