---@meta kube9
-- LuaLS annotation stubs for the `kube9` module, api level 1. Editors use them for completion;
-- scripts/gen-policy-docs turns them into docs/policies.md. This file is never loaded.

---# The kube9 policy API (api = 1)
---
---A policy is one Lua file that returns a module table: `{ name = "...", api = 1, hooks... }`.
---It runs in a sandbox: base (no dofile, loadfile or collectgarbage; `load` takes text only),
---string (no dump), table, math, utf8, and `os.time/clock/date/difftime`. There is no io,
---package, require, debug or os.execute. Each call has an instruction budget, a wall-clock
---deadline and a memory cap; a call that exceeds one is stopped and `pcall` cannot catch it.
---Hooks are pure: they return decisions, and kube9 checks and applies them.
---Globals a policy writes stay in its own Lua states; states are pooled and reused, so do not
---rely on globals surviving between calls. Overwriting a global (`pairs`, `table.sort`, even
---`kube9`) changes only what the policy's own code calls: kube9's own Lua took what it needs
---when the state was made.
---
---Limits. A Policy's `spec.budget` sets them per call: `instructions` (1,000 to 1,000,000,000),
---`timeoutMilliseconds` (1 to 5,000) and `memoryBytes` per state (1 MiB to 256 MiB); each slot
---has defaults (scheduler 2,000,000 / 500 ms / 64 MiB). The top-level chunk, run when the policy
---loads, gets the same budget but at most 1 s. Library functions count too: each call is
---charged and checks the deadline, long ones are charged what they do (`string.rep` by bytes,
---`table.concat`, `insert`, `remove`, `move`, `unpack` by elements, `table.sort` by n·log n,
---pattern matching by backtracking steps). Caps: 2^26 elements per table function, 64 MiB per
---`string.rep` result, 1 MiB per chunk given to `load`, 256 bytes per `os.date` format.
---`setmetatable` refuses a metatable with `__gc`: finalizers would run outside any budget.
kube9 = {}

---The api level this kube9 serves. A module must declare the same `api`.
---@type integer
kube9.api = 1

---@class kube9.Requests
---@field cpu number CPU in cores (250m is 0.25)
---@field memory integer memory in bytes
---@field pods integer pod slots (always 1 for a pod)

---@class kube9.Toleration
---@field key string|nil taint key; empty with operator Exists tolerates everything
---@field operator "Equal"|"Exists"|nil defaults to Equal
---@field value string|nil
---@field effect "NoSchedule"|"PreferNoSchedule"|"NoExecute"|nil empty matches every effect

---@class kube9.Taint
---@field key string
---@field value string|nil
---@field effect "NoSchedule"|"PreferNoSchedule"|"NoExecute"

---@class kube9.Pod
---@field name string
---@field namespace string
---@field labels table<string,string>
---@field requests kube9.Requests the sum of the containers' requests
---@field node_selector table<string,string>|nil
---@field tolerations kube9.Toleration[]|nil
---@field node_affinity table[]|nil required node affinity terms (nodeSelectorTerms), as in the Pod spec

---@class kube9.Node
---@field name string
---@field labels table<string,string>
---@field ready boolean false when the node's heartbeats stopped
---@field unschedulable boolean|nil true when cordoned
---@field taints kube9.Taint[]|nil
---@field allocatable kube9.Requests what the node offers to pods
---@field free kube9.Requests allocatable minus the requests of the pods bound to it
---@field pods integer pods bound to the node

---@class kube9.Candidate
---@field name string a feasible node
---@field score number its score

---# Hooks of the scheduler slot
---
---The scheduler calls `filter` for every node (in name order), `score` for the feasible ones,
---`normalize` if defined, then `select` if defined, else takes the highest score with ties
---going to the first node by name. kube9 then checks the choice itself (it never over-commits
---cpu, memory or pods, and respects taints and node selectors) and binds the pod. A failing
---call leaves the pod Pending with the error as the reason.
---@class kube9.SchedulerPolicy
---@field name string
---@field api integer must be 1
local SchedulerPolicy = {}

