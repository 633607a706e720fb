import Foundation
import Kube9Model
import Kube9Runtime

/// The pod status an agent writes: container statuses from the runtime's containers, the phase,
/// the conditions (PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled).
extension NodeAgent {
    static func waitingStatus(_ container: JSON, reason: String, message: String) -> JSON {
        ["name": container["name"] ?? "", "image": container["image"] ?? "", "imageID": "", "ready": false, "started": false,
         "restartCount": 0, "state": ["waiting": ["reason": .string(reason), "message": .string(message)]], "lastState": .emptyObject]
    }

    func terminated(_ info: ContainerInfo) -> JSON {
        var object: JSON = ["exitCode": .int(Int64(info.exitCode ?? -1)), "reason": .string(info.reason ?? (info.exitCode == 0 ? "Completed" : "Error")),
                            "containerID": .string("\(runtime.kind)://\(info.id)")]
        if let started = info.startedAt { object["startedAt"] = .string(started) }
        if let finished = info.finishedAt { object["finishedAt"] = .string(finished) }
        return ["terminated": object]
    }

    func containerStatus(_ container: JSON, latest: ContainerInfo?, previous: ContainerInfo?, waiting: (String, String)?) -> JSON {
        guard let latest else {
            return Self.waitingStatus(container, reason: waiting?.0 ?? "ContainerCreating", message: waiting?.1 ?? "")
        }
        let running = latest.state == .running
        let ready = running && isReady(latest.id, container: container)
        var stateObject: JSON
        var lastState: JSON = .emptyObject
        if let waiting {
            stateObject = ["waiting": ["reason": .string(waiting.0), "message": .string(waiting.1)]]
            if latest.state == .exited { lastState = terminated(latest) }
        } else if running {
            stateObject = ["running": ["startedAt": .string(latest.startedAt ?? Timestamp.now())]]
            if let previous, previous.state == .exited { lastState = terminated(previous) }
        } else if latest.state == .exited {
            stateObject = terminated(latest)
            if let previous, previous.state == .exited { lastState = terminated(previous) }
        } else {
            stateObject = ["waiting": ["reason": "ContainerCreating"]]
        }
        return ["name": container["name"] ?? "", "image": container["image"] ?? "", "imageID": .string(latest.image),
                "containerID": .string("\(runtime.kind)://\(latest.id)"), "ready": .bool(ready), "started": .bool(running),
                "restartCount": .int(Int64(latest.attempt)), "state": stateObject, "lastState": lastState]
    }

    /// Writes the pod's status when it changed: phase, conditions, addresses, container statuses;
    /// `initStatuses` (and `initialized`) for pods with init containers.
    func writeStatus(_ pod: JSON, sandbox: ContainerInfo?, containerStatuses: [JSON], allStarted: Bool, allFinished: [Int32]?,
                     initStatuses: [JSON] = [], initialized: Bool = true) {
        let uid = ObjectMeta.uid(of: pod)
        let old = pod["status"] ?? .emptyObject
        let phase: String
        if let allFinished {
            phase = allFinished.allSatisfy { $0 == 0 } ? "Succeeded" : "Failed"
        } else if allStarted && sandbox != nil {
            phase = "Running"
        } else {
            phase = "Pending"
        }
        let containersReady = phase == "Running" && containerStatuses.allSatisfy { $0["ready"]?.boolValue == true }
        let now = JSON.string(Timestamp.now())
        let oldConditions = old["conditions"]?.arrayValue ?? []
        func condition(_ type: String, _ value: Bool, reason: String? = nil) -> JSON {
            let text = value ? "True" : "False"
            let previous = oldConditions.first { $0["type"]?.stringValue == type }
            var object: JSON = ["type": .string(type), "status": .string(text), "lastProbeTime": nil,
                                "lastTransitionTime": previous?["status"]?.stringValue == text ? (previous?["lastTransitionTime"] ?? now) : now]
            if let reason, !value { object["reason"] = .string(reason) }
            return object
        }
        var status: JSON = [
            "phase": .string(phase),
            "conditions": [
                condition("PodReadyToStartContainers", sandbox != nil),
                condition("Initialized", initialized, reason: "ContainersNotInitialized"),
                condition("Ready", containersReady, reason: phase == "Running" ? "ContainersNotReady" : "PodCompleted"),
                condition("ContainersReady", containersReady, reason: phase == "Running" ? "ContainersNotReady" : "PodCompleted"),
                condition("PodScheduled", true),
            ],
            "hostIP": .string(configuration.address), "hostIPs": [["ip": .string(configuration.address)]],
            "startTime": old["startTime"] ?? now,
            "containerStatuses": .array(containerStatuses),
        ]
        if !initStatuses.isEmpty { status["initContainerStatuses"] = .array(initStatuses) }
        if let ip = sandbox?.ipAddress {
            status["podIP"] = .string(ip)
            status["podIPs"] = [["ip": .string(ip)]]
        }
        let unchanged = (status.objectValue ?? [:]).allSatisfy { key, value in old[key] == value }
        let sameAsWritten = state.withLock { $0.written[uid] == status }
        if unchanged || sameAsWritten { return }
        let path = "/api/v1/namespaces/\(ObjectMeta.namespace(of: pod))/pods/\(ObjectMeta.name(of: pod))/status"
        do {
            let reply = try client.withConnection {
                try $0.request("PATCH", path, body: (["status": status] as JSON).serialized(),
                               contentType: "application/merge-patch+json")
            }
            if reply.status == 200 {
                state.withLock { $0.written[uid] = status }
            } else if reply.status != 404 && reply.status != 409 {
                logger.warning("pod status refused", metadata: ["pod": "\(ObjectMeta.name(of: pod))", "status": "\(reply.status)", "body": "\(reply.text)"])
            }
        } catch {
            logger.warning("pod status not written", metadata: ["pod": "\(ObjectMeta.name(of: pod))", "error": "\(error)"])
        }
    }
}
