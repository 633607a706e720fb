import Foundation
import Kube9Lua
import Kube9Model
import Logging

/// Runs policy test cases kept as data: for `policies/<slot>/<name>.lua`, each
/// `policies/<slot>/testdata/<name>/<case>.input.json` is run and its result compared with
/// `<case>.expected.json`.
///
/// An input is `{"hook": "score", "args": [...]}` (one hook call) or, for schedulers,
/// `{"schedule": {"pod": {...}, "nodes": [...]}}` (a whole cycle, see `SchedulerCycle`).
/// An expected file is `{"results": [...]}` for a hook, `{"node": "n2", "reasons": {...}}`
/// for a cycle (only the keys present are compared), or `{"error": "text it contains"}`.
public enum PolicyTestRunner {
    /// One case's outcome.
    public struct CaseResult: Sendable {
        public var policy: String
        public var name: String
        public var passed: Bool
        /// What differed, for a failure.
        public var detail: String
    }

    /// Runs every case under `directory`; policies without testdata are reported as failures
    /// (every built-in must ship cases).
    public static func run(directory: String, logger: Logger = Logger(label: "kube9.policy.test")) -> [CaseResult] {
        var results: [CaseResult] = []
        for (slot, path) in PolicyHost.policyFiles(in: directory) {
            let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let label = "\(slot.rawValue)/\(stem)"
            let casesFolder = ((directory as NSString).appendingPathComponent(slot.rawValue) as NSString)
                .appendingPathComponent("testdata/\(stem)")
            let inputs = ((try? FileManager.default.contentsOfDirectory(atPath: casesFolder)) ?? [])
                .filter { $0.hasSuffix(".input.json") }.sorted()
            guard !inputs.isEmpty else {
                results.append(CaseResult(policy: label, name: "(testdata)", passed: false, detail: "no test cases in \(casesFolder)"))
                continue
            }
            let loaded: LoadedPolicy
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                loaded = try LoadedPolicy(PolicySource(slot: slot, name: PolicyHost.policyName(forFile: path), source: text, chunkName: path), logger: logger)
            } catch {
                results.append(CaseResult(policy: label, name: "(load)", passed: false, detail: "\(error)"))
                continue
            }
            for input in inputs {
                let caseName = String(input.dropLast(".input.json".count))
                let inputPath = (casesFolder as NSString).appendingPathComponent(input)
                let expectedPath = (casesFolder as NSString).appendingPathComponent(caseName + ".expected.json")
                results.append(runCase(loaded, label: label, name: caseName, inputPath: inputPath, expectedPath: expectedPath))
            }
        }
        return results
    }

    static func runCase(_ policy: LoadedPolicy, label: String, name: String, inputPath: String, expectedPath: String) -> CaseResult {
        func fail(_ detail: String) -> CaseResult { CaseResult(policy: label, name: name, passed: false, detail: detail) }
        let input: JSON
        let expected: JSON
        do {
            input = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: inputPath))))
            expected = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: expectedPath))))
        } catch {
            return fail("cannot read the case files: \(error)")
        }
        let actual: JSON
        do {
            if let schedule = input["schedule"] {
                guard policy.source.slot == .scheduler else { return fail("\"schedule\" cases are for scheduler policies") }
                let nodes = schedule["nodes"]?.arrayValue?.map(LuaValue.init(json:)) ?? []
                actual = try SchedulerCycle.run(policy, pod: LuaValue(json: schedule["pod"] ?? .emptyObject), nodes: nodes).value.json
            } else if let hook = input["hook"]?.stringValue {
                let arguments = (input["args"]?.arrayValue ?? []).map(LuaValue.init(json:))
                actual = ["results": .array(try policy.call(hook, arguments).map(\.json))]
            } else {
                return fail("the input needs \"hook\" and \"args\", or \"schedule\"")
            }
        } catch {
            if let text = expected["error"]?.stringValue {
                return "\(error)".contains(text) ? CaseResult(policy: label, name: name, passed: true, detail: "")
                    : fail("expected an error containing \"\(text)\", got: \(error)")
            }
            return fail("the call failed: \(error)")
        }
        if let text = expected["error"]?.stringValue { return fail("expected an error containing \"\(text)\", got \(actual.text)") }
        for (key, want) in expected.objectValue ?? [:] where !(actual[key] ?? .null).isEquivalent(to: want) {
            return fail("\(key): expected \(want.text), got \((actual[key] ?? .null).text)")
        }
        return CaseResult(policy: label, name: name, passed: true, detail: "")
    }
}
