-- expect: error too many elements
table.concat(setmetatable({}, {__len = function() return 2^40 end, __index = rawlen}))
