import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// The pod scenario of [K4] acceptance 1 and 2, run against whichever runtime the node uses:
/// an HTTP server pod (Running, answers on its podIP, logs, graceful delete), a crashing pod
/// (restarts with back-off), a failing liveness probe (restarts), a failing readiness probe
/// (stays Ready=False).
struct RuntimeScenario {
    let server: ServerProcess
    let connection: HTTPConnection
    /// The node the pods are pinned to (through a node selector, so the scheduler binds them).
    let node: String
    let image: String
    /// The port the web pod listens on (process pods share the host network: pick a free one).
    let port: Int
    /// Lists the containers of a pod on the node (by uid) from the runtime itself.
    let containers: (String) throws -> [ContainerInfo]

    func pod(_ name: String) throws -> JSON? {
        let reply = try connection.request("GET", "/api/v1/namespaces/default/pods/\(name)")
        return reply.status == 200 ? try reply.json() : nil
    }

    func create(_ pod: JSON) throws {
        let reply = try connection.request("POST", "/api/v1/namespaces/default/pods", body: pod.serialized())
        #expect(reply.status == 201, "\(reply.text)")
    }

    func podObject(_ name: String, command: String, extra: JSON = .emptyObject, restartPolicy: String = "Always", grace: Int = 10) -> JSON {
        var container: JSON = ["name": "main", "image": .string(image), "command": ["/bin/sh", "-c", .string(command)]]
        for (key, value) in extra.objectValue ?? [:] { container[key] = value }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name)],
                "spec": ["nodeSelector": ["kubernetes.io/hostname": .string(node)], "restartPolicy": .string(restartPolicy),
                         "terminationGracePeriodSeconds": .int(Int64(grace)), "containers": [container]]]
    }

    static func condition(_ pod: JSON?, _ type: String) -> String? {
        pod?[path: ["status", "conditions"]]?.arrayValue?.first { $0["type"]?.stringValue == type }?["status"]?.stringValue
    }

    static func containerStatus(_ pod: JSON?) -> JSON? { pod?[path: ["status", "containerStatuses"]]?.arrayValue?.first }

    func run() throws {
        try webPod()
        try crashingPod()
        try livenessPod()
        try readinessPod()
    }

    func webPod() throws {
        let command = "echo web starting; mkdir -p www && echo hello-kube9 > www/index.html && exec /bin/busybox httpd -f -v -p \(port) -h www"
        let probe: JSON = ["httpGet": ["path": "/", "port": .int(Int64(port))], "periodSeconds": 1]
        try create(podObject("web", command: command, extra: ["readinessProbe": probe, "livenessProbe": ["tcpSocket": ["port": .int(Int64(port))], "periodSeconds": 1]]))
        var web: JSON? = nil
        let ready = try waitUntil(seconds: 30) {
            web = try pod("web")
            return web?[path: ["status", "phase"]] == "Running" && Self.condition(web, "Ready") == "True"
        }
        guard ready else {
            // What the agent saw (probe failures are Unhealthy events with the error) and what the pod printed.
            let described = try? server.kubectl("describe", "pod", "web")
            let logs = try? server.kubectl("logs", "web")
            let network = try? runCommand("/bin/sh", ["-c", "ip -4 addr; ip -4 route; cat /proc/sys/net/bridge/bridge-nf-call-iptables; iptables -S 2>&1 | head -20; nft list ruleset 2>&1 | head -40"], timeoutSeconds: 10)
            Issue.record("host network: \(network?.stdout ?? "")")
            Issue.record("web pod not Ready: \(String(describing: web))\n\(described?.stdout ?? "") \(described?.stderr ?? "")\nlogs: \(logs?.stdout ?? "") \(logs?.stderr ?? "")")
            return
        }
        let podIP = try #require(web?[path: ["status", "podIP"]]?.stringValue, "a Ready pod has an IP")
        #expect(web?[path: ["spec", "nodeName"]]?.stringValue == node)
        let http = try HTTPConnection(baseURL: "http://\(podIP):\(port)")
        http.timeoutSeconds = 5
        let answer = try http.request("GET", "/", accept: "*/*")
        #expect(answer.status == 200)
        #expect(answer.text == "hello-kube9\n")
        // kubectl logs, --tail, and -f (which sees a line written after it started).
        let logs = try server.kubectl("logs", "web")
        #expect(logs.status == 0, "\(logs.stderr)")
        #expect(logs.stdout.hasPrefix("web starting\n"), "\(logs.stdout)")
        let tail = try server.kubectl("logs", "web", "--tail", "1", "-c", "main")
        #expect(tail.stdout.split(separator: "\n").count == 1, "\(tail.stdout)")
        let poke = Thread {
            usleep(1_500_000)
            _ = try? http.request("GET", "/follow-marker", accept: "*/*")
        }
        poke.start()
        let follow = try server.kubectl(arguments: ["logs", "-f", "web"], timeoutSeconds: 4)
        #expect(follow.stdout.contains("web starting"), "\(follow.stdout)")
        // The marker request is the only one answered 404.
        #expect(follow.stdout.contains("response:404"), "kubectl logs -f did not show the new request: \(follow.stdout)")
        let wrong = try server.kubectl("logs", "web", "-c", "nope")
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("container nope is not valid for pod web"), "\(wrong.stderr)")
        // Delete: SIGTERM stops httpd at once, well within the 10 s grace period.
        let uid = ObjectMeta.uid(of: web!)
        #expect(try containers(uid).count == 2)
        let started = Date()
        let deleted = try server.kubectl(arguments: ["delete", "pod", "web"], timeoutSeconds: 30)
        let elapsed = Date().timeIntervalSince(started)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(elapsed < 10, "delete took \(elapsed) s")
        #expect(try containers(uid).isEmpty, "containers of the deleted pod remain")
        let left = try connection.request("GET", "/api/v1/namespaces/default/pods/web")
        #expect(left.status == 404, "\(left.text) \(deleted.stdout) \(deleted.stderr)")
    }

    func crashingPod() throws {
        try create(podObject("crash", command: "echo crashing; exit 3"))
        var sawBackOff = false
        var last: JSON? = nil
        let restarted = try waitUntil(seconds: 40) {
            last = try pod("crash")
            let status = Self.containerStatus(last)
            if status?[path: ["state", "waiting", "reason"]] == "CrashLoopBackOff" { sawBackOff = true }
            return (status?["restartCount"]?.intValue ?? 0) >= 2 && sawBackOff
        }
        #expect(restarted, "crash pod: \(String(describing: last))")
        let status = Self.containerStatus(last)
        #expect(status?[path: ["lastState", "terminated", "exitCode"]]?.intValue == 3)
        #expect(last?[path: ["status", "phase"]] == "Running")
        let previous = try server.kubectl("logs", "crash", "--previous")
        #expect(previous.stdout.contains("crashing"), "\(previous.stdout) \(previous.stderr)")
        _ = try server.kubectl(arguments: ["delete", "pod", "crash", "--wait=false"])
    }

    func livenessPod() throws {
        let probe: JSON = ["exec": ["command": ["/bin/sh", "-c", "exit 1"]], "periodSeconds": 1, "failureThreshold": 2]
        try create(podObject("alive", command: "exec sleep 600", extra: ["livenessProbe": probe], grace: 2))
        var last: JSON? = nil
        let restarted = try waitUntil(seconds: 40) {
            last = try pod("alive")
            return (Self.containerStatus(last)?["restartCount"]?.intValue ?? 0) >= 1
        }
        #expect(restarted, "liveness pod: \(String(describing: last))")
        _ = try server.kubectl(arguments: ["delete", "pod", "alive", "--wait=false"])
    }

    func readinessPod() throws {
        let probe: JSON = ["exec": ["command": ["/bin/sh", "-c", "exit 1"]], "periodSeconds": 1]
        try create(podObject("unready", command: "exec sleep 600", extra: ["readinessProbe": probe], grace: 2))
        let running = try waitUntil(seconds: 30) { try pod("unready")?[path: ["status", "phase"]] == "Running" }
        #expect(running)
        usleep(4_000_000)
        let unready = try pod("unready")
        // Not ready because the probe ran and failed (an Unhealthy event), not because it never ran.
        let events = try server.kubectl("get", "events", "--field-selector", "involvedObject.name=unready", "-o", "jsonpath={.items[*].reason}")
        #expect(events.stdout.contains("Unhealthy"), "the readiness probe ran: \(events.stdout)")
        #expect(unready?[path: ["status", "phase"]] == "Running")
        #expect(Self.condition(unready, "Ready") == "False")
        #expect(Self.condition(unready, "ContainersReady") == "False")
        #expect(Self.containerStatus(unready)?["ready"]?.boolValue == false)
        #expect(Self.containerStatus(unready)?["restartCount"]?.intValue == 0)
        let table = try server.kubectl("get", "pod", "unready", "--no-headers")
        #expect(table.stdout.contains("0/1"), "\(table.stdout)")
        _ = try server.kubectl(arguments: ["delete", "pod", "unready"], timeoutSeconds: 30)
    }
}

/// A free TCP port on 127.0.0.1 (bound and released).
func freePort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
