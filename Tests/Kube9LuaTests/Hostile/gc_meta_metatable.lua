-- expect: error gc-meta-metatable-harmless
-- Lua looks __gc up raw in the metatable: a __gc reachable only through the metatable's own
-- metatable (__index) is not a finalizer.
local loop = function() while true do end end
local mt = setmetatable({}, {__index = {__gc = loop}})
assert(mt.__gc == loop)
for i = 1, 1000 do setmetatable({}, mt) end
local junk = {}
for i = 1, 200000 do junk[i % 1000 + 1] = {i} end
error("gc-meta-metatable-harmless")
