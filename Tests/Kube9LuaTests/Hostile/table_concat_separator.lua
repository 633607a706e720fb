-- expect: killed
-- 10,000 elements joined by a 100 KB separator: a gigabyte, charged by its size.
local t = {}
for i = 1, 10000 do t[i] = i end
table.concat(t, string.rep("x", 100000))
