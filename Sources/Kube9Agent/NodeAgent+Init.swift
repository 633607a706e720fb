import Foundation
import Kube9Model
import Kube9Runtime

/// Init containers: each runs to completion, in order, before the next and before any app
/// container. One that fails is restarted with the restart back-off (restartPolicy Always or
/// OnFailure) or fails the pod (Never). kubectl shows the progress as Init:N/M.
///
/// ```
/// init[0] ─exit 0─▶ init[1] ─exit 0─▶ … ─▶ app containers
///    │ exit ≠ 0: Never → pod Failed; else back-off, run again (Init:CrashLoopBackOff)
/// ```
extension NodeAgent {
    enum InitOutcome: Equatable {
        /// Every init container succeeded.
        case done
        /// One runs, starts or waits for its back-off.
        case waiting
        /// One failed under restartPolicy Never, with its exit code.
        case failed(Int32)
    }

    /// Advances the pod's init containers by one step; returns their statuses and where they are.
    /// `containers` are the pod's runtime containers (the sandbox excluded).
    func runInitContainers(_ pod: JSON, containers: [ContainerInfo], identity: PodIdentity, sandbox: ContainerInfo) -> (statuses: [JSON], outcome: InitOutcome) {
        let inits = PodSpecs.initContainers(pod)
        let policy = PodSpecs.restartPolicy(pod)
        var statuses: [JSON] = []
        var outcome = InitOutcome.done
        for container in inits {
            let name = container["name"]?.stringValue ?? ""
            guard outcome == .done else {
                statuses.append(Self.waitingStatus(container, reason: "PodInitializing", message: ""))
                continue
            }
            let attempts = containers.filter { $0.containerName == name }.sorted { $0.attempt < $1.attempt }
            for stale in attempts.dropLast(2) { try? runtime.removeContainer(id: stale.id) }
            var latest = attempts.last
            var previous = attempts.dropLast().last
            var waiting: (String, String)? = nil
            do {
                switch latest?.state {
                case nil:
                    latest = try startContainer(pod, container, identity: identity, sandbox: sandbox, attempt: 0)
                case .created?:
                    if let created = latest {
                        try runtime.startContainer(id: created.id)
                        latest = (try? runtime.inspectContainer(id: created.id)) ?? latest
                    }
                case .exited? where latest?.exitCode != 0:
                    guard let current = latest else { break }
                    if policy == "Never" {
                        outcome = .failed(current.exitCode ?? -1)
                        statuses.append(containerStatus(container, latest: current, previous: previous, waiting: nil))
                        continue
                    }
                    let (due, delay) = restartDue(current)
                    if due {
                        latest = try startContainer(pod, container, identity: identity, sandbox: sandbox, attempt: current.attempt + 1)
                        previous = current
                    } else {
                        waiting = ("CrashLoopBackOff", "back-off \(Int(delay))s restarting failed container=\(name) pod=\(identity.name)_\(identity.namespace)(\(identity.uid))")
                        record(pod, key: "backoff/\(current.id)", type: "Warning", reason: "BackOff", message: "Back-off restarting failed container \(name) in pod \(identity.name)")
                    }
                default: break
                }
            } catch {
                waiting = Self.waitingReason(error)
                record(pod, key: "fail/\(name)", type: "Warning", reason: "Failed", message: waiting?.1 ?? "\(error)")
            }
            var status = containerStatus(container, latest: latest, previous: previous, waiting: waiting)
            if latest?.state == .exited, latest?.exitCode == 0, waiting == nil {
                status["ready"] = true
            } else {
                outcome = .waiting
            }
            statuses.append(status)
        }
        return (statuses, outcome)
    }
}
