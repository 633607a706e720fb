-- expect: error __gc metamethods are not allowed
-- A finalizer runs with hooks disabled (at the next collection, or at lua_close): refused.
setmetatable({}, {__gc = function() while true do end end})
