-- expect: error invalid order function for sorting
local t = {}
for i = 1, 500 do t[i] = i % 7 end
table.sort(t, function(a, b) return true end)
