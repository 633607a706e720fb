import CCurl
import Kube9Model

/// A reply from the API: status code, body bytes and selected headers.
public struct HTTPReply: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// Response headers, lower-cased names; repeated headers are joined with ", ".
    public var headers: [String: String]

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON.
    public func json() throws -> JSON { try JSON.parse(body) }
}

/// Failures of the transport (not HTTP error statuses, which are replies).
public struct ClientError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

enum CurlGlobal {
    static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
        return true
    }()
}

final class TransferContext {
    var body: [UInt8] = []
    var headerLines: [String] = []
    var requestBody: [UInt8] = []
    var requestOffset = 0
    /// For streams: called per complete line; returning false stops the transfer.
    var onLine: ((ArraySlice<UInt8>) -> Bool)?
    /// For raw streams: called per received chunk; returning false stops the transfer.
    var onChunk: ((UnsafeRawBufferPointer) -> Bool)?
    var stopped = false
    /// A reply body longer than this is not read further (the transfer fails).
    var maximumBodyBytes = Int.max
    var tooLarge = false
}

/// One keep-alive HTTP connection through a libcurl easy handle. Not thread-safe: use it from
/// one thread at a time (`Kube9Client` pools these for concurrent callers and hands each to
/// one thread at a time, which is why it may cross threads).
public final class HTTPConnection: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    /// Scheme, host and port, e.g. "http://127.0.0.1:6443".
    public let baseURL: String
    /// Seconds before a non-streaming request fails.
    public var timeoutSeconds: Int = 60
    /// The longest reply body `request` reads; a longer one fails with a `ClientError`.
    public var maximumReplyBytes = Int.max
    /// When set, requests go over this unix socket (the URL's host is then only a name),
    /// as the Docker Engine API is served.
    public let unixSocketPath: String?

    /// A connection to `baseURL` (scheme, host, port), or through `unixSocketPath` when given.
    public init(baseURL: String, unixSocketPath: String? = nil) throws {
        _ = CurlGlobal.initialized
        guard let handle = curl_easy_init() else { throw ClientError("curl_easy_init failed") }
        self.handle = handle
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.unixSocketPath = unixSocketPath
    }

    deinit { curl_easy_cleanup(handle) }

    static let writeCallback: kube9_curl_data_callback = { data, size, count, context in
        guard let data, let context else { return 0 }
        let transfer = Unmanaged<TransferContext>.fromOpaque(context).takeUnretainedValue()
        let total = size * count
        let bytes = UnsafeRawBufferPointer(start: data, count: total)
        if let onChunk = transfer.onChunk {
            if onChunk(bytes) { return total }
            transfer.stopped = true
            return 0
        }
        if transfer.body.count + total > transfer.maximumBodyBytes, transfer.onLine == nil {
            transfer.tooLarge = true
            return 0
        }
        transfer.body.append(contentsOf: bytes)
        if let onLine = transfer.onLine {
            while let newline = transfer.body.firstIndex(of: 0x0A) {
                let line = transfer.body[..<newline]
                let keepGoing = onLine(line)
                transfer.body.removeSubrange(...newline)
                if !keepGoing {
                    transfer.stopped = true
                    return 0
                }
            }
        }
        return total
    }

    static let headerCallback: kube9_curl_data_callback = { data, size, count, context in
        guard let data, let context else { return 0 }
        let transfer = Unmanaged<TransferContext>.fromOpaque(context).takeUnretainedValue()
        let total = size * count
        transfer.headerLines.append(String(decoding: UnsafeRawBufferPointer(start: data, count: total), as: UTF8.self))
        return total
    }

    static let readCallback: kube9_curl_data_callback = { buffer, size, count, context in
        guard let buffer, let context else { return 0 }
        let transfer = Unmanaged<TransferContext>.fromOpaque(context).takeUnretainedValue()
        let available = transfer.requestBody.count - transfer.requestOffset
        let amount = min(available, size * count)
        if amount > 0 {
            transfer.requestBody.withUnsafeBytes { source in
                if let base = source.baseAddress {
                    UnsafeMutableRawPointer(buffer).copyMemory(from: base + transfer.requestOffset, byteCount: amount)
                }
            }
            transfer.requestOffset += amount
        }
        return amount
    }

    private func perform(method: String, path: String, body: [UInt8]?, headers: [String], timeout: Int, context: TransferContext) throws -> (Int, [String: String]) {
        curl_easy_reset(handle)
        let url = baseURL + path
        kube9_curl_setopt_string(handle, CURLOPT_URL, url)
        if let unixSocketPath { kube9_curl_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, unixSocketPath) }
        kube9_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        kube9_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        kube9_curl_setopt_long(handle, CURLOPT_TIMEOUT, timeout)
        kube9_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 10)
        kube9_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
        if method == "HEAD" { kube9_curl_setopt_long(handle, CURLOPT_NOBODY, 1) }
        let unmanaged = Unmanaged.passUnretained(context).toOpaque()
        kube9_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, Self.writeCallback)
        kube9_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, unmanaged)
        kube9_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, Self.headerCallback)
        kube9_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, unmanaged)
        if let body {
            context.requestBody = body
            context.requestOffset = 0
            kube9_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
            kube9_curl_setopt_data_callback(handle, CURLOPT_READFUNCTION, Self.readCallback)
            kube9_curl_setopt_pointer(handle, CURLOPT_READDATA, unmanaged)
            kube9_curl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(body.count))
            kube9_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
        }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for header in headers + ["Expect:"] { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        kube9_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
        let code = curl_easy_perform(handle)
        if context.tooLarge {
            throw ClientError("\(method) \(url): the reply is larger than \(context.maximumBodyBytes) bytes")
        }
        if code != CURLE_OK && !(code == CURLE_WRITE_ERROR && context.stopped) {
            throw ClientError("\(method) \(url): \(String(cString: curl_easy_strerror(code)))")
        }
        var status: Int = 0
        kube9_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var parsed: [String: String] = [:]
        for line in context.headerLines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon]).lowercased()
            let value = String(line[line.index(after: colon)...]).replacingOccurrences(of: "\r", with: "").trimmingSpaces
            parsed[name] = parsed[name].map { "\($0), \(value)" } ?? value
        }
        return (status, parsed)
    }

    /// Sends one request and returns the whole reply.
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
                        accept: String = "application/json", extraHeaders: [String] = []) throws -> HTTPReply {
        let context = TransferContext()
        context.maximumBodyBytes = maximumReplyBytes
        var headers = ["Accept: \(accept)"] + extraHeaders
        if body != nil { headers.append("Content-Type: \(contentType)") }
        let (status, replyHeaders) = try perform(method: method, path: path, body: body, headers: headers, timeout: timeoutSeconds, context: context)
        return HTTPReply(status: status, body: context.body, headers: replyHeaders)
    }

    /// Streams a response line by line (a watch); `onLine` returns false to stop. Returns the
    /// status code once the server ends the stream or `onLine` stops it.
    @discardableResult
    public func stream(_ path: String, accept: String = "application/json", timeoutSeconds: Int = 0,
                       onLine: @escaping (ArraySlice<UInt8>) -> Bool) throws -> Int {
        let context = TransferContext()
        context.onLine = onLine
        let (status, _) = try perform(method: "GET", path: path, body: nil, headers: ["Accept: \(accept)"], timeout: timeoutSeconds, context: context)
        if !context.body.isEmpty, !context.stopped { _ = onLine(context.body[...]) }
        return status
    }

    /// Streams a response as raw chunks (log follow, multiplexed Docker streams); `onChunk`
    /// returns false to stop. Returns the status code and, when the stream ended by itself
    /// on an error status, nothing more: the error body was delivered through `onChunk` too.
    @discardableResult
    public func streamChunks(_ method: String = "GET", _ path: String, body: [UInt8]? = nil, accept: String = "*/*",
                             timeoutSeconds: Int = 0, extraHeaders: [String] = [],
                             onChunk: @escaping (UnsafeRawBufferPointer) -> Bool) throws -> Int {
        let context = TransferContext()
        context.onChunk = onChunk
        var headers = ["Accept: \(accept)"] + extraHeaders
        if body != nil { headers.append("Content-Type: application/json") }
        let (status, _) = try perform(method: method, path: path, body: body, headers: headers, timeout: timeoutSeconds, context: context)
        return status
    }
}
