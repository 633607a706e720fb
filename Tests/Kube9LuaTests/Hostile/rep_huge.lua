-- expect: error too large
-- A terabyte result. (Lua refuses results over 2 GiB itself; between the memory cap and that
-- the allocator's refusal is a memory kill, and without a binding cap the guard refuses
-- anything over 64 MiB: "kube9: string.rep result too large".)
string.rep("x", 2^40)
