import Kube9Model
import Testing

@Suite("kinds")
struct KindTests {
    @Test("pod defaults and QoS class")
    func podDefaults() throws {
        var pod = try JSON.parse(#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox:1.36","resources":{"requests":{"cpu":"1"},"limits":{"cpu":"1","memory":"1Gi"}}}]}}"#)
        PodStrategy().prepareForCreate(&pod)
        #expect(pod[path: ["spec", "restartPolicy"]] == "Always")
        #expect(pod[path: ["spec", "schedulerName"]] == "default-scheduler")
        #expect(pod[path: ["spec", "containers"]]?.arrayValue?.first?["imagePullPolicy"] == "IfNotPresent")
        #expect(pod[path: ["status", "phase"]] == "Pending")
        #expect(pod[path: ["status", "qosClass"]] == "Guaranteed", "requests default to limits")
        #expect(pod[path: ["spec", "containers"]]?.arrayValue?.first?[path: ["resources", "requests", "memory"]] == "1Gi")
        var burstable = try JSON.parse(#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"a","resources":{"requests":{"cpu":"500m"},"limits":{"cpu":"1"}}}]}}"#)
        PodStrategy().prepareForCreate(&burstable)
        #expect(burstable[path: ["status", "qosClass"]] == "Burstable")
        #expect(PodStrategy().validate(pod).isEmpty)
    }

    @Test("pod spec is immutable but images may change")
    func podUpdates() throws {
        var old = try JSON.parse(#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"a"}]}}"#)
        PodStrategy().prepareForCreate(&old)
        var imageChange = old
        imageChange[path: ["spec", "containers"]] = [["name": "c", "image": "b", "imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": [:]]]
        #expect(PodStrategy().validateUpdate(imageChange, old: old).isEmpty)
        var restartChange = old
        restartChange[path: ["spec", "restartPolicy"]] = "Never"
        #expect(PodStrategy().validateUpdate(restartChange, old: old).map(\.field) == ["spec"])
    }

    @Test("node table shows status and roles")
    func nodeColumns() throws {
        let node = try JSON.parse(#"{"metadata":{"name":"n","labels":{"node-role.kubernetes.io/master":"","node-role.kubernetes.io/worker":""}},"spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#)
        let cells = NodeStrategy().table.cells(node)
        #expect(cells[1] == "NotReady,SchedulingDisabled")
        #expect(cells[2] == "master,worker")
    }

    @Test("strict field validation finds unknown fields only in closed definitions")
    func unknownFields() throws {
        let catalog = ResourceCatalog.builtin
        let pod = try JSON.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","bogus":1},"spec":{"containers":[{"name":"c","image":"a","imag":"x","livenessProbe":{"anything":1}}],"affinity":{"x":1}},"extra":true}"#)
        let unknown = catalog.schemas.unknownFields(in: pod, definition: "io.k8s.api.core.v1.Pod")
        #expect(Set(unknown) == ["metadata.bogus", "spec.containers[0].imag", "extra"])
    }

    @Test("every served kind has a schema with its group-version-kind")
    func schemas() {
        let catalog = ResourceCatalog.builtin
        for strategy in catalog.strategies {
            #expect(catalog.definitionName(of: strategy.type) != nil, "\(strategy.type.kind) has no schema")
        }
    }

    @Test("APIError renders a Kubernetes Status with causes")
    func status() {
        let error = APIError.invalid(kind: "Pod", group: "", name: "p", causes: [.required("spec.containers")])
        let status = error.status
        #expect(status["code"] == 422)
        #expect(status["reason"] == "Invalid")
        #expect(status["message"] == "Pod \"p\" is invalid: spec.containers: Required value")
        #expect(status[path: ["details", "causes"]]?.arrayValue?.first?["field"] == "spec.containers")
    }
}

@Suite("service environment variables")
struct ServiceEnvironmentTests {
    @Test("SVC_SERVICE_HOST, _PORT and the Docker-link variables, for services of the pod's namespace with a cluster IP")
    func variables() {
        let services: [JSON] = [
            ["metadata": ["name": "my-web", "namespace": "default"],
             "spec": ["clusterIP": "10.96.0.5", "ports": [["name": "http", "port": 80, "protocol": "TCP"], ["name": "dns", "port": 53, "protocol": "UDP"]]]],
            ["metadata": ["name": "headless", "namespace": "default"], "spec": ["clusterIP": "None", "ports": [["port": 80]]]],
            ["metadata": ["name": "elsewhere", "namespace": "other"], "spec": ["clusterIP": "10.96.0.6", "ports": [["port": 80]]]],
        ]
        let variables = Dictionary(ServiceStrategy.environment(services: services, namespace: "default", serviceLinks: true).map { ($0.name, $0.value) },
                                   uniquingKeysWith: { first, _ in first })
        #expect(variables["MY_WEB_SERVICE_HOST"] == "10.96.0.5")
        #expect(variables["MY_WEB_SERVICE_PORT"] == "80")
        #expect(variables["MY_WEB_SERVICE_PORT_DNS"] == "53")
        #expect(variables["MY_WEB_PORT"] == "tcp://10.96.0.5:80")
        #expect(variables["MY_WEB_PORT_53_UDP"] == "udp://10.96.0.5:53")
        #expect(variables["MY_WEB_PORT_53_UDP_ADDR"] == "10.96.0.5")
        #expect(variables["HEADLESS_SERVICE_HOST"] == nil)
        #expect(variables["ELSEWHERE_SERVICE_HOST"] == nil)
        #expect(ServiceStrategy.environment(services: services, namespace: "default", serviceLinks: false).isEmpty)
    }
}
