import Foundation
import Kube9Model
import Logging
import Synchronization

/// A cache of one resource kept by a list and then a watch over HTTP (relisting when the
/// watch ends), on a thread of its own. `onChange` runs after every change with nothing held.
public final class ListWatch: Sendable {
    let serverURL: String
    /// The collection path ("/api/v1/services") and an optional query ("labelSelector=…").
    let path: String
    let logger: Logger
    let objects = Mutex<[String: JSON]>([:])
    let running = Atomic<Bool>(true)
    let synced = Atomic<Bool>(false)
    let onChange: @Sendable () -> Void

    public init(serverURL: String, path: String, logger: Logger, onChange: @escaping @Sendable () -> Void) {
        self.serverURL = serverURL
        self.path = path
        self.logger = logger
        self.onChange = onChange
    }

    /// The objects now, keyed by uid.
    public var items: [JSON] { objects.withLock { Array($0.values) } }
    public var hasSynced: Bool { synced.load(ordering: .acquiring) }

    public func start() {
        let thread = Thread { [self] in loop() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    public func stop() { running.store(false, ordering: .releasing) }

    func url(_ extra: String) -> String { path + (path.contains("?") ? "&" : "?") + extra }

    func loop() {
        while running.load(ordering: .acquiring) {
            do {
                let connection = try HTTPConnection(baseURL: serverURL)
                let reply = try connection.request("GET", path)
                guard reply.status == 200 else { throw ClientError("listing \(path): HTTP \(reply.status)") }
                let body = try reply.json()
                var fresh: [String: JSON] = [:]
                for item in body["items"]?.arrayValue ?? [] { fresh[ObjectMeta.uid(of: item)] = item }
                objects.withLock { $0 = fresh }
                synced.store(true, ordering: .releasing)
                onChange()
                let revision = body[path: ["metadata", "resourceVersion"]]?.stringValue ?? "0"
                try connection.stream(url("watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=\(revision)")) { [self] line in
                    guard running.load(ordering: .acquiring) else { return false }
                    guard let event = try? JSON.parse(Array(line)), let type = event["type"]?.stringValue, let object = event["object"] else { return true }
                    switch type {
                    case "ADDED", "MODIFIED":
                        objects.withLock { $0[ObjectMeta.uid(of: object)] = object }
                    case "DELETED":
                        objects.withLock { _ = $0.removeValue(forKey: ObjectMeta.uid(of: object)) }
                    case "ERROR":
                        return false
                    default:
                        return true
                    }
                    onChange()
                    return true
                }
            } catch {
                logger.warning("watch interrupted", metadata: ["path": "\(path)", "error": "\(error)"])
            }
            if running.load(ordering: .acquiring) { usleep(500_000) }
        }
    }
}
