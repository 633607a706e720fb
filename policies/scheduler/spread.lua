-- spread: balance the number of pods across nodes; the node running the fewest pods wins.
return {
  name = "spread",
  api = 1,

  filter = kube9.scheduler.fits,

  score = function(pod, node)
    return 100 / (1 + (node.pods or 0))
  end,
}
