-- expect: killed
-- Catching the kill with pcall does not keep the script alive.
while true do
  pcall(string.find, string.rep("a", 3000), ".-.-.-b")
end
