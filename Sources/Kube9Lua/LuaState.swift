import CLua
import CLuaShims

/// Limits for one call into Lua. Zero means no limit for that measure.
public struct LuaCallLimits: Sendable, Equatable {
    /// VM instructions the call may execute (counted in steps of 1,000).
    public var instructions: Int64
    /// Wall-clock seconds the call may take (checked every 1,000 instructions).
    public var timeoutSeconds: Double

    public init(instructions: Int64 = 1_000_000, timeoutSeconds: Double = 1) {
        self.instructions = instructions
        self.timeoutSeconds = timeoutSeconds
    }

    /// No instruction or time limit (memory is still capped by the state).
    public static let unlimited = LuaCallLimits(instructions: 0, timeoutSeconds: 0)
}

/// A handle to a Lua value kept alive in the state's registry (a loaded module, a function).
public struct LuaReference: Hashable, Sendable {
    let id: Int32
}

/// A Swift function callable from Lua. It receives the arguments and returns the results, or
/// throws `LuaError` whose message Lua raises as an error at the call site.
public typealias LuaFunction = ([LuaValue]) throws(LuaError) -> [LuaValue]

/// One sandboxed Lua 5.4 interpreter. Not thread-safe and not Sendable: confine it to one
/// thread at a time (a policy pool hands each state to one caller). Every Lua error is caught
/// in C; after any failure (error, budget, deadline, memory) the state answers the next call.
public final class LuaState {
    // The C pointers are owned here; only LuaState and its extensions touch them.
    let state: OpaquePointer
    private let limits: UnsafeMutablePointer<kube9_lua_limits>
    private var functions: [Int64: LuaFunction] = [:]
    /// Lua cuts chunk names to 60 bytes in messages; longer names load under an alias that
    /// errors translate back.
    private var chunkAliases: [String: String] = [:]
    private var nextFunctionID: Int64 = 1
    /// The deepest table nesting converted between Lua and Swift.
    public static let maximumDepth = 64
    /// The most values one conversion from Lua to Swift may produce (a table of a million
    /// entries is refused rather than converted: conversion runs outside the call's budget).
    public static let maximumConvertedValues = 1_000_000
    /// Limits of the host's own calls (the PDK prelude, helper lookups): generous, but never none.
    public static let hostCallLimits = LuaCallLimits(instructions: 50_000_000, timeoutSeconds: 10)
    /// The most string bytes one conversion from Lua to Swift may copy (a string Lua holds once
    /// is copied every time a table refers to it).
    public static let maximumConvertedBytes = 64 << 20
    /// Values and string bytes converted so far by the conversion in progress.
    var convertedValues = 0 {
        didSet { if convertedValues == 0 { convertedBytes = 0 } }
    }
    var convertedBytes = 0

    private static let dispatchInstalled: Bool = {
        kube9_lua_set_dispatch { state, context, functionID in
            guard let state, let context else { return -1 }
            let owner = Unmanaged<LuaState>.fromOpaque(context).takeUnretainedValue()
            return owner.dispatch(functionID)
        }
        return true
    }()

    /// A new sandboxed state (see `kube9_lua_open_sandbox`) whose allocations during calls are
    /// capped at `memoryLimit` bytes (0 = no cap).
    public init(memoryLimit: Int = 64 * 1024 * 1024) throws(LuaError) {
        _ = Self.dispatchInstalled
        limits = UnsafeMutablePointer<kube9_lua_limits>.allocate(capacity: 1)
        limits.initialize(to: kube9_lua_limits())
        limits.pointee.memory_limit = memoryLimit
        guard let created = kube9_lua_newstate(limits) else {
            limits.deallocate()
            throw LuaError(kind: .memory, message: "cannot create a Lua state")
        }
        state = created
        kube9_lua_set_context(state, Unmanaged.passUnretained(self).toOpaque())
        kube9_lua_open_sandbox(state)
    }

    deinit {
        lua_close(state)
        limits.deallocate()
    }

    /// Bytes the state holds now.
    public var memoryUsed: Int { limits.pointee.memory_used }

    // MARK: Running code

