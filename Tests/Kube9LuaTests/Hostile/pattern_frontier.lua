-- expect: killed
-- Frontiers and lazy items from every word start.
string.find(string.rep("a ", 20000), "%f[%a].-%f[%a].-%f[%a].-x")
