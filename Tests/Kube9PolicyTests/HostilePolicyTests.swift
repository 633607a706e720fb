import Foundation
import Kube9Lua
import Kube9Model
import Kube9Policy
import Logging
import Synchronization
import Testing

/// K5: policies that attack the host rather than their own call. Every load and every call
/// ends within its limits, and the host's own Lua keeps working whatever a policy did to
/// its globals.
@Suite("hostile policies")
struct HostilePolicyTests {
    static let logger = Logger(label: "test")
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Kube9LuaTests/Hostile")
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
        .filter { $0.hasSuffix(".lua") }.sorted()

    /// The limits the hostile files announce their outcomes for (as in Kube9LuaTests).
    static let budget = PolicyBudget(instructions: 5_000_000, timeoutMilliseconds: 1000, memoryBytes: 32 << 20)

    func scheduler(_ text: String) -> PolicySource {
        PolicySource(slot: .scheduler, name: "default", source: text, chunkName: "hostile.lua", budget: Self.budget, origin: "object")
    }

    /// The outcome a hostile file announces on its first line.
    static func expectation(_ text: String) -> String {
        String((text.split(separator: "\n", maxSplits: 1).first ?? "").dropFirst("-- expect: ".count))
    }

    /// Whether `error` is the outcome `expectation` announces: a kill, or an error naming the text.
    static func matches(_ error: PolicyError?, _ expectation: String) -> Bool {
        guard let error else { return false }
        if expectation == "killed" { return error.kind == .killed }
        return error.kind != .killed && error.message.contains(String(expectation.dropFirst("error ".count)))
    }

    @Test("each hostile script as a top-level chunk is refused within 3 s, as its first line says", arguments: files)
    func topLevel(_ file: String) throws {
        let text = try String(contentsOf: Self.folder.appendingPathComponent(file), encoding: .utf8)
        let start = ContinuousClock.now
        var refusal: PolicyError?
        do { try PolicyHost(logger: Self.logger).check(scheduler(text)) } catch { refusal = error }
        #expect(Self.matches(refusal, Self.expectation(text)), "\(file): \(refusal.map { "\($0.kind): \($0)" } ?? "accepted")")
        #expect(ContinuousClock.now - start < .seconds(3), "\(file)")
    }

    @Test("each hostile script inside a hook is killed or fails when called, within 3 s", arguments: files)
    func insideHook(_ file: String) throws {
        let text = try String(contentsOf: Self.folder.appendingPathComponent(file), encoding: .utf8)
        let source = """
            return { name = "h", api = 1, filter = function() return true end,
              score = function()
            \(text)
              end }
            """
        let policy = try LoadedPolicy(scheduler(source), logger: Self.logger)
        let start = ContinuousClock.now
        var failure: PolicyError?
        do { _ = try policy.call("score", []) } catch { failure = error }
        #expect(Self.matches(failure, Self.expectation(text)), "\(file): \(failure.map { "\($0.kind): \($0)" } ?? "no error")")
        #expect(ContinuousClock.now - start < .seconds(3), "\(file)")
        // The same policy (a fresh or reused state) still loads and answers filter.
        #expect(try policy.call("filter", []) == [.bool(true)])
    }

    @Test("a policy that overwrites the globals the host uses changes nothing the host runs")
    func overwrittenGlobals() throws {
        let policy = try LoadedPolicy(scheduler("""
            local fits = kube9.scheduler.fits
            local function loop() while true do end end
            pairs, ipairs, next, type, error, tostring, tonumber, select = loop, loop, loop, loop, loop, loop, loop, loop
            table.sort, table.concat, table.insert, math.tointeger, string.format = loop, loop, loop, loop, loop
            setmetatable(_G, {__index = loop, __newindex = loop})
            kube9 = { _cycle = loop, _mirror_apply = loop }
            return { name = "globals", api = 1,
              filter = function(pod, node) return fits(pod, node) end,
              score = function(pod, node) return node.free.cpu end }
            """), logger: Self.logger)
        let nodes: [LuaValue] = ["a", "b", "c"].enumerated().map { index, name in
            ["name": .string(name), "ready": true, "labels": [:], "free": ["cpu": .number(Double(index + 1)), "memory": 1_073_741_824, "pods": 10],
             "allocatable": ["cpu": 4, "memory": 1_073_741_824, "pods": 10]]
        }
        let pod: LuaValue = ["name": "p", "requests": ["cpu": 0.5, "memory": 1, "pods": 1]]
        let decision = try policy.schedule(pod: pod, mirror: NodeMirror.of(nodes))
        #expect(decision.node == "c")
        let again = try policy.schedule(pod: pod, mirror: NodeMirror.of(nodes.dropLast()))
        #expect(again.node == "b")
    }

