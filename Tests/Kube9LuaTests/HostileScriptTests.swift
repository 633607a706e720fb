import Foundation
import Kube9Lua
import Testing

/// K5: hostile Lua (Tests/Kube9LuaTests/Hostile/*.lua, one case per file; its first line says
/// the outcome). Each run is stopped within its limits, whatever C function it hides in, and
/// the state answers the next call; closing the state is prompt too (no finalizer can run).
@Suite("hostile Lua scripts")
struct HostileScriptTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Hostile")
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
        .filter { $0.hasSuffix(".lua") }.sorted()
    static let limits = LuaCallLimits(instructions: 5_000_000, timeoutSeconds: 1)

    @Test("there are hostile cases to run")
    func casesExist() {
        #expect(Self.files.count >= 79, "\(Self.files.count) files in \(Self.folder.path)")
    }

    @Test("each hostile script is stopped or refused within 3 s and the state still works", arguments: files)
    func hostile(_ file: String) throws {
        let source = try String(contentsOf: Self.folder.appendingPathComponent(file), encoding: .utf8)
        let header = source.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        #expect(header.hasPrefix("-- expect: "), "\(file) starts with its expectation")
        let expectation = String(header.dropFirst("-- expect: ".count))
        let start = ContinuousClock.now
        var state: LuaState? = try LuaState(memoryLimit: 32 << 20)
        var outcome: LuaError?
        do {
            _ = try state?.run(source, chunkName: file, limits: Self.limits)
        } catch {
            outcome = error
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(3), "\(file) ran \(elapsed)")
        if expectation == "killed" {
            #expect([.budget, .deadline, .memory].contains(outcome?.kind), "\(file): \(outcome.map { "\($0.kind): \($0)" } ?? "no error")")
        } else if expectation.hasPrefix("error ") {
            let text = String(expectation.dropFirst("error ".count))
            #expect(outcome != nil, "\(file) must fail")
            #expect(outcome.map { "\($0)".contains(text) } ?? false, "\(file): \(outcome.map { "\($0)" } ?? "no error"), expected \(text)")
        } else {
            Issue.record("\(file): unknown expectation \(expectation)")
        }
        #expect(try state?.run("return 1 + 1", chunkName: "after.lua") == [.integer(2)], "\(file): the state answers again")
        let closing = ContinuousClock.now
        state = nil
        #expect(ContinuousClock.now - closing < .seconds(2), "\(file): closing the state is prompt")
        _ = state
    }

    @Test("converting results never runs a script's metamethods")
    func rawConversion() throws {
        let state = try LuaState()
        // A metatable whose own metatable loops on every lookup: only raw reads are safe.
        let values = try state.run("""
            local trap = setmetatable({}, {__index = function() while true do end end, __len = function() while true do end end})
            local value = setmetatable({ a = 1 }, trap)
            return value, setmetatable({}, {__index = value, __pairs = function() while true do end end})
            """, chunkName: "trap.lua", limits: LuaCallLimits(instructions: 1_000_000, timeoutSeconds: 1))
        #expect(values.first?["a"] == .integer(1))
        try state.setGlobal("x", 5)
        #expect(try state.global("x") == .integer(5))
        _ = try state.run("setmetatable(_G, {__index = function() while true do end end, __newindex = function() while true do end end})",
                          chunkName: "g.lua")
        try state.setGlobal("y", 7)
        #expect(try state.global("y") == .integer(7))
        #expect(try state.global("missing") == .nil)
    }
}
