-- target_utilization: Kubernetes' HPA formula. For each metric,
--   desired = ceil(pods × current / target)
-- where pods are the pods measured; within 10% of the target (the tolerance) the count stays.
-- The largest answer over the metrics wins. kube9 then applies the HPA's behavior
-- (stabilization windows, rate policies) and its min and max.
local tolerance = 0.1

return {
  name = "target_utilization",
  api = 1,

  ---@param target kube9.ScaleTarget
  ---@param metrics kube9.ResourceMetric[]
  desired_replicas = function(target, metrics)
    local desired = nil
    for _, metric in ipairs(metrics) do
      local ratio = metric.current / metric.target
      local replicas
      if math.abs(ratio - 1.0) <= tolerance then
        replicas = target.replicas
      else
        replicas = math.ceil(metric.pods * ratio)
      end
      if desired == nil or replicas > desired then desired = replicas end
    end
    return desired or target.replicas
  end,
}