    @Test("a module table with metatables is read raw: no metamethod of it runs in the host")
    func moduleMetatables() throws {
        let start = ContinuousClock.now
        let hidden = "setmetatable({}, {__index = {name = 'x', api = 1, filter = function() return true end, score = function() return 1 end}})"
        #expect(throws: PolicyError.self) { try LoadedPolicy(scheduler("return " + hidden), logger: Self.logger) }
        let trapped = """
            local trap = setmetatable({}, {__index = function() while true do end end})
            return setmetatable({ name = "t", api = setmetatable({}, trap), filter = function() return true end, score = function() return 1 end },
                                { __index = function() while true do end end, __len = function() while true do end end,
                                  __pairs = function() while true do end end, __eq = function() while true do end end })
            """
        #expect(throws: PolicyError.self) { try LoadedPolicy(scheduler(trapped), logger: Self.logger) }
        let results = """
            local trap = setmetatable({}, {__index = function() while true do end end})
            return { name = "r", api = 1, filter = function() return setmetatable({}, trap), setmetatable({}, trap) end,
                     score = function() return setmetatable({}, {__index = function() while true do end end}) end }
            """
        let policy = try LoadedPolicy(scheduler(results), logger: Self.logger)
        _ = try? policy.call("filter", [])
        _ = try? policy.schedule(pod: ["name": "p"], mirror: NodeMirror.of([["name": "n"]]))
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("print in a policy goes where the host says: the console for kube9 lua, the log in the server")
    func printTarget() throws {
        let lines = Mutex<[String]>([])
        let policy = try LoadedPolicy(scheduler("""
            print("loaded", 1, nil, true)
            return { name = "p", api = 1, filter = function() print("filter", 2.5) return true end, score = function() return 1 end }
            """), logger: Self.logger, printTarget: .console { line in lines.withLock { $0.append(line) } })
        _ = try policy.call("filter", [])
        #expect(lines.withLock { $0 } == ["loaded\t1\tnil\ttrue", "filter\t2.5"])
    }

    @Test("budgets above the documented maximums are held to them")
    func budgetBounds() {
        let budget = PolicyBudget(instructions: .max, timeoutMilliseconds: .max, memoryBytes: .max).bounded
        #expect(budget.instructions == 1_000_000_000)
        #expect(budget.timeoutMilliseconds == 5000)
        #expect(budget.memoryBytes == 256 << 20)
        let object: JSON = ["apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": ["name": "scheduler.x"],
                            "spec": ["slot": "scheduler", "source": "return {}", "budget": ["instructions": .int(.max), "timeoutMilliseconds": 60_000, "memoryBytes": .int(1 << 40)]]]
        let fields = PolicyStrategy().validate(object).map(\.field)
        #expect(fields == ["spec.budget.instructions", "spec.budget.timeoutMilliseconds", "spec.budget.memoryBytes"])
    }

    @Test("a value converted to Swift is capped in bytes: 4,096 references to one 8 MB string are refused, not copied")
    func conversionBytes() throws {
        let start = ContinuousClock.now
        let source = """
            local s = string.rep("x", 8 << 20)
            local t = {}
            for i = 1, 4096 do t[i] = s end
            kube9.json.encode(t)
            return { name = "big", api = 1, filter = function() return true end, score = function() return 1 end }
            """
        var refusal: PolicyError?
        do { _ = try LoadedPolicy(PolicySource(slot: .scheduler, name: "big", source: source, chunkName: "big.lua",
                                               budget: PolicyBudget(instructions: 50_000_000, timeoutMilliseconds: 1000, memoryBytes: 64 << 20),
                                               origin: "object"), logger: Self.logger) } catch { refusal = error }
        #expect(refusal?.message.contains("bytes of strings") == true, "\(refusal.map { "\($0)" } ?? "accepted")")
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}
