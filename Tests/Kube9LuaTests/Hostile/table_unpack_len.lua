-- expect: error too many results to unpack
table.unpack(setmetatable({}, {__len = function() return 1 << 40 end}))
