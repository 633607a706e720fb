-- expect: error cstack-done
-- pcall inside pcall until the C stack limit: Lua answers with an error each time.
local function f() return pcall(f) end
f()
error("cstack-done")
