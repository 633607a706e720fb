-- expect: error gc-later-harmless
-- Lua registers a finalizer only if __gc is present when setmetatable runs: adding it later
-- (plain or raw assignment) never runs it, during collections or at lua_close.
local mt = {}
local objects = {}
for i = 1, 1000 do objects[i] = setmetatable({i}, mt) end
mt.__gc = function() while true do end end
local raw = {}
local kept = setmetatable({}, raw)
rawset(raw, "__gc", function() while true do end end)
objects = nil
-- churn so that several collection cycles run
local junk = {}
for i = 1, 200000 do junk[i % 1000 + 1] = {i, tostring(i)} end
error("gc-later-harmless")
