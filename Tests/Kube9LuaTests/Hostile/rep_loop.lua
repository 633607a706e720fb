-- expect: killed
-- Many 8 MB results: each call is charged one unit per 64 bytes.
for i = 1, 1000000 do
  local s = string.rep("x", 2^23)
end
