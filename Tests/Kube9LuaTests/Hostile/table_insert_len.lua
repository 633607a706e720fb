-- expect: error too many elements
-- __len claims 2^60 elements: inserting at 1 would shift all of them in C.
local t = setmetatable({}, {__len = function() return 1 << 60 end})
table.insert(t, 1, "x")
