-- expect: killed
while true do end
