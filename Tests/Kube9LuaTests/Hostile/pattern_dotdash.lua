-- expect: killed
-- O(n^4) lazy wildcards against a subject without the final character.
string.find(string.rep("y", 3000), ".-.-.-.-x")
