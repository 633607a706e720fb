import Foundation
import Kube9Lua
import Kube9Model
import Kube9Policy
import Synchronization
import Testing

func schedulerSource(score: Int, name: String = "test") -> String {
    """
    return {
      name = "\(name)",
      api = 1,
      filter = function(pod, node) return kube9.scheduler.fits(pod, node) end,
      score = function(pod, node) return \(score) end,
    }
    """
}

func source(_ text: String, slot: PolicySlot = .scheduler, name: String = "default", version: Int64 = 1, budget: PolicyBudget? = nil) -> PolicySource {
    PolicySource(slot: slot, name: name, source: text, chunkName: "policies/\(slot.rawValue)/\(name).lua", budget: budget, version: version, origin: "object")
}

/// A budget for test policies that spin on purpose: time-bound, not instruction-bound.
let spinning = PolicyBudget(instructions: 1_000_000_000, timeoutMilliseconds: 5000, memoryBytes: 32 << 20)

@Suite("policy loading and contracts")
struct PolicyContractTests {
    @Test("slot names agree with the Policy kind's validation")
    func slotNames() {
        #expect(PolicySlot.allCases.map(\.rawValue) == PolicyStrategy.slots)
    }

    @Test("an unknown api level is refused")
    func apiLevel() {
        #expect { try PolicyHost().install(source("return { name = 'x', api = 2, filter = function() end, score = function() end }")) } throws: { error in
            (error as? PolicyError)?.message.contains("api = 2") == true
        }
        #expect { try PolicyHost().install(source("return { name = 'x', filter = function() end, score = function() end }")) } throws: { error in
            (error as? PolicyError)?.message.contains("no api level") == true
        }
    }

    @Test("a missing hook is refused, naming it")
    func missingHook() {
        #expect { try PolicyHost().install(source("return { name = 'x', api = 1, filter = function() end }")) } throws: { error in
            (error as? PolicyError)?.kind == .contract && (error as? PolicyError)?.message.contains("`score`") == true
        }
        #expect { try PolicyHost().install(source("return { name = 'x', api = 1 }", slot: .admission)) } throws: { error in
            (error as? PolicyError)?.message.contains("at least one of") == true
        }
    }

    @Test("a syntax error is refused with file:line")
    func syntaxError() {
        let broken = "return {\n  name = 'x',\n  api = 1,\n  filter = function(pod, node) return true end\n  score = function() return 1 end,\n}"
        do {
            try PolicyHost().install(source(broken))
            Issue.record("expected a load error")
        } catch {
            #expect(error.kind == .load)
            #expect(error.location == "policies/scheduler/default.lua:5")
        }
    }

    @Test("a chunk that loops forever at load time is stopped")
    func runawayLoad() {
        #expect { try PolicyHost().install(source("while true do end return {}")) } throws: { error in
            (error as? PolicyError)?.kind == .killed
        }
    }

    @Test("hooks run with the kube9 module; results and kills are counted")
    func callsAndStats() throws {
        let host = PolicyHost()
        try host.install(source("""
            return { name = 'x', api = 1,
              filter = function(pod, node) return true end,
              score = function(pod, node) if node.name == 'loop' then while true do end end return kube9.quantity('250m') * 100 end }
            """))
        #expect(try host.call(slot: .scheduler, name: "default", hook: "score", [["name": "p"], ["name": "a"]]) == [.number(25)])
        #expect { try host.call(slot: .scheduler, name: "default", hook: "score", [["name": "p"], ["name": "loop"]]) } throws: { error in
            (error as? PolicyError)?.kind == .killed
        }
        let stats = host.policy(slot: .scheduler, name: "default")!.stats
        #expect(stats.calls == 2)
        #expect(stats.errors == 1)
        #expect(stats.kills == 1)
        #expect(try host.call(slot: .scheduler, name: "default", hook: "score", [["name": "p"], ["name": "b"]]) == [.number(25)])
    }

    @Test("the PDK is read-only and json round trips")
    func pdk() throws {
        let host = PolicyHost()
        try host.install(source("""
            return { name = 'x', api = 1,
              filter = function() return pcall(function() kube9.api = 2 end) end,
              score = function(pod) return kube9.json.decode(kube9.json.encode(pod)).n end }
            """))
        let filtered = try host.call(slot: .scheduler, name: "default", hook: "filter", [])
        #expect(filtered.first == .bool(false))
        #expect(try host.call(slot: .scheduler, name: "default", hook: "score", [["n": 7]]) == [.integer(7)])
    }
}

