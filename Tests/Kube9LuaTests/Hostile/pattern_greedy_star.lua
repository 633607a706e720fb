-- expect: killed
-- Greedy items giving back one character at a time, nested 30 deep.
string.match(string.rep("a", 100000), string.rep("a*", 30) .. "b")
