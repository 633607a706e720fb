-- expect: killed
-- Quadratic: every insert at the front shifts the whole table in C (charged per element).
local t = {}
for i = 1, 1e6 do table.insert(t, 1, i) end