---Whether the pod may run on the node. Return `false, reason` to filter it out; the reason is
---counted in the pod's FailedScheduling event ("2 Insufficient cpu").
---@param pod kube9.Pod
---@param node kube9.Node
---@return boolean ok
---@return string|nil reason
function SchedulerPolicy.filter(pod, node) end

---How well the node suits the pod, from 0 (worst) to 100 (best).
---@param pod kube9.Pod
---@param node kube9.Node
---@return number score
function SchedulerPolicy.score(pod, node) end

---Optional. Rewrites all scores at once (for example to rescale them). Returns node name → score.
---@param pod kube9.Pod
---@param scores table<string,number>
---@return table<string,number> scores
function SchedulerPolicy.normalize(pod, scores) end

---Optional. Picks the node among the feasible candidates (sorted by name).
---@param pod kube9.Pod
---@param candidates kube9.Candidate[]
---@return string node
function SchedulerPolicy.select(pod, candidates) end

---# Other slots
---
---| slot | required hooks | optional hooks | when a call fails |
---|---|---|---|
---| scheduler | filter, score | normalize, select | the pod stays Pending with the reason |
---| loadbalancer | pick | | round robin |
---| autoscaler | desired_replicas | | the replica count stays |
---| node-autoscaler | decide | | the node count stays |
---| admission | at least one of mutate, validate | | the request is denied |
---| authorizer | authorize | | the request is denied |
---| crd | at least one of validate, default, reconcile | | the request is denied |
---
---The hooks below are api level 1 for every slot. Until a slot's caller exists in kube9 (see the
---README: admission, authorizer and crd have none yet), a policy for it can already be installed,
---and tested with `kube9 policy test` through `{"hook": ..., "args": [...]}` cases.

---# Hooks of the loadbalancer slot
---
---The service proxy on each node calls `pick` once per new TCP connection (once per new UDP
---flow) to a service port: its cluster IP, node port or load-balancer address. A Service picks
---its policy with the annotation `kube9.io/lb-policy: <name>` (default `round-robin`); a swap
---applies to the next connection, with no restart. Only ready endpoints are offered. ClientIP
---session affinity is kept by the proxy before `pick` is asked. When the chosen endpoint
---refuses the connection, `pick` is asked again without it (up to 3 tries in one client
---connection attempt). An error, a kill or an index out of range falls back to round robin,
---and the proxy records a `LoadBalancerPolicyFailed` event on the service.

---@class kube9.LBService
---@field name string
---@field namespace string
---@field port integer the service port
---@field protocol "TCP"|"UDP"

---@class kube9.LBEndpoint
---@field ip string
---@field port integer the target port on the pod
---@field pod string the pod's name
---@field node string the node the pod runs on
---@field weight integer from the pod annotation kube9.io/lb-weight (0 to 1000, default 1)
---@field active integer connections (UDP: flows) this proxy has open to it now
---@field failures integer connections to it that failed in the last 30 s
---@field total integer connections this proxy sent to it so far

---@class kube9.LBConnection
---@field client_ip string
---@field client_port integer
---@field seq integer connections to this service port so far on this proxy (0, 1, 2, …): a turn counter (a turn whose connect was refused is given to the next new connection, so turns count connections that opened)

---@class kube9.LoadBalancerPolicy
local LoadBalancerPolicy = {}

---Picks the backend for one new connection. The endpoint tables are kept between picks while
---the endpoints stay the same (only their counts are rewritten): read them, do not change them.
---@param service kube9.LBService
---@param endpoints kube9.LBEndpoint[] the ready endpoints, sorted by ip and port
---@param connection kube9.LBConnection
---@return integer index 1-based index into endpoints
function LoadBalancerPolicy.pick(service, endpoints, connection) end

---A stable non-negative 63-bit hash of a string, the same in every state and on every node
---(for consistent hashing).
---@param text string
---@return integer
function kube9.hash(text) end

---# Hooks of the autoscaler slot

