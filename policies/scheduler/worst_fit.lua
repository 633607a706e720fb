-- worst_fit: the node with the most CPU left after placing the pod, spreading load onto the
-- emptiest machines (Kube-9's "worst fit").
return {
  name = "worst_fit",
  api = 1,

  filter = kube9.scheduler.fits,

  -- 0 for a node the pod fills exactly, rising toward 100 with the CPU left over.
  score = function(pod, node)
    local left = (node.free.cpu or 0) - ((pod.requests or {}).cpu or 0)
    return 100 * left / (1 + left)
  end,
}
