-- expect: killed
-- A gigabyte under a 32 MiB cap: the allocator refuses the buffer (a memory kill, as before).
string.rep("x", 2^30)
