-- weighted: round robin in proportion to each endpoint's weight (the pod annotation
-- kube9.io/lb-weight, default 1; 0 takes no new connections unless all are 0). Over any
-- run of sum(weights) consecutive connections each endpoint gets exactly its weight.
return {
  name = "weighted",
  api = 1,

  pick = function(service, endpoints, connection)
    local total = 0
    for _, endpoint in ipairs(endpoints) do total = total + endpoint.weight end
    if total <= 0 then return (connection.seq % #endpoints) + 1 end
    local slot = connection.seq % total
    for index, endpoint in ipairs(endpoints) do
      if slot < endpoint.weight then return index end
      slot = slot - endpoint.weight
    end
    return #endpoints
  end,
}
