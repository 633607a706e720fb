-- expect: killed
while true do local d = os.date(string.rep("%c", 120)) end
