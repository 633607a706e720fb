import Kube9Controllers
import Kube9Model
import Kube9Policy
import Kube9Store

/// Kube-9's pods: create (waiting for the binding), delete, read and health.
extension KubeNineV0 {
    /// A Kube-9 pod body that kube9 cannot take, and how Kube-9 answers it.
    struct PodBodyError: Error {
        var reply: V0Wire.Reply
    }

    /// POST /pods/: 200 pod-created once bound; 400 for a missing name, cpu or container list,
    /// or when no node fits; 500 for a duplicate name or values of the wrong type.
    func createPod(_ request: Request) async throws -> V0Wire.Reply {
        let prefix = "Error creating pod: "
        let body: JSON
        switch await jsonBody(request, prefix: prefix) {
        case .success(let value): body = value
        case .failure(let reply): return reply
        }
        guard case .object = body else { return .error(500, prefix + "the body must be a JSON object, got \(body.typeName)") }
        if Self.isFalsy(body["name"]) { return .error(400, "Pod name is required") }
        if Self.isFalsy(body["cpu_cores_req"]) { return .error(400, "cpu_cores_req is required") }
        if Self.isFalsy(body["containers"]) { return .error(400, "At least one container is required") }
        let pod: JSON
        do throws(PodBodyError) {
            pod = try Self.podObject(body)
        } catch {
            return error.reply
        }
        let name = ObjectMeta.name(of: pod)
        let key = ObjectKey(resource: "pods", namespace: "default", name: name)
        let token = pods.register(key)
        let created: JSON
        do {
            created = try await registry.create(PodStrategy(), namespace: "default", body: pod).object
        } catch let error as APIError {
            if case .alreadyExists = error { return .error(500, prefix + "a pod named \(name) already exists (UNIQUE constraint failed: pods.name)") }
            if error.code == 422 || error.code == 400 { return .error(400, error.message) }
            throw error
        }
        index.upsert(key, created)
        let uid = ObjectMeta.uid(of: created)
        let store = registry.store
        let outcome = await pods.wait(key, token: token) {
            guard let stored = store.get(key), ObjectMeta.uid(of: stored.object) == uid else { return nil }
            return stored.object
        }
        switch outcome {
        case .bound(let bound):
            index.upsert(key, bound)
            let node = bound[path: ["spec", "nodeName"]]?.stringValue ?? ""
            let containers = bound[path: ["spec", "containers"]]?.arrayValue ?? []
            let address = pods.isV0Node(node) ? V0Pods.address(of: bound) : (bound[path: ["status", "podIP"]]?.stringValue ?? "")
            return .json(200, [
                "message": .string("Pod \(name) created successfully"),
                "pod_details": ["id": Self.id(bound), "name": .string(name), "ip_address": .string(address), "node": .string(node),
                                "type": .string(containers.count > 1 ? "multi-container" : "single-container"), "status": "running",
                                "containers_count": .int(Int64(containers.count))],
            ])
        case .unschedulable(let message):
            await removeUnplaced(key, uid: uid)
            if let id = V0Index.annotatedID(created) { index.release(.pod, id: id) }
            return .error(400, "No eligible node found for pod \(name): \(message)")
        case .timedOut:
            await removeUnplaced(key, uid: uid)
            if let id = V0Index.annotatedID(created) { index.release(.pod, id: id) }
            return .error(400, "No eligible node found for pod \(name): the scheduler did not place it within \(V0Pods.bindTimeout)")
        case .gone:
            return .error(500, prefix + "pod \(name) was deleted before it was scheduled")
        }
    }

    /// As in Kube-9, a pod that fits nowhere is not kept.
    func removeUnplaced(_ key: ObjectKey, uid: String) async {
        var options = ObjectRegistry.DeleteOptions()
        options.gracePeriodSeconds = 0
        options.preconditionUID = uid
        _ = try? await registry.delete(PodStrategy(), namespace: key.namespace, name: key.name, options: options)
        index.remove(key)
    }

