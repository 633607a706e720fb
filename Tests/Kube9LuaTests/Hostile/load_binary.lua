-- expect: error only text chunks
local f, message = load("\27Lua", "=bin", "b")
assert(f, message)
