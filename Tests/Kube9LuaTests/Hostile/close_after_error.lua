-- expect: killed
-- The same handler run while an error unwinds the block.
do
  local x <close> = setmetatable({}, {__close = function() while true do end end})
  error("boom")
end
