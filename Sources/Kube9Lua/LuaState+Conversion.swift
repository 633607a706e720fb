import CLua
import CLuaShims

/// Conversion between Swift's `LuaValue` and values on the Lua stack, bounded in depth,
/// count and bytes.
extension LuaState {
    // MARK: Conversion

    func push(_ value: LuaValue, depth: Int) throws(LuaError) {
        guard depth < Self.maximumDepth else { throw LuaError(kind: .value, message: "value nests deeper than \(Self.maximumDepth) tables") }
        guard lua_checkstack(state, 4) != 0 else { throw LuaError(kind: .value, message: "Lua stack exhausted") }
        switch value {
        case .nil: lua_pushnil(state)
        case .bool(let flag): lua_pushboolean(state, flag ? 1 : 0)
        case .integer(let number): lua_pushinteger(state, lua_Integer(number))
        case .number(let number): lua_pushnumber(state, number)
        case .string(let text):
            var copy = text
            copy.withUTF8 { buffer in
                buffer.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(state, $0.baseAddress, $0.count) }
            }
        case .array(let elements):
            lua_createtable(state, Int32(elements.count), 0)
            for (index, element) in elements.enumerated() {
                try push(element, depth: depth + 1)
                lua_rawseti(state, -2, lua_Integer(index + 1))
            }
        case .map(let members):
            lua_createtable(state, 0, Int32(members.count))
            for (key, member) in members {
                try push(member, depth: depth + 1)
                kube9_lua_rawsetfield(state, -2, key)
            }
        case .opaque(let name):
            throw LuaError(kind: .value, message: "a \(name) value cannot be passed into Lua from Swift")
        }
    }

    /// Converts the value at `index`. Only raw accesses: no metamethod of the script's runs
    /// here (conversion happens outside the call's budget, and inside Swift callbacks where a
    /// Lua error must not be raised).
    func value(at index: Int32, depth: Int = 0) throws(LuaError) -> LuaValue {
        convertedValues += 1
        guard convertedValues <= Self.maximumConvertedValues else {
            throw LuaError(kind: .value, message: "the value has more than \(Self.maximumConvertedValues) elements")
        }
        let absolute = lua_absindex(state, index)
        switch lua_type(state, absolute) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .bool(lua_toboolean(state, absolute) != 0)
        case LUA_TNUMBER:
            return kube9_lua_isinteger(state, absolute) != 0 ? .integer(Int64(kube9_lua_tointeger(state, absolute))) : .number(kube9_lua_tonumber(state, absolute))
        case LUA_TSTRING:
            var length = 0
            guard let pointer = kube9_lua_tolstring(state, absolute, &length) else { return .string("") }
            convertedBytes += length
            guard convertedBytes <= Self.maximumConvertedBytes else {
                throw LuaError(kind: .value, message: "the value holds more than \(Self.maximumConvertedBytes) bytes of strings")
            }
            return .string(String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self))
        case LUA_TTABLE:
            guard depth < Self.maximumDepth else {
                throw LuaError(kind: .value, message: "table nests deeper than \(Self.maximumDepth) levels (a cycle?)")
            }
            guard lua_checkstack(state, 4) != 0 else { throw LuaError(kind: .value, message: "Lua stack exhausted") }
            // A read-only proxy converts as the table behind it.
            if lua_getmetatable(state, absolute) != 0 {
                _ = lua_pushstring(state, "__index")
                lua_rawget(state, -2)
                if lua_type(state, -1) == LUA_TTABLE, lua_rawlen(state, absolute) == 0 {
                    lua_pushnil(state)
                    let empty = lua_next(state, absolute) == 0
                    if !empty { lua_settop(state, -3) }
                    if empty {
                        let inner = try value(at: -1, depth: depth + 1)
                        lua_settop(state, -3)
                        return inner
                    }
                }
                lua_settop(state, -3)
            }
            var integerKeys: [Int64: LuaValue] = [:]
            var stringKeys: [String: LuaValue] = [:]
            lua_pushnil(state)
            while lua_next(state, absolute) != 0 {
                let member = try value(at: -1, depth: depth + 1)
                switch lua_type(state, -2) {
                case LUA_TNUMBER where kube9_lua_isinteger(state, -2) != 0:
                    integerKeys[Int64(kube9_lua_tointeger(state, -2))] = member
                case LUA_TSTRING:
                    var length = 0
                    guard let pointer = kube9_lua_tolstring(state, -2, &length) else { break }
                    stringKeys[String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)] = member
                default:
                    lua_settop(state, -3)
                    throw LuaError(kind: .value, message: "table keys must be strings or integers, got \(String(cString: lua_typename(state, lua_type(state, -2))))")
                }
                lua_settop(state, -2)
            }
            if stringKeys.isEmpty, !integerKeys.isEmpty, integerKeys.keys.min() == 1, integerKeys.keys.max() == Int64(integerKeys.count) {
                return .array((1...Int64(integerKeys.count)).map { integerKeys[$0] ?? .nil })
            }
            if stringKeys.isEmpty, integerKeys.isEmpty { return .map([:]) }
            for (key, member) in integerKeys { stringKeys[String(key)] = member }
            return .map(stringKeys)
        default:
            return .opaque(String(cString: lua_typename(state, lua_type(state, absolute))))
        }
    }
}