---Each HorizontalPodAutoscaler (autoscaling/v2) calls `desired_replicas` once per sync period
---(`kube9 server --horizontal-pod-autoscaler-sync-period`, 15 s). An HPA picks its policy with the
---annotation `kube9.io/autoscaler-policy: <name>` (default `target-utilization`, Kubernetes'
---formula). The metrics are measured over the target's running, ready pods that have a usage report
---(the agents report every `--stats-interval` seconds; sim nodes report requests × the pod
---annotation `kube9.io/sim-usage`). kube9 then applies the HPA's behavior (stabilization windows,
---Pods/Percent rate policies) and min/max, scales the target and records the decision as an event.
---An error, a kill or an answer that is not a whole number from 0 to 2147483647 keeps the count
---(a FailedComputeMetricsReplicas event).

---@class kube9.ScaleTarget
---@field kind string Deployment, ReplicaSet or ReplicationController
---@field name string
---@field namespace string
---@field replicas integer its spec.replicas now
---@field min_replicas integer
---@field max_replicas integer

---@class kube9.ResourceMetric
---@field name "cpu"|"memory"
---@field target_type "Utilization"|"AverageValue"
---@field target number percent of requests (Utilization), or per pod in cores or bytes (AverageValue)
---@field current number the same measure now
---@field pods integer pods measured (running, ready, with a usage report from their node)
---@field missing integer running, ready pods of the target with no usage report yet
---@field unready integer running pods of the target that are not ready

---@class kube9.AutoscalerPolicy
local AutoscalerPolicy = {}

---The replica count the target should have (before behavior and min/max).
---@param target kube9.ScaleTarget
---@param metrics kube9.ResourceMetric[] one per metric of the HPA (default: cpu at 80 % of requests)
---@return integer replicas
function AutoscalerPolicy.desired_replicas(target, metrics) end

---# Hooks of the node-autoscaler slot

---With `kube9 server --node-autoscaler FILE` (docs/workloads.md), the server calls `decide` every
---`intervalSeconds`. Nodes it adds come from the configured provider (`kube9 node add` with
---docker, process or sim), are named auto-SHAPE-xxxxx and labelled kube9.io/node-group=autoscaler
---and kube9.io/node-shape=SHAPE; only those count toward min/max and may be removed (by
---`kube9 node remove`: cordon, drain, stop, delete). Below minNodes kube9 adds nodes of the first
---shape without asking. kube9 checks the answer: unknown shapes, nodes that are not its own and
---ready, adds past maxNodes and removals below minNodes are dropped (with an event). An error
---or a malformed answer keeps the nodes (a NodeAutoscalerPolicyFailed event). Decisions are
---events: TriggeredScaleUp on the pending pods, ScaleUp, ScaleDown on the node.

---@class kube9.AutoscalerNode
---@field name string
---@field managed boolean made by the node autoscaler
---@field ready boolean
---@field unschedulable boolean cordoned
---@field shape string its kube9.io/node-shape label ("" if none)
---@field cpu integer allocatable millicores
---@field memory integer allocatable bytes
---@field pods_allowed integer
---@field cpu_requested integer millicores requested by its pods
---@field memory_requested integer bytes requested by its pods
---@field pods integer pods bound to it
---@field idle_seconds integer how long its requests have been under scaleDownUtilization of allocatable
---@field bare_pods integer pods with no controller (a drain would recreate them unbound)

---@class kube9.AutoscalerShape
---@field name string
---@field cpu integer millicores
---@field memory integer bytes
---@field pods integer

---@class kube9.NodeAutoscalerCluster
---@field nodes kube9.AutoscalerNode[]
---@field pending {name: string, namespace: string, cpu: integer, memory: integer}[] pods the scheduler found no room for
---@field shapes kube9.AutoscalerShape[]
---@field upcoming {name: string, shape: string}[] nodes asked for that have not registered yet
---@field managed integer the autoscaler's nodes now (not counting upcoming or those being removed)
---@field min_nodes integer
---@field max_nodes integer
---@field unneeded_seconds integer scaleDownUnneededSeconds

---@class kube9.NodeAutoscalerPolicy
local NodeAutoscalerPolicy = {}

---Which nodes to add and which to remove.
---@param cluster kube9.NodeAutoscalerCluster
---@return table decision {add = {[shape] = count}, remove = {node names}} (either may be left out)
function NodeAutoscalerPolicy.decide(cluster) end

