-- expect: killed
-- The handler loops on an ordinary error (hooked), is killed, and is not re-entered.
xpcall(error, function() while true do end end)
