-- expect: killed
local s = string.rep("ab", 1500000)
while true do local r = s:reverse():sub(2, -2) end