    /// The Pod a Kube-9 body describes (defaults as in Kube-9); throws Kube-9's answer for a
    /// body kube9 cannot take.
    static func podObject(_ body: JSON) throws(PodBodyError) -> JSON {
        func wrongType(_ field: String, _ expected: String, _ value: JSON?) -> PodBodyError {
            PodBodyError(reply: .error(500, "Error creating pod: \(field) must be \(expected), got \(value?.typeName ?? "null")"))
        }
        guard let name = body["name"]?.stringValue else { throw wrongType("name", "a string", body["name"]) }
        if let problem = NameRules.dns1123SubdomainError(name) {
            throw PodBodyError(reply: .error(400, "Pod name \(name) is not valid in kube9: \(problem)"))
        }
        guard let total = number(body["cpu_cores_req"]) else { throw wrongType("cpu_cores_req", "a number", body["cpu_cores_req"]) }
        guard total > 0 else { throw PodBodyError(reply: .error(400, "cpu_cores_req must be greater than 0 in kube9 (requests cannot be negative)")) }
        guard total <= 1_000_000, let totalMillis = Int64(checkedRounding: total * 1000) else {
            throw PodBodyError(reply: .error(400, "cpu_cores_req must be at most 1000000"))
        }
        guard let given = body["containers"]?.arrayValue else { throw wrongType("containers", "a list", body["containers"]) }
        guard given.count <= 100 else { throw PodBodyError(reply: .error(400, "a pod may have at most 100 containers")) }
        var env: [JSON] = []
        var config: [JSON] = []
        if let items = body["config"], !items.isNull {
            guard let list = items.arrayValue else { throw wrongType("config", "a list", items) }
            guard list.count <= 1000 else { throw PodBodyError(reply: .error(400, "a pod may have at most 1000 config entries")) }
            for (position, item) in list.enumerated() {
                guard case .object = item else { throw wrongType("config[\(position)]", "an object", item) }
                var entry: JSON = [:]
                for (field, fallback) in [("name", "config-\(position)"), ("type", "env"), ("key", "KEY"), ("value", "VALUE")] {
                    let value = item[field] ?? .null
                    if value.isNull { entry[field] = .string(fallback); continue }
                    // Kube-9 stored whatever it was given as text.
                    entry[field] = .string(value.stringValue ?? value.text)
                }
                config.append(entry)
                // An environment variable needs a name; an empty key stays in the config only.
                if let key = entry["key"]?.stringValue, !key.isEmpty {
                    env.append(["name": .string(key), "value": entry["value"] ?? ""])
                }
            }
        }
        var volumes: [JSON] = []
        var mounts: [JSON] = []
        var volumeSpecs: [JSON] = []
        if let items = body["volumes"], !items.isNull {
            guard let list = items.arrayValue else { throw wrongType("volumes", "a list", items) }
            guard list.count <= 1000 else { throw PodBodyError(reply: .error(400, "a pod may have at most 1000 volumes")) }
            for (position, item) in list.enumerated() {
                guard case .object = item else { throw wrongType("volumes[\(position)]", "an object", item) }
                let volumeName = item["name"]?.stringValue ?? "volume-\(position)"
                let type = item["type"]?.stringValue ?? "emptyDir"
                let path = item["path"]?.stringValue ?? "/data"
                let size: Int64
                switch item["size"] {
                case nil, .null?: size = 1
                case let value?:
                    guard let number = value.intValue, (0...1_000_000).contains(number) else { throw wrongType("volumes[\(position)].size", "an integer from 0 to 1000000 (GB)", value) }
                    size = number
                }
                volumes.append(["name": .string(volumeName), "emptyDir": ["sizeLimit": .string("\(size)Gi")]])
                mounts.append(["name": .string(volumeName), "mountPath": .string(path)])
                volumeSpecs.append(["name": .string(volumeName), "type": .string(type), "size": .int(size), "path": .string(path)])
            }
        }
        var remaining = totalMillis
        var containers: [JSON] = []
        var containerSpecs: [JSON] = []
        for (index, item) in given.enumerated() {
            guard case .object = item else { throw wrongType("containers[\(index)]", "an object", item) }
            var cpu: Int64 = 100
            if let value = item["cpu_req"], !value.isNull {
                guard let number = number(value), number >= 0, number <= 1_000_000, let millis = Int64(checkedRounding: number * 1000) else {
                    throw wrongType("containers[\(index)].cpu_req", "a number from 0 to 1000000", value)
                }
                cpu = millis
            }
            var memory: Int64 = 128
            if let value = item["memory_req"], !value.isNull {
                guard let number = number(value), number >= 0, number <= 1_000_000_000 else {
                    throw wrongType("containers[\(index)].memory_req", "a number of MiB", value)
                }
                memory = Int64(checkedRounding: number) ?? 0
            }
            // The pod's total request is cpu_cores_req: each container takes its cpu_req, the last what is left.
            var share = min(cpu, remaining)
            if index == given.count - 1 { share = remaining }
            remaining -= share
            var requests: JSON = [:]
            if share > 0 { requests["cpu"] = .string(Quantity(milliValue: share).description) }
            if memory > 0 { requests["memory"] = .string("\(memory)Mi") }
            let containerName: String
            switch item["name"] {
            case .string(let text)?: containerName = text
            case nil, .null?:
                // Kube-9's default name, made a DNS label (a pod name may hold dots; a container's may not).
                let base = String(name.replacingOccurrences(of: ".", with: "-").prefix(47))
                containerName = "\(base)-container-\(String(Int.random(in: 1000...9999)))"
            case let other?: throw wrongType("containers[\(index)].name", "a string", other)
            }
            let image: String
            switch item["image"] {
            case .string(let text)?: image = text
            case nil, .null?: image = "nginx:latest"
            case let other?: throw wrongType("containers[\(index)].image", "a string", other)
            }
            var container: JSON = ["name": .string(containerName), "image": .string(image), "resources": ["requests": requests]]
            for field in ["command", "args"] {
                switch item[field] {
                case .string(let text)?: container[field] = .array(ShellWords.split(text).map(JSON.string))
                case nil, .null?: break
                case let other?: throw wrongType("containers[\(index)].\(field)", "a string or null", other)
                }
            }
            if !env.isEmpty { container["env"] = .array(env) }
            if !mounts.isEmpty { container["volumeMounts"] = .array(mounts) }
            containers.append(container)
            containerSpecs.append(["name": .string(containerName), "cpu": .double(Double(cpu) / 1000), "memory": .int(memory)])
        }
        var annotations = JSON.emptyObject
        // Written with float points, so a cpu_req of 1 reads back as the float 1.0 Kube-9 shows.
        let kept: JSON = ["volumes": .array(volumeSpecs), "config": .array(config), "containers": .array(containerSpecs)]
        annotations[specAnnotation] = .string(String(decoding: kept.serializedWithFloatPoints(), as: UTF8.self))
        var pod: JSON = ["apiVersion": "v1", "kind": "Pod",
                         "metadata": ["name": .string(name), "labels": ["kube9.io/api": "v0"], "annotations": annotations],
                         "spec": ["containers": .array(containers)]]
        if !volumes.isEmpty { pod[path: ["spec", "volumes"]] = .array(volumes) }
        return pod
    }

