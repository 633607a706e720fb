/// OpenAPI definitions of StorageClass, PersistentVolume and PersistentVolumeClaim (what
/// `kubectl explain` prints; unknown fields pass, as the spec types are open).
enum StorageSchemas {
    static let core = WorkloadSchemas.core
    static let storage = "io.k8s.api.storage.v1."

    static let storageClass: [SchemaDefinition] = [
        SchemaDefinition(storage + "StorageClass", "StorageClass describes the parameters for a class of storage for which PersistentVolumes can be dynamically provisioned.",
                         kind: ("storage.k8s.io", "v1", "StorageClass"), closed: false, fields: [
            SchemaField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object."),
            SchemaField("kind", .string, "Kind is a string value representing the REST resource this object represents."),
            SchemaField("metadata", .ref(CommonSchemas.objectMeta), "Standard object's metadata."),
            SchemaField("provisioner", .string, "provisioner indicates the type of the provisioner.", required: true),
            SchemaField("parameters", .freeform, "parameters holds the parameters for the provisioner that should create volumes of this storage class."),
            SchemaField("reclaimPolicy", .string, "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete."),
            SchemaField("volumeBindingMode", .string, "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound. When unset, VolumeBindingImmediate is used."),
            SchemaField("allowVolumeExpansion", .boolean, "allowVolumeExpansion shows whether the storage class allow volume expand."),
            SchemaField("mountOptions", .array(.string), "mountOptions controls the mountOptions for dynamically provisioned PersistentVolumes of this storage class."),
        ]),
    ]

    static let persistentVolume: [SchemaDefinition] = [
        SchemaDefinition(core + "PersistentVolume", "PersistentVolume (PV) is a storage resource provisioned by an administrator.",
                         kind: ("", "v1", "PersistentVolume"),
                         fields: CommonSchemas.topLevel(spec: core + "PersistentVolumeSpec", status: core + "PersistentVolumeStatus",
                                                        specDescription: "spec defines a specification of a persistent volume owned by the cluster.",
                                                        statusDescription: "status represents the current information/status for the persistent volume.")),
        SchemaDefinition(core + "PersistentVolumeSpec", "PersistentVolumeSpec is the specification of a persistent volume.", closed: false, fields: [
            SchemaField("capacity", .freeform, "capacity is the description of the persistent volume's resources and capacity."),
            SchemaField("accessModes", .array(.string), "accessModes contains all ways the volume can be mounted."),
            SchemaField("persistentVolumeReclaimPolicy", .string, "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim: Retain (default) or Delete."),
            SchemaField("storageClassName", .string, "storageClassName is the name of StorageClass to which this persistent volume belongs."),
            SchemaField("claimRef", .freeform, "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
            SchemaField("hostPath", .freeform, "hostPath represents a directory on the host."),
            SchemaField("local", .freeform, "local represents directly-attached storage with node affinity."),
            SchemaField("nodeAffinity", .freeform, "nodeAffinity defines constraints that limit what nodes this volume can be accessed from."),
            SchemaField("volumeMode", .string, "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
            SchemaField("mountOptions", .array(.string), "mountOptions is the list of mount options."),
        ]),
        SchemaDefinition(core + "PersistentVolumeStatus", "PersistentVolumeStatus is the current status of a persistent volume.", closed: false, fields: [
            SchemaField("phase", .string, "phase indicates if a volume is available, bound to a claim, or released by a claim."),
            SchemaField("message", .string, "message is a human-readable message indicating details about why the volume is in this state."),
            SchemaField("reason", .string, "reason is a brief CamelCase string that describes any failure."),
            SchemaField("lastPhaseTransitionTime", .time, "lastPhaseTransitionTime is the time the phase transitioned from one to another."),
        ]),
    ]

    static let persistentVolumeClaim: [SchemaDefinition] = [
        SchemaDefinition(core + "PersistentVolumeClaim", "PersistentVolumeClaim is a user's request for and claim to a persistent volume.",
                         kind: ("", "v1", "PersistentVolumeClaim"),
                         fields: CommonSchemas.topLevel(spec: core + "PersistentVolumeClaimSpec", status: core + "PersistentVolumeClaimStatus",
                                                        specDescription: "spec defines the desired characteristics of a volume requested by a pod author.",
                                                        statusDescription: "status represents the current information/status of a persistent volume claim.")),
        SchemaDefinition(core + "PersistentVolumeClaimSpec", "PersistentVolumeClaimSpec describes the common attributes of storage devices and allows a Source for provider-specific attributes.", closed: false, fields: [
            SchemaField("accessModes", .array(.string), "accessModes contains the desired access modes the volume should have."),
            SchemaField("resources", .freeform, "resources represents the minimum resources the volume should have."),
            SchemaField("storageClassName", .string, "storageClassName is the name of the StorageClass required by the claim."),
            SchemaField("volumeName", .string, "volumeName is the binding reference to the PersistentVolume backing this claim."),
            SchemaField("selector", .freeform, "selector is a label query over volumes to consider for binding."),
            SchemaField("volumeMode", .string, "volumeMode defines what type of volume is required by the claim."),
        ]),
        SchemaDefinition(core + "PersistentVolumeClaimStatus", "PersistentVolumeClaimStatus is the current status of a persistent volume claim.", closed: false, fields: [
            SchemaField("phase", .string, "phase represents the current phase of PersistentVolumeClaim."),
            SchemaField("accessModes", .array(.string), "accessModes contains the actual access modes the volume backing the PVC has."),
            SchemaField("capacity", .freeform, "capacity represents the actual resources of the underlying volume."),
        ]),
    ]
}
