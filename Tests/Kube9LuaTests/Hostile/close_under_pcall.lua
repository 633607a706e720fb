-- expect: killed
-- Handlers that loop and re-enter pcall while the kill unwinds them.
local function body()
  local a <close> = setmetatable({}, {__close = function() while true do pcall(function() while true do end end) end end})
  local b <close> = setmetatable({}, {__close = function() while true do end end})
  error("e")
end
while true do pcall(body) end
