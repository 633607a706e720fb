-- expect: killed
-- Exponential backtracking inside one string.find call.
string.find(string.rep("a", 5000), string.rep("a-", 20) .. "b")
