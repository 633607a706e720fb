import Foundation
@testable import Kube9Agent
import Kube9Model
import Kube9Testing
import Testing

@testable import Kube9Runtime

@Suite struct RuntimeUnitTests {
    @Test func lastLinesKeepsTheTail() {
        let text = Array("a\nb\nc\n".utf8)
        #expect(String(decoding: lastLines(text, 2), as: UTF8.self) == "b\nc\n")
        #expect(String(decoding: lastLines(text, 0), as: UTF8.self) == "")
        #expect(String(decoding: lastLines(text, 10), as: UTF8.self) == "a\nb\nc\n")
        #expect(String(decoding: lastLines(text, nil), as: UTF8.self) == "a\nb\nc\n")
        #expect(String(decoding: lastLines(Array("x\ny".utf8), 1), as: UTF8.self) == "y")
    }

    @Test func dockerStreamsAreDemultiplexedAcrossChunks() {
        let demultiplexer = StreamDemultiplexer()
        let frame: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 3] + Array("abc".utf8) + [2, 0, 0, 0, 0, 0, 0, 2] + Array("de".utf8)
        var payloads: [[UInt8]] = []
        frame[..<5].withUnsafeBytes { payloads += demultiplexer.feed($0) }
        #expect(payloads.isEmpty)
        frame[5...].withUnsafeBytes { payloads += demultiplexer.feed($0) }
        #expect(payloads.map { String(decoding: $0, as: UTF8.self) } == ["abc", "de"])
    }

    @Test func tarArchivesAreReadByTar() throws {
        var archive = TarArchive()
        try archive.addFile("/usr/local/bin/tool", contents: Array("#!/bin/sh\necho hi\n".utf8))
        try archive.addSymlink("/bin/sh", target: "busybox")
        let long = "/" + String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 60)
        try archive.addFile(long, contents: [1, 2, 3], mode: 0o644)
        let path = NSTemporaryDirectory() + "kube9-tar-\(UUID().uuidString).tar"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(archive.finished()).write(to: URL(fileURLWithPath: path))
        let listing = try Subprocess.run("/bin/tar", ["-tvf", path])
        #expect(listing.status == 0, "\(listing.stderr)")
        #expect(listing.stdout.contains("usr/local/bin/tool"))
        #expect(listing.stdout.contains("bin/sh -> busybox"))
        #expect(listing.stdout.contains(String(repeating: "f", count: 60)))
    }

    @Test func containerSpecsComeFromThePodSpec() throws {
        let container = try JSON.parse(Array(#"""
            {"name":"web","image":"busybox","command":["/bin/busybox"],"args":["httpd","-f"],"env":[{"name":"A","value":"1"}],
             "workingDir":"/tmp","resources":{"limits":{"cpu":"500m","memory":"64Mi"}}}
            """#.utf8))
        let spec = PodSpecs.containerSpec(container, attempt: 2, environment: [("A", "1")])
        #expect(spec.commandLine == ["/bin/busybox", "httpd", "-f"])
        #expect(spec.nanoCPUs == 500_000_000)
        #expect(spec.memoryBytes == Int64(67_108_864))
        #expect(spec.environment.map(\.name) == ["A"])
        #expect(spec.workingDirectory == "/tmp")
        #expect(spec.attempt == 2)
    }

    @Test func probesTakeKubernetesDefaultsAndNamedPorts() throws {
        let container = try JSON.parse(Array(#"""
            {"name":"web","ports":[{"name":"http","containerPort":8080}],
             "livenessProbe":{"httpGet":{"path":"/healthz","port":"http"}},
             "readinessProbe":{"tcpSocket":{"port":9090},"periodSeconds":2,"failureThreshold":1},
             "startupProbe":{"exec":{"command":["true"]}}}
            """#.utf8))
        let liveness = try #require(ProbeSpec.parse(container["livenessProbe"], container: container))
        #expect(liveness.action == .httpGet(path: "/healthz", port: 8080, scheme: "http", host: nil))
        #expect(liveness.periodSeconds == 10 && liveness.timeoutSeconds == 1 && liveness.failureThreshold == 3)
        let readiness = try #require(ProbeSpec.parse(container["readinessProbe"], container: container))
        #expect(readiness.action == .tcpSocket(port: 9090, host: nil))
        #expect(readiness.periodSeconds == 2 && readiness.failureThreshold == 1)
        #expect(ProbeSpec.parse(container["startupProbe"], container: container)?.action == .exec(command: ["true"]))
        #expect(ProbeSpec.parse(nil, container: container) == nil)
    }

    @Test func tcpProbeFailsOnAClosedPort() {
        #expect(!ProbeRunner.tcpConnects(host: "127.0.0.1", port: 1, timeoutSeconds: 1))
        #expect(!ProbeRunner.tcpConnects(host: "not-an-ip", port: 80, timeoutSeconds: 1))
    }
}

/// kube9-shim next to the kube9 binary under test.
func shimPath() -> String { (kube9BinaryPath() as NSString).deletingLastPathComponent + "/kube9-shim" }

/// The process runtime with the real shim (built with the release binary).
@Suite(.serialized) struct ProcessRuntimeTests {
    func makeRuntime() throws -> (ProcessRuntime, String) {
        let root = NSTemporaryDirectory() + "kube9-proc-\(UUID().uuidString)"
        return (try ProcessRuntime(root: root, shimExecutable: shimPath()), root)
    }

    let pod = PodIdentity(uid: "0123456789abcdef", namespace: "default", name: "p", node: "n1")

    @Test func runsLogsStopsAndIsAdoptedByANewInstance() throws {
        let (runtime, root) = try makeRuntime()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sandbox = try runtime.runSandbox(pod, spec: .emptyObject)
        #expect(sandbox.ipAddress == "127.0.0.1")
        let spec = ContainerSpec(name: "c", image: "none", command: ["/bin/sh", "-c", "echo one; echo two; echo $GREETING; exec sleep 30"],
                                 environment: [("GREETING", "hello")])
        let id = try runtime.createContainer(spec, pod: pod, sandbox: sandbox)
        #expect(try runtime.inspectContainer(id: id).state == .created)
        try runtime.startContainer(id: id)
        var output = ""
        for _ in 0..<100 where !output.contains("hello") {
            output = ""
            try runtime.logs(id: id, tailLines: nil, follow: false) { output += String(decoding: $0, as: UTF8.self); return true }
            usleep(20_000)
        }
        #expect(output == "one\ntwo\nhello\n")
        var tail = ""
        try runtime.logs(id: id, tailLines: 1, follow: false) { tail += String(decoding: $0, as: UTF8.self); return true }
        #expect(tail == "hello\n")
        // A new instance (a restarted agent) sees the same containers, running.
        let again = try ProcessRuntime(root: root, shimExecutable: shimPath())
        let listed = try again.listContainers(node: "n1")
        #expect(listed.count == 2)
        #expect(listed.first { $0.id == id }?.state == .running)
        #expect(listed.first { $0.id == id }?.attempt == 0)
        #expect(try again.exec(id: id, command: ["/bin/sh", "-c", "test \"$GREETING\" = hello"], timeoutSeconds: 5) == 0)
        #expect(try again.exec(id: id, command: ["/bin/false"], timeoutSeconds: 5) == 1)
        let started = Date()
        try again.stopContainer(id: id, gracePeriodSeconds: 5)
        #expect(Date().timeIntervalSince(started) < 4, "sleep dies on SIGTERM at once")
        let stopped = try again.inspectContainer(id: id)
        #expect(stopped.state == .exited)
        #expect(stopped.exitCode == 143)
        let shim = pid_t((try? String(contentsOfFile: root + "/\(id)/shim.pid", encoding: .utf8)) ?? "") ?? 0
        #expect(shim > 0)
        try again.removeContainer(id: id)
        #expect(try again.listContainers(node: "n1").count == 1)
        // The shim was reaped, not left a zombie of this process (a bug found by watching ps).
        #expect(kill(shim, 0) != 0)
    }

    @Test func exitCodesAndMissingExecutables() throws {
        let (runtime, root) = try makeRuntime()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sandbox = try runtime.runSandbox(pod, spec: .emptyObject)
        let id = try runtime.createContainer(ContainerSpec(name: "c", image: "x", command: ["/bin/sh", "-c", "exit 3"]), pod: pod, sandbox: sandbox)
        try runtime.startContainer(id: id)
        #expect(try runtime.waitContainer(id: id, timeoutSeconds: 5) == 3)
        #expect(try runtime.inspectContainer(id: id).reason == "Error")
        #expect(throws: RuntimeError.self) {
            _ = try runtime.createContainer(ContainerSpec(name: "d", image: "x", command: ["no-such-program-kube9"]), pod: pod, sandbox: sandbox)
        }
        #expect(throws: RuntimeError.self) {
            _ = try runtime.createContainer(ContainerSpec(name: "e", image: "x"), pod: pod, sandbox: sandbox)
        }
    }

    /// Between the command's end and the shim writing DIR/exit, the container is not "exited
    /// 137" (a flake CI caught: waitContainer returned 137 for `exit 3`).
    @Test func anExitBeingRecordedIsNotAKill() throws {
        let (runtime, root) = try makeRuntime()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sandbox = try runtime.runSandbox(pod, spec: .emptyObject)
        let id = try runtime.createContainer(ContainerSpec(name: "c", image: "x", command: ["/bin/true"]), pod: pod, sandbox: sandbox)
        let dir = root + "/" + id
        // The command's pid is gone (pid 2^22-1 is above pid_max's default); the shim (here: this process) lives.
        try Data("4194303".utf8).write(to: URL(fileURLWithPath: dir + "/pid"))
        try Data(String(getpid()).utf8).write(to: URL(fileURLWithPath: dir + "/shim.pid"))
        #expect(try runtime.inspectContainer(id: id).state == .running)
        // Then the exit code appears.
        try Data("3 2026-11-27T12:00:00Z".utf8).write(to: URL(fileURLWithPath: dir + "/exit"))
        let exited = try runtime.inspectContainer(id: id)
        #expect(exited.state == .exited && exited.exitCode == 3 && exited.finishedAt == "2026-11-27T12:00:00Z")
        // A shim that died without recording anything: the container is gone, 137.
        try FileManager.default.removeItem(atPath: dir + "/exit")
        try Data("4194302".utf8).write(to: URL(fileURLWithPath: dir + "/shim.pid"))
        let killed = try runtime.inspectContainer(id: id)
        #expect(killed.state == .exited && killed.exitCode == 137)
    }

    @Test func stopEscalatesToSigkillAfterTheGracePeriod() throws {
        let (runtime, root) = try makeRuntime()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sandbox = try runtime.runSandbox(pod, spec: .emptyObject)
        let id = try runtime.createContainer(ContainerSpec(name: "c", image: "x", command: ["/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]),
                                             pod: pod, sandbox: sandbox)
        try runtime.startContainer(id: id)
        usleep(200_000)
        let started = Date()
        try runtime.stopContainer(id: id, gracePeriodSeconds: 1)
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.9 && elapsed < 5)
        #expect(try runtime.inspectContainer(id: id).exitCode == 137)
    }
}

@Suite("pod volume paths")
struct PodVolumePathTests {
    @Test("a subPath symlink that leads outside its volume is refused; inside links and missing directories are fine")
    func subPathStaysInside() throws {
        let root = NSTemporaryDirectory() + "kube9-subpath-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/inside", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/escape", withDestinationPath: "/")
        try FileManager.default.createSymbolicLink(atPath: root + "/nested", withDestinationPath: "inside")
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(throws: PodEnvironment.Problem.self) { _ = try PodVolumes.resolveInside(root, "escape") }
        #expect(throws: PodEnvironment.Problem.self) { _ = try PodVolumes.resolveInside(root, "escape/etc") }
        let real = try #require(PodVolumes.realPath(root))
        #expect(try PodVolumes.resolveInside(root, "nested") == real + "/inside")
        #expect(try PodVolumes.resolveInside(root, "new/dir") == real + "/new/dir")
        #expect(FileManager.default.fileExists(atPath: root + "/new/dir"))
    }
}
