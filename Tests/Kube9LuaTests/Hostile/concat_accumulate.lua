-- expect: killed
-- Huge concatenations in a loop, results kept.
local t = {}
local piece = string.rep("z", 1000000)
for i = 1, 1e9 do t[#t + 1] = piece .. i end
