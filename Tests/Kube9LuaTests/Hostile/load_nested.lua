-- expect: error stack overflow
-- Deep nesting in a generated chunk: the parser's own C-stack limit answers.
local f, message = load("return " .. string.rep("(", 100000) .. "1" .. string.rep(")", 100000))
assert(f, message)