---# Hooks of the admission slot

---@class kube9.AdmissionPolicy
local AdmissionPolicy = {}

---Returns the object to store instead (nil leaves it unchanged). Runs before validate.
---@param request table {operation = "CREATE"|"UPDATE"|"DELETE", user = {name, groups}, resource, namespace, object, old_object}
---@return table|nil object
function AdmissionPolicy.mutate(request) end

---Allows or denies the request; an error denies it (fail closed).
---@param request table the same request as mutate, with the mutated object
---@return boolean allowed
---@return string|nil reason shown to the client when denied
function AdmissionPolicy.validate(request) end

---# Hooks of the authorizer slot

---@class kube9.AuthorizerPolicy
local AuthorizerPolicy = {}

---Allows or denies one request; an error denies it (fail closed).
---@param attributes table {user = {name, groups}, verb, group, resource, subresource, namespace, name, path}
---@return boolean allowed
---@return string|nil reason
function AuthorizerPolicy.authorize(attributes) end

---# Hooks of the crd slot

---@class kube9.CustomResourcePolicy
local CustomResourcePolicy = {}

---Checks a custom object; an error refuses it.
---@param object table
---@param old_object table|nil on updates
---@return boolean ok
---@return string|nil reason
function CustomResourcePolicy.validate(object, old_object) end

---Fills defaults; returns the object to store.
---@param object table
---@return table object
function CustomResourcePolicy.default(object) end

---Decides what the object's children should be and its status.
---@param object table
---@param children table[] the objects it owns now
---@return table result {children = table[], status = table}
function CustomResourcePolicy.reconcile(object, children) end

---# Library

kube9.log = {}

---Writes to the server log at debug level, tagged with the policy's slot and name.
---@param ... any values, joined with spaces
function kube9.log.debug(...) end

---Writes to the server log at info level. `print` writes its arguments (as `tostring` shows them,
---tab-separated) to the server log at info level, tagged with the policy; under `kube9 lua` it
---writes to stdout.
---@param ... any
function kube9.log.info(...) end

---Writes to the server log at warning level.
---@param ... any
function kube9.log.warn(...) end

---Writes to the server log at error level.
---@param ... any
function kube9.log.error(...) end

kube9.json = {}

---Encodes a value as compact JSON (tables with keys 1..n are arrays; other keys are sorted).
---@param value any
---@return string json
function kube9.json.encode(value) end

---Decodes JSON text. Returns nil and a message for invalid input.
---@param text string
---@return any|nil value
---@return string|nil error
function kube9.json.decode(text) end

kube9.time = {}

---Seconds since the Unix epoch, with a fraction.
---@return number seconds
function kube9.time.now() end

---Parses an RFC 3339 timestamp into epoch seconds, or nil.
---@param text string
---@return integer|nil seconds
function kube9.time.parse(text) end

---A Kubernetes quantity as a number of units: "250m" → 0.25, "1Gi" → 1073741824.
---Returns nil and a message for a string that is not a quantity.
---@param text string|number
---@return number|nil units
---@return string|nil error
function kube9.quantity(text) end

---Scheduler status codes, for policies that report them.
kube9.status = {
  SUCCESS = "Success",
  UNSCHEDULABLE = "Unschedulable",
  UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable",
  ERROR = "Error",
}

kube9.scheduler = {}

---The standard feasibility checks, in kube-scheduler's order and words: node ready, not
---cordoned, node selector, required node affinity, untolerated NoSchedule/NoExecute taints,
---pod slots, cpu, memory.
---@param pod kube9.Pod
---@param node kube9.Node
---@return boolean ok
---@return string|nil reason
function kube9.scheduler.fits(pod, node) end

---Whether the node satisfies required node affinity terms (nil terms: true).
---@param terms table[]|nil
---@param node kube9.Node
---@return boolean
function kube9.scheduler.affinity_matches(terms, node) end

---Whether the tolerations tolerate the taint.
---@param tolerations kube9.Toleration[]|nil
---@param taint kube9.Taint
---@return boolean
function kube9.scheduler.tolerates(tolerations, taint) end