    static let specAnnotation = V0Pods.specAnnotation

    /// DELETE /pods/ID: removed at once; its cores return to the node.
    func deletePod(_ id: String) async throws -> V0Wire.Reply {
        guard let pod = pod(id) else { return .error(500, "Error deleting pod: \(V0Wire.notFoundText)") }
        let name = ObjectMeta.name(of: pod)
        if let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty,
           (try? registry.get(Self.nodeType, namespace: "", name: node)) == nil {
            return .error(404, "Node \(node) of pod \(name) not found")
        }
        var options = ObjectRegistry.DeleteOptions()
        options.gracePeriodSeconds = 0
        let key = ObjectKey(resource: "pods", namespace: ObjectMeta.namespace(of: pod), name: name)
        _ = try await registry.delete(PodStrategy(), namespace: key.namespace, name: name, options: options)
        index.remove(key)
        return .json(200, ["message": .string("Pod \(name) deleted successfully")])
    }

    /// GET /pods/ID/health: what the pod's node says of it (kube9 knows it from the pod's status).
    func podHealth(_ original: JSON) -> V0Wire.Reply {
        let pod = presented(original)
        let name = ObjectMeta.name(of: pod)
        guard let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty else {
            return .json(200, ["pod_id": Self.id(pod), "pod_name": .string(name), "overall_status": "pending",
                               "error": "the pod is not bound to a node yet"])
        }
        guard (try? registry.get(Self.nodeType, namespace: "", name: node)) != nil else {
            return .error(404, "Node \(node) of pod \(name) not found")
        }
        let phase = (pod[path: ["status", "phase"]]?.stringValue ?? "Pending").lowercased()
        let statuses = pod[path: ["status", "containerStatuses"]]?.arrayValue ?? []
        let containers: [JSON] = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).map { container in
            let containerName = container["name"]?.stringValue ?? ""
            let status = statuses.first { $0["name"]?.stringValue == containerName }
            let started = status?[path: ["state", "running", "startedAt"]]?.stringValue.flatMap(Timestamp.parse)
            return ["name": .string(containerName), "image": container["image"] ?? "", "status": .string(Self.containerState(status)),
                    "start_time": .double(Double(started ?? 0))]
        }
        let id = V0Index.annotatedID(pod).map { JSON.string(String($0)) } ?? .string(name)
        return .json(200, ["pod_id": id, "status": .string(phase), "containers": .array(containers)])
    }

    /// A container's state in Kube-9's words: running, waiting, exited, or pending before any.
    static func containerState(_ status: JSON?) -> String {
        guard let state = status?["state"]?.objectValue else { return "pending" }
        if state["running"] != nil { return "running" }
        if state["terminated"] != nil { return "exited" }
        if state["waiting"] != nil { return "waiting" }
        return "pending"
    }

    // MARK: Pod shapes

    /// pod-item (and pod-detail when `detail`).
    /// A pod as Kube-9 shows it: one bound to a v0 node is running from the moment it is bound
    /// (the server writes that status a moment later, in the background).
    func presented(_ pod: JSON) -> JSON {
        guard let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty, pods.isV0Node(node) else { return pod }
        var running = pod
        V0Pods.markRunning(&running)
        return running
    }

    func podItem(_ original: JSON, detail: Bool) -> JSON {
        let pod = presented(original)
        let podID = V0Index.annotatedID(pod) ?? 0
        let containers = pod[path: ["spec", "containers"]]?.arrayValue ?? []
        let statuses = pod[path: ["status", "containerStatuses"]]?.arrayValue ?? []
        let nodeName = pod[path: ["spec", "nodeName"]]?.stringValue ?? ""
        var nodeShape: JSON = .null
        if !nodeName.isEmpty, let node = try? registry.get(Self.nodeType, namespace: "", name: nodeName).object {
            nodeShape = ["id": Self.id(node), "name": .string(nodeName), "type": .string(nodeType(node))]
        }
        var stored: JSON = .emptyObject
        if let text = pod[path: ["metadata", "annotations", Self.specAnnotation]]?.stringValue, let parsed = try? JSON.parse(text) { stored = parsed }
        let requested = stored["containers"]?.arrayValue ?? []
        let containerItems: [JSON] = containers.enumerated().map { position, container in
            let containerName = container["name"]?.stringValue ?? ""
            let status = statuses.first { $0["name"]?.stringValue == containerName }
            // What the Kube-9 body asked for, else the container's requests.
            let asked = requested.first { $0["name"]?.stringValue == containerName }
            let cpu = asked?["cpu"] ?? .double(Double(Quantity.from(container[path: ["resources", "requests", "cpu"]])?.milliValue ?? 0) / 1000)
            let memory = asked?["memory"] ?? .int((Quantity.from(container[path: ["resources", "requests", "memory"]])?.value ?? 0) / 1_048_576)
            var item: JSON = ["id": .int(podID.saturatingMultiply(1000).saturatingAdd(Int64(position) + 1)), "name": .string(containerName),
                              "image": container["image"] ?? "", "status": .string(Self.containerState(status)),
                              "cpu": cpu, "memory": memory]
            if detail {
                item["docker_status"] = .string(Self.containerState(status))
                item["docker_id"] = status?["containerID"]?.stringValue.map { .string(String($0.split(separator: "/").last ?? "")) } ?? .null
            }
            return item
        }
        var volumes = stored["volumes"]?.arrayValue ?? []
        if stored["volumes"] == nil {
            let mounts = containers.first?["volumeMounts"]?.arrayValue ?? []
            volumes = (pod[path: ["spec", "volumes"]]?.arrayValue ?? []).map { volume in
                let volumeName = volume["name"]?.stringValue ?? ""
                let type = volume.objectValue?.keys.first { $0 != "name" } ?? "emptyDir"
                let path = mounts.first { $0["name"]?.stringValue == volumeName }?["mountPath"]?.stringValue ?? ""
                return ["name": .string(volumeName), "type": .string(type), "size": 0, "path": .string(path)]
            }
        }
        var config = stored["config"]?.arrayValue ?? []
        if stored["config"] == nil {
            config = (containers.first?["env"]?.arrayValue ?? []).compactMap { variable in
                guard let key = variable["name"]?.stringValue else { return nil }
                return ["name": .string(key), "type": "env", "key": .string(key), "value": variable["value"] ?? ""]
            }
        }
        for index in config.indices where config[index]["type"]?.stringValue == "secret" { config[index]["value"] = "******" }
        if detail {
            for index in volumes.indices {
                volumes[index]["id"] = .int(podID.saturatingMultiply(1000).saturatingAdd(Int64(index) + 1))
                volumes[index]["docker_volume"] = .null
            }
            for index in config.indices { config[index]["id"] = .int(podID.saturatingMultiply(1000).saturatingAdd(Int64(index) + 1)) }
        }
        var item: JSON = [
            "id": Self.id(pod), "name": .string(ObjectMeta.name(of: pod)),
            "cpu_cores_req": V0Wire.cores(SchedulerViews.requests(of: pod).cpuMillis), "node": nodeShape,
            "health_status": .string((pod[path: ["status", "phase"]]?.stringValue ?? "Pending").lowercased()),
            "ip_address": .string(pod[path: ["status", "podIP"]]?.stringValue ?? ""),
            "type": .string(containers.count > 1 ? "multi-container" : "single-container"),
            "containers": .array(containerItems), "volumes": .array(volumes), "config": .array(config),
        ]
        if detail { item["docker_network_id"] = .null }
        return item
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
