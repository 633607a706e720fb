-- expect: killed
error(setmetatable({}, {__tostring = function() return string.rep("x", 2^30) end}))
