-- expect: killed
-- Compiling a chunk just under the 1 MiB cap again and again (the deadline is checked at every
-- call and on the compiler's allocations).
local src = string.rep("a = 1 ", 174000)
assert(#src < 1048576)
while true do assert(load(src)) end
