-- expect: killed
-- 2^19 elements built with a few table.move calls, then sorted: n*log2(n) is over the budget.
local t = {1}
for i = 1, 19 do table.move(t, 1, #t, #t + 1) end
assert(#t == 2^19)
table.sort(t)
