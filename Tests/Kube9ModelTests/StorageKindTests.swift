import Kube9Model
import Testing

@Suite("storage kinds and StatefulSets")
struct StorageKindTests {
    static func fields(_ causes: [FieldCause]) -> [String] { causes.map(\.field) }

    static let claim: JSON = ["metadata": ["name": "data", "namespace": "default", "uid": "u1"],
                              "spec": ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "1Gi"]], "storageClassName": "fast"]]
    static let volume: JSON = ["metadata": ["name": "pv1", "labels": ["tier": "gold"]],
                               "spec": ["capacity": ["storage": "2Gi"], "accessModes": ["ReadWriteOnce", "ReadOnlyMany"], "storageClassName": "fast",
                                        "hostPath": ["path": "/srv/pv1"]]]

    @Test("PersistentVolumeClaim: access modes, a positive size, names, no populators; defaults and the protection finalizer; spec immutable but for a first class and volume")
    func claim() {
        let strategy = PersistentVolumeClaimStrategy()
        #expect(strategy.validate(Self.claim).isEmpty)
        var bad = Self.claim
        bad["spec"] = ["accessModes": ["ReadWriteSometimes", "ReadWriteOncePod"], "resources": ["requests": ["storage": "0"]], "volumeName": "Not_A_Name",
                       "dataSource": ["kind": "VolumeSnapshot", "name": "s"], "volumeMode": "Block"]
        let causes = Self.fields(strategy.validate(bad))
        for field in ["spec.accessModes[0]", "spec.accessModes", "spec.resources[storage]", "spec.volumeName", "spec.dataSource", "spec.volumeMode"] {
            #expect(causes.contains(field), "\(field) in \(causes)")
        }
        var missing = Self.claim
        missing["spec"] = .emptyObject
        #expect(Set(Self.fields(strategy.validate(missing))).isSuperset(of: ["spec.accessModes", "spec.resources[storage]"]))
        for size in ["-1Gi", "1e400", "abc"] {
            var sized = Self.claim
            sized[path: ["spec", "resources", "requests", "storage"]] = .string(size)
            #expect(Self.fields(strategy.validate(sized)) == ["spec.resources[storage]"], "\(size)")
        }
        var created = Self.claim
        strategy.prepareForCreate(&created)
        #expect(created[path: ["status", "phase"]] == "Pending" && created[path: ["spec", "volumeMode"]] == "Filesystem")
        #expect(ObjectMeta.finalizers(of: created) == [Storage.protectionFinalizer])
        // The controller may give a class to a claim without one and a volume to an unbound claim; nothing else changes.
        var classless = created
        classless[path: ["spec", "storageClassName"]] = Optional<JSON>.none
        var assigned = classless
        assigned[path: ["spec", "storageClassName"]] = "local-path"
        assigned[path: ["spec", "volumeName"]] = "pv1"
        #expect(strategy.validateUpdate(assigned, old: classless).isEmpty)
        var grown = assigned
        grown[path: ["spec", "resources", "requests", "storage"]] = "5Gi"
        #expect(Self.fields(strategy.validateUpdate(grown, old: assigned)) == ["spec"])
        var moved = assigned
        moved[path: ["spec", "volumeName"]] = "pv2"
        #expect(Self.fields(strategy.validateUpdate(moved, old: assigned)) == ["spec"])
    }

    @Test("PersistentVolume: one served source with an absolute path, local needs node affinity, reclaim policies, immutable source")
    func volume() {
        let strategy = PersistentVolumeStrategy()
        #expect(strategy.validate(Self.volume).isEmpty)
        var nfs = Self.volume
        nfs[path: ["spec", "nfs"]] = ["server": "x", "path": "/"]
        #expect(Set(Self.fields(strategy.validate(nfs))) == ["spec.nfs"])
        var none = Self.volume
        none[path: ["spec", "hostPath"]] = Optional<JSON>.none
        #expect(Self.fields(strategy.validate(none)) == ["spec"])
        var local = Self.volume
        local[path: ["spec", "hostPath"]] = Optional<JSON>.none
        local[path: ["spec", "local"]] = ["path": "relative/../x"]
        local[path: ["spec", "persistentVolumeReclaimPolicy"]] = "Recycle"
        let causes = Self.fields(strategy.validate(local))
        #expect(Set(causes) == ["spec.local.path", "spec.nodeAffinity", "spec.persistentVolumeReclaimPolicy"], "\(causes)")
        var affinity = local
        affinity[path: ["spec", "local", "path"]] = "/mnt/disk"
        affinity[path: ["spec", "persistentVolumeReclaimPolicy"]] = "Retain"
        affinity[path: ["spec", "nodeAffinity"]] = ["required": ["nodeSelectorTerms": [["matchExpressions": [["key": "k", "operator": "Sometimes"]]]]]]
        #expect(Self.fields(strategy.validate(affinity)) == ["spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].operator"])
        var created = Self.volume
        strategy.prepareForCreate(&created)
        #expect(created[path: ["spec", "persistentVolumeReclaimPolicy"]] == "Retain" && created[path: ["status", "phase"]] == "Pending")
        var repointed = created
        repointed[path: ["spec", "hostPath", "path"]] = "/elsewhere"
        #expect(Self.fields(strategy.validateUpdate(repointed, old: created)) == ["spec.persistentvolumesource"])
    }

    @Test("StorageClass: provisioner required, known policies and modes, immutable parameters; the default is marked in kubectl's name column")
    func storageClass() {
        let strategy = StorageClassStrategy()
        var object: JSON = ["metadata": ["name": "fast"], "provisioner": "kube9.io/local-path"]
        strategy.prepareForCreate(&object)
        #expect(object["reclaimPolicy"] == "Delete" && object["volumeBindingMode"] == "Immediate")
        #expect(strategy.validate(object).isEmpty)
        var bad = object
        bad["provisioner"] = Optional<JSON>.none
        bad["reclaimPolicy"] = "Recycle"
        bad["volumeBindingMode"] = "Later"
        bad["parameters"] = ["size": 3]
        #expect(Set(Self.fields(strategy.validate(bad))) == ["provisioner", "reclaimPolicy", "volumeBindingMode", "parameters[size]"])
        var changed = object
        changed["volumeBindingMode"] = "WaitForFirstConsumer"
        changed["parameters"] = ["a": "b"]
        #expect(Set(Self.fields(strategy.validateUpdate(changed, old: object))) == ["parameters", "volumeBindingMode"])
        object[path: ["metadata", "annotations", Storage.defaultClassAnnotation]] = "true"
        #expect(strategy.table.cells(object).first == "fast (default)")
    }

    @Test("a volume matches a claim by class, modes, size, selector and volume mode")
    func matching() {
        #expect(VolumeMatch.problem(claim: Self.claim, volume: Self.volume) == nil)
        var small = Self.volume
        small[path: ["spec", "capacity", "storage"]] = "512Mi"
        #expect(VolumeMatch.problem(claim: Self.claim, volume: small) != nil)
        var many = Self.claim
        many[path: ["spec", "accessModes"]] = ["ReadWriteMany"]
        #expect(VolumeMatch.problem(claim: many, volume: Self.volume) != nil)
        var other = Self.claim
        other[path: ["spec", "storageClassName"]] = "slow"
        #expect(VolumeMatch.problem(claim: other, volume: Self.volume) != nil)
        var selecting = Self.claim
        selecting[path: ["spec", "selector"]] = ["matchLabels": ["tier": "silver"]]
        #expect(VolumeMatch.problem(claim: selecting, volume: Self.volume) != nil)
        selecting[path: ["spec", "selector"]] = ["matchLabels": ["tier": "gold"]]
        #expect(VolumeMatch.problem(claim: selecting, volume: Self.volume) == nil)
    }

    @Test("a local-path volume is a pvc-UID_NS_NAME directory under the node's root, pinned to the node; the pinning joins a pod's own affinity")
    func localPath() {
        let storageClass: JSON = ["metadata": ["name": "local-path"], "provisioner": "kube9.io/local-path", "reclaimPolicy": "Delete"]
        let volume = LocalPath.volume(for: Self.claim, storageClass: storageClass, node: "n1", root: "/data/storage/")
        #expect(PersistentVolumeStrategy.path(of: volume) == "/data/storage/pvc-u1_default_data")
        #expect(PersistentVolumeStrategy().validate(volume).isEmpty)
        #expect(volume[path: ["spec", "claimRef", "uid"]] == "u1" && volume[path: ["spec", "persistentVolumeReclaimPolicy"]] == "Delete")
        let n1: JSON = ["metadata": ["name": "n1", "labels": ["kubernetes.io/hostname": "n1", "zone": "a"]]]
        let n2: JSON = ["metadata": ["name": "n2", "labels": ["kubernetes.io/hostname": "n2", "zone": "a"]]]
        let pod: JSON = ["spec": ["affinity": ["nodeAffinity": ["requiredDuringSchedulingIgnoredDuringExecution": ["nodeSelectorTerms": [
            ["matchExpressions": [["key": "zone", "operator": "In", "values": ["a"]]]], ["matchExpressions": [["key": "zone", "operator": "In", "values": ["b"]]]]]]]]]]
        let pinned = NodeAffinity.requiring(pod, terms: PersistentVolumeStrategy.nodeTerms(of: volume))
        #expect(NodeAffinity.matches(pod: pinned, node: n1) && !NodeAffinity.matches(pod: pinned, node: n2))
        #expect(NodeAffinity.matches(pod: pod, node: n2))
        #expect(NodeAffinity.requiredTerms(of: pinned)?.count == 2)
        // A pod without affinity gets the volume's terms as they are.
        #expect(NodeAffinity.matches(pod: NodeAffinity.requiring(.emptyObject, terms: PersistentVolumeStrategy.nodeTerms(of: volume)), node: n1))
    }

    @Test("StatefulSet: claim templates validated as claims and usable by mounts, label-safe names, policies, only some spec fields may change; ordinals from names")
    func statefulSet() {
        let strategy = StatefulSetStrategy()
        var set: JSON = ["metadata": ["name": "web", "namespace": "default"],
                         "spec": ["selector": ["matchLabels": ["app": "web"]], "serviceName": "web",
                                  "template": ["metadata": ["labels": ["app": "web"]],
                                               "spec": ["containers": [["name": "c", "image": "busybox", "volumeMounts": [["name": "data", "mountPath": "/data"]]]]]],
                                  "volumeClaimTemplates": [["metadata": ["name": "data"], "spec": ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "1Gi"]]]]]]]
        strategy.prepareForCreate(&set)
        #expect(strategy.validate(set).isEmpty, "\(strategy.validate(set))")
        #expect(set[path: ["spec", "podManagementPolicy"]] == "OrderedReady" && set[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]] == 0)
        #expect(set[path: ["spec", "volumeClaimTemplates"]]?.arrayValue?.first?[path: ["spec", "volumeMode"]] == "Filesystem")
        var bad = set
        bad[path: ["metadata", "name"]] = "Web.Set"
        bad[path: ["spec", "podManagementPolicy"]] = "Random"
        bad[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]] = -1
        bad[path: ["spec", "volumeClaimTemplates"]] = [["metadata": ["name": "data"], "spec": ["accessModes": []]], ["metadata": ["name": "data"], "spec": .emptyObject]]
        let causes = Set(Self.fields(strategy.validate(bad)))
        #expect(causes.isSuperset(of: ["metadata.name", "spec.podManagementPolicy", "spec.updateStrategy.rollingUpdate.partition",
                                       "spec.volumeClaimTemplates[0].spec.accessModes", "spec.volumeClaimTemplates[1].metadata.name"]), "\(causes)")
        var noClaims = set
        noClaims[path: ["spec", "volumeClaimTemplates"]] = Optional<JSON>.none
        #expect(Self.fields(strategy.validate(noClaims)).contains("spec.template.spec.containers[0].volumeMounts[0].name"))
        var scaled = set
        scaled[path: ["spec", "replicas"]] = 5
        #expect(strategy.validateUpdate(scaled, old: set).isEmpty)
        var renamed = set
        renamed[path: ["spec", "serviceName"]] = "other"
        #expect(Self.fields(strategy.validateUpdate(renamed, old: set)) == ["spec"])
        #expect(StatefulSetStrategy.ordinal(of: "web-12", set: "web") == 12)
        for name in ["web-", "web-01", "web-1a", "webx-1", "web-99999999999"] { #expect(StatefulSetStrategy.ordinal(of: name, set: "web") == nil, "\(name)") }
        #expect(StatefulSetStrategy.claimName(template: "data", set: "web", ordinal: 2) == "data-web-2")
    }
}
