-- default: adds nodes for pods that fit nowhere, removes nodes that stay underused.
--
-- Scale up: the pending pods (largest cpu request first) are packed first-fit into the nodes
-- already on their way (`upcoming`) and then into new nodes of the first shape that can hold
-- them, as many as max_nodes allows. Scale down (only when nothing is pending): at most one node
-- per decision, the emptiest of the autoscaler's ready nodes that has been under the threshold
-- for unneeded_seconds, has no bare pods (nothing would bring them back), and whose pods fit in
-- the free room of the other ready, schedulable nodes. kube9 checks the answer (known shapes,
-- its own nodes, min and max) and keeps the count when this errors.
local function shape_named(cluster, name)
  for _, shape in ipairs(cluster.shapes) do
    if shape.name == name then return shape end
  end
  return cluster.shapes[1]
end

local function scale_up(cluster)
  local bins = {}
  for _, node in ipairs(cluster.upcoming) do
    local shape = shape_named(cluster, node.shape)
    bins[#bins + 1] = { cpu = shape.cpu, memory = shape.memory, pods = shape.pods }
  end
  local pending = {}
  for _, pod in ipairs(cluster.pending) do pending[#pending + 1] = pod end
  table.sort(pending, function(a, b) return a.cpu > b.cpu end)
  local add = {}
  local room = cluster.max_nodes - cluster.managed - #cluster.upcoming
  for _, pod in ipairs(pending) do
    local placed = false
    for _, bin in ipairs(bins) do
      if bin.cpu >= pod.cpu and bin.memory >= pod.memory and bin.pods >= 1 then
        bin.cpu, bin.memory, bin.pods = bin.cpu - pod.cpu, bin.memory - pod.memory, bin.pods - 1
        placed = true
        break
      end
    end
    if not placed and room > 0 then
      for _, shape in ipairs(cluster.shapes) do
        if shape.cpu >= pod.cpu and shape.memory >= pod.memory then
          bins[#bins + 1] = { cpu = shape.cpu - pod.cpu, memory = shape.memory - pod.memory, pods = shape.pods - 1 }
          add[shape.name] = (add[shape.name] or 0) + 1
          room = room - 1
          break
        end
      end
    end
  end
  return { add = add }
end

local function scale_down(cluster)
  if cluster.managed <= cluster.min_nodes then return {} end
  local best = nil
  for _, node in ipairs(cluster.nodes) do
    if node.managed and node.ready and node.idle_seconds >= cluster.unneeded_seconds and node.bare_pods == 0 then
      if best == nil or node.cpu_requested < best.cpu_requested then best = node end
    end
  end
  if best == nil then return {} end
  local free_cpu, free_memory, free_pods = 0, 0, 0
  for _, node in ipairs(cluster.nodes) do
    if node.name ~= best.name and node.ready and not node.unschedulable then
      free_cpu = free_cpu + (node.cpu - node.cpu_requested)
      free_memory = free_memory + (node.memory - node.memory_requested)
      free_pods = free_pods + (node.pods_allowed - node.pods)
    end
  end
  if best.cpu_requested <= free_cpu and best.memory_requested <= free_memory and best.pods <= free_pods then
    return { remove = { best.name } }
  end
  return {}
end

return {
  name = "default",
  api = 1,

  ---@param cluster kube9.NodeAutoscalerCluster
  decide = function(cluster)
    if #cluster.pending > 0 then return scale_up(cluster) end
    return scale_down(cluster)
  end,
}
