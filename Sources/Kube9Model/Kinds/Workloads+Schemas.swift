/// OpenAPI definitions of the workload kinds (what `kubectl explain` prints, and what strict
/// field validation checks).
enum WorkloadSchemas {
    static let apps = "io.k8s.api.apps.v1."
    static let core = PodStrategy.core
    static let labelSelector = "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"

    static let shared: [SchemaDefinition] = [
        SchemaDefinition(core + "PodTemplateSpec", "PodTemplateSpec describes the data a pod should have when created from a template.", fields: [
            SchemaField("metadata", .ref(CommonSchemas.objectMeta), "Standard object's metadata."),
            SchemaField("spec", .ref(core + "PodSpec"), "Specification of the desired behavior of the pod."),
        ]),
        SchemaDefinition(labelSelector, "A label selector is a label query over a set of resources. An empty label selector matches all objects; a null one matches none.", fields: [
            SchemaField("matchLabels", .map(.string), "matchLabels is a map of {key,value} pairs; each is a requirement key In (value)."),
            SchemaField("matchExpressions", .array(.ref(labelSelector + "Requirement")), "matchExpressions is a list of label selector requirements. The requirements are ANDed."),
        ]),
        SchemaDefinition(labelSelector + "Requirement", "A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.", fields: [
            SchemaField("key", .string, "key is the label key that the selector applies to.", required: true),
            SchemaField("operator", .string, "operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist.", required: true),
            SchemaField("values", .array(.string), "values is an array of string values. Non-empty for In and NotIn, empty for Exists and DoesNotExist."),
        ]),
    ]

    static func replicatedStatus(_ name: String, _ description: String) -> SchemaDefinition {
        SchemaDefinition(name, description, closed: false, fields: [
            SchemaField("replicas", .integer, "Replicas is the most recently observed number of replicas.", required: true),
            SchemaField("fullyLabeledReplicas", .integer, "The number of pods that have labels matching the labels of the pod template."),
            SchemaField("readyReplicas", .integer, "The number of ready replicas."),
            SchemaField("availableReplicas", .integer, "The number of available replicas (ready for at least minReadySeconds)."),
            SchemaField("observedGeneration", .integer, "The most recent generation observed by the controller."),
            SchemaField("conditions", .array(.freeform), "Represents the latest available observations of the current state.", mergeKey: "type"),
        ])
    }

    static let replicaSet: [SchemaDefinition] = shared + [
        SchemaDefinition(apps + "ReplicaSet", "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
            kind: ("apps", "v1", "ReplicaSet"),
            fields: CommonSchemas.topLevel(spec: apps + "ReplicaSetSpec", status: apps + "ReplicaSetStatus",
                specDescription: "Spec defines the specification of the desired behavior of the ReplicaSet.",
                statusDescription: "Status is the most recently observed status of the ReplicaSet. Read-only.")),
        SchemaDefinition(apps + "ReplicaSetSpec", "ReplicaSetSpec is the specification of a ReplicaSet.", fields: [
            SchemaField("replicas", .integer, "Replicas is the number of desired pods. Defaults to 1."),
            SchemaField("minReadySeconds", .integer, "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available."),
            SchemaField("selector", .ref(labelSelector), "Selector is a label query over pods that should match the replica count. It must match the pod template's labels.", required: true),
            SchemaField("template", .ref(core + "PodTemplateSpec"), "Template is the object that describes the pod that will be created if insufficient replicas are detected."),
        ]),
        replicatedStatus(apps + "ReplicaSetStatus", "ReplicaSetStatus represents the current status of a ReplicaSet."),
    ]

