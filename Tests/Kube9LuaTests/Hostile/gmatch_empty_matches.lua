-- expect: killed
for _ in string.gmatch(string.rep("a", 10000000), "") do end
