-- expect: error too many elements
-- 10^15 iterations in C.
table.move({}, 1, 1e15, 2)
