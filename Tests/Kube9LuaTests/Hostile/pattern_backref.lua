-- expect: killed
-- Back-references compared at every split of a long run.
string.find(string.rep("a", 100000), "(a*)%1%1b")
