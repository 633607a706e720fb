/// One problem with one field of a request, as Kubernetes reports it in `Status.details.causes`.
public struct FieldCause: Sendable, Equatable {
    /// Kubernetes cause type: FieldValueInvalid, FieldValueRequired, FieldValueNotSupported,
    /// FieldValueDuplicate, FieldValueTooLong, FieldValueForbidden, FieldValueTypeInvalid, UnknownField.
    public var reason: String
    /// The dotted path of the field, e.g. `spec.containers[0].name`.
    public var field: String
    /// What is wrong with it.
    public var message: String

    public init(reason: String, field: String, message: String) {
        self.reason = reason
        self.field = field
        self.message = message
    }

    /// A value that breaks a rule.
    public static func invalid(_ field: String, _ value: JSON?, _ detail: String) -> FieldCause {
        let shown = value.map { $0.stringValue.map { "\"\($0)\"" } ?? $0.text } ?? "null"
        return FieldCause(reason: "FieldValueInvalid", field: field, message: "Invalid value: \(shown): \(detail)")
    }

    /// A required value that is missing.
    public static func required(_ field: String, _ detail: String = "") -> FieldCause {
        FieldCause(reason: "FieldValueRequired", field: field, message: "Required value" + (detail.isEmpty ? "" : ": \(detail)"))
    }

    /// A value outside an enumerated set.
    public static func notSupported(_ field: String, _ value: JSON?, supported: [String]) -> FieldCause {
        let shown = value.map { $0.stringValue.map { "\"\($0)\"" } ?? $0.text } ?? "null"
        let list = supported.map { "\"\($0)\"" }.joined(separator: ", ")
        return FieldCause(reason: "FieldValueNotSupported", field: field, message: "Unsupported value: \(shown): supported values: \(list)")
    }

    /// A value that appears twice where it must be unique.
    public static func duplicate(_ field: String, _ value: JSON) -> FieldCause {
        let shown = value.stringValue.map { "\"\($0)\"" } ?? value.text
        return FieldCause(reason: "FieldValueDuplicate", field: field, message: "Duplicate value: \(shown)")
    }

    /// A value of the wrong JSON type.
    public static func typeInvalid(_ field: String, expected: String, got value: JSON) -> FieldCause {
        FieldCause(reason: "FieldValueTypeInvalid", field: field, message: "Invalid value: \(value.typeName): expected \(expected)")
    }

    /// A value that may not be set or changed.
    public static func forbidden(_ field: String, _ detail: String) -> FieldCause {
        FieldCause(reason: "FieldValueForbidden", field: field, message: "Forbidden: \(detail)")
    }

    /// "field: message", as Kubernetes prints a cause in a Status message.
    public var summary: String { field.isEmpty ? message : "\(field): \(message)" }
}

/// Every failure the API can report. Each case knows its HTTP code and Kubernetes reason;
/// `status` renders the `Status` object the server sends. This is the one place errors map to HTTP.
public enum APIError: Error, Sendable, Equatable {
    /// 400: the request itself is malformed (bad JSON, bad selector, bad resourceVersion…).
    case badRequest(String)
    /// 404: the object (resource plural, name) does not exist.
    case notFound(resource: String, group: String, name: String)
    /// 404: the URL does not name anything served.
    case unknownPath(String)
    /// 409: create of an object that exists.
    case alreadyExists(resource: String, group: String, name: String)
    /// 409: a precondition (resourceVersion, uid) no longer holds; re-read and retry.
    case conflict(resource: String, group: String, name: String, message: String)
    /// 410: the requested resourceVersion is older than the retained history; re-list.
    case expired(String)
    /// 405: the verb is not served for this resource.
    case methodNotAllowed(String)
    /// 406: nothing the client accepts can be produced.
    case notAcceptable(String)
    /// 413: the body is larger than the server accepts.
    case tooLarge(limit: Int)
    /// 415: the body's content type is not understood.
    case unsupportedMediaType(String)
    /// 422: the object breaks validation rules; `causes` names each field.
    case invalid(kind: String, group: String, name: String, causes: [FieldCause])
    /// 403: the request is refused (for example deleting a system namespace).
    case forbidden(resource: String, group: String, name: String, message: String)
    /// 429: too many requests of this kind are in progress; retry later.
    case tooManyRequests(String)
    /// 500: a fault inside the server; the message says where.
    case internalError(String)
    /// 503: the server is shutting down or not ready.
    case unavailable(String)

