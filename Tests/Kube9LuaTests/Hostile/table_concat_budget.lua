-- expect: killed
-- Under the element cap but over the budget: charged before the work.
table.concat(setmetatable({}, {__index = rawlen}), ",", 1, 10000000)
