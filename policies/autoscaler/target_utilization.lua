-- target_utilization: Kubernetes' HPA formula. For each metric,
--   desired = ceil(pods × current / target)
-- where pods are the pods measured; within 10% of the target (the tolerance) the count stays.
-- Pods without a usage report (missing) and pods not ready (unready) are counted as Kubernetes
-- does: when scaling up they count as using nothing (missing and unready), when scaling down the
-- missing ones count as at the target; if that flips the direction or lands within the
-- tolerance, the count stays. The largest answer over the metrics wins. kube9 then applies the
-- HPA's behavior (stabilization windows, rate policies) and its min and max.
local tolerance = 0.1

local function replicas_for(target, metric)
  local ratio = metric.current / metric.target
  if metric.missing == 0 and metric.unready == 0 then
    if math.abs(ratio - 1.0) <= tolerance then return target.replicas end
    return math.ceil(metric.pods * ratio)
  end
  if math.abs(ratio - 1.0) <= tolerance then return target.replicas end
  local total = metric.current * metric.pods
  local count = metric.pods
  if ratio > 1 then
    count = metric.pods + metric.missing + metric.unready
  else
    total = total + metric.target * metric.missing
    count = metric.pods + metric.missing
  end
  local adjusted = total / count / metric.target
  if math.abs(adjusted - 1.0) <= tolerance or (ratio > 1) ~= (adjusted > 1) then return target.replicas end
  return math.ceil(count * adjusted)
end

return {
  name = "target_utilization",
  api = 1,

  ---@param target kube9.ScaleTarget
  ---@param metrics kube9.ResourceMetric[]
  desired_replicas = function(target, metrics)
    local desired = nil
    for _, metric in ipairs(metrics) do
      local replicas = replicas_for(target, metric)
      if desired == nil or replicas > desired then desired = replicas end
    end
    return desired or target.replicas
  end,
}
