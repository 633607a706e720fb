-- expect: killed
-- The message handler calls __tostring on a non-string error: it loops under the hook.
error(setmetatable({}, {__tostring = function() while true do end end}))
