-- round_robin: each new connection goes to the next ready endpoint in turn.
-- connection.seq counts the connections of this service port (0, 1, 2, …), so the turn
-- is the same in every pooled Lua state and exact: n connections over k endpoints split n/k each.
return {
  name = "round_robin",
  api = 1,

  ---@param service kube9.LBService
  ---@param endpoints kube9.LBEndpoint[]
  ---@param connection kube9.LBConnection
  pick = function(service, endpoints, connection)
    return (connection.seq % #endpoints) + 1
  end,
}
