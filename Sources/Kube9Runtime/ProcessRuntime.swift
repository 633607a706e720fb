import Foundation
import Kube9Model
import Synchronization

/// Containers as host processes, for machines without Docker. Each container is a directory
/// under `root` (its labels, command line, environment, log, pid and exit code); `kube9-shim DIR`
/// (a small C program built next to kube9) starts the command in its own process group, writes
/// its output to DIR/log and its exit code to DIR/exit, so containers outlive a restarted agent,
/// which adopts them by reading the directories back. Pods share the host network: the pod IP
/// is 127.0.0.1.
///
/// ```
/// agent ──spawn (setsid)──▶ kube9-shim DIR ──fork+exec (own group)──▶ command
///                             writes DIR/pid, DIR/started           stdout+stderr ▶ DIR/log
///                             waits, writes DIR/exit
/// ```
public final class ProcessRuntime: ContainerRuntime {
    public let kind = "process"
    /// Where container directories live.
    public let root: String
    /// The `kube9-shim` program.
    public let shimExecutable: String
    private let counter = Atomic<Int>(0)

    /// `kube9-shim` next to the running kube9 binary.
    public static func defaultShim() -> String {
        (Subprocess.currentExecutable() as NSString).deletingLastPathComponent + "/kube9-shim"
    }

