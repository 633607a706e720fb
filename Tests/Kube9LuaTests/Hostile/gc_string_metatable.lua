-- expect: error string-metatable-gc-harmless
-- Strings are never finalized: a __gc put on the shared string metatable does nothing.
local smt = getmetatable("")
smt.__gc = function() while true do end end
local junk = {}
for i = 1, 100000 do junk[i % 1000 + 1] = ("x"):rep(i % 50) end
smt.__gc = nil
error("string-metatable-gc-harmless")
