import Foundation
import Kube9Model
import Kube9Runtime

/// How a probe checks a container.
public enum ProbeAction: Sendable, Equatable {
    case httpGet(path: String, port: Int, scheme: String, host: String?)
    case tcpSocket(port: Int, host: String?)
    case exec(command: [String])
}

/// A liveness or readiness probe with Kubernetes' fields and defaults.
public struct ProbeSpec: Sendable, Equatable {
    public var action: ProbeAction
    public var initialDelaySeconds: Double
    public var periodSeconds: Double
    public var timeoutSeconds: Double
    public var successThreshold: Int
    public var failureThreshold: Int

    /// Reads `probe` of `container`; a named port is looked up in its ports. Nil when absent or unusable.
    public static func parse(_ probe: JSON?, container: JSON) -> ProbeSpec? {
        guard let probe, probe.objectValue != nil else { return nil }
        func port(_ value: JSON?) -> Int? {
            let number: Int64?
            if let integer = value?.intValue {
                number = integer
            } else if let name = value?.stringValue {
                let ports = container["ports"]?.arrayValue ?? []
                number = Int64(name) ?? ports.first { $0["name"]?.stringValue == name }?["containerPort"]?.intValue
            } else {
                number = nil
            }
            guard let number, (1...65535).contains(number) else { return nil }
            return Int(number)
        }
        let action: ProbeAction
        if let http = probe["httpGet"], let number = port(http["port"]) {
            action = .httpGet(path: http["path"]?.stringValue ?? "/", port: number, scheme: (http["scheme"]?.stringValue ?? "HTTP").lowercased(),
                              host: http["host"]?.stringValue)
        } else if let tcp = probe["tcpSocket"], let number = port(tcp["port"]) {
            action = .tcpSocket(port: number, host: tcp["host"]?.stringValue)
        } else if let command = probe[path: ["exec", "command"]]?.arrayValue?.compactMap(\.stringValue), !command.isEmpty {
            action = .exec(command: command)
        } else {
            return nil
        }
        // Validation keeps these in int32 range; clamp anyway, the agent must not trap on a pod.
        func number(_ key: String, _ fallback: Int64) -> Int64 {
            min(max(probe[key]?.intValue ?? fallback, 0), Int64(Int32.max))
        }
        return ProbeSpec(action: action, initialDelaySeconds: Double(number("initialDelaySeconds", 0)),
                         periodSeconds: Double(max(1, number("periodSeconds", 10))),
                         timeoutSeconds: Double(max(1, number("timeoutSeconds", 1))), successThreshold: Int(max(1, number("successThreshold", 1))),
                         failureThreshold: Int(max(1, number("failureThreshold", 3))))
    }
}

/// The parts of a pod spec the agent acts on.
public enum PodSpecs {
    /// The containers of `pod` (spec.containers), in order.
    public static func containers(_ pod: JSON) -> [JSON] { pod[path: ["spec", "containers"]]?.arrayValue ?? [] }

    /// The init containers of `pod` (spec.initContainers), in the order they run.
    public static func initContainers(_ pod: JSON) -> [JSON] { pod[path: ["spec", "initContainers"]]?.arrayValue ?? [] }

    /// Always, OnFailure or Never (Always when unset).
    public static func restartPolicy(_ pod: JSON) -> String { pod[path: ["spec", "restartPolicy"]]?.stringValue ?? "Always" }

    /// Seconds a deletion waits for containers to stop: the deletion's own grace, else the spec's, else 30.
    public static func gracePeriod(_ pod: JSON) -> Int {
        let seconds = pod[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue ?? pod[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
        return Int(min(max(seconds, 0), PodStrategy.maximumGracePeriodSeconds))
    }

    /// The runtime's view of a container of the pod: command, args, env, working directory
    /// and limits (CPU from limits, else requests; memory from limits only, as a request is no cap).
    /// `environment` is the container's resolved environment (PodEnvironment.resolve); `$(VAR)`
    /// in command and args expands from it, as the kubelet does.
    public static func containerSpec(_ container: JSON, attempt: Int, environment: [(name: String, value: String)]) -> ContainerSpec {
        let values = Dictionary(environment.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        let strings = { (key: String) in
            (container[key]?.arrayValue?.compactMap(\.stringValue) ?? []).map { PodEnvironment.expand($0) { values[$0] } }
        }
        let cpu = Quantity.from(container[path: ["resources", "limits", "cpu"]]) ?? Quantity.from(container[path: ["resources", "requests", "cpu"]])
        let memory = Quantity.from(container[path: ["resources", "limits", "memory"]])
        return ContainerSpec(name: container["name"]?.stringValue ?? "", image: container["image"]?.stringValue ?? "",
                             command: strings("command"), args: strings("args"), environment: environment,
                             workingDirectory: container["workingDir"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                             nanoCPUs: cpu.map { $0.milliValue.saturatingMultiply(1_000_000) }, memoryBytes: memory?.value, attempt: attempt)
    }
}
