-- first_fit: the first node in name order that fits (Kube-9's "first fit").
-- Every feasible node scores the same, so the cycle's tie-break (name order) decides.
return {
  name = "first_fit",
  api = 1,

  ---@param pod kube9.Pod
  ---@param node kube9.Node
  filter = kube9.scheduler.fits,

  score = function(pod, node)
    return 100
  end,
}
