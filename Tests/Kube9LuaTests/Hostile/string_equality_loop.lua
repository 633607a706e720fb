-- expect: killed
-- Two distinct 8 MB equal strings compared byte by byte in one instruction.
local a = string.rep("q", 8000000)
local b = string.rep("q", 7999999) .. "q"
while true do local same = a == b end
