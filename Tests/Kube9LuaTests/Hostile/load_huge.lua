-- expect: error chunk too large
-- A 1.8 MB generated chunk: load refuses it (fail plus message).
local f, message = load(string.rep("x = 1\n", 300000))
assert(f, message)
