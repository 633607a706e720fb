import Kube9Controllers
import Kube9Model

/// What a pod's PersistentVolumeClaims mean for scheduling (Kubernetes' VolumeBinding plugin,
/// simplified): a bound claim's volume may reach only some nodes (a local volume one), so its
/// node affinity joins the pod's required node affinity, which the policy and NodeFit both
/// check; an unbound claim of a WaitForFirstConsumer class goes where the pod goes (the
/// scheduler marks the node on the claim before it binds the pod); an unbound claim of an
/// Immediate class, a missing claim or a missing volume keeps the pod Pending.
enum VolumeBinding {
    static let claims = PersistentVolumeClaimStrategy().type
    static let volumes = PersistentVolumeStrategy().type
    static let classes = StorageClassStrategy().type

    /// The pod as the scheduler sees it, and the claims to mark with the chosen node.
    struct Constrained: Sendable {
        var pod: JSON
        var delayedClaims: [String]
    }

    /// The pod narrowed by its volumes, or the reason it cannot be scheduled yet.
    static func constrain(_ pod: JSON, client: any ClusterClient) -> Result<Constrained, VolumeProblem> {
        let names = Storage.claimNames(of: pod)
        guard !names.isEmpty else { return .success(Constrained(pod: pod, delayedClaims: [])) }
        let namespace = ObjectMeta.namespace(of: pod)
        var terms: [[JSON]] = []
        var delayed: [String] = []
        for name in names {
            guard let claim = client.get(claims, namespace: namespace, name: name) else {
                return .failure(VolumeProblem("persistentvolumeclaim \"\(name)\" not found"))
            }
            if ObjectMeta.deletionTimestamp(of: claim) != nil {
                return .failure(VolumeProblem("persistentvolumeclaim \"\(name)\" is being deleted"))
            }
            let volumeName = claim[path: ["spec", "volumeName"]]?.stringValue ?? ""
            if claim[path: ["status", "phase"]]?.stringValue == "Bound" || !volumeName.isEmpty {
                guard let volume = client.get(volumes, namespace: "", name: volumeName) else {
                    return .failure(VolumeProblem("persistentvolume \"\(volumeName)\" not found"))
                }
                let volumeTerms = PersistentVolumeStrategy.nodeTerms(of: volume)
                if !volumeTerms.isEmpty { terms.append(volumeTerms) }
                continue
            }
            let className = Storage.className(claim)
            let storageClass = className.isEmpty ? nil : client.get(classes, namespace: "", name: className)
            guard storageClass?["volumeBindingMode"]?.stringValue == "WaitForFirstConsumer" else {
                return .failure(VolumeProblem("pod has unbound immediate PersistentVolumeClaims"))
            }
            delayed.append(name)
        }
        var constrained = pod
        for volumeTerms in terms { constrained = NodeAffinity.requiring(constrained, terms: volumeTerms) }
        return .success(Constrained(pod: constrained, delayedClaims: delayed))
    }
}

/// Why a pod's volumes keep it from being scheduled now.
struct VolumeProblem: Error, Sendable {
    let message: String
    init(_ message: String) { self.message = message }
}

extension Scheduler {
    /// Marks each delayed claim with the node its pod goes to (the volume controller then
    /// provisions there); false when a claim could not be marked.
    func selectNode(_ node: String, forClaims names: [String], namespace: String) async -> Bool {
        for name in names {
            do {
                try await client.modify(VolumeBinding.claims, namespace: namespace, name: name, status: false) { claim in
                    guard (claim[path: ["spec", "volumeName"]]?.stringValue ?? "").isEmpty else { return }
                    claim[path: ["metadata", "annotations", Storage.selectedNodeAnnotation]] = .string(node)
                }
            } catch {
                logger.warning("cannot select a node for a claim", metadata: ["claim": "\(namespace)/\(name)", "node": "\(node)", "error": "\(error)"])
                return false
            }
        }
        return true
    }
}
