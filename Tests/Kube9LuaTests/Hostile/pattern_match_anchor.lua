-- expect: killed
-- Anchored: one start position, still exponential.
string.match(string.rep("a", 40), "^" .. string.rep("a?", 40) .. string.rep("a", 40) .. "b")
