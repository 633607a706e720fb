-- expect: killed
-- A message handler that loops. When the kill is raised by the budget hook, Lua calls the
-- handler from inside the hook, with hooks disabled: the guarded xpcall skips the script's
-- handler once the call is killed.
xpcall(function() while true do end end, function() while true do end end)
