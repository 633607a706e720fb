-- expect: error toctou-ok
-- __len answers 2 the first time and 2^30 afterwards: the guards measure the length once and
-- use that measure, so the C loops cannot be made longer than what was charged.
local function proxy()
  local calls = 0
  return setmetatable({}, {
    __len = function() calls = calls + 1 return calls == 1 and 2 or 1 << 30 end,
    __index = rawlen, __newindex = rawequal,
  })
end
table.sort(proxy())
table.insert(proxy(), 1, "x")
table.remove(proxy(), 1)
table.concat(proxy())
table.unpack(proxy())
error("toctou-ok")
