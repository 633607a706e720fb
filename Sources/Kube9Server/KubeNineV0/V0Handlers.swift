import Kube9Model
import Kube9Policy
import Kube9Store

/// The handlers that write: nodes, heartbeats and pods, with Kube-9's checks in Kube-9's order.
extension KubeNineV0 {
    /// Kube-9's falsy values (what `if not value` refuses): missing, null, false, 0, "", [], {}.
    static func isFalsy(_ value: JSON?) -> Bool {
        switch value {
        case nil, .null?, .bool(false)?: return true
        case .int(let number)?: return number == 0
        case .double(let number)?: return number == 0
        case .string(let text)?: return text.isEmpty
        case .array(let elements)?: return elements.isEmpty
        case .object(let members)?: return members.isEmpty
        default: return false
        }
    }

    /// A number as Python compares it (a bool is an int there).
    static func number(_ value: JSON?) -> Double? {
        switch value {
        case .int(let number)?: return Double(number)
        case .double(let number)?: return number
        case .bool(let flag)?: return flag ? 1 : 0
        default: return nil
        }
    }

    /// The JSON body as Flask's `request.get_json()` reads it, or the 500 a handler that
    /// catches everything answers (`prefix` is the handler's message).
    /// A body as read: the JSON value, or the reply that refuses it.
    enum BodyRead {
        case success(JSON)
        case failure(V0Wire.Reply)
    }

    func jsonBody(_ request: Request, prefix: String) async -> BodyRead {
        let media = (request.contentType ?? "").split(separator: ";").first.map { String($0).trimmingSpaces.lowercased() } ?? ""
        // Werkzeug's is_json: application/json and application/*+json.
        guard media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json")) else { return .failure(V0Wire.Reply.error(500, prefix + V0Wire.unsupportedMediaTypeText)) }
        let bytes: [UInt8]
        do {
            bytes = try await request.body()
        } catch {
            let apiError = APIHandler.apiError(from: error)
            return .failure(V0Wire.Reply.error(apiError.code == 413 ? 413 : 500, prefix + apiError.message))
        }
        do {
            return .success(try JSON.parse(bytes))
        } catch {
            return .failure(V0Wire.Reply.error(500, prefix + "400 Bad Request: Failed to decode JSON object: \(error)"))
        }
    }

    // MARK: Nodes

    /// POST /nodes/: 201 node-created; 400 for a missing name, a missing or non-positive cpu
    /// count, an unknown type, an existing name; 500 for values of the wrong type.
    func createNode(_ request: Request) async throws -> V0Wire.Reply {
        let prefix = "Error creating node: "
        let body: JSON
        switch await jsonBody(request, prefix: prefix) {
        case .success(let value): body = value
        case .failure(let reply): return reply
        }
        guard case .object = body else { return .error(500, prefix + "the body must be a JSON object, got \(body.typeName)") }
        if Self.isFalsy(body["name"]) { return .error(400, "Node name is required") }
        guard let name = body["name"]?.stringValue else { return .error(500, prefix + "name must be a string, got \(body["name"]?.typeName ?? "null")") }
        let cpuValue = body["cpu_cores_avail"]
        if Self.isFalsy(cpuValue) { return .error(400, "cpu_cores_avail is required and must be greater than 0") }
        guard let cores = Self.number(cpuValue) else {
            return .error(500, prefix + "'<=' not supported between instances of '\(cpuValue?.typeName ?? "null")' and 'int'")
        }
        if cores <= 0 { return .error(400, "cpu_cores_avail is required and must be greater than 0") }
        guard cores <= 1_000_000, let millis = Int64(checkedRounding: cores * 1000) else {
            return .error(400, "cpu_cores_avail must be at most 1000000")
        }
        guard millis > 0 else { return .error(400, "cpu_cores_avail is required and must be greater than 0 (at least 0.001 in kube9)") }
        let typeValue = body["node_type"] ?? .null
        let type: String
        switch typeValue {
        case .null: type = "worker"
        case .string(let text): type = text.lowercased()
        default: return .error(500, prefix + "'\(typeValue.typeName)' object has no attribute 'lower'")
        }
        guard ["worker", "master"].contains(type) else { return .error(400, "node_type must be 'worker' or 'master'") }
        if let problem = NameRules.dns1123SubdomainError(name) { return .error(400, "Node name \(name) is not valid in kube9: \(problem)") }
        if (try? registry.get(Self.nodeType, namespace: "", name: name)) != nil { return .error(400, "Node with name \(name) already exists") }
        let created: JSON
        do {
            created = try await registry.create(NodeStrategy(), namespace: "", body: Self.nodeObject(name: name, millis: millis, type: type)).object
        } catch let error as APIError {
            if case .alreadyExists = error { return .error(400, "Node with name \(name) already exists") }
            if error.code == 422 || error.code == 400 { return .error(400, error.message) }
            throw error
        }
        index.upsert(ObjectKey(resource: "nodes", namespace: "", name: name), created)
        try await nodes.heartbeats.beat(node: name)
        nodes.recordBeat(name)
        return .json(201, [
            "id": Self.id(created), "cpu_cores": V0Wire.cores(millis), "status": "healthy", "name": .string(name),
            "node_type": .string(type), "container_id": .string(ObjectMeta.uid(of: created)), "node_ip": "127.0.0.1",
            "message": .string("Node \(name) created successfully"),
        ])
    }

