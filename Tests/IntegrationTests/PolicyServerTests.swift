import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

func repositoryPath(_ relative: String, file: String = #filePath) -> String {
    var url = URL(fileURLWithPath: file)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            return url.appendingPathComponent(relative).path
        }
    }
    return relative
}

/// Policies through the real server and CLI (K2 acceptance 2–4 at the process level).
@Suite("policies through the server")
struct PolicyServerTests {
    func kube9(_ server: ServerProcess, _ arguments: String...) throws -> CommandResult {
        try runCommand(kube9BinaryPath(), arguments + ["--kubeconfig", server.kubeconfigPath])
    }

    @Test("built-ins load at start; kube9 policy apply swaps; a broken file is refused with file:line and the old version serves")
    func applyAndRefuse() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let listed = try kube9(server, "policy", "list")
        let rows = listed.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.contains { $0.count > 1 && $0[0] == "scheduler" && $0[1] == "best-fit" }, "\(listed.stdout)\(listed.stderr)")
        #expect(rows.contains { $0.count > 1 && $0[0] == "loadbalancer" && $0[1] == "round-robin" }, "\(listed.stdout)")
        let applied = try kube9(server, "policy", "apply", repositoryPath("policies/scheduler/worst_fit.lua"), "--slot", "scheduler", "--name", "default")
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout == "policy/scheduler.default created (version 1)\n")
        let client = server.client()
        let arguments: JSON = [["name": "p", "requests": ["cpu": 2]], ["name": "n", "free": ["cpu": 3]]]
        let scored = try await client.request("POST", "/kube9/v1/policies/scheduler/default/score", json: arguments)
        #expect(try scored.json()["results"] == [50], "worst_fit: 100 * left / (1 + left) with 1 core left")
        let broken = server.dataDirectory + "/broken.lua"
        try "return {\n  name = 'x',\n  api = 1,\n  filter = function() return true end\n  score = function() return 1 end,\n}\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let refused = try kube9(server, "policy", "apply", broken, "--slot", "scheduler", "--name", "default")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(broken):5:"), "\(refused.stderr)")
        let still = try await client.request("POST", "/kube9/v1/policies/scheduler/default/score", json: arguments)
        #expect(try still.json()["results"] == [50], "the previous version keeps serving")
        let stats = try kube9(server, "policy", "list")
        let row = stats.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .first { $0.count > 1 && $0[0] == "scheduler" && $0[1] == "default" } ?? []
        #expect(row.count >= 7 && row[2] == "1" && row[3] == "object" && row[4] == "2", "\(stats.stdout)")
    }

    @Test("kubectl apply of a Policy object; a bad api level is a 422 naming spec.source; delete reverts to nothing")
    func kubectlPolicyObjects() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let manifest = """
            apiVersion: kube9.io/v1
            kind: Policy
            metadata:
              name: scheduler.constant
            spec:
              slot: scheduler
              source: |
                return { name = "constant", api = 1,
                  filter = function() return true end,
                  score = function() return 42 end }

            """
        let path = server.dataDirectory + "/policy.yaml"
        try manifest.write(toFile: path, atomically: true, encoding: .utf8)
        let applied = try server.kubectl("apply", "-f", path)
        #expect(applied.stdout == "policy.kube9.io/scheduler.constant created\n", "\(applied.stderr)")
        var scored = JSON.null
        for _ in 0..<50 {
            let reply = try await server.client().request("POST", "/kube9/v1/policies/scheduler/constant/score", json: [[:], [:]])
            if reply.status == 200 { scored = try reply.json(); break }
            usleep(20_000)
        }
        #expect(scored["results"] == [42])
        try manifest.replacingOccurrences(of: "api = 1", with: "api = 7").write(toFile: path, atomically: true, encoding: .utf8)
        let refused = try server.kubectl("apply", "-f", path)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("spec.source") && refused.stderr.contains("api = 7"), "\(refused.stderr)")
        let table = try server.kubectl("get", "policies")
        #expect(table.stdout.contains("scheduler.constant   scheduler   1"), "\(table.stdout)")
        _ = try server.kubectl("delete", "policy", "scheduler.constant")
        var gone = false
        for _ in 0..<50 {
            if try await server.client().request("POST", "/kube9/v1/policies/scheduler/constant/score", json: [[:], [:]]).status == 404 { gone = true; break }
            usleep(20_000)
        }
        #expect(gone)
    }

    @Test("kube9 policy test passes on the shipped policies and fails, naming the case, on an edited expectation")
    func policyTestCommand() throws {
        let passing = try runCommand(kube9BinaryPath(), ["policy", "test", repositoryPath("policies")])
        #expect(passing.status == 0, "\(passing.stdout)")
        #expect(passing.stdout.hasSuffix("75 passed, 0 failed\n"), "\(passing.stdout.suffix(200))")
        let copy = NSTemporaryDirectory() + "kube9-policies-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: repositoryPath("policies"), toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try #"{"node": "a"}"#.write(toFile: copy + "/scheduler/testdata/worst_fit/four_eight_two.expected.json", atomically: true, encoding: .utf8)
        let failing = try runCommand(kube9BinaryPath(), ["policy", "test", copy])
        #expect(failing.status == 1)
        #expect(failing.stdout.contains("FAIL scheduler/worst_fit: four_eight_two — node: expected \"a\", got \"b\""), "\(failing.stdout)")
        #expect(failing.stdout.hasSuffix("74 passed, 1 failed\n"))
    }
}

