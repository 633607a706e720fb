-- least_connections: the endpoint with the fewest open connections; ties go in turn
-- (starting from connection.seq), so equal endpoints share new connections evenly.
-- Outlier ejection: endpoints that failed 3 or more times in the last 30 s are skipped
-- while any other endpoint is left.
return {
  name = "least_connections",
  api = 1,

  pick = function(service, endpoints, connection)
    local count = #endpoints
    local healthy = 0
    for _, endpoint in ipairs(endpoints) do
      if endpoint.failures < 3 then healthy = healthy + 1 end
    end
    local best, best_active = nil, nil
    for offset = 0, count - 1 do
      local index = ((connection.seq + offset) % count) + 1
      local endpoint = endpoints[index]
      if healthy == 0 or endpoint.failures < 3 then
        if best == nil or endpoint.active < best_active then
          best, best_active = index, endpoint.active
        end
      end
    end
    return best
  end,
}