    /// The Node a v0 registration creates: served by the server itself (no agent).
    static func nodeObject(name: String, millis: Int64, type: String) -> JSON {
        let cpu = JSON.string(Quantity(milliValue: millis).description)
        let now = JSON.string(Timestamp.now())
        var components = JSON.emptyObject
        for key in V0Nodes.workerComponents { components[key] = "running" }
        var spec = JSON.emptyObject
        if type == "master" {
            // Kube-9 never put pods on a master: the control-plane taint keeps them off.
            spec["taints"] = [["key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"]]
        }
        return [
            "apiVersion": "v1", "kind": "Node",
            "metadata": [
                "name": .string(name),
                "labels": ["kubernetes.io/hostname": .string(name), "kubernetes.io/os": "linux", NodeStrategy.nodeTypeLabel: .string(type),
                           "node-role.kubernetes.io/\(type)": "", V0Nodes.v0Label: "v0"],
                "annotations": [V0Nodes.healthAnnotation: "healthy", V0Nodes.attemptsAnnotation: "0", V0Nodes.componentsAnnotation: .string(components.text)],
            ],
            "spec": spec,
            "status": [
                // Kube-9 counted cpu only: memory and pod slots are as good as unlimited.
                "capacity": ["cpu": cpu, "memory": "7Pi", "pods": "1000000"], "allocatable": ["cpu": cpu, "memory": "7Pi", "pods": "1000000"],
                "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady", "message": "registered through the Kube-9 v0 API",
                                "lastHeartbeatTime": now, "lastTransitionTime": now]],
                "addresses": [["type": "InternalIP", "address": "127.0.0.1"], ["type": "Hostname", "address": .string(name)]],
                "nodeInfo": NodeStrategy.nodeInfo(kubeletVersion: "kube9-v0", containerRuntimeVersion: "kube9-v0://1", machineID: name),
            ],
        ]
    }

    /// DELETE /nodes/ID: refused while the node hosts pods, unless it failed permanently; its pods go with it.
    func deleteNode(_ id: String) async throws -> V0Wire.Reply {
        guard let node = node(id) else { return .error(500, "Error deleting node: \(V0Wire.notFoundText)") }
        let name = ObjectMeta.name(of: node)
        let hosted = cpu(node).podIDs
        if !hosted.isEmpty, V0Nodes.health(node) != "permanently_failed" {
            return .error(400, "Cannot delete node \(name): it hosts \(hosted.count) pod(s) and is not permanently failed")
        }
        var options = ObjectRegistry.DeleteOptions()
        options.gracePeriodSeconds = 0
        for pod in registry.store.list(resource: "pods", namespace: nil).objects where pod.object[path: ["spec", "nodeName"]]?.stringValue == name {
            _ = try? await registry.delete(PodStrategy(), namespace: pod.key.namespace, name: pod.key.name, options: options)
            index.remove(pod.key)
        }
        _ = try await registry.delete(NodeStrategy(), namespace: "", name: name)
        index.remove(ObjectKey(resource: "nodes", namespace: "", name: name))
        nodes.heartbeats.table.forget(name)
        nodes.forget(name)
        return .json(200, ["message": .string("Node \(name) deleted successfully")])
    }

    /// POST /nodes/ID/heartbeat: a memory write; a state change is written to the Node.
    func heartbeat(_ id: String, _ request: Request) async throws -> V0Wire.Reply {
        guard let node = node(id) else {
            return .error(404, "Node not found", extra: ["node_status": "non_existent", "should_stop_heartbeat": true])
        }
        let body: JSON
        switch await jsonBody(request, prefix: "Error processing heartbeat: ") {
        case .success(let value): body = value
        case .failure(let reply): return reply
        }
        guard case .object = body else { return .error(500, "Error processing heartbeat: the body must be a JSON object, got \(body.typeName)") }
        let (status, alreadyFailed) = try await nodes.heartbeat(node, body: body)
        if alreadyFailed {
            return .json(200, ["message": "Node is permanently failed: stop sending heartbeats", "node_status": "permanently_failed",
                               "should_stop_heartbeat": true, "should_terminate": true])
        }
        return .json(200, ["message": "Heartbeat received", "node_status": .string(status),
                           "should_stop_heartbeat": .bool(status == "permanently_failed")])
    }
}
