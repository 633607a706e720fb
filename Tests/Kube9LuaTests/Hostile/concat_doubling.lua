-- expect: killed
-- Doubling a string 40 times.
local s = "x"
for i = 1, 40 do s = s .. s end
