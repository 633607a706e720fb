import Foundation
@testable import Kube9Autoscaler
@testable import Kube9Controllers
import Kube9Model
@testable import Kube9Server
import Logging
import Synchronization
import Testing

/// [K7] The node autoscaler's checks of a policy's decision, in-process, with a provider that
/// only records what it is asked.
@Suite("node autoscaler decisions", .serialized)
struct NodeAutoscalerUnitTests {
    final class RecordingProvider: NodeProvider {
        let added = Mutex<[String]>([])
        let removed = Mutex<[String]>([])
        func add(name: String, shape: NodeAutoscalerConfiguration.Shape, labels: [String: String]) async throws {
            added.withLock { $0.append(shape.name) }
        }
        func remove(name: String) async throws { removed.withLock { $0.append(name) } }
    }

    static func node(_ name: String, managed: Bool) -> JSON {
        var labels: JSON = ["kubernetes.io/hostname": .string(name)]
        if managed { labels["kube9.io/node-group"] = "autoscaler"; labels["kube9.io/node-shape"] = "small" }
        return ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(name), "labels": labels],
                "status": ["allocatable": ["cpu": "4", "memory": "8Gi", "pods": "110"], "capacity": ["cpu": "4", "memory": "8Gi", "pods": "110"],
                           "conditions": [["type": "Ready", "status": "True", "lastHeartbeatTime": .string(Timestamp.now()), "lastTransitionTime": .string(Timestamp.now())]]]]
    }

    static func configuration(min: Int, max: Int, policy: String) throws -> NodeAutoscalerConfiguration {
        try NodeAutoscalerConfiguration.parse(["provider": "sim", "minNodes": .int(Int64(min)), "maxNodes": .int(Int64(max)), "policy": .string(policy),
                                               "intervalSeconds": 1, "shapes": [["name": "small", "cpus": 4, "memory": "8Gi"]]])
    }

    static func install(_ server: InProcessServer, _ name: String, returning body: String) async throws {
        let source = "return { name = \"\(name)\", api = 1, decide = function(cluster) \(body) end }"
        let reply = try await server.call(.post, "/apis/kube9.io/v1/policies", json: ["apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": ["name": .string("node-autoscaler.\(name)")],
                                                                                   "spec": ["slot": "node-autoscaler", "source": .string(source)]])
        #expect(reply.status == 201, "\(reply.text)")
        _ = try await WorkloadTests.eventually(5) { server.stack.policyHost.policy(slot: .nodeAutoscaler, name: name) != nil }
    }

    @Test("unknown shapes, nodes not its own, adds past maxNodes and removals below minNodes are dropped; below minNodes it adds without asking; an error changes nothing")
    func checks() async throws {
        try await InProcessServer.with(scheduler: false) { server in
            for (name, managed) in [("mine-a", true), ("mine-b", true), ("theirs", false)] {
                #expect(try await server.call(.post, "/api/v1/nodes", json: Self.node(name, managed: managed)).status == 201)
            }
            var logger = Logger(label: "test")
            logger.logLevel = .error
            func run(_ policy: String, min: Int, max: Int) async throws -> RecordingProvider {
                let provider = RecordingProvider()
                let controller = NodeAutoscalerController(client: server.stack.cluster, host: server.stack.policyHost, provider: provider,
                                                          configuration: try Self.configuration(min: min, max: max, policy: policy), logger: logger)
                await controller.step()
                try await Task.sleep(for: .milliseconds(200))
                return provider
            }
            try await Self.install(server, "greedy", returning: #"return { add = { small = 50, huge = 3 }, remove = { "theirs" } }"#)
            let greedy = try await run("greedy", min: 0, max: 5)
            #expect(greedy.added.withLock { $0 } == ["small", "small", "small"], "adds past maxNodes 5 (2 managed): \(greedy.added.withLock { $0 })")
            #expect(greedy.removed.withLock { $0 }.isEmpty)
            try await Self.install(server, "shrink", returning: #"return { remove = { "mine-a", "mine-b" } }"#)
            let shrink = try await run("shrink", min: 1, max: 5)
            #expect(shrink.removed.withLock { $0 }.count == 1, "went below minNodes: \(shrink.removed.withLock { $0 })")
            try await Self.install(server, "broken", returning: #"return { add = "lots" }"#)
            let broken = try await run("broken", min: 0, max: 5)
            #expect(broken.added.withLock { $0 }.isEmpty && broken.removed.withLock { $0 }.isEmpty)
            let events = try await WorkloadTests.items(server, "/api/v1/namespaces/default/events")
            #expect(events.contains { $0["reason"] == "NodeAutoscalerPolicyFailed" && ($0["message"]?.stringValue ?? "").contains("huge") })
            #expect(events.contains { $0["reason"] == "NodeAutoscalerPolicyFailed" && ($0["message"]?.stringValue ?? "").contains("theirs") })
            #expect(events.contains { $0["reason"] == "NodeAutoscalerPolicyFailed" && ($0["message"]?.stringValue ?? "").contains("add = ") })
            // Below the minimum (2 managed, min 4): 2 nodes of the first shape, whatever the policy says.
            let minimum = try await run("broken", min: 4, max: 5)
            #expect(minimum.added.withLock { $0 } == ["small", "small"])
        }
        #expect(throws: APIError.self) { try NodeAutoscalerConfiguration.parse(["provider": "cloud", "minNodes": 3, "maxNodes": 2, "shapes": [["name": "x", "cpus": -1]]]) }
    }
}
