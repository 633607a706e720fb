import Kube9Model
import Logging
import Synchronization

/// Binds PersistentVolumeClaims to PersistentVolumes, provisions `kube9.io/local-path`
/// volumes, reclaims released ones and keeps claims that pods use.
///
/// ```
/// watch claims, volumes, classes, pods ─▶ one full pass (coalesced) ─┬─ claim without class: the default class (retroactive)
///                                                                     ├─ Pending claim: a matching Available volume (smallest), or
///                                                                     │  local-path: a directory volume on the node (WaitForFirstConsumer:
///                                                                     │  the node the scheduler selected), then both sides bound
///                                                                     ├─ volume whose claim is gone: Released; reclaim Delete → deleted
///                                                                     │  (the node's agent removes the directory)
///                                                                     └─ deleted claim no pod uses: pvc-protection finalizer removed
/// ```
/// Volumes are few beside pods, so each pass looks at all of them; passes are coalesced and
/// one runs at a time.
public final class PersistentVolumeController: Sendable {
    static let component = "persistentvolume-controller"
    static let claims = PersistentVolumeClaimStrategy().type
    static let volumes = PersistentVolumeStrategy().type
    static let classes = StorageClassStrategy().type
    static let pods = PodStrategy().type
    static let nodes = NodeStrategy().type
    static let passKey = "all"

    let client: any ClusterClient
    let logger: Logger
    let queue = WorkQueue()
    /// Warnings already recorded (claim uid + reason + message), so a waiting claim gets one event, not one per pass.
    let warned = Mutex<Set<String>>([])

    public init(client: any ClusterClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func run() async {
        await ensureDefaultClass()
        await withTaskGroup(of: Void.self) { group in
            for type in [Self.claims, Self.volumes, Self.classes, Self.pods, Self.nodes] {
                group.addTask {
                    await OwnerIndex.follow(type, client: self.client, logger: self.logger, component: Self.component) { _ in
                        self.queue.add(Self.passKey)
                    } changed: { change in
                        // Pods matter only when they use claims (selected nodes, protection).
                        if type == Self.pods, Storage.claimNames(of: change.object).isEmpty { return }
                        self.queue.add(Self.passKey)
                    }
                }
            }
            group.addTask {
                // A periodic pass as well, as Kubernetes' controller resyncs.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    self.queue.add(Self.passKey)
                }
            }
            group.addTask { await self.queue.run(concurrency: 1) { _ in await self.pass() } }
            await group.waitForAll()
        }
    }

    /// Creates the `local-path` StorageClass (the default, WaitForFirstConsumer, reclaim Delete)
    /// when no class of that name exists, as k3s does at every start.
    func ensureDefaultClass() async {
        guard client.get(Self.classes, namespace: "", name: Storage.localPathClass) == nil else { return }
        let others = client.list(Self.classes, namespace: nil).filter(Storage.isDefault)
        var storageClass: JSON = [
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": ["name": .string(Storage.localPathClass)],
            "provisioner": .string(Storage.localPathProvisioner), "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
        ]
        storageClass[path: ["metadata", "annotations", Storage.defaultClassAnnotation]] = .string(others.isEmpty ? "true" : "false")
        do {
            try await client.create(Self.classes, namespace: "", object: storageClass)
        } catch {
            logger.info("\(Self.component): default storage class not created", metadata: ["error": "\(error)"])
        }
    }

    /// One pass over every claim and volume; an error retries the pass with back-off.
    func pass() async {
        do {
            try await syncClaims()
            try await syncVolumes()
            queue.forget(Self.passKey)
        } catch {
            logger.info("\(Self.component): pass failed, will retry", metadata: ["error": "\(error)"])
            queue.retry(Self.passKey)
        }
    }

