-- expect: killed
-- Arithmetic on a 12 MB numeral: one VM instruction, ~10 ms of conversion (Lua 5.4 converts in
-- the string metatable's __add, which is charged by size).
local s = string.rep("1", 12000000)
while true do local x = s + 0 end
