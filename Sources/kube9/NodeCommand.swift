import ArgumentParser
import Foundation
import Kube9Client
import Kube9Model
import Kube9Runtime

/// Kube-9's node manager: add, list and remove nodes, and build the node image.
struct NodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Add, list and remove nodes (docker containers, host processes or sim nodes).",
        subcommands: [NodeAdd.self, NodeList.self, NodeRemove.self, NodeImageCommand.self])
}

/// What `node add` started, kept in DATA_DIR/nodes/NAME.json so list and remove find it.
struct NodeRecord {
    var name: String
    var runtime: String
    var container: String?
    var pid: Int32?

    static func directory(_ dataDirectory: String) -> String { (dataDirectory as NSString).appendingPathComponent("nodes") }
    static func path(_ dataDirectory: String, _ name: String) -> String { directory(dataDirectory) + "/\(name).json" }

    func save(_ dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: Self.directory(dataDirectory), withIntermediateDirectories: true)
        var object: JSON = ["name": .string(name), "runtime": .string(runtime)]
        if let container { object["container"] = .string(container) }
        if let pid { object["pid"] = .int(Int64(pid)) }
        try Data(object.serialized()).write(to: URL(fileURLWithPath: Self.path(dataDirectory, name)))
    }

    static func load(_ dataDirectory: String, _ name: String) -> NodeRecord? {
        guard let data = FileManager.default.contents(atPath: path(dataDirectory, name)), let object = try? JSON.parse(Array(data)) else { return nil }
        return NodeRecord(name: name, runtime: object["runtime"]?.stringValue ?? "", container: object["container"]?.stringValue,
                          pid: object["pid"]?.intValue.map { Int32($0) })
    }
}

struct NodeAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Start a node agent and wait until its Node is Ready.",
        discussion: """
            docker: a container from the node image (kube9 node image build) with the node's CPU limit, host \\
            networking and the Docker socket, running kube9 agent --runtime docker; its pods are sibling containers. \\
            process and sim: kube9 agent as a background process on this machine (log in DATA_DIR/nodes/NAME.log).
            """)

    @Argument(help: "The node's name.")
    var name: String

    @Option(help: "CPU cores the node offers.")
    var cpus: Double

    @Option(help: "Memory the node offers (quantity).")
    var memory: String = "4Gi"

    @Option(help: "Kube-9 node type: worker or master.")
    var type: String = "worker"

    @Option(help: "Runtime: docker, process or sim.")
    var runtime: String = "docker"

    @Option(help: "Node image for --runtime docker.")
    var image: String = NodeImage.defaultReference

    @Option(help: "Seconds to wait for the Node to be Ready (0: do not wait).")
    var wait: Double = 30

    @Option(help: "Data directory for node records and logs (default ~/.kube9).")
    var dataDir: String?

    @Option(help: "Extra arguments for kube9 agent, separated by spaces; give them with = (e.g. --agent-args=\"--restart-backoff 1\").")
    var agentArgs: String = ""

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard cpus > 0, cpus <= 65536 else { throw ValidationError("--cpus must be greater than 0 and at most 65536") }
        guard ["worker", "master"].contains(type) else { throw ValidationError("--type must be worker or master") }
        guard RuntimeChoice.names.contains(runtime) else { throw ValidationError("--runtime must be docker, process or sim") }
        guard Quantity.parse(memory) != nil else { throw ValidationError("--memory must be a quantity such as 4Gi") }
        if let problem = NameRules.dns1123SubdomainError(name) { throw ValidationError("node name \(name): \(problem)") }
    }

    func run() throws {
        let server = try connection.serverURL()
        let dataDirectory = dataDir ?? defaultDataDirectory()
        let cpuText = cpus == cpus.rounded() ? String(Int64(checkedRounding: cpus) ?? 0) : String(cpus)
        let agentArguments = ["agent", "--server", server, "--name", name, "--runtime", runtime, "--cpus", cpuText, "--memory", memory,
                              "--type", type] + agentArgs.split(separator: " ").map(String.init)
        let started = Date()
        var record = NodeRecord(name: name, runtime: runtime)
        if runtime == "docker" {
            let engine = try DockerEngine()
            guard try engine.imageExists(image) else {
                throw ValidationError("node image \(image) is not present; build it with: kube9 node image build")
            }
            try engine.ensureNetwork(DockerRuntime.defaultNetwork, subnet: DockerRuntime.defaultSubnet)
            let containerName = "kube9-node-\(name)"
            if try engine.request("GET", "/containers/\(containerName)/json").status == 200 {
                throw ValidationError("a node container \(containerName) exists already; remove it with kube9 node remove \(name)")
            }
            // Pod volumes and local-path volumes: the agent writes them where dockerd finds them,
            // the same path inside the node container and on the host.
            let absoluteData = dataDirectory.hasPrefix("/") ? dataDirectory
                : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(dataDirectory)
            let volumes = (absoluteData as NSString).appendingPathComponent("nodes/\(name)/pods")
            let storage = (absoluteData as NSString).appendingPathComponent("nodes/\(name)/storage")
            try FileManager.default.createDirectory(atPath: volumes, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
            var binds: [JSON] = [.string("\(volumes):\(volumes)"), .string("\(storage):\(storage)")]
            var environment: [JSON] = []
            if engine.host.hasPrefix("unix://") {
                let socket = String(engine.host.dropFirst("unix://".count))
                binds.append(.string("\(socket):/var/run/docker.sock"))
                environment.append("DOCKER_HOST=unix:///var/run/docker.sock")
            } else {
                environment.append(.string("DOCKER_HOST=\(engine.host)"))
            }
            let body: JSON = [
                "Image": .string(image), "Cmd": .array(([NodeImage.binaryPath] + agentArguments + ["--data-dir", absoluteData]).map { .string($0) }),
                "Env": .array(environment), "Hostname": .string(name),
                "Labels": ["kube9.io/node-container": .string(name)],
                // NET_ADMIN: the node's service proxy adds the local routes of the service range (docs/services.md).
                "HostConfig": ["NetworkMode": "host", "NanoCpus": .int(Int64(cpus * 1e9)), "Init": true, "Binds": .array(binds), "CapAdd": ["NET_ADMIN"]],
            ]
            let created = try engine.call("POST", "/containers/create?name=\(containerName)", json: body, expected: [201])
            let id = try created.json()["Id"]?.stringValue ?? containerName
            try engine.call("POST", "/containers/\(id)/start", expected: [204, 304])
            record.container = containerName
            print("node/\(name) container \(containerName) (\(id.prefix(12))) started, cpu limit \(cpuText)")
        } else {
            try FileManager.default.createDirectory(atPath: NodeRecord.directory(dataDirectory), withIntermediateDirectories: true)
            let log = NodeRecord.directory(dataDirectory) + "/\(name).log"
            let pid = try Subprocess.spawn(Subprocess.currentExecutable(), agentArguments + ["--data-dir", dataDirectory],
                                           environment: ProcessInfo.processInfo.environment, stdoutPath: log, stderrPath: log, newSession: true)
            record.pid = pid
            print("node/\(name) agent started (pid \(pid), runtime \(runtime), log \(log))")
        }
        try record.save(dataDirectory)
        guard wait > 0 else { return }
        let client = try HTTPConnection(baseURL: server)
        let deadline = started.addingTimeInterval(wait)
        while Date() < deadline {
            if let reply = try? client.request("GET", "/api/v1/nodes/\(name)"), reply.status == 200, let node = try? reply.json(),
               (node[path: ["status", "nodeInfo", "containerRuntimeVersion"]]?.stringValue ?? "").hasPrefix(runtime),
               node[path: ["status", "conditions"]]?.arrayValue?.contains(where: { $0["type"] == "Ready" && $0["status"] == "True" }) == true {
                print(String(format: "node/%@ Ready after %.1f s", name, Date().timeIntervalSince(started)))
                return
            }
            usleep(100_000)
        }
        throw ValidationError("node \(name) was not Ready within \(wait) s; see the agent's log (docker logs kube9-node-\(name) or DATA_DIR/nodes/\(name).log)")
    }
}

