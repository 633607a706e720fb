-- expect: error too many elements
-- A C __index (rawlen answers 0 for every index) would make the loop run 10^15 times.
table.concat(setmetatable({}, {__index = rawlen}), "", 1, 1e15)
