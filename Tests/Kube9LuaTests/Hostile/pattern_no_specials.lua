-- expect: killed
-- A pattern without magic characters takes the plain path even without the plain flag.
local subject = string.rep("a", 12000000)
local needle = string.rep("a", 500000) .. "b"
subject:find(needle)
