-- expect: killed
-- Every library call is charged and checks the deadline.
while true do string.len("x") os.clock() table.pack() utf8.char(65) end
