-- expect: killed
-- tonumber walks the whole string: charged by size.
local s = string.rep("1", 12000000)
while true do local x = tonumber(s) end