    /// The HTTP status code.
    public var code: Int {
        switch self {
        case .badRequest: return 400
        case .notFound, .unknownPath: return 404
        case .alreadyExists, .conflict: return 409
        case .expired: return 410
        case .methodNotAllowed: return 405
        case .notAcceptable: return 406
        case .tooLarge: return 413
        case .unsupportedMediaType: return 415
        case .invalid: return 422
        case .forbidden: return 403
        case .tooManyRequests: return 429
        case .internalError: return 500
        case .unavailable: return 503
        }
    }

    /// The Kubernetes `StatusReason`.
    public var reason: String {
        switch self {
        case .badRequest: return "BadRequest"
        case .notFound, .unknownPath: return "NotFound"
        case .alreadyExists: return "AlreadyExists"
        case .conflict: return "Conflict"
        case .expired: return "Expired"
        case .methodNotAllowed: return "MethodNotAllowed"
        case .notAcceptable: return "NotAcceptable"
        case .tooLarge: return "RequestEntityTooLarge"
        case .unsupportedMediaType: return "UnsupportedMediaType"
        case .invalid: return "Invalid"
        case .forbidden: return "Forbidden"
        case .tooManyRequests: return "TooManyRequests"
        case .internalError: return "InternalError"
        case .unavailable: return "ServiceUnavailable"
        }
    }

    static func qualified(_ resource: String, _ group: String) -> String {
        group.isEmpty ? resource : "\(resource).\(group)"
    }

    /// The human-readable message, in the words Kubernetes uses.
    public var message: String {
        switch self {
        case .badRequest(let message): return message
        case .notFound(let resource, let group, let name):
            return "\(APIError.qualified(resource, group)) \"\(name)\" not found"
        case .unknownPath: return "the server could not find the requested resource"
        case .alreadyExists(let resource, let group, let name):
            return "\(APIError.qualified(resource, group)) \"\(name)\" already exists"
        case .conflict(let resource, let group, let name, let message):
            return "Operation cannot be fulfilled on \(APIError.qualified(resource, group)) \"\(name)\": \(message)"
        case .expired(let message): return message
        case .methodNotAllowed(let message): return message
        case .notAcceptable(let message): return message
        case .tooLarge(let limit): return "the request body is larger than the server accepts (\(limit) bytes)"
        case .unsupportedMediaType(let message): return message
        case .invalid(let kind, let group, let name, let causes):
            let qualifiedKind = group.isEmpty ? kind : "\(kind).\(group)"
            return "\(qualifiedKind) \"\(name)\" is invalid: " + causes.map(\.summary).joined(separator: ", ")
        case .forbidden(let resource, let group, let name, let message):
            return "\(APIError.qualified(resource, group)) \"\(name)\" is forbidden: \(message)"
        case .tooManyRequests(let message): return message
        case .internalError(let message): return "Internal error occurred: \(message)"
        case .unavailable(let message): return message
        }
    }

    /// The `Status` object (apiVersion v1) that carries this error on the wire.
    public var status: JSON {
        var details: JSON? = nil
        switch self {
        case .notFound(let resource, let group, let name), .alreadyExists(let resource, let group, let name),
            .conflict(let resource, let group, let name, _), .forbidden(let resource, let group, let name, _):
            // Kubernetes' field order (name, group, kind): clients compare these byte for byte.
            var value: JSON = ["name": .string(name)]
            if !group.isEmpty { value["group"] = .string(group) }
            value["kind"] = .string(resource)
            details = value
        case .invalid(let kind, let group, let name, let causes):
            var value: JSON = ["name": .string(name)]
            if !group.isEmpty { value["group"] = .string(group) }
            value["kind"] = .string(kind)
            value["causes"] = .array(causes.map { ["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)] })
            details = value
        default:
            break
        }
        var status: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Failure",
            "message": .string(message), "reason": .string(reason),
        ]
        if let details { status["details"] = details }
        status["code"] = .int(Int64(code))
        return status
    }
}

extension APIError {
    /// Whether this is a 422 with a cause naming `field`.
    public func names(field: String) -> Bool {
        guard case .invalid(_, _, _, let causes) = self else { return false }
        return causes.contains { $0.field == field }
    }
}
