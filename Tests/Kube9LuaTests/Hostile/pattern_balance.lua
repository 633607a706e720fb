-- expect: killed
-- %b() from every start of 200,000 unclosed parentheses: quadratic.
string.find(string.rep("(", 200000), "%b()")