    public init(root: String, shimExecutable: String = ProcessRuntime.defaultShim()) throws {
        guard access(shimExecutable, X_OK) == 0 else {
            throw RuntimeError.unavailable("the process runtime needs \(shimExecutable) (built with kube9: swift build -c release)")
        }
        self.root = root
        self.shimExecutable = shimExecutable
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw RuntimeError.unavailable("cannot create \(root): \(error)")
        }
    }

    public func version() throws -> String { "process://kube9" }

    /// Processes have no images; any image name is accepted (the command must exist instead).
    public func verifyImage(_ image: String) throws {}

    func directory(_ id: String) -> String { "\(root)/\(id)" }

    func newID(_ pod: PodIdentity, container: String) -> String {
        let sequence = counter.add(1, ordering: .relaxed).newValue
        let safe = String(container.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" })
        return "\(pod.uid.prefix(8))-\(safe)-\(Int64(Date().timeIntervalSince1970 * 1000) % 1_000_000_000)-\(sequence)"
    }

    func writeMeta(_ id: String, labels: [String: String], image: String, extra: JSON = .emptyObject) throws {
        let dir = directory(id)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var meta = extra
        var labelObject = JSON.emptyObject
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { labelObject[key] = .string(value) }
        meta["labels"] = labelObject
        meta["image"] = .string(image)
        try Data(meta.serialized()).write(to: URL(fileURLWithPath: dir + "/meta.json"))
    }

    public func runSandbox(_ pod: PodIdentity, spec: JSON) throws -> ContainerInfo {
        let id = newID(pod, container: "pod")
        try writeMeta(id, labels: pod.labels(container: RuntimeLabels.sandboxContainerName, attempt: 0), image: "")
        try FileManager.default.createDirectory(atPath: directory(id) + "/workdir", withIntermediateDirectories: true)
        return try inspectContainer(id: id)
    }

    /// `KUBE9_VOLUME_<NAME>`: the variable naming a volume's directory (name upper-cased, '-' as '_').
    public static func volumeVariable(_ volume: String) -> String {
        "KUBE9_VOLUME_" + volume.uppercased().map { $0 == "-" || $0 == "." ? "_" : String($0) }.joined()
    }

    public func createContainer(_ spec: ContainerSpec, pod: PodIdentity, sandbox: ContainerInfo) throws -> String {
        guard let executable = spec.commandLine.first else {
            throw RuntimeError.refused(operation: "create container \(spec.name)",
                                       detail: "the process runtime runs the container's command on the host, and container \(spec.name) has no command or args")
        }
        var environment: [String: String] = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
                                             "HOSTNAME": pod.name]
        for variable in spec.environment { environment[variable.name] = variable.value }
        // No mount namespace here: each volume's node directory is given to the process as
        // KUBE9_VOLUME_<NAME> (docs/configuration.md says what this cannot isolate).
        for mount in spec.mounts { environment[ProcessRuntime.volumeVariable(mount.volume)] = mount.source }
        guard let resolved = Subprocess.resolveExecutable(executable, path: environment["PATH"]) else {
            throw RuntimeError.refused(operation: "create container \(spec.name)",
                                       detail: "executable \"\(executable)\" not found on the node (PATH \(environment["PATH"] ?? ""))")
        }
        let id = newID(pod, container: spec.name)
        var envObject = JSON.emptyObject
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) { envObject[key] = .string(value) }
        let workingDirectory = spec.workingDirectory ?? directory(sandbox.id) + "/workdir"
        let config: JSON = ["command": .array(([resolved] + spec.commandLine.dropFirst()).map { .string($0) }),
                            "environment": envObject, "workingDirectory": .string(workingDirectory)]
        try writeMeta(id, labels: pod.labels(container: spec.name, attempt: spec.attempt), image: spec.image, extra: ["config": config])
        // What the shim reads: NUL-separated command line and environment, the working directory.
        let dir = directory(id)
        let argv = ([resolved] + spec.commandLine.dropFirst()).map { Array($0.utf8) + [0] }.joined()
        let env = environment.sorted(by: { $0.key < $1.key }).map { Array("\($0.key)=\($0.value)".utf8) + [0] }.joined()
        try Data(argv).write(to: URL(fileURLWithPath: dir + "/argv"))
        try Data(env).write(to: URL(fileURLWithPath: dir + "/env"))
        try Data(workingDirectory.utf8).write(to: URL(fileURLWithPath: dir + "/cwd"))
        return id
    }

    public func startContainer(id: String) throws {
        let dir = directory(id)
        guard FileManager.default.fileExists(atPath: dir + "/meta.json") else { throw RuntimeError.notFound(id: id) }
        let shim = try Subprocess.spawn(shimExecutable, [dir], environment: [:], stdoutPath: dir + "/shim.log",
                                        stderrPath: dir + "/shim.log", newSession: true)
        try? Data(String(shim).utf8).write(to: URL(fileURLWithPath: dir + "/shim.pid"))
        // The container counts as started once the shim wrote the pid (or already failed).
        for _ in 0..<2000 {
            if FileManager.default.fileExists(atPath: dir + "/pid") || FileManager.default.fileExists(atPath: dir + "/exit") { return }
            Self.reap(shim)
            usleep(1_000)
        }
        throw RuntimeError.refused(operation: "start \(id)", detail: "the shim did not start the command within 2 s; see \(dir)/shim.log")
    }

    static func reap(_ pid: pid_t) {
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
    }

    static func readText(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The command's pid while it runs, nil once it exited (or never started).
    func livePid(_ id: String) -> pid_t? {
        let dir = directory(id)
        if let shim = Self.readText(dir + "/shim.pid").flatMap({ pid_t($0) }) { Self.reap(shim) }
        guard !FileManager.default.fileExists(atPath: dir + "/exit"),
              let pid = Self.readText(dir + "/pid").flatMap({ pid_t($0) }), pid > 0 else { return nil }
        return Self.isAlive(pid) ? pid : nil
    }

    /// True while `pid` runs (a zombie waiting to be reaped counts as ended).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 else { return false }
        if let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") {
            let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
            if state == "Z" || state == "X" { return false }
        }
        return true
    }

    public func stopContainer(id: String, gracePeriodSeconds: Int) throws {
        guard let pid = livePid(id) else { return }
        kill(-pid, SIGTERM)
        let deadline = Date().addingTimeInterval(Double(max(0, gracePeriodSeconds)))
        while Date() < deadline {
            if livePid(id) == nil { return }
            usleep(20_000)
        }
        kill(-pid, SIGKILL)
        for _ in 0..<250 where livePid(id) != nil { usleep(20_000) }
    }

    public func killContainer(id: String, signal: String) throws {
        guard let pid = livePid(id) else { return }
        let number: Int32 = switch signal {
        case "SIGTERM", "TERM": SIGTERM
        case "SIGINT", "INT": SIGINT
        case "SIGHUP", "HUP": SIGHUP
        default: SIGKILL
        }
        kill(-pid, number)
    }

    public func removeContainer(id: String) throws {
        if let pid = livePid(id) {
            kill(-pid, SIGKILL)
            for _ in 0..<100 where livePid(id) != nil { usleep(10_000) }
        }
        // A shim this agent started is its child: reap it once it has exited, or it stays a zombie.
        if let shim = Self.readText(directory(id) + "/shim.pid").flatMap({ pid_t($0) }) {
            var status: Int32 = 0
            for _ in 0..<100 {
                let result = waitpid(shim, &status, WNOHANG)
                if result != 0 { break }
                usleep(10_000)
            }
        }
        try? FileManager.default.removeItem(atPath: directory(id))
    }

    public func listContainers(node: String) throws -> [ContainerInfo] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.compactMap { try? inspectContainer(id: $0) }.filter { $0.labels[RuntimeLabels.node] == node }
    }

    public func inspectContainer(id: String) throws -> ContainerInfo {
        let dir = directory(id)
        guard let data = FileManager.default.contents(atPath: dir + "/meta.json"), let meta = try? JSON.parse(Array(data)) else {
            throw RuntimeError.notFound(id: id)
        }
        var labels: [String: String] = [:]
        for (key, value) in meta["labels"]?.objectValue ?? [:] { labels[key] = value.stringValue ?? "" }
        var info = ContainerInfo(id: id, labels: labels, image: meta["image"]?.stringValue ?? "", state: .created)
        if labels[RuntimeLabels.container] == RuntimeLabels.sandboxContainerName {
            info.state = .running
            info.ipAddress = "127.0.0.1"
            return info
        }
        info.startedAt = Self.readText(dir + "/started")
        func recordedExit() -> Bool {
            guard let exit = Self.readText(dir + "/exit") else { return false }
            let parts = exit.split(separator: " ")
            info.state = .exited
            info.exitCode = parts.first.flatMap { Int32($0) } ?? -1
            info.finishedAt = parts.count > 1 ? String(parts[1]) : nil
            info.reason = info.exitCode == 0 ? "Completed" : "Error"
            return true
        }
        if livePid(id) != nil {
            info.state = .running
        } else if recordedExit() {
            // Ended, with the code the shim recorded.
        } else if let shim = Self.readText(dir + "/shim.pid").flatMap({ pid_t($0) }) {
            if Self.isAlive(shim) {
                // The command just ended and its shim is recording the exit code: still running
                // for a moment (reporting 137 here would be a wrong exit code).
                info.state = .running
            } else if !recordedExit() {
                // The shim died without recording an exit (killed itself): the command is gone too.
                info.state = .exited
                info.exitCode = 137
                info.reason = "Error"
            }
        }
        return info
    }

    public func waitContainer(id: String, timeoutSeconds: Double) throws -> Int32? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        repeat {
            let info = try inspectContainer(id: id)
            if info.state == .exited { return info.exitCode }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    public func logs(id: String, tailLines: Int?, follow: Bool, sink: @escaping ([UInt8]) -> Bool) throws {
        let path = directory(id) + "/log"
        guard FileManager.default.fileExists(atPath: directory(id) + "/meta.json") else { throw RuntimeError.notFound(id: id) }
        let initial = FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
        let first = lastLines(initial, tailLines)
        if !first.isEmpty, !sink(first) { return }
        guard follow else { return }
        var offset = UInt64(initial.count)
        while true {
            let running = livePid(id) != nil
            if let handle = FileHandle(forReadingAtPath: path) {
                try? handle.seek(toOffset: offset)
                let data = (try? handle.readToEnd()) ?? Data()
                try? handle.close()
                if !data.isEmpty {
                    offset += UInt64(data.count)
                    if !sink([UInt8](data)) { return }
                }
            }
            if !running { return }
            usleep(100_000)
        }
    }

    public func exec(id: String, command: [String], timeoutSeconds: Double) throws -> Int32? {
        guard let executable = command.first else { return 1 }
        let dir = directory(id)
        var environment: [String: String] = [:]
        var workingDirectory: String? = nil
        if let data = FileManager.default.contents(atPath: dir + "/meta.json"), let meta = try? JSON.parse(Array(data)) {
            for (key, value) in meta[path: ["config", "environment"]]?.objectValue ?? [:] { environment[key] = value.stringValue ?? "" }
            workingDirectory = meta[path: ["config", "workingDirectory"]]?.stringValue
        }
        guard let resolved = Subprocess.resolveExecutable(executable, path: environment["PATH"]) else { return 127 }
        let result = try Subprocess.run(resolved, Array(command.dropFirst()), environment: environment, inheritEnvironment: false,
                                        workingDirectory: workingDirectory, timeoutSeconds: timeoutSeconds)
        return result.timedOut ? nil : result.status
    }

    public func stats(id: String) throws -> ResourceUsage {
        guard let pid = livePid(id) else { return ResourceUsage(cpuNanoseconds: 0, memoryBytes: 0) }
        return Self.processUsage(pid)
    }

    /// CPU time and resident memory of one process from /proc.
    public static func processUsage(_ pid: pid_t) -> ResourceUsage {
        var cpu: UInt64 = 0
        if let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // Fields after the name start at "state" (field 3): utime is field 14, stime 15.
            if fields.count > 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) {
                let ticks = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
                cpu = (user + system) * 1_000_000_000 / ticks
            }
        }
        var memory: UInt64 = 0
        if let status = readText("/proc/\(pid)/status") {
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                memory = (UInt64(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
            }
        }
        return ResourceUsage(cpuNanoseconds: cpu, memoryBytes: memory)
    }
}