    /// The default class: the newest one with the annotation, as Kubernetes picks among several.
    func defaultClass() -> JSON? {
        client.list(Self.classes, namespace: nil).filter(Storage.isDefault)
            .max { ($0[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") < ($1[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") }
    }

    func syncClaims() async throws {
        let volumes = client.list(Self.volumes, namespace: nil)
        var taken = Set(volumes.compactMap { $0[path: ["spec", "claimRef", "uid"]]?.stringValue })
        for claim in client.list(Self.claims, namespace: nil) {
            if ObjectMeta.deletionTimestamp(of: claim) != nil {
                try await releaseProtection(claim)
                continue
            }
            let namespace = ObjectMeta.namespace(of: claim)
            let name = ObjectMeta.name(of: claim)
            if claim[path: ["spec", "storageClassName"]] == nil || claim[path: ["spec", "storageClassName"]]?.isNull == true {
                guard let defaultClass = defaultClass() else { continue }
                let className = ObjectMeta.name(of: defaultClass)
                try await client.modify(Self.claims, namespace: namespace, name: name, status: false) { object in
                    if object[path: ["spec", "storageClassName"]] == nil { object[path: ["spec", "storageClassName"]] = .string(className) }
                }
                continue  // the write brings it back with its class
            }
            let phase = claim[path: ["status", "phase"]]?.stringValue ?? "Pending"
            let volumeName = claim[path: ["spec", "volumeName"]]?.stringValue ?? ""
            if phase == "Bound" {
                let volume = volumes.first { ObjectMeta.name(of: $0) == volumeName }
                if volume == nil || volume?[path: ["spec", "claimRef", "uid"]]?.stringValue != ObjectMeta.uid(of: claim) {
                    try await setClaimPhase(claim, "Lost")
                    await warn(claim, reason: "ClaimLost", message: "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
                }
                continue
            }
            if phase == "Lost" { continue }
            if let volume = try await findOrProvision(claim, volumes: volumes, taken: taken) {
                taken.insert(ObjectMeta.uid(of: claim))
                try await bind(claim, to: volume)
            }
        }
    }

    /// A volume for a Pending claim: the one it names, the smallest Available one that matches,
    /// or a new local-path one. Nil (with an event) while none can be had yet.
    func findOrProvision(_ claim: JSON, volumes: [JSON], taken: Set<String>) async throws -> JSON? {
        let uid = ObjectMeta.uid(of: claim)
        let className = Storage.className(claim)
        let storageClass = className.isEmpty ? nil : client.get(Self.classes, namespace: "", name: className)
        let selectedNode = ObjectMeta.annotation(claim, Storage.selectedNodeAnnotation)
        let waits = storageClass?["volumeBindingMode"]?.stringValue == "WaitForFirstConsumer"
        let volumeName = claim[path: ["spec", "volumeName"]]?.stringValue ?? ""
        if !volumeName.isEmpty {
            guard let volume = volumes.first(where: { ObjectMeta.name(of: $0) == volumeName }) else {
                await warn(claim, reason: "FailedBinding", message: "volume \"\(volumeName)\" not found")
                return nil
            }
            if let problem = VolumeMatch.problem(claim: claim, volume: volume) {
                await warn(claim, reason: "VolumeMismatch", message: "Cannot bind to requested volume \"\(volumeName)\": \(problem)")
                return nil
            }
            return volume
        }
        if waits && selectedNode == nil { return nil }  // the scheduler picks the node first
        let node = selectedNode.flatMap { client.get(Self.nodes, namespace: "", name: $0) }
        let candidates = volumes.filter { volume in
            if let owner = volume[path: ["spec", "claimRef", "uid"]]?.stringValue, owner != uid { return false }
            if volume[path: ["spec", "claimRef"]] == nil && taken.contains(uid) { return false }
            guard ["Available", "Pending"].contains(volume[path: ["status", "phase"]]?.stringValue ?? "") || volume[path: ["spec", "claimRef", "uid"]]?.stringValue == uid else { return false }
            if VolumeMatch.problem(claim: claim, volume: volume) != nil { return false }
            if let node { return NodeAffinity.matches(pod: NodeAffinity.requiring(.emptyObject, terms: PersistentVolumeStrategy.nodeTerms(of: volume)), node: node) }
            return true
        }
        if let best = candidates.min(by: { (Storage.capacityBytes($0) ?? .max) < (Storage.capacityBytes($1) ?? .max) }) { return best }
        guard let storageClass else {
            await warn(claim, reason: "FailedBinding", message: className.isEmpty
                ? "no persistent volumes available for this claim and no storage class is set"
                : "storageclass.storage.k8s.io \"\(className)\" not found")
            return nil
        }
        guard storageClass["provisioner"]?.stringValue == Storage.localPathProvisioner else {
            await warn(claim, reason: "ExternalProvisioning", message: "Waiting for a volume to be created by the external provisioner \"\(storageClass["provisioner"]?.stringValue ?? "")\" (kube9 runs only \(Storage.localPathProvisioner)) or manually by the system administrator.")
            return nil
        }
        return try await provisionLocalPath(claim, storageClass: storageClass, node: node)
    }

    /// A local-path volume for the claim: a directory under the node's advertised root, pinned
    /// to the node. Immediate classes place it on the Ready node with the fewest such volumes.
    func provisionLocalPath(_ claim: JSON, storageClass: JSON, node selected: JSON?) async throws -> JSON? {
        var node = selected
        if node == nil {
            let existing = client.list(Self.volumes, namespace: nil)
            let ready = client.list(Self.nodes, namespace: nil).filter { Conditions.find($0, "Ready")?["status"]?.stringValue == "True" && ObjectMeta.annotation($0, Storage.localPathRootAnnotation) != nil }
            func count(_ node: JSON) -> Int { existing.filter { ObjectMeta.annotation($0, LocalPath.nodeAnnotation) == ObjectMeta.name(of: node) }.count }
            node = ready.min { (count($0), ObjectMeta.name(of: $0)) < (count($1), ObjectMeta.name(of: $1)) }
        }
        guard let node else {
            await warn(claim, reason: "ProvisioningFailed", message: "no Ready node advertises a \(Storage.localPathProvisioner) directory (\(Storage.localPathRootAnnotation))")
            return nil
        }
        guard let root = ObjectMeta.annotation(node, Storage.localPathRootAnnotation), root.hasPrefix("/") else {
            await warn(claim, reason: "ProvisioningFailed", message: "node \(ObjectMeta.name(of: node)) does not advertise a \(Storage.localPathProvisioner) directory (\(Storage.localPathRootAnnotation))")
            return nil
        }
        let volume = LocalPath.volume(for: claim, storageClass: storageClass, node: ObjectMeta.name(of: node), root: root)
        do {
            let made = try await client.create(Self.volumes, namespace: "", object: volume)
            await client.event(about: claim, type: "Normal", reason: "ProvisioningSucceeded",
                               message: "Successfully provisioned volume \(ObjectMeta.name(of: made)) on node \(ObjectMeta.name(of: node))", component: Self.component)
            return made
        } catch let error as APIError where error.code == 409 {
            return client.get(Self.volumes, namespace: "", name: ObjectMeta.name(of: volume))  // made by an earlier pass
        }
    }

    /// Binds both sides: the volume's claimRef and phase, then the claim's volumeName and status.
    func bind(_ claim: JSON, to volume: JSON) async throws {
        let reference: JSON = ["kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": .string(ObjectMeta.namespace(of: claim)),
                               "name": .string(ObjectMeta.name(of: claim)), "uid": .string(ObjectMeta.uid(of: claim))]
        let volumeName = ObjectMeta.name(of: volume)
        if volume[path: ["spec", "claimRef", "uid"]] != reference["uid"] {
            try await client.modify(Self.volumes, namespace: "", name: volumeName, status: false) { object in
                object[path: ["spec", "claimRef"]] = reference
            }
        }
        if volume[path: ["status", "phase"]]?.stringValue != "Bound" {
            try await client.modify(Self.volumes, namespace: "", name: volumeName, status: true) { object in
                object[path: ["status", "phase"]] = "Bound"
            }
        }
        let namespace = ObjectMeta.namespace(of: claim)
        let name = ObjectMeta.name(of: claim)
        let uid = ObjectMeta.uid(of: claim)
        try await client.modify(Self.claims, namespace: namespace, name: name, status: false) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            object[path: ["spec", "volumeName"]] = .string(volumeName)
            object[path: ["metadata", "annotations", Storage.bindCompletedAnnotation]] = "yes"
        }
        let modes = volume[path: ["spec", "accessModes"]] ?? .array([])
        let capacity = volume[path: ["spec", "capacity"]] ?? .emptyObject
        try await client.modify(Self.claims, namespace: namespace, name: name, status: true) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            object["status"] = ["phase": "Bound", "accessModes": modes, "capacity": capacity]
        }
        await client.event(about: claim, type: "Normal", reason: "Bound", message: "Bound to volume \(volumeName)", component: Self.component)
    }

