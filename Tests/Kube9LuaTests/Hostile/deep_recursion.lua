-- expect: killed
-- Non-tail recursion: under a 32 MiB cap the growing Lua stack hits the memory limit before
-- Lua's own stack limit ("stack overflow", which a larger cap reaches first).
local function f(n) return 1 + f(n + 1) end
f(1)
