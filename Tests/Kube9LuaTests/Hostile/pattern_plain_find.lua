-- expect: killed
-- Plain find is O(n*m): a 12 MB subject and a 500 KB needle that almost matches everywhere.
local subject = string.rep("a", 12000000)
local needle = string.rep("a", 500000) .. "b"
string.find(subject, needle, 1, true)