    /// Compiles and runs a text chunk under `limits`; returns a reference to its first result
    /// (or to nil). Binary chunks are refused.
    public func evaluate(_ source: String, chunkName: String, limits callLimits: LuaCallLimits = LuaCallLimits()) throws(LuaError) -> LuaReference {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        let status = source.withCString { pointer in
            kube9_lua_load_text(state, pointer, source.utf8.count, chunkID(chunkName))
        }
        if status != LUA_OK {
            throw popError(kind: status == LUA_ERRMEM ? .memory : .syntax)
        }
        try protectedCall(arguments: 0, results: 1, limits: callLimits)
        return LuaReference(id: kube9_lua_ref(state))
    }

    /// Runs a chunk and converts all its results.
    public func run(_ source: String, chunkName: String, limits callLimits: LuaCallLimits = LuaCallLimits()) throws(LuaError) -> [LuaValue] {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        let status = source.withCString { pointer in
            kube9_lua_load_text(state, pointer, source.utf8.count, chunkID(chunkName))
        }
        if status != LUA_OK { throw popError(kind: status == LUA_ERRMEM ? .memory : .syntax) }
        try protectedCall(arguments: 0, results: LUA_MULTRET, limits: callLimits)
        var results: [LuaValue] = []
        convertedValues = 0
        var index = top + 1
        while index <= lua_gettop(state) {
            results.append(try value(at: index))
            index += 1
        }
        return results
    }

    /// Releases a reference.
    public func release(_ reference: LuaReference) { kube9_lua_unref(state, reference.id) }

    /// The Lua type name of `reference[field]` (or of the referenced value when `field` is nil).
    public func typeName(of reference: LuaReference, field: String? = nil) -> String {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        pushField(reference, field)
        return String(cString: lua_typename(state, lua_type(state, -1)))
    }

    /// The value of `reference[field]` converted to Swift (functions come back as `.opaque`).
    public func value(of reference: LuaReference, field: String? = nil) throws(LuaError) -> LuaValue {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        pushField(reference, field)
        convertedValues = 0
        return try value(at: -1)
    }

    /// A reference to `reference[field]` (for example a hook function, to call it without a lookup).
    public func reference(to reference: LuaReference, field: String) -> LuaReference {
        pushField(reference, field)
        return LuaReference(id: kube9_lua_ref(state))
    }

    private func pushField(_ reference: LuaReference, _ field: String?) {
        kube9_lua_getref(state, reference.id)
        if let field {
            if lua_type(state, -1) == LUA_TTABLE {
                lua_rawget_string(field)
            } else {
                lua_settop(state, -2)
                lua_pushnil(state)
            }
        }
    }

    private func lua_rawget_string(_ key: String) {
        key.withCString { pointer in _ = lua_pushstring(state, pointer) }
        lua_rawget(state, -2)
        lua_rotate(state, -2, 1)
        lua_settop(state, -2)
    }

    /// Calls the function at `function` (a reference to a function) with `arguments`, preceded
    /// by the values of `references` (tables and functions that stay in Lua).
    public func call(_ function: LuaReference, references: [LuaReference] = [], _ arguments: [LuaValue],
                     limits callLimits: LuaCallLimits = LuaCallLimits()) throws(LuaError) -> [LuaValue] {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        kube9_lua_getref(state, function.id)
        if lua_type(state, -1) != LUA_TFUNCTION {
            throw LuaError(kind: .value, message: "attempt to call a \(String(cString: lua_typename(state, lua_type(state, -1)))) value")
        }
        let argumentCount = arguments.count + references.count
        guard argumentCount < 100_000, lua_checkstack(state, Int32(argumentCount) + 8) != 0 else {
            throw LuaError(kind: .value, message: "too many arguments")
        }
        for reference in references { kube9_lua_getref(state, reference.id) }
        for argument in arguments { try push(argument, depth: 0) }
        try protectedCall(arguments: Int32(argumentCount), results: LUA_MULTRET, limits: callLimits)
        let count = lua_gettop(state) - top
        var results: [LuaValue] = []
        results.reserveCapacity(Int(count))
        convertedValues = 0
        if count > 0 {
            for index in (top + 1)...(top + count) { results.append(try value(at: index)) }
        }
        return results
    }

    /// Calls `reference[method]` with `arguments`.
    public func call(_ reference: LuaReference, method: String, _ arguments: [LuaValue], limits callLimits: LuaCallLimits = LuaCallLimits()) throws(LuaError) -> [LuaValue] {
        let function = self.reference(to: reference, field: method)
        defer { release(function) }
        return try call(function, arguments, limits: callLimits)
    }

