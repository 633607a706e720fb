-- expect: killed
-- next(t) from the start scans an array part of a million empty slots in C, in one VM
-- instruction (next is not guarded: only the deadline, checked every 1,000 instructions, stops it).
local t = {}
for i = 1, 2^20 do t[i] = true end
for i = 1, 2^20 - 1 do t[i] = nil end
while true do next(t) end
