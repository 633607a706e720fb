-- random: a uniformly random ready endpoint for each new connection.
return {
  name = "random",
  api = 1,

  pick = function(service, endpoints, connection)
    return math.random(#endpoints)
  end,
}
