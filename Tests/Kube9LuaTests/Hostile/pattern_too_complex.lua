-- expect: error pattern too complex
-- The matcher's nesting is bounded like Lua's (200).
string.find(string.rep("a", 1000), string.rep("a?", 300))
