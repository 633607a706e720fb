-- expect: killed
-- The same backtracking bomb through gmatch's iterator.
for _ in string.gmatch(string.rep("a", 5000), string.rep("a-", 20) .. "b") do end
