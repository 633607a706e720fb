-- expect: killed
-- A proxy of 2^25 elements whose metamethods are C functions (no VM instruction per element).
local t = setmetatable({}, {__len = function() return 1 << 25 end, __index = rawlen, __newindex = rawequal})
table.sort(t)
