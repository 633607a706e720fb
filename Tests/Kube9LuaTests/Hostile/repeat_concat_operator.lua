-- expect: killed
-- One VM instruction copies 6 MB: the allocator watches the deadline on large allocations.
local s = string.rep("x", 2000000)
while true do local u = s .. s .. s end
