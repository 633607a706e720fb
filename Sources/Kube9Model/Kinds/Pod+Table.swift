/// The table `kubectl get pods` prints: READY, STATUS (kubectl's reason rules, init containers
/// first), RESTARTS, AGE, and with -o wide IP, NODE, NOMINATED NODE, READINESS GATES.
extension PodStrategy {
    public var table: TableDefinition {
        TableDefinition(
            columns: [
                TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
                TableColumn("Ready", description: "The aggregate readiness state of this pod for accepting traffic."),
                TableColumn("Status", description: "The aggregate status of the containers in this pod."),
                TableColumn("Restarts", description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
                TableColumn("IP", description: "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", priority: 1),
                TableColumn("Node", description: "NodeName is a request to schedule this pod onto a specific node.", priority: 1),
                TableColumn("Nominated Node", description: "nominatedNodeName is set when this pod preempts other pods on the node.", priority: 1),
                TableColumn("Readiness Gates", description: "If specified, all readiness gates will be evaluated for pod readiness.", priority: 1),
            ],
            cells: { pod in
                let containers = pod[path: ["spec", "containers"]]?.arrayValue ?? []
                let statuses = pod[path: ["status", "containerStatuses"]]?.arrayValue ?? []
                let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
                let initStatuses = pod[path: ["status", "initContainerStatuses"]]?.arrayValue ?? []
                let restarts = (statuses + initStatuses).map { $0["restartCount"]?.intValue ?? 0 }.saturatingSum()
                var reason = pod[path: ["status", "reason"]]?.stringValue ?? pod[path: ["status", "phase"]]?.stringValue ?? "Unknown"
                // kubectl's rule: the first init container not done names the state (Init:N/M, Init:Error, Init:CrashLoopBackOff).
                let initCount = pod[path: ["spec", "initContainers"]]?.arrayValue?.count ?? 0
                var initializing = false
                for (index, status) in initStatuses.enumerated() {
                    let terminated = status[path: ["state", "terminated"]]
                    let waiting = status[path: ["state", "waiting", "reason"]]?.stringValue ?? ""
                    if let terminated, terminated["exitCode"]?.intValue == 0 { continue }
                    if let terminated {
                        let text = terminated["reason"]?.stringValue ?? ""
                        reason = text.isEmpty ? "Init:ExitCode:\(terminated["exitCode"]?.intValue ?? 0)" : "Init:" + text
                    } else if !waiting.isEmpty && waiting != "PodInitializing" {
                        reason = "Init:" + waiting
                    } else {
                        reason = "Init:\(index)/\(initCount)"
                    }
                    initializing = true
                    break
                }
                for status in statuses where !initializing {
                    if let waiting = status[path: ["state", "waiting", "reason"]]?.stringValue, !waiting.isEmpty { reason = waiting }
                    else if let terminated = status[path: ["state", "terminated", "reason"]]?.stringValue, !terminated.isEmpty, reason != "Running" { reason = terminated }
                }
                if ObjectMeta.deletionTimestamp(of: pod) != nil { reason = "Terminating" }
                let gates = pod[path: ["spec", "readinessGates"]]?.arrayValue ?? []
                return [
                    .string(ObjectMeta.name(of: pod)), .string("\(ready)/\(containers.count)"), .string(reason), .int(restarts),
                    .string(Timestamp.age(of: pod[path: ["metadata", "creationTimestamp"]]?.stringValue)),
                    .string(pod[path: ["status", "podIP"]]?.stringValue ?? "<none>"),
                    .string((pod[path: ["spec", "nodeName"]]?.stringValue).flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"),
                    .string(pod[path: ["status", "nominatedNodeName"]]?.stringValue ?? "<none>"),
                    .string(gates.isEmpty ? "<none>" : "\(gates.count)"),
                ]
            })
    }
}
