import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Synchronization
import Testing

func podBody(_ name: String, labels: JSON = ["app": "t"]) -> JSON {
    ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name), "labels": labels],
     "spec": ["containers": [["name": "c", "image": "busybox"]]]]
}

/// Optimistic concurrency and watch guarantees (acceptance 3 of K1).
@Suite("resourceVersion and watch guarantees")
struct ConsistencyTests {
    @Test("two updates with the same resourceVersion: one wins, the other gets 409 Conflict")
    func conflictingUpdates() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        let created = try await client.request("POST", "/api/v1/namespaces/default/pods", json: podBody("race"))
        #expect(created.status == 201)
        let object = try created.json()
        var first = object
        first[path: ["metadata", "labels", "winner"]] = "first"
        var second = object
        second[path: ["metadata", "labels", "winner"]] = "second"
        async let a = client.request("PUT", "/api/v1/namespaces/default/pods/race", json: first)
        async let b = client.request("PUT", "/api/v1/namespaces/default/pods/race", json: second)
        let statuses = try await [a.status, b.status].sorted()
        #expect(statuses == [200, 409])
        let loser = try await [a, b].first { $0.status == 409 }!
        let status = try loser.json()
        #expect(status["reason"]?.stringValue == "Conflict")
        #expect(status["kind"]?.stringValue == "Status")
    }

    @Test("a watch resumed from an old revision gets every later change exactly once, in order")
    func watchResume() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        let created = try await client.request("POST", "/api/v1/namespaces/default/pods", json: podBody("w0"))
        let startRevision = Int64(ObjectMeta.resourceVersion(of: try created.json()))!
        var expected: [(String, Int64)] = []
        for index in 1...40 {
            let reply: HTTPReply
            if index % 4 == 0 {
                reply = try await client.request("DELETE", "/api/v1/namespaces/default/pods/w\(index - 1)")
            } else {
                reply = try await client.request("POST", "/api/v1/namespaces/default/pods", json: podBody("w\(index)"))
            }
            #expect(reply.status == 200 || reply.status == 201, "\(reply.text)")
            let revision = Int64(ObjectMeta.resourceVersion(of: try reply.json()))!
            expected.append((index % 4 == 0 ? "DELETED" : "ADDED", revision))
        }
        let connection = try server.connection()
        var events: [(String, Int64)] = []
        let status = try connection.stream("/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(startRevision)&timeoutSeconds=5") { line in
            if let event = try? JSON.parse(line), let type = event["type"]?.stringValue,
               let object = event["object"], let revision = Int64(ObjectMeta.resourceVersion(of: object)) {
                events.append((type, revision))
            }
            return events.count < expected.count
        }
        #expect(status == 200)
        #expect(events.map(\.0) == expected.map(\.0))
        #expect(events.map(\.1) == expected.map(\.1))
        #expect(zip(events.dropFirst(), events).allSatisfy { $0.1 > $1.1 }, "revisions strictly increase")
    }

    @Test("a watch older than the compacted history gets 410 Gone")
    func watchTooOld() async throws {
        let server = try ServerProcess(extraArguments: ["--watch-history", "10"])
        defer { server.destroy() }
        let client = server.client()
        for index in 0..<30 {
            _ = try await client.request("POST", "/api/v1/namespaces/default/pods", json: podBody("g\(index)"))
        }
        let reply = try await client.request("GET", "/api/v1/namespaces/default/pods?watch=true&resourceVersion=2")
        #expect(reply.status == 410)
        let status = try reply.json()
        #expect(status["reason"]?.stringValue == "Expired")
        #expect(status["code"]?.intValue == 410)
        // A recent revision still resumes.
        let list = try await client.request("GET", "/api/v1/namespaces/default/pods")
        let revision = try list.json()[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
        let fresh = try server.connection().stream("/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(revision)&timeoutSeconds=1") { _ in true }
        #expect(fresh == 200)
    }

    @Test("watch with a label selector sees objects enter and leave the selection")
    func selectorWatch() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        let list = try await client.request("GET", "/api/v1/namespaces/default/pods")
        let revision = try list.json()[path: ["metadata", "resourceVersion"]]?.stringValue ?? "0"
        _ = try await client.request("POST", "/api/v1/namespaces/default/pods", json: podBody("s1", labels: ["tier": "a"]))
        _ = try await client.request("PATCH", "/api/v1/namespaces/default/pods/s1", json: ["metadata": ["labels": ["tier": "b"]]],
                                     contentType: "application/merge-patch+json")
        _ = try await client.request("PATCH", "/api/v1/namespaces/default/pods/s1", json: ["metadata": ["labels": ["tier": "a"]]],
                                     contentType: "application/merge-patch+json")
        var types: [String] = []
        _ = try server.connection().stream("/api/v1/namespaces/default/pods?watch=1&labelSelector=tier%3Da&resourceVersion=\(revision)&timeoutSeconds=2") { line in
            if let type = (try? JSON.parse(line))?["type"]?.stringValue { types.append(type) }
            return types.count < 3
        }
        #expect(types == ["ADDED", "DELETED", "ADDED"])
    }

    @Test("lists page with limit and continue")
    func paging() async throws {
        let server = try ServerProcess()
        defer { server.destroy() }
        let client = server.client()
        for index in 0..<7 { _ = try await client.request("POST", "/api/v1/namespaces/default/pods", json: podBody("p\(index)")) }
        var names: [String] = []
        var token = ""
        for _ in 0..<10 {
            let reply = try await client.request("GET", "/api/v1/namespaces/default/pods?limit=3" + (token.isEmpty ? "" : "&continue=\(token)"))
            let page = try reply.json()
            names += page["items"]?.arrayValue?.map { ObjectMeta.name(of: $0) } ?? []
            token = page[path: ["metadata", "continue"]]?.stringValue ?? ""
            if token.isEmpty { break }
        }
        #expect(names == (0..<7).map { "p\($0)" })
    }
}

