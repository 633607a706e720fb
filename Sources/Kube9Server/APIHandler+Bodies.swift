import HTTPTypes
import Hummingbird
import Kube9Model
import Kube9Policy
import Kube9Store
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Request bodies: media types, JSON and patch bodies, delete options.
extension APIHandler {
    // MARK: Bodies

    static func mediaType(_ request: Request) -> String {
        let value = request.headers[.contentType] ?? "application/json"
        return (value.split(separator: ";").first.map(String.init) ?? value).trimmingSpaces.lowercased()
    }

    /// Reads the body up to the limit; a larger one is drained and refused with 413.
    func readBytes(_ request: Request) async throws -> [UInt8] {
        var collected: [UInt8] = []
        var total = 0
        do {
            for try await chunk in request.body {
                total += chunk.readableBytes
                if total <= Self.maximumBodyBytes {
                    collected.append(contentsOf: chunk.readableBytesView)
                } else if total > Self.maximumDrainBytes {
                    break
                }
            }
        } catch {
            // A malformed chunked encoding, or a body shorter than its Content-Length.
            throw APIError.badRequest("the request body could not be read: \(error)")
        }
        if total > Self.maximumBodyBytes { throw APIError.tooLarge(limit: Self.maximumBodyBytes) }
        return collected
    }

    func readBody(_ request: Request) async throws -> JSON {
        let bytes = try await readBytes(request)
        switch Self.mediaType(request) {
        case "application/json", "":
            if bytes.isEmpty { throw APIError.badRequest("the request body is empty; a JSON object is required") }
            return try Self.parseJSON(bytes)
        case "application/vnd.kubernetes.protobuf":
            return try ProtobufBody.decode(bytes)
        case let other:
            throw APIError.unsupportedMediaType("the body of the request was in an unknown format (\(other)) - accepted media types include: application/json, application/vnd.kubernetes.protobuf (Namespace only)")
        }
    }

    static func parseJSON(_ bytes: [UInt8]) throws(APIError) -> JSON {
        do {
            return try JSON.parse(bytes)
        } catch {
            if error.isTooDeep { throw APIError.badRequest("the request body nests deeper than \(JSON.maximumDepth) levels") }
            throw APIError.badRequest("the body of the request is not valid JSON: \(error)")
        }
    }

    func readPatch(_ request: Request) async throws -> (PatchType, JSON) {
        let mediaType = Self.mediaType(request)
        guard let patchType = PatchType(rawValue: mediaType) else {
            throw APIError.unsupportedMediaType("the body of the request was in an unknown format (\(mediaType)) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")
        }
        let bytes = try await readBytes(request)
        if bytes.isEmpty { throw APIError.badRequest("the patch body is empty") }
        return (patchType, try Self.parseJSON(bytes))
    }

    static func propagationPolicy(_ text: String) throws(APIError) -> ObjectRegistry.PropagationPolicy {
        guard let policy = ObjectRegistry.PropagationPolicy(rawValue: text) else {
            throw APIError.badRequest("propagationPolicy: Unsupported value: \"\(text)\": supported values: \"Background\", \"Foreground\", \"Orphan\"")
        }
        return policy
    }

    func deleteOptions(_ request: Request, query: [String: String]) async throws -> ObjectRegistry.DeleteOptions {
        var options = ObjectRegistry.DeleteOptions()
        let bytes = try await readBytes(request)
        if !bytes.isEmpty {
            let body = try Self.parseJSON(bytes)
            guard case .object = body else { throw APIError.badRequest("DeleteOptions must be a JSON object") }
            if let grace = body["gracePeriodSeconds"], !grace.isNull {
                guard let value = grace.intValue else { throw APIError.badRequest("gracePeriodSeconds must be an integer") }
                options.gracePeriodSeconds = value
            }
            options.preconditionUID = body[path: ["preconditions", "uid"]]?.stringValue
            options.preconditionResourceVersion = body[path: ["preconditions", "resourceVersion"]]?.stringValue
            if let dryRun = body["dryRun"]?.arrayValue, dryRun.contains("All") { options.dryRun = true }
            if let policy = body["propagationPolicy"], !policy.isNull {
                options.propagationPolicy = try Self.propagationPolicy(policy.stringValue ?? policy.text)
            } else if let orphan = body["orphanDependents"], !orphan.isNull {
                guard let value = orphan.boolValue else { throw APIError.badRequest("orphanDependents must be a boolean") }
                options.propagationPolicy = value ? .orphan : .background
            }
        }
        if let policy = query["propagationPolicy"] {
            options.propagationPolicy = try Self.propagationPolicy(policy)
        } else if let orphan = query["orphanDependents"], options.propagationPolicy == nil {
            options.propagationPolicy = Self.isTrue(orphan) ? .orphan : .background
        }
        if let grace = query["gracePeriodSeconds"] {
            guard let value = Int64(grace) else { throw APIError.badRequest("gracePeriodSeconds must be an integer, got \"\(grace)\"") }
            options.gracePeriodSeconds = value
        }
        if let dryRun = query["dryRun"] {
            guard dryRun == "All" else { throw APIError.badRequest("dryRun: Unsupported value: \"\(dryRun)\": supported values: \"All\"") }
            options.dryRun = true
        }
        return options
    }
}
