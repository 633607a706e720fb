-- expect: killed
-- A __close handler that never returns (it runs inside the VM, under the hook).
do
  local x <close> = setmetatable({}, {__close = function() while true do end end})
end