    private func protectedCall(arguments: Int32, results: Int32, limits callLimits: LuaCallLimits) throws(LuaError) {
        kube9_lua_arm(state, limits, callLimits.instructions, callLimits.timeoutSeconds)
        let status = kube9_lua_pcall(state, arguments, results)
        let killed = limits.pointee.killed
        kube9_lua_disarm(state, limits)
        if status == LUA_OK, killed != 0 {
            // The kill was raised, a pcall in the script caught it, and the chunk returned
            // before another instruction could re-raise it: the call still fails.
            let kind: LuaError.Kind = killed == Int32(KUBE9_LUA_KILLED_MEMORY.rawValue) ? .memory
                : killed == Int32(KUBE9_LUA_KILLED_DEADLINE.rawValue) ? .deadline : .budget
            _ = kube9_lua_collect(state)
            throw LuaError(kind: kind, message: "kube9: \(kind == .memory ? "memory limit" : kind == .deadline ? "wall-clock deadline" : "instruction budget") exceeded (the script caught the kill with pcall; it still ends the call)")
        }
        guard status != LUA_OK else { return }
        let kind: LuaError.Kind
        switch killed {
        case Int32(KUBE9_LUA_KILLED_BUDGET.rawValue): kind = .budget
        case Int32(KUBE9_LUA_KILLED_DEADLINE.rawValue): kind = .deadline
        case Int32(KUBE9_LUA_KILLED_MEMORY.rawValue): kind = .memory
        default: kind = status == LUA_ERRMEM ? .memory : .runtime
        }
        let error = popError(kind: kind)
        // Return the memory a failed call left behind, so the next call starts clean.
        _ = kube9_lua_collect(state)
        throw error
    }

    private func chunkID(_ name: String) -> String {
        if name.utf8.count <= 50 { return "=" + name }
        if let alias = chunkAliases.first(where: { $0.value == name })?.key { return "=" + alias }
        let alias = "chunk#\(chunkAliases.count + 1)"
        chunkAliases[alias] = name
        return "=" + alias
    }

    private func popError(kind: LuaError.Kind) -> LuaError {
        var length = 0
        var text = kube9_lua_tolstring(state, -1, &length).map { String(cString: $0) } ?? "(error object is not a string)"
        lua_settop(state, -2)
        for (alias, name) in chunkAliases where text.contains(alias) {
            text = text.replacing(alias + ":", with: name + ":")
        }
        var error = LuaError.parse(text, kind: kind)
        // Lua's own out-of-memory error (the capped allocator refused), wherever it surfaced: a
        // load, or a runtime error a script caught with pcall and raised again. Named as the cap.
        if kind == .memory || error.message == "not enough memory", !error.message.contains("memory limit") {
            error.kind = .memory
            error.message = "kube9: memory limit exceeded (\(error.message))"
        }
        return error
    }

    // MARK: Globals and Swift functions

    /// Sets a global variable (a raw write: a metatable a script put on `_G` is not run).
    public func setGlobal(_ name: String, _ value: LuaValue) throws(LuaError) {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        pushGlobals()
        _ = name.withCString { lua_pushstring(state, $0) }
        try push(value, depth: 0)
        lua_rawset(state, -3)
    }

    /// Reads a global variable (a raw read: a metatable a script put on `_G` is not run).
    public func global(_ name: String) throws(LuaError) -> LuaValue {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        pushGlobals()
        _ = name.withCString { lua_pushstring(state, $0) }
        lua_rawget(state, -2)
        convertedValues = 0
        return try value(at: -1)
    }

    /// Pushes the globals table (from the registry, not through `_ENV`).
    private func pushGlobals() {
        lua_rawgeti(state, kube9_lua_registryindex(), lua_Integer(LUA_RIDX_GLOBALS))
    }

    /// A table of Swift functions and constant values to expose as one global library.
    public struct Library {
        var functions: [(path: [String], function: LuaFunction)] = []
        var values: [(path: [String], value: LuaValue)] = []
        public init() {}
        /// Adds a function at a dotted path inside the library ("log.info").
        public mutating func function(_ path: String, _ function: @escaping LuaFunction) {
            functions.append((path.split(separator: ".").map(String.init), function))
        }
        /// Adds a constant at a dotted path.
        public mutating func value(_ path: String, _ value: LuaValue) {
            values.append((path.split(separator: ".").map(String.init), value))
        }
    }

