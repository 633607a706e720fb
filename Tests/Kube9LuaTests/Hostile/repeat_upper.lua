-- expect: killed
-- 3 MB through string.upper again and again: few instructions, much C time (charged by size).
local s = string.rep("x", 3000000)
while true do local u = s:upper() end
