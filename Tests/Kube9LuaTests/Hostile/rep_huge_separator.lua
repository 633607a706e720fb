-- expect: error too large
-- Empty pieces, but 2^40 separators.
string.rep("", 2^40, "x")
