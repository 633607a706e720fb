-- expect: error __gc metamethods are not allowed
-- A __gc on the metatable's own metatable would make the metatable a finalized object: refused.
local mt = {}
setmetatable(mt, {__gc = function() while true do end end})
setmetatable({}, mt)
