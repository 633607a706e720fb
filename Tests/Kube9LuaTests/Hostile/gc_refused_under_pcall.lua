-- expect: error gc-refused-under-pcall
-- The refusal happens before anything is registered, so catching it leaves nothing behind
-- for the collector or lua_close to run.
for i = 1, 100 do
  local ok, message = pcall(setmetatable, {}, {__gc = function() while true do end end})
  assert(not ok and message:find("__gc metamethods are not allowed", 1, true))
end
local junk = {}
for i = 1, 20000 do junk[i % 100 + 1] = {i} end
error("gc-refused-under-pcall")
