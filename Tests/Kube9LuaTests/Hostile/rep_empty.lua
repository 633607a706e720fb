-- expect: error rep-empty-ok
-- Lua would copy zero bytes 2^53 times: the guard answers "" at once.
assert(string.rep("", 2^53) == "")
assert(string.rep("", 2^53, "") == "")
assert(("").rep("", math.maxinteger) == "")
error("rep-empty-ok")
