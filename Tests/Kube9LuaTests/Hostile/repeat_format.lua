-- expect: killed
local s = string.rep("y", 3000000)
while true do local r = string.format("%s", s) end
