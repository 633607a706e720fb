-- ip_hash: one client IP always reaches the same endpoint, by rendezvous (highest random
-- weight) hashing: each endpoint scores hash(client, endpoint) and the highest wins. When an
-- endpoint goes away only the clients it had move (to their second choice); the others stay.
return {
  name = "ip_hash",
  api = 1,

  pick = function(service, endpoints, connection)
    local best, best_score = 1, -1
    for index, endpoint in ipairs(endpoints) do
      local score = kube9.hash(connection.client_ip .. "|" .. endpoint.ip .. ":" .. endpoint.port)
      if score > best_score then best, best_score = index, score end
    end
    return best
  end,
}
