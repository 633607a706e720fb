-- expect: error string slice too long
string.byte(string.rep("x", 10000000), 1, -1)
