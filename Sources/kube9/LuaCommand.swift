import ArgumentParser
import CEditLine
import Foundation
import Kube9Client
import Kube9Lua
import Kube9Model
import Kube9Policy
import Logging

struct LuaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lua",
        abstract: "A Lua REPL (or script runner) with the kube9 module bound to a live server.",
        discussion: """
            Besides the policy API (docs/policies.md), the REPL's kube9 has:
              kube9.get(resource, name [, namespace])   one object, or nil and the error
              kube9.list(resource [, namespace])        a list of objects (all namespaces when omitted)
              kube9.view.pod(pod), kube9.view.node(node) the views scheduler hooks receive (live pods)
            REPL commands:
              :load FILE [SLOT]          load a policy file (slot from its folder when omitted)
              :call SLOT.HOOK ARGS       call a hook of the loaded policy with Lua expressions as arguments
                                         (:call scheduler.schedule POD, NODES runs a whole scheduling cycle)
              :help, :quit
            Running a FILE instead runs it once and exits 1 on error.
            """)

    @Argument(help: "A Lua file to run instead of the REPL.")
    var file: String?

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        var logger = Logger(label: "kube9.lua")
        logger.logLevel = .warning
        let session = try LuaSession(serverURL: try? connection.serverURL(), logger: logger)
        if let file {
            guard let source = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read \(file)")
            }
            do {
                for value in try session.state.run(source, chunkName: file, limits: LuaCallLimits(instructions: 0, timeoutSeconds: 0)) {
                    print(LuaPrinter.format(value))
                }
            } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        session.repl()
    }
}

/// The REPL's state: one Lua state with the live kube9 module, and the policies loaded with :load.
final class LuaSession {
    let state: LuaState
    let serverURL: String?
    let logger: Logger
    var loaded: [PolicySlot: LoadedPolicy] = [:]
    var lineNumber = 0
    /// `print` in the REPL, in scripts and in policies loaded with :load writes to stdout.
    static let console = PDK.PrintTarget.console { line in print(line) }

    init(serverURL: String?, logger: Logger) throws {
        self.serverURL = serverURL
        self.logger = logger
        state = try LuaState(memoryLimit: 512 * 1024 * 1024)
        let connection = try serverURL.map { try HTTPConnection(baseURL: $0) }
        try PDK.install(into: state, policy: "repl", logger: logger, printTarget: LuaSession.console) { library in
            library.function("get") { arguments throws(LuaError) in
                guard let resource = arguments.first?.stringValue, let name = arguments.dropFirst().first?.stringValue else {
                    throw LuaError(kind: .value, message: "usage: kube9.get(resource, name [, namespace])")
                }
                let namespace = arguments.dropFirst(2).first?.stringValue
                return try LuaSession.fetch(connection, resource: resource, namespace: namespace ?? "default", name: name)
            }
            library.function("list") { arguments throws(LuaError) in
                guard let resource = arguments.first?.stringValue else { throw LuaError(kind: .value, message: "usage: kube9.list(resource [, namespace])") }
                let result = try LuaSession.fetch(connection, resource: resource, namespace: arguments.dropFirst().first?.stringValue, name: nil)
                guard case .map(let list)? = result.first else { return result }
                return [list["items"] ?? .array([])]
            }
            library.function("view.pod") { arguments throws(LuaError) in
                guard let pod = arguments.first else { throw LuaError(kind: .value, message: "usage: kube9.view.pod(pod)") }
                return [SchedulerViews.pod(pod.json)]
            }
            library.function("view.node") { arguments throws(LuaError) in
                guard let node = arguments.first, let name = node["metadata"]?["name"]?.stringValue else {
                    throw LuaError(kind: .value, message: "usage: kube9.view.node(node)")
                }
                let pods = try LuaSession.fetch(connection, resource: "pods", namespace: nil, name: nil, fieldSelector: "spec.nodeName=\(name)")
                let items = pods.first?["items"].map { value -> [JSON] in
                    if case .array(let elements) = value { return elements.map(\.json) }
                    return []
                } ?? []
                return [SchedulerViews.node(node.json, boundPods: items)]
            }
        }
    }

    /// GETs one object or a list through the API; HTTP errors come back as nil, message.
    static func fetch(_ connection: HTTPConnection?, resource: String, namespace: String?, name: String?, fieldSelector: String? = nil) throws(LuaError) -> [LuaValue] {
        guard let connection else { throw LuaError(kind: .value, message: "not connected to a server (no kubeconfig; pass --server)") }
        guard let strategy = ResourceCatalog.builtin.strategies.first(where: { strategy in
            let type = strategy.type
            return [type.resource, type.singular, type.kind.lowercased()].contains(resource.lowercased()) || type.shortNames.contains(resource)
        }) else {
            throw LuaError(kind: .value, message: "unknown resource \"\(resource)\"")
        }
        let type = strategy.type
        var path = type.groupVersionPath
        if type.namespaced, let namespace { path += "/namespaces/\(namespace)" }
        path += "/\(type.resource)"
        if let name { path += "/\(name)" }
        if let fieldSelector { path += "?fieldSelector=" + fieldSelector.replacingOccurrences(of: "=", with: "%3D") }
        do {
            let reply = try connection.request("GET", path)
            let json = try reply.json()
            guard reply.status == 200 else { return [.nil, .string(json["message"]?.stringValue ?? reply.text)] }
            return [LuaValue(json: json)]
        } catch {
            return [.nil, .string("\(error)")]
        }
    }

