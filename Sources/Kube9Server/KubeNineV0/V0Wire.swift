import Kube9Model

/// The HTTP surface of Kube-9 as its Flask server answers: routes with integer ids (kube9's
/// names work too), 308 for the collection paths without their slash, Flask's HTML pages for
/// unknown paths and methods, and its JSON error shapes. See shared/kube9-v0-wire.md.
enum V0Wire {
    /// A path as Kube-9's router sees it.
    enum Route: Equatable {
        case root, testDatabase
        case nodes, nodesHealth
        case node(String), heartbeat(String), simulateFailure(String), deregister(String), forceCleanup(String)
        case pods, pod(String), podHealth(String)
        /// The collection without its trailing slash: 308 to the slashed URL.
        case redirect(String)
        /// Not a Kube-9 route (an HTML 404 when under /nodes or /pods).
        case notFound

        /// The methods Flask serves on this route (HEAD comes with GET).
        var methods: [String] {
            switch self {
            case .root, .testDatabase, .nodesHealth, .podHealth: return ["GET", "HEAD"]
            case .nodes, .pods: return ["GET", "HEAD", "POST"]
            case .node, .pod: return ["GET", "HEAD", "DELETE"]
            case .heartbeat, .simulateFailure, .deregister, .forceCleanup: return ["POST"]
            case .redirect: return ["GET", "HEAD", "POST", "DELETE", "PUT", "PATCH"]
            case .notFound: return []
            }
        }
    }

    /// The Kube-9 route of `path`, or nil when the path belongs to the Kubernetes API.
    static func route(_ path: String) -> Route? {
        if path == "/" { return .root }
        if path == "/test_db" { return .testDatabase }
        guard path.hasPrefix("/nodes") || path.hasPrefix("/pods") else { return nil }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        guard let collection = parts.first, collection == "nodes" || collection == "pods" else { return nil }
        if parts.count == 1 { return .redirect("/\(collection)/") }
        let rest = Array(parts.dropFirst())
        // Flask's int converter (and kube9's names) refuse anything else before a handler runs.
        func segment(_ index: Int) -> String? {
            guard index < rest.count, !rest[index].isEmpty else { return nil }
            let text = rest[index].removingPercentEncoding
            return reference(text) == .invalid ? nil : text
        }
        switch (collection, rest.count) {
        case (_, 1) where rest[0].isEmpty: return collection == "nodes" ? .nodes : .pods
        case ("nodes", 1) where rest[0] == "health": return .nodesHealth
        case ("nodes", 1): return segment(0).map(Route.node) ?? .notFound
        case ("nodes", 2):
            guard let id = segment(0) else { return .notFound }
            switch rest[1] {
            case "heartbeat": return .heartbeat(id)
            case "deregister": return .deregister(id)
            case "force_cleanup": return .forceCleanup(id)
            default: return .notFound
            }
        case ("nodes", 3) where rest[1] == "simulate" && rest[2] == "failure":
            return segment(0).map(Route.simulateFailure) ?? .notFound
        case ("pods", 1): return segment(0).map(Route.pod) ?? .notFound
        case ("pods", 2) where rest[1] == "health": return segment(0).map(Route.podHealth) ?? .notFound
        default: return .notFound
        }
    }

    /// What a reference in a path names: a Kube-9 id (unsigned digits) or a kube9 name.
    enum Reference: Equatable {
        case id(Int64)
        case name(String)
        case invalid
    }

    static func reference(_ text: String) -> Reference {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard text.utf8.count <= 18, let id = Int64(text) else { return .invalid }
            return .id(id)
        }
        return NameRules.dns1123SubdomainError(text) == nil ? .name(text) : .invalid
    }

    // MARK: Replies

    /// One reply: status, content type, body, extra headers.
    struct Reply: Sendable {
        var status: Int
        var contentType: String
        var body: [UInt8]
        var headers: [(String, String)] = []

        static func json(_ status: Int, _ value: JSON) -> Reply {
            Reply(status: status, contentType: "application/json", body: value.serializedWithFloatPoints() + [0x0A])
        }

        static func text(_ text: String) -> Reply {
            Reply(status: 200, contentType: "text/html; charset=utf-8", body: Array(text.utf8))
        }

        static func error(_ status: Int, _ message: String, extra: JSON? = nil) -> Reply {
            var body: JSON = ["error": .string(message)]
            if let extra, let members = extra.objectValue { for (key, value) in members { body[key] = value } }
            return json(status, body)
        }

        /// Flask's HTML 404 page.
        static let notFound = Reply(status: 404, contentType: "text/html; charset=utf-8", body: Array("""
            <!doctype html>
            <html lang=en>
            <title>404 Not Found</title>
            <h1>Not Found</h1>
            <p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>

            """.utf8))

        /// Flask's HTML 405 page, with the Allow header.
        static func methodNotAllowed(_ allowed: [String]) -> Reply {
            Reply(status: 405, contentType: "text/html; charset=utf-8", body: Array("""
                <!doctype html>
                <html lang=en>
                <title>405 Method Not Allowed</title>
                <h1>Method Not Allowed</h1>
                <p>The method is not allowed for the requested URL.</p>

                """.utf8), headers: [("Allow", (allowed + ["OPTIONS"]).sorted().joined(separator: ", "))])
        }

        /// Werkzeug's 308 to the slashed URL.
        static func redirect(to location: String) -> Reply {
            let escaped = location.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
                .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            return Reply(status: 308, contentType: "text/html; charset=utf-8", body: Array("""
                <!doctype html>
                <html lang=en>
                <title>Redirecting...</title>
                <h1>Redirecting...</h1>
                <p>You should be redirected automatically to the target URL: <a href="\(escaped)">\(escaped)</a>. If not, click the link.

                """.utf8), headers: [("Location", location)])
        }
    }

    /// The message of Flask's NotFound, as a handler that catches every exception prints it.
    static let notFoundText = "404 Not Found: The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
    /// Flask's refusal of a body that is not declared as JSON.
    static let unsupportedMediaTypeText = "415 Unsupported Media Type: Did not attempt to load JSON data because the request Content-Type was not 'application/json'."

    /// Kube-9's numbers: integers when whole, else floats.
    static func cores(_ millis: Int64) -> JSON {
        millis % 1000 == 0 ? .int(millis / 1000) : .double(Double(millis) / 1000)
    }
}
