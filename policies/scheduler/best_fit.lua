-- best_fit (the default): the node with the least CPU left after placing the pod, so that
-- large nodes stay free for large pods (Kube-9's "best fit"). Memory breaks near-ties.
local fits = kube9.scheduler.fits

return {
  name = "best_fit",
  api = 1,

  filter = fits,

  -- 100 for a node the pod fills exactly, falling as CPU would be left over.
  score = function(pod, node)
    local requests, free = pod.requests, node.free
    local cpu = free.cpu - requests.cpu
    local memory_gib = (free.memory - requests.memory) / 1073741824
    return 100 / (1 + cpu + memory_gib / 1024)
  end,
}
