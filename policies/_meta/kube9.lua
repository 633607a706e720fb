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
---rely on globals surviving between calls.
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
---The arguments of the slots other than scheduler are defined by the issues that wire them in.

---# Library

kube9.log = {}

---Writes to the server log at debug level, tagged with the policy's slot and name.
---@param ... any values, joined with spaces
function kube9.log.debug(...) end

---Writes to the server log at info level. `print` does the same.
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
