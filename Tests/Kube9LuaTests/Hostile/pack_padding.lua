-- expect: killed
-- string.pack pads "c" fields one byte at a time in C: a gigabyte of padding.
string.pack("c1000000000", "")