    func setClaimPhase(_ claim: JSON, _ phase: String) async throws {
        let uid = ObjectMeta.uid(of: claim)
        try await client.modify(Self.claims, namespace: ObjectMeta.namespace(of: claim), name: ObjectMeta.name(of: claim), status: true) { object in
            guard ObjectMeta.uid(of: object) == uid else { return }
            object[path: ["status", "phase"]] = .string(phase)
        }
    }

    /// Volumes: Available when unclaimed; Released when the claim is gone (then deleted under
    /// reclaim Delete, kept under Retain).
    func syncVolumes() async throws {
        for volume in client.list(Self.volumes, namespace: nil) where ObjectMeta.deletionTimestamp(of: volume) == nil {
            let name = ObjectMeta.name(of: volume)
            let phase = volume[path: ["status", "phase"]]?.stringValue ?? ""
            guard let reference = volume[path: ["spec", "claimRef"]], !reference.isNull else {
                if phase != "Available" { try await setVolumePhase(name, "Available") }
                continue
            }
            let claim = client.get(Self.claims, namespace: reference["namespace"]?.stringValue ?? "", name: reference["name"]?.stringValue ?? "")
            let wantedUID = reference["uid"]?.stringValue
            let boundTo = claim?[path: ["spec", "volumeName"]]?.stringValue ?? ""
            // A claim bound to another volume has let this one go, as a deleted claim has.
            let claimGone = claim == nil || (wantedUID != nil && ObjectMeta.uid(of: claim ?? .null) != wantedUID) || (!boundTo.isEmpty && boundTo != name)
            if !claimGone {
                if boundTo == name, phase != "Bound" {
                    try await setVolumePhase(name, "Bound")
                } else if boundTo.isEmpty, phase == "Pending" || phase.isEmpty {
                    try await setVolumePhase(name, "Available")
                }
                continue
            }
            if wantedUID == nil { continue }  // pre-bound by name to a claim not made yet
            if phase != "Released" { try await setVolumePhase(name, "Released") }
            if volume[path: ["spec", "persistentVolumeReclaimPolicy"]]?.stringValue == "Delete" {
                try await client.delete(Self.volumes, namespace: "", name: name, uid: ObjectMeta.uid(of: volume), propagation: "Background")
                await client.event(about: volume, type: "Normal", reason: "VolumeDelete", message: "Deleted volume \(name): its claim is gone (reclaim policy Delete)", component: Self.component)
            }
        }
    }

