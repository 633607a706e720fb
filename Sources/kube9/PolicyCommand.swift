import ArgumentParser
import Foundation
import Kube9Client
import Kube9Model
import Kube9Policy
import Logging

/// How a client command finds the server: --server, else the kubeconfig's server.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Kubeconfig to read the server address from (default: $KUBECONFIG, else ~/.kube9/kubeconfig).")
    var kubeconfig: String?

    @Option(help: "The API server URL, e.g. http://127.0.0.1:6443 (overrides the kubeconfig).")
    var server: String?

    func serverURL() throws -> String {
        if let server { return server }
        let path = kubeconfig ?? ProcessInfo.processInfo.environment["KUBECONFIG"].flatMap { $0.split(separator: ":").first.map(String.init) }
            ?? (defaultDataDirectory() as NSString).appendingPathComponent("kubeconfig")
        do {
            return try Kube9Client.serverURL(kubeconfigPath: path)
        } catch {
            throw ValidationError("\(error); start a server (./scripts/up) or pass --server")
        }
    }

    func connection() throws -> HTTPConnection { try HTTPConnection(baseURL: try serverURL()) }
}

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Install, list and test Lua policies.",
        subcommands: [PolicyApply.self, PolicyList.self, PolicyTest.self])
}

struct PolicyApply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Install a Lua file as a Policy object (created, or replaced when it exists).",
        discussion: "The server compiles it first: a file that fails is refused with file:line and the previous version keeps serving.")

    @Argument(help: "The Lua file.")
    var file: String

    @Option(help: "The slot: scheduler, loadbalancer, autoscaler, node-autoscaler, admission, authorizer, crd.")
    var slot: String

    @Option(help: "The policy name within the slot (default: the file name, '_' as '-').")
    var name: String?

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard PolicySlot(rawValue: slot) != nil else {
            throw ValidationError("--slot must be one of \(PolicySlot.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let source: String
        do {
            source = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        let policyName = name ?? PolicyHost.policyName(forFile: file)
        let objectName = "\(slot).\(policyName)"
        let http = try connection.connection()
        let path = "/apis/kube9.io/v1/policies/\(objectName)"
        let existing = try http.request("GET", path)
        var object: JSON = [
            "apiVersion": "kube9.io/v1", "kind": "Policy",
            "metadata": ["name": .string(objectName), "annotations": ["kube9.io/source-file": .string(file)]],
            "spec": ["slot": .string(slot), "source": .string(source)],
        ]
        let reply: HTTPReply
        if existing.status == 200 {
            var current = try existing.json()
            current["spec"] = object["spec"]
            current[path: ["metadata", "annotations", "kube9.io/source-file"]] = .string(file)
            object = current
            reply = try http.request("PUT", path, body: object.serialized())
        } else {
            reply = try http.request("POST", "/apis/kube9.io/v1/policies", body: object.serialized())
        }
        guard (200..<300).contains(reply.status) else {
            let status = try? reply.json()
            let causes = status?[path: ["details", "causes"]]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
            FileHandle.standardError.write(Data("error: policy \(objectName) refused: \(causes.first ?? status?["message"]?.stringValue ?? reply.text)\n".utf8))
            throw ExitCode(1)
        }
        let generation = (try? reply.json())?[path: ["metadata", "generation"]]?.intValue ?? 0
        print("policy/\(objectName) \(existing.status == 200 ? "configured" : "created") (version \(generation))")
    }
}

struct PolicyList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show installed policies with their call statistics.")

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let reply = try connection.connection().request("GET", "/kube9/v1/policies")
        guard reply.status == 200, let items = try reply.json()["items"]?.arrayValue else {
            throw ValidationError("the server answered \(reply.status): \(reply.text)")
        }
        var rows = [["SLOT", "NAME", "VERSION", "ORIGIN", "CALLS", "ERRORS", "KILLS", "P99", "BUDGET"]]
        for item in items {
            let p99 = item["p99Microseconds"].map { value -> String in
                let micros = value.intValue.map(Double.init) ?? (value == .null ? 0 : Double(value.text) ?? 0)
                return micros >= 1000 ? String(format: "%.1fms", micros / 1000) : String(format: "%.0fµs", micros)
            } ?? "-"
            let budget = "\(item[path: ["budget", "instructions"]]?.intValue ?? 0) instr/\(item[path: ["budget", "timeoutMilliseconds"]]?.intValue ?? 0)ms"
            rows.append([item["slot"]?.stringValue ?? "", item["name"]?.stringValue ?? "", String(item["version"]?.intValue ?? 0),
                         item["origin"]?.stringValue ?? "", String(item["calls"]?.intValue ?? 0), String(item["errors"]?.intValue ?? 0),
                         String(item["kills"]?.intValue ?? 0), p99, budget])
        }
        printTable(rows)
    }
}

/// Prints rows as columns separated by three spaces, like kubectl.
func printTable(_ rows: [[String]]) {
    guard let first = rows.first else { return }
    var widths = Array(repeating: 0, count: first.count)
    for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    for row in rows {
        let line = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
        }.joined()
        print(line)
    }
}

struct PolicyTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run every policy's testdata cases (input JSON → expected decision JSON).",
        discussion: "Prints a PASS or FAIL line per case and a closing 'N passed, N failed' line; exits 1 on any failure.")

    @Argument(help: "A policies directory laid out as <slot>/<name>.lua with <slot>/testdata/<name>/.")
    var directory: String = "policies"

    func run() throws {
        var logger = Logger(label: "kube9.policy.test")
        logger.logLevel = .error
        let results = PolicyTestRunner.run(directory: directory, logger: logger)
        for result in results {
            print("\(result.passed ? "PASS" : "FAIL") \(result.policy): \(result.name)" + (result.passed ? "" : " — \(result.detail)"))
        }
        let failed = results.filter { !$0.passed }.count
        print("\(results.count - failed) passed, \(failed) failed")
        if failed > 0 || results.isEmpty { throw ExitCode(1) }
    }
}