    static let replicationController: [SchemaDefinition] = shared + [
        SchemaDefinition(core + "ReplicationController", "ReplicationController represents the configuration of a replication controller.",
            kind: ("", "v1", "ReplicationController"),
            fields: CommonSchemas.topLevel(spec: core + "ReplicationControllerSpec", status: core + "ReplicationControllerStatus",
                specDescription: "Spec defines the specification of the desired behavior of the replication controller.",
                statusDescription: "Status is the most recently observed status of the replication controller. Read-only.")),
        SchemaDefinition(core + "ReplicationControllerSpec", "ReplicationControllerSpec is the specification of a replication controller.", fields: [
            SchemaField("replicas", .integer, "Replicas is the number of desired replicas. Defaults to 1."),
            SchemaField("minReadySeconds", .integer, "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available."),
            SchemaField("selector", .map(.string), "Selector is a label query over pods that should match the Replicas count. Defaults to the template's labels."),
            SchemaField("template", .ref(core + "PodTemplateSpec"), "Template is the object that describes the pod that will be created if insufficient replicas are detected."),
        ]),
        replicatedStatus(core + "ReplicationControllerStatus", "ReplicationControllerStatus represents the current status of a replication controller."),
    ]

    static let deployment: [SchemaDefinition] = shared + [
        SchemaDefinition(apps + "Deployment", "Deployment enables declarative updates for Pods and ReplicaSets.",
            kind: ("apps", "v1", "Deployment"),
            fields: CommonSchemas.topLevel(spec: apps + "DeploymentSpec", status: apps + "DeploymentStatus",
                specDescription: "Specification of the desired behavior of the Deployment.",
                statusDescription: "Most recently observed status of the Deployment.")),
        SchemaDefinition(apps + "DeploymentSpec", "DeploymentSpec is the specification of the desired behavior of the Deployment.", fields: [
            SchemaField("replicas", .integer, "Number of desired pods. Defaults to 1."),
            SchemaField("selector", .ref(labelSelector), "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.", required: true),
            SchemaField("template", .ref(core + "PodTemplateSpec"), "Template describes the pods that will be created. The only allowed template.spec.restartPolicy value is \"Always\".", required: true),
            SchemaField("strategy", .ref(apps + "DeploymentStrategy"), "The deployment strategy to use to replace existing pods with new ones."),
            SchemaField("minReadySeconds", .integer, "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available. Defaults to 0."),
            SchemaField("revisionHistoryLimit", .integer, "The number of old ReplicaSets to retain to allow rollback. Defaults to 10."),
            SchemaField("paused", .boolean, "Indicates that the deployment is paused."),
            SchemaField("progressDeadlineSeconds", .integer, "The maximum time in seconds for a deployment to make progress before it is considered to be failed. Defaults to 600s."),
        ]),
        SchemaDefinition(apps + "DeploymentStrategy", "DeploymentStrategy describes how to replace existing pods with new ones.", fields: [
            SchemaField("type", .string, "Type of deployment. Can be \"Recreate\" or \"RollingUpdate\". Default is RollingUpdate."),
            SchemaField("rollingUpdate", .ref(apps + "RollingUpdateDeployment"), "Rolling update config params. Present only if DeploymentStrategyType = RollingUpdate."),
        ]),
        SchemaDefinition(apps + "RollingUpdateDeployment", "Spec to control the desired behavior of rolling update.", fields: [
            SchemaField("maxUnavailable", .quantity, "The maximum number of pods that can be unavailable during the update: a number or a percentage of desired pods (rounded down). Defaults to 25%."),
            SchemaField("maxSurge", .quantity, "The maximum number of pods that can be scheduled above the desired number of pods: a number or a percentage of desired pods (rounded up). Defaults to 25%."),
        ]),
        SchemaDefinition(apps + "DeploymentStatus", "DeploymentStatus is the most recently observed status of the Deployment.", closed: false, fields: [
            SchemaField("observedGeneration", .integer, "The generation observed by the deployment controller."),
            SchemaField("replicas", .integer, "Total number of non-terminated pods targeted by this deployment (their labels match the selector)."),
            SchemaField("updatedReplicas", .integer, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            SchemaField("readyReplicas", .integer, "Total number of non-terminated pods targeted by this Deployment with a Ready Condition."),
            SchemaField("availableReplicas", .integer, "Total number of available non-terminated pods (ready for at least minReadySeconds) targeted by this deployment."),
            SchemaField("unavailableReplicas", .integer, "Total number of unavailable pods targeted by this deployment."),
            SchemaField("conditions", .array(.freeform), "Represents the latest available observations of a deployment's current state.", mergeKey: "type"),
            SchemaField("collisionCount", .integer, "Count of hash collisions for the Deployment, used as a salt of the pod-template-hash."),
        ]),
    ]
}