    func setVolumePhase(_ name: String, _ phase: String) async throws {
        try await client.modify(Self.volumes, namespace: "", name: name, status: true) { object in
            object[path: ["status", "phase"]] = .string(phase)
        }
    }

    /// Removes the protection finalizer of a deleted claim once no running pod uses it.
    func releaseProtection(_ claim: JSON) async throws {
        guard ObjectMeta.finalizers(of: claim).contains(Storage.protectionFinalizer) else { return }
        let name = ObjectMeta.name(of: claim)
        let namespace = ObjectMeta.namespace(of: claim)
        let inUse = client.list(Self.pods, namespace: namespace).contains { pod in
            let phase = pod[path: ["status", "phase"]]?.stringValue
            return phase != "Succeeded" && phase != "Failed" && Storage.claimNames(of: pod).contains(name)
        }
        guard !inUse else { return }
        try await client.modify(Self.claims, namespace: namespace, name: name, status: false) { object in
            let kept = ObjectMeta.finalizers(of: object).filter { $0 != Storage.protectionFinalizer }
            object[path: ["metadata", "finalizers"]] = .array(kept.map { .string($0) })
        }
    }

    /// Records a Warning event once per claim, reason and message.
    func warn(_ claim: JSON, reason: String, message: String) async {
        let key = "\(ObjectMeta.uid(of: claim))/\(reason)/\(message)"
        let fresh = warned.withLock { set -> Bool in
            if set.count > 10_000 { set.removeAll() }
            return set.insert(key).inserted
        }
        guard fresh else { return }
        await client.event(about: claim, type: reason == "ExternalProvisioning" ? "Normal" : "Warning", reason: reason, message: message, component: Self.component)
    }
}
