import CSQLite

/// A failed SQLite call: the result code, SQLite's message, and what kube9 was doing.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The SQLite result code.
    public var code: Int32
    /// SQLite's own message.
    public var message: String
    /// What kube9 was doing ("open", "prepare INSERT INTO log…", "commit").
    public var context: String

    public var description: String { "sqlite error \(code) during \(context): \(message)" }
}

/// One SQLite connection. Not thread-safe: the owner confines it to one thread at a time.
/// This file is the only place that holds SQLite pointers.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating if needed) the database at `path`.
    init(path: String, readOnly: Bool = false) throws {
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX)
        var pointer: OpaquePointer?
        let code = sqlite3_open_v2(path, &pointer, flags, nil)
        handle = pointer
        if code != SQLITE_OK {
            let message = pointer.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(pointer)
            handle = nil
            throw SQLiteError(code: code, message: message, context: "open \(path)")
        }
    }

    deinit { close() }

    /// Finalizes every statement and closes the connection.
    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let handle { sqlite3_close(handle) }
        handle = nil
    }

    private func check(_ code: Int32, _ context: String) throws {
        guard code == SQLITE_OK || code == SQLITE_ROW || code == SQLITE_DONE else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
            throw SQLiteError(code: code, message: message, context: context)
        }
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &error)
        if code != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "unknown"
            sqlite3_free(error)
            throw SQLiteError(code: code, message: message, context: sql)
        }
    }

    /// A value to bind to a statement parameter.
    enum Value {
        case integer(Int64)
        case text(String)
        case blob([UInt8])
        case null
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            return statement
        }
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v2(handle, sql, -1, &statement, nil), "prepare \(sql)")
        guard let statement else { throw SQLiteError(code: SQLITE_ERROR, message: "empty statement", context: sql) }
        statements[sql] = statement
        return statement
    }

    private func bind(_ values: [Value], to statement: OpaquePointer, sql: String) throws {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .integer(let number): code = sqlite3_bind_int64(statement, index, number)
            case .text(let text):
                code = text.withCString { kube9_sqlite3_bind_text_copy(statement, index, $0, Int32(text.utf8.count)) }
            case .blob(let bytes):
                code = bytes.withUnsafeBytes { kube9_sqlite3_bind_blob_copy(statement, index, $0.baseAddress, Int32($0.count)) }
            case .null: code = sqlite3_bind_null(statement, index)
            }
            try check(code, "bind parameter \(index) of \(sql)")
        }
    }

    /// Runs a statement that returns no rows, with parameters.
    func run(_ sql: String, _ values: [Value] = []) throws {
        let statement = try prepared(sql)
        try bind(values, to: statement, sql: sql)
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        try check(code, sql)
    }

    /// One row of a query, read by column index.
    struct Row {
        fileprivate let statement: OpaquePointer

        func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

        func text(_ column: Int32) -> String {
            guard let pointer = sqlite3_column_text(statement, column) else { return "" }
            return String(cString: pointer)
        }

        func blob(_ column: Int32) -> [UInt8] {
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }

        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    }

    /// Runs a query and calls `body` for each row.
    func query(_ sql: String, _ values: [Value] = [], _ body: (Row) throws -> Void) throws {
        let statement = try prepared(sql)
        try bind(values, to: statement, sql: sql)
        defer { sqlite3_reset(statement) }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { break }
            try check(code, sql)
            try body(Row(statement: statement))
        }
    }

    /// The first column of the first row as an integer, or nil when there is no row or it is NULL.
    func scalar(_ sql: String, _ values: [Value] = []) throws -> Int64? {
        var result: Int64?
        try query(sql, values) { row in
            if result == nil, !row.isNull(0) { result = row.integer(0) }
        }
        return result
    }

    /// The first column of the first row as text.
    func scalarText(_ sql: String) throws -> String? {
        var result: String?
        try query(sql) { row in if result == nil { result = row.text(0) } }
        return result
    }
}
