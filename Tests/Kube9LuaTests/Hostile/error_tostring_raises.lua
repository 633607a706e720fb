-- expect: error again
-- __tostring that raises inside the message handler: the handler reports that error instead.
error(setmetatable({}, {__tostring = function() error("again") end}))