    var historyPath: String { (defaultDataDirectory() as NSString).appendingPathComponent("lua_history") }

    func repl() {
        try? FileManager.default.createDirectory(atPath: defaultDataDirectory(), withIntermediateDirectories: true)
        using_history()
        _ = read_history(historyPath)
        print("kube9 lua (Lua 5.4, kube9 api \(PDK.apiLevel))" + (serverURL.map { " connected to \($0)" } ?? " (no server)") + "; :help for commands")
        while let pointer = readline("kube9> ") {
            let line = String(cString: pointer)
            free(pointer)
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty { continue }
            add_history(line)
            _ = write_history(historyPath)
            if trimmed == ":quit" || trimmed == ":q" { break }
            evaluate(trimmed)
        }
        print("")
    }

    func evaluate(_ line: String) {
        lineNumber += 1
        if line.hasPrefix(":") {
            command(line)
            return
        }
        let limits = LuaCallLimits(instructions: 0, timeoutSeconds: 0)
        do {
            // As lua.c does: try it as an expression first, then as a statement.
            let results: [LuaValue]
            if let values = try? state.run("return " + line, chunkName: "stdin", limits: limits) {
                results = values
            } else {
                results = try state.run(line, chunkName: "stdin", limits: limits)
            }
            for value in results { print(LuaPrinter.format(value)) }
        } catch {
            print(error.description)
        }
    }

    func command(_ line: String) {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        switch parts[0] {
        case ":help":
            print(LuaCommand.configuration.discussion)
        case ":load":
            guard parts.count == 2 else { print("usage: :load FILE [SLOT]"); return }
            let words = parts[1].split(separator: " ").map(String.init)
            let path = words[0]
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
            guard let slot = PolicySlot(rawValue: words.count > 1 ? words[1] : folder) else {
                print("name the slot: :load FILE SLOT (one of \(PolicySlot.allCases.map(\.rawValue).joined(separator: ", ")))")
                return
            }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { print("cannot read \(path)"); return }
            do {
                let policy = try LoadedPolicy(PolicySource(slot: slot, name: PolicyHost.policyName(forFile: path), source: text, chunkName: path),
                                              logger: logger, printTarget: LuaSession.console)
                loaded[slot] = policy
                print("loaded \(policy.declaredName) into \(slot.rawValue) (hooks: \(policy.hooks.sorted().joined(separator: ", ")))")
            } catch {
                print(error.location.map { "\($0): \(error.message)" } ?? error.message)
            }
        case ":call":
            guard parts.count == 2, let dot = parts[1].firstIndex(of: ".") else { print("usage: :call SLOT.HOOK ARGS"); return }
            let target = parts[1].split(separator: " ", maxSplits: 1).map(String.init)
            let slotName = String(target[0][..<dot])
            let hook = String(target[0][target[0].index(after: dot)...])
            guard let slot = PolicySlot(rawValue: slotName), let policy = loaded[slot] else {
                print("no policy loaded for slot \(slotName): use :load FILE first")
                return
            }
            do {
                let arguments = target.count > 1 ? try state.run("return " + target[1], chunkName: "stdin", limits: .unlimited) : []
                if hook == "schedule", slot == .scheduler {
                    guard arguments.count == 2, case .array(let nodes) = arguments[1] else { print("usage: :call scheduler.schedule POD, {NODE...}"); return }
                    let decision = try SchedulerCycle.run(policy, pod: arguments[0], nodes: nodes)
                    print(LuaPrinter.format(decision.value))
                    if decision.node == nil { print(decision.summary) }
                } else {
                    for value in try policy.call(hook, arguments) { print(LuaPrinter.format(value)) }
                }
            } catch let error as LuaError {
                print(error.description)
            } catch let error as PolicyError {
                print(error.location.map { "\($0): \(error.message)" } ?? error.message)
            } catch {
                print("\(error)")
            }
        default:
            print("unknown command \(parts[0]); :help lists them")
        }
    }
}

/// Pretty-prints Lua values as Lua table constructors with sorted keys.
enum LuaPrinter {
    static func format(_ value: LuaValue, indent: String = "") -> String {
        switch value {
        case .nil: return "nil"
        case .bool(let flag): return flag ? "true" : "false"
        case .integer(let number): return String(number)
        case .number(let number): return number.rounded() == number && abs(number) < 1e15 ? String(format: "%.1f", number) : String(number)
        case .string(let text): return JSON.string(text).text
        case .opaque(let name): return "<\(name)>"
        case .array(let elements):
            if elements.isEmpty { return "{}" }
            let inner = indent + "  "
            return "{\n" + elements.map { inner + format($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)}"
        case .map(let members):
            if members.isEmpty { return "{}" }
            let inner = indent + "  "
            return "{\n" + members.keys.sorted().map { key in
                let shownKey = key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } && !(key.first?.isNumber ?? true) ? key : "[\(JSON.string(key).text)]"
                return inner + shownKey + " = " + format(members[key] ?? .nil, indent: inner)
            }.joined(separator: ",\n") + "\n\(indent)}"
        }
    }
}