@Suite("hot swap", .serialized)
struct HotSwapTests {
    /// Acceptance 2 of K2: 500 calls/s while the policy is replaced 100 times, 10 of them broken.
    @Test("500 calls/s through 100 replacements (10 broken): no failed call, broken versions refused with their line")
    func swapUnderLoad() async throws {
        let host = PolicyHost()
        try await host.install(source(schedulerSource(score: 0), version: 0))
        let failures = Mutex<[String]>([])
        let calls = Mutex(0)
        let running = Mutex(true)
        let caller = Task.detached {
            let start = ContinuousClock.now
            var issued = 0
            while running.withLock({ $0 }) {
                // Pace at 500 calls/s.
                let due = start + .milliseconds(issued * 2)
                if ContinuousClock.now < due { try? await Task.sleep(until: due, clock: .continuous) }
                issued += 1
                do {
                    let result = try await host.call(slot: .scheduler, name: "default", hook: "score", [["name": "p"], ["name": "n"]])
                    guard let score = result.first?.integerValue, (0...100).contains(score) else {
                        failures.withLock { $0.append("bad result \(result)") }
                        continue
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
                calls.withLock { $0 += 1 }
            }
        }
        var refused: [PolicyError] = []
        for version in 1...100 {
            if version % 10 == 0 {
                do {
                    try await host.install(source("return {\n  name = 'broken',\n  api = 1,\n  score = function( return 1 end,\n}", version: Int64(version)))
                } catch {
                    refused.append(error)
                }
            } else {
                try await host.install(source(schedulerSource(score: version % 100), version: Int64(version)))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        running.withLock { $0 = false }
        await caller.value
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(3))")
        #expect(calls.withLock { $0 } >= 500, "about 2 s at 500 calls/s")
        #expect(refused.count == 10)
        #expect(refused.allSatisfy { $0.location == "policies/scheduler/default.lua:4" })
        #expect(host.policy(slot: .scheduler, name: "default")?.source.version == 99)
        await #expect(try host.call(slot: .scheduler, name: "default", hook: "score", [["name": "p"], ["name": "n"]]) == [.integer(99)])
    }

    @Test("a call in flight finishes on the version it started with")
    func inFlightKeepsOldVersion() async throws {
        let host = PolicyHost()
        try await host.install(source("""
            return { name = 'slow', api = 1, filter = function() return true end,
              score = function() local t = os.clock() while os.clock() - t < 0.2 do end return 1 end }
            """, budget: spinning))
        let old = host.policy(slot: .scheduler, name: "default")!
        async let slow = Task.detached { try old.call("score", []) }.value
        try await Task.sleep(for: .milliseconds(50))
        try await host.install(source(schedulerSource(score: 2)))
        #expect(try await slow == [.integer(1)])
        await #expect(try host.call(slot: .scheduler, name: "default", hook: "score", [["name": "p"], ["name": "n"]]) == [.integer(2)])
    }

    @Test("concurrent callers get their own states")
    func pool() async throws {
        let host = PolicyHost()
        try await host.install(source("""
            counter = 0
            return { name = 'pool', api = 1, filter = function() return true end,
              score = function() counter = counter + 1 local t = os.clock() while os.clock() - t < 0.3 do end return counter end }
            """, budget: spinning))
        // Each call spins 0.3 s and returns its state's own count of calls: four calls that ran
        // at once ran on four states (1, 1, 1, 1); calls that queued for one state would count up.
        let counts = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<4 {
                group.addTask { try await host.call(slot: .scheduler, name: "default", hook: "score", []).first?.integerValue ?? 0 }
            }
            var counts: [Int64] = []
            for try await count in group { counts.append(count) }
            return counts
        }
        #expect(counts == [1, 1, 1, 1], "\(counts)")
        #expect(host.policy(slot: .scheduler, name: "default")?.stats.calls == 4)
    }
}

@Suite("node mirror")
struct NodeMirrorTests {
    @Test("a state that ran a cycle on one mirror sees a new mirror's nodes, even at a reused address")
    func freshMirrorEachTime() throws {
        let policy = try LoadedPolicy(source(schedulerSource(score: 50)), logger: .init(label: "test"))
        let pod: LuaValue = ["name": "p", "requests": ["cpu": 1.0, "memory": 0, "pods": 1]]
        for round in 0..<20 {
            let name = "node-\(round)"
            let node: LuaValue = ["name": .string(name), "ready": true, "free": ["cpu": 4.0, "memory": .integer(1 << 30), "pods": 10]]
            #expect(try policy.schedule(pod: pod, mirror: NodeMirror.of([node])).node == name)
        }
    }

    @Test("incremental updates reach a state that already holds the mirror")
    func incremental() throws {
        let policy = try LoadedPolicy(source(schedulerSource(score: 50)), logger: .init(label: "test"))
        let mirror = NodeMirror()
        let pod: LuaValue = ["name": "p", "requests": ["cpu": 2.0, "memory": 0, "pods": 1]]
        func node(_ name: String, _ cpu: Double) -> LuaValue {
            ["name": .string(name), "ready": true, "free": ["cpu": .number(cpu), "memory": .integer(1 << 30), "pods": 10]]
        }
        mirror.update("a", view: node("a", 4))
        mirror.update("b", view: node("b", 4))
        #expect(try policy.schedule(pod: pod, mirror: mirror).node == "a")
        mirror.update("a", view: node("a", 1))
        #expect(try policy.schedule(pod: pod, mirror: mirror).node == "b")
        mirror.update("b", view: nil)
        let decision = try policy.schedule(pod: pod, mirror: mirror)
        #expect(decision.node == nil)
        #expect(decision.reasons == ["a": "Insufficient cpu"])
    }
}

@Suite("policy tests as data")
struct PolicyTestRunnerTests {
    static var policiesDirectory: String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("policies/scheduler").path) {
                return url.appendingPathComponent("policies").path
            }
        }
        return "policies"
    }

    @Test("the shipped policies pass their testdata, and every one has cases")
    func shippedPolicies() {
        let results = PolicyTestRunner.run(directory: Self.policiesDirectory)
        #expect(results.count >= 40)
        for failure in results where !failure.passed { Issue.record("\(failure.policy) \(failure.name): \(failure.detail)") }
        let policies = Set(results.map(\.policy))
        #expect(policies == ["scheduler/best_fit", "scheduler/first_fit", "scheduler/spread", "scheduler/worst_fit",
                             "loadbalancer/round_robin", "loadbalancer/least_connections", "loadbalancer/random",
                             "loadbalancer/ip_hash", "loadbalancer/weighted", "autoscaler/target_utilization", "node-autoscaler/default"])
    }

    @Test("an edited expectation fails, naming the case")
    func editedExpectation() throws {
        let copy = NSTemporaryDirectory() + "kube9-policies-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: Self.policiesDirectory, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let expected = copy + "/scheduler/testdata/best_fit/four_eight_two.expected.json"
        try #"{"node": "b"}"#.write(toFile: expected, atomically: true, encoding: .utf8)
        let failures = PolicyTestRunner.run(directory: copy).filter { !$0.passed }
        #expect(failures.count == 1)
        #expect(failures.first?.policy == "scheduler/best_fit")
        #expect(failures.first?.name == "four_eight_two")
        #expect(failures.first?.detail.contains("expected \"b\", got \"c\"") == true)
    }

    @Test("the 4/8/2-core example: first_fit a, best_fit the 2-core node, worst_fit the 8-core node")
    func fourEightTwo() throws {
        let nodes: [LuaValue] = [("a", 4.0), ("b", 8.0), ("c", 2.0)].map { name, cpu in
            ["name": .string(name), "ready": true, "free": ["cpu": .number(cpu), "memory": .integer(1 << 33), "pods": 100],
             "allocatable": ["cpu": .number(cpu), "memory": .integer(1 << 33), "pods": 110]]
        }
        let pod: LuaValue = ["name": "p", "requests": ["cpu": 2.0, "memory": 0, "pods": 1]]
        for (file, expected) in [("first_fit", "a"), ("best_fit", "c"), ("worst_fit", "b")] {
            let path = Self.policiesDirectory + "/scheduler/\(file).lua"
            let policy = try LoadedPolicy(PolicySource(slot: .scheduler, name: file, source: try String(contentsOfFile: path, encoding: .utf8), chunkName: path),
                                          logger: .init(label: "test"))
            #expect(try SchedulerCycle.run(policy, pod: pod, nodes: nodes).node == expected, "\(file)")
        }
    }
}
