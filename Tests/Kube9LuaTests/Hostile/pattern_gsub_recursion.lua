-- expect: error stack overflow
-- gsub replacement functions recursing into gsub: the C stack limit stops it.
local function f(s) return (s:gsub(".", f)) end
f(string.rep("x", 300))
