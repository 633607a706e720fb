-- expect: killed
-- The same behind pcall.
while true do pcall(string.rep, "x", 2^24) end