/// K2 acceptance 3: the REPL driven through tmux like a person would.
@Suite("kube9 lua through tmux", .serialized)
struct LuaReplTests {
    func tmux(_ arguments: String...) throws -> CommandResult { try runCommand("/usr/bin/tmux", arguments) }

    func screen(_ session: String) throws -> String { try tmux("capture-pane", "-p", "-t", session, "-S", "-200").stdout }

    func shown(_ session: String) -> String { (try? screen(session)) ?? "" }

    func waitFor(_ session: String, _ text: String, count: Int = 1) throws -> Bool {
        for _ in 0..<100 {
            if try screen(session).components(separatedBy: text).count - 1 >= count { return true }
            usleep(50_000)
        }
        return false
    }

    @Test("kube9.list shows live pods; an error shows file:line and the prompt returns; up-arrow recalls history")
    func repl() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let pod: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "repl-pod"], "spec": ["containers": [["name": "c", "image": "busybox"]]]]
        #expect(try await server.client().request("POST", "/api/v1/namespaces/default/pods", json: pod).status == 201)
        let session = "kube9-repl-\(UUID().uuidString.prefix(8))"
        let command = "HOME=\(server.dataDirectory) \(kube9BinaryPath()) lua --kubeconfig \(server.kubeconfigPath)"
        let started = try tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", command)
        #expect(started.status == 0, "\(started.stderr)")
        defer { _ = try? tmux("kill-session", "-t", session) }
        #expect(try waitFor(session, "kube9>"))
        _ = try tmux("send-keys", "-t", session, "#kube9.list('pods')", "Enter")
        #expect(try waitFor(session, "\n1\n"), "\(shown(session))")
        _ = try tmux("send-keys", "-t", session, "kube9.list('pods')[1].metadata.name", "Enter")
        #expect(try waitFor(session, "\"repl-pod\""), "\(shown(session))")
        _ = try tmux("send-keys", "-t", session, "error('boom')", "Enter")
        #expect(try waitFor(session, "stdin:1: boom"), "\(shown(session))")
        #expect(try waitFor(session, "kube9>", count: 4), "the prompt returns after the error")
        _ = try tmux("send-keys", "-t", session, "Up", "Enter")
        #expect(try waitFor(session, "stdin:1: boom", count: 2), "up-arrow recalled the last line: \(shown(session))")
        _ = try tmux("send-keys", "-t", session, ":load \(repositoryPath("policies/scheduler/best_fit.lua"))", "Enter")
        #expect(try waitFor(session, "loaded best_fit into scheduler"), "\(shown(session))")
        _ = try tmux("send-keys", "-t", session, ":call scheduler.filter {requests={cpu=4}}, {name='n', ready=true, free={cpu=2, memory=1, pods=1}}", "Enter")
        #expect(try waitFor(session, "\"Insufficient cpu\""), "\(shown(session))")
    }

    @Test("kube9 lua FILE runs a script and exits 1 with file:line on error")
    func script() throws {
        let directory = NSTemporaryDirectory() + "kube9-lua-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "return 6 * 7".write(toFile: directory + "/ok.lua", atomically: true, encoding: .utf8)
        try "local x = 1\nerror('bad thing')".write(toFile: directory + "/bad.lua", atomically: true, encoding: .utf8)
        let ok = try runCommand(kube9BinaryPath(), ["lua", directory + "/ok.lua", "--server", "http://127.0.0.1:1"])
        #expect(ok.status == 0)
        #expect(ok.stdout == "42\n")
        let bad = try runCommand(kube9BinaryPath(), ["lua", directory + "/bad.lua", "--server", "http://127.0.0.1:1"])
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("\(directory)/bad.lua:2: bad thing"), "\(bad.stderr)")
    }
}