struct NodeList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List nodes with status, type, capacity, pods and agent.")

    @Option(help: "Data directory of node records (default ~/.kube9).")
    var dataDir: String?

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let client = try connection.connection()
        let nodes = try client.request("GET", "/api/v1/nodes").json()["items"]?.arrayValue ?? []
        let pods = try client.request("GET", "/api/v1/pods").json()["items"]?.arrayValue ?? []
        var podCount: [String: Int] = [:]
        for pod in pods { podCount[pod[path: ["spec", "nodeName"]]?.stringValue ?? "", default: 0] += 1 }
        let dataDirectory = dataDir ?? defaultDataDirectory()
        var rows = [["NAME", "STATUS", "TYPE", "CPUS", "MEMORY", "PODS", "RUNTIME", "AGENT"]]
        for node in nodes {
            let name = ObjectMeta.name(of: node)
            let ready = node[path: ["status", "conditions"]]?.arrayValue?.first { $0["type"] == "Ready" }?["status"]?.stringValue == "True"
            var status = ready ? "Ready" : "NotReady"
            if node[path: ["spec", "unschedulable"]]?.boolValue == true { status += ",SchedulingDisabled" }
            var agent = "-"
            if let record = NodeRecord.load(dataDirectory, name) {
                if let container = record.container { agent = "container \(container)" }
                if let pid = record.pid { agent = "pid \(pid)" + (kill(pid, 0) == 0 ? "" : " (gone)") }
            }
            rows.append([name, status, node[path: ["metadata", "labels", NodeStrategy.nodeTypeLabel]]?.stringValue ?? "-",
                         node[path: ["status", "capacity", "cpu"]]?.stringValue ?? "-", node[path: ["status", "capacity", "memory"]]?.stringValue ?? "-",
                         String(podCount[name] ?? 0),
                         (node[path: ["status", "nodeInfo", "containerRuntimeVersion"]]?.stringValue ?? "-").components(separatedBy: "://").first ?? "-",
                         agent])
        }
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { $1.padding(toLength: widths[$0] + 3, withPad: " ", startingAt: 0) }.joined().trimmingCharacters(in: .whitespaces))
        }
    }
}