    /// Installs `library` as the global `name`; every table in it is read-only for scripts.
    /// `prelude` (Lua source) runs with the library as its first argument and may add
    /// Lua-written helpers before the tables are frozen; what it returns comes back as
    /// references (functions the host calls later: taken before any script can replace them).
    @discardableResult
    public func install(_ library: Library, as name: String, prelude: String? = nil) throws(LuaError) -> [LuaReference] {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        var tree = LibraryNode()
        for (path, function) in library.functions {
            let id = nextFunctionID
            nextFunctionID += 1
            functions[id] = function
            tree.insert(path, .function(id))
        }
        for (path, value) in library.values { tree.insert(path, .value(value)) }
        try pushLibrary(tree)
        var exported: [LuaReference] = []
        if let prelude {
            let raw = kube9_lua_ref(state)  // the mutable library table
            let status = prelude.withCString { pointer in kube9_lua_load_text(state, pointer, prelude.utf8.count, "=kube9/prelude.lua") }
            if status != LUA_OK { throw popError(kind: .syntax) }
            kube9_lua_getref(state, raw)
            let base = lua_gettop(state) - 2
            try protectedCall(arguments: 1, results: LUA_MULTRET, limits: Self.hostCallLimits)
            while lua_gettop(state) > base { exported.insert(LuaReference(id: kube9_lua_ref(state)), at: 0) }
            kube9_lua_getref(state, raw)
            kube9_lua_unref(state, raw)
        }
        freeze()
        pushGlobals()
        _ = name.withCString { lua_pushstring(state, $0) }
        lua_rotate(state, -3, -1)
        lua_rawset(state, -3)
        return exported
    }

    private indirect enum LibraryEntry {
        case function(Int64)
        case value(LuaValue)
        case node(LibraryNode)
    }

    private struct LibraryNode {
        var entries: [String: LibraryEntry] = [:]
        mutating func insert(_ path: [String], _ entry: LibraryEntry) {
            guard let first = path.first else { return }
            if path.count == 1 {
                entries[first] = entry
                return
            }
            var child: LibraryNode
            if case .node(let existing)? = entries[first] { child = existing } else { child = LibraryNode() }
            child.insert(Array(path.dropFirst()), entry)
            entries[first] = .node(child)
        }
    }

    private func pushLibrary(_ node: LibraryNode) throws(LuaError) {
        kube9_lua_newtable(state)
        for (key, entry) in node.entries {
            switch entry {
            case .function(let id): kube9_lua_push_swift_function(state, id)
            case .value(let value): try push(value, depth: 0)
            case .node(let child): try pushLibrary(child)
            }
            kube9_lua_rawsetfield(state, -2, key)
        }
    }

    /// Replaces the table on top of the stack, and every table inside it, with read-only proxies.
    private func freeze() {
        lua_pushnil(state)
        var keys: [String] = []
        while lua_next(state, -2) != 0 {
            if lua_type(state, -1) == LUA_TTABLE, lua_type(state, -2) == LUA_TSTRING {
                var length = 0
                if let key = kube9_lua_tolstring(state, -2, &length) { keys.append(String(cString: key)) }
            }
            lua_settop(state, -2)
        }
        for key in keys {
            _ = key.withCString { lua_getfield(state, -1, $0) }
            freeze()
            kube9_lua_rawsetfield(state, -2, key)
        }
        kube9_lua_make_readonly(state)
    }

    fileprivate func dispatch(_ functionID: Int64) -> Int32 {
        guard let function = functions[functionID] else {
            _ = lua_pushstring(state, "kube9: unknown Swift function")
            return -1
        }
        let count = lua_gettop(state)
        convertedValues = 0
        do {
            var arguments: [LuaValue] = []
            arguments.reserveCapacity(Int(count))
            if count > 0 { for index in 1...count { arguments.append(try value(at: index)) } }
            let results = try function(arguments)
            guard lua_checkstack(state, Int32(results.count) + 8) != 0 else {
                _ = lua_pushstring(state, "kube9: too many results")
                return -1
            }
            for result in results { try push(result, depth: 0) }
            return Int32(results.count)
        } catch {
            // Raise at the caller's line: "chunk:line: message".
            luaL_where(state, 1)
            _ = lua_pushstring(state, error.message)
            lua_concat(state, 2)
            return -1
        }
    }
}
