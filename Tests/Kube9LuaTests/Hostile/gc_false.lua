-- expect: error __gc metamethods are not allowed
-- Any non-nil __gc registers the object for finalization: refused too.
setmetatable({}, {__gc = false})
