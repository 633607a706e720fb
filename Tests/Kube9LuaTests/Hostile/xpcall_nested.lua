-- expect: killed
local function again() return xpcall(function() while true do end end, again) end
while true do again() end