struct NodeRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Drain a node (cordon, delete its pods, recreate bare pods for the scheduler), stop its agent, delete the Node.")

    @Argument(help: "The node's name.")
    var name: String

    @Option(help: "Seconds to wait for each pod to terminate.")
    var timeout: Double = 60

    @Option(help: "Data directory of node records (default ~/.kube9).")
    var dataDir: String?

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let client = try connection.connection()
        let nodeReply = try client.request("GET", "/api/v1/nodes/\(name)")
        let dataDirectory = dataDir ?? defaultDataDirectory()
        let record = NodeRecord.load(dataDirectory, name)
        if nodeReply.status == 200 {
            let cordon = try client.request("PATCH", "/api/v1/nodes/\(name)", body: (["spec": ["unschedulable": true]] as JSON).serialized(),
                                            contentType: "application/merge-patch+json")
            guard cordon.status == 200 else { throw ValidationError("cannot cordon \(name): \(cordon.text)") }
            print("node/\(name) cordoned")
            let query = "fieldSelector=" + ("spec.nodeName=\(name)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            let pods = try client.request("GET", "/api/v1/pods?\(query)").json()["items"]?.arrayValue ?? []
            for pod in pods {
                let namespace = ObjectMeta.namespace(of: pod)
                let podName = ObjectMeta.name(of: pod)
                let uid = ObjectMeta.uid(of: pod)
                let path = "/api/v1/namespaces/\(namespace)/pods/\(podName)"
                _ = try client.request("DELETE", path, body: (["preconditions": ["uid": .string(uid)]] as JSON).serialized())
                let deadline = Date().addingTimeInterval(timeout)
                while Date() < deadline {
                    let reply = try client.request("GET", path)
                    if reply.status == 404 || (try? reply.json()).map(ObjectMeta.uid(of:)) != uid { break }
                    usleep(100_000)
                }
                var gone = (try client.request("GET", path)).status == 404
                if !gone {
                    // The agent did not finish in time (it may be down): force the deletion.
                    _ = try client.request("DELETE", path + "?gracePeriodSeconds=0", body: (["preconditions": ["uid": .string(uid)]] as JSON).serialized())
                    gone = true
                }
                print("pod/\(podName) evicted from \(name)")
                guard PodStrategy.isRecreatedAfterEviction(pod) else { continue }
                let created = try client.request("POST", "/api/v1/namespaces/\(namespace)/pods",
                                                 body: PodStrategy.replacement(of: pod, leavingNode: name).serialized())
                guard created.status == 201 else { throw ValidationError("cannot recreate pod \(podName): \(created.text)") }
                print("pod/\(podName) recreated for the scheduler")
            }
        }
        if let record {
            if let container = record.container {
                let engine = try DockerEngine()
                try engine.call("DELETE", "/containers/\(container)?force=1", expected: [204, 404])
                print("node/\(name) container \(container) removed")
            }
            if let pid = record.pid, kill(pid, 0) == 0 {
                kill(pid, SIGTERM)
                for _ in 0..<100 where kill(pid, 0) == 0 { usleep(50_000) }
                if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
                print("node/\(name) agent (pid \(pid)) stopped")
            }
            try? FileManager.default.removeItem(atPath: NodeRecord.path(dataDirectory, name))
        }
        if nodeReply.status == 200 {
            let deleted = try client.request("DELETE", "/api/v1/nodes/\(name)")
            guard deleted.status == 200 || deleted.status == 404 else { throw ValidationError("cannot delete node \(name): \(deleted.text)") }
            print("node/\(name) removed")
        } else if record == nil {
            throw ValidationError("no node \(name)")
        }
    }
}

struct NodeImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "image", abstract: "Build the node image.", subcommands: [NodeImageBuild.self])
}

struct NodeImageBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build the node image locally: docker import of this kube9 binary, its shared libraries and a static busybox.")

    @Option(help: "Image reference to create.")
    var tag: String = NodeImage.defaultReference

    @Option(help: "The kube9 binary to put in the image (default: this one).")
    var binary: String?

    @Option(help: "A static busybox (package busybox-static).")
    var busybox: String = "/bin/busybox"

    func run() throws {
        let engine = try DockerEngine()
        let started = Date()
        let size = try NodeImage.build(engine: engine, reference: tag, binary: binary ?? Subprocess.currentExecutable(), busybox: busybox,
                                       policies: defaultPolicyDirectory())
        print(String(format: "image %@ built (%.1f MB rootfs) in %.1f s; sandbox image %@", tag, Double(size) / 1e6,
                     Date().timeIntervalSince(started), DockerRuntime.defaultSandboxImage))
    }
}
