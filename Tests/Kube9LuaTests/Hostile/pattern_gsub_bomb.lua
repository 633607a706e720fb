-- expect: killed
-- And through gsub.
string.gsub(string.rep("a", 3000), ".-.-.-.-b", "")