/// Durability across crashes and clean shutdown (acceptance 4 of K1).
@Suite("crash safety", .serialized)
struct CrashTests {
    @Test("kill -9 during 1,000 concurrent creates loses no acknowledged write")
    func killDuringCreates() async throws {
        let server = try ServerProcess()
        let directory = server.dataDirectory
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let acknowledged = Mutex<[String: Int64]>([:])
        let group = DispatchGroup()
        let url = server.url
        let next = Mutex(0)
        for _ in 0..<16 {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let connection = try? HTTPConnection(baseURL: url) else { return }
                connection.timeoutSeconds = 5
                while true {
                    let index = next.withLock { value -> Int in value += 1; return value - 1 }
                    if index >= 1000 { return }
                    let body = podBody("crash-\(index)").serialized()
                    guard let reply = try? connection.request("POST", "/api/v1/namespaces/default/pods", body: body) else { continue }
                    if (200..<300).contains(reply.status), let object = try? reply.json(),
                       let revision = Int64(ObjectMeta.resourceVersion(of: object)) {
                        acknowledged.withLock { $0["crash-\(index)"] = revision }
                    }
                }
            }.start()
        }
        // Kill once a good share of the creates has been acknowledged.
        var waited = 0
        while acknowledged.withLock({ $0.count }) < 300, waited < 2000 { usleep(1000); waited += 1 }
        server.kill9()
        group.wait()
        let saved = acknowledged.withLock { $0 }
        #expect(saved.count >= 300)
        #expect(saved.count < 1000, "the kill landed after every create finished; the test proved nothing")
        #expect(try Kube9Testing.integrityCheck(server.databasePath) == "ok")

        let restarted = try ServerProcess(dataDirectory: directory)
        defer { restarted.stop() }
        let list = try await restarted.client().request("GET", "/api/v1/namespaces/default/pods")
        let names = Set(try list.json()["items"]?.arrayValue?.map { ObjectMeta.name(of: $0) } ?? [])
        let missing = saved.keys.filter { !names.contains($0) }
        #expect(missing.isEmpty, "acknowledged but lost: \(missing.prefix(10))")
        let highest = saved.values.max() ?? 0
        let after = try await restarted.client().request("POST", "/api/v1/namespaces/default/pods", json: podBody("after-restart"))
        let revision = Int64(ObjectMeta.resourceVersion(of: try after.json())) ?? 0
        #expect(revision > highest, "resourceVersion went backwards: \(revision) <= \(highest)")
    }

    @Test("SIGTERM exits 0 and a restart serves the same objects")
    func cleanShutdown() async throws {
        let server = try ServerProcess()
        let directory = server.dataDirectory
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let created = try await server.client().request("POST", "/api/v1/namespaces/default/pods", json: podBody("kept"))
        let uid = ObjectMeta.uid(of: try created.json())
        // An open watch must not hold the shutdown.
        let watcher = Thread {
            _ = try? HTTPConnection(baseURL: server.url).stream("/api/v1/pods?watch=1") { _ in true }
        }
        watcher.start()
        usleep(200_000)
        #expect(server.stop() == 0)
        #expect(try Kube9Testing.integrityCheck(server.databasePath) == "ok")
        let restarted = try ServerProcess(dataDirectory: directory)
        defer { restarted.stop() }
        let fetched = try await restarted.client().request("GET", "/api/v1/namespaces/default/pods/kept")
        #expect(fetched.status == 200)
        #expect(ObjectMeta.uid(of: try fetched.json()) == uid)
    }
}
