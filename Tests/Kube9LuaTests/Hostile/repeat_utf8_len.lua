-- expect: killed
local s = string.rep("x", 3000000)
while true do local n = utf8.len(s) end
