import Foundation
import Kube9Lua
import Kube9Model
import Logging

extension LuaValue {
    /// The Lua form of a JSON document: objects become maps, arrays arrays, null nil.
    public init(json: JSON) {
        switch json {
        case .null: self = .nil
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .integer(value)
        case .double(let value): self = .number(value)
        case .string(let value): self = .string(value)
        case .array(let elements): self = .array(elements.map(LuaValue.init(json:)))
        case .object(let members):
            var map: [String: LuaValue] = [:]
            for (key, value) in members where !value.isNull { map[key] = LuaValue(json: value) }
            self = .map(map)
        }
    }

    /// The JSON form of a Lua value; map keys are sorted so output is stable. Functions and
    /// other opaque values become null.
    public var json: JSON {
        switch self {
        case .nil, .opaque: return .null
        case .bool(let value): return .bool(value)
        case .integer(let value): return .int(value)
        case .number(let value): return value.isFinite ? .double(value) : .null
        case .string(let value): return .string(value)
        case .array(let elements): return .array(elements.map(\.json))
        case .map(let members):
            var object = JSON.emptyObject
            for (key, member) in members.sorted(by: { $0.key < $1.key }) { object[key] = member.json }
            return object
        }
    }
}

/// The `kube9` Lua module (the policy development kit), api level 1. Read-only for scripts.
///
/// - `kube9.api` — the api level (1).
/// - `kube9.log.debug/info/warn/error(message)` — to the server log, tagged with the policy.
/// - `kube9.json.encode(value)`, `kube9.json.decode(text)` — JSON; decode returns nil, err on bad input.
/// - `kube9.time.now()` — seconds since the epoch (float); `kube9.time.parse(rfc3339)` — seconds or nil.
/// - `kube9.quantity(text)` — a Kubernetes quantity as a number of units ("250m" → 0.25, "1Gi" → 1073741824).
/// - `kube9.status` — scheduler status codes (SUCCESS, UNSCHEDULABLE, UNSCHEDULABLE_AND_UNRESOLVABLE, ERROR).
/// - `kube9.scheduler.fits(pod, node)` — the standard feasibility checks: ok, reason.
/// - `kube9.hash(text)` — a stable non-negative 63-bit integer hash of a string (load balancers).
public enum PDK {
    /// The api level policies declare with `api = 1`.
    public static let apiLevel: Int64 = 1
    /// The longest line `kube9.log.*` and `print` write (longer ones are cut).
    public static let maximumLogBytes = 16 * 1024
    /// The longest text `kube9.json.decode` reads.
    public static let maximumDecodeBytes = 4 << 20

    /// The host's own Lua functions in a state, taken when the PDK is installed (before any
    /// policy code runs, so a policy that overwrites globals cannot change what they are).
    public struct Internals {
        /// `cycle(policy, pod, want_scores)`: one scheduling cycle over the mirrored nodes.
        public let cycle: LuaReference
        /// `mirror_apply(reset, changes)`: applies node view changes to the state's mirror.
        public let mirrorApply: LuaReference
        /// `lb_pick(policy, reset, key, endpoints_or_nil, counts, service, connection)`: a
        /// loadbalancer pick over the endpoint tables kept in the state.
        public let loadBalancerPick: LuaReference
    }

    /// Where `print` goes: the server log (tagged with the policy, at info) or a console.
    public enum PrintTarget: Sendable {
        case log
        case console(@Sendable (String) -> Void)
    }

    /// Installs `kube9` into a state, logging through `logger` tagged with `policy`.
    /// `extend` may add members (the REPL adds `kube9.get`, `kube9.list` and `kube9.view`).
    /// `print` writes its arguments, tab-separated as in Lua, to `printTarget`.
    @discardableResult
    public static func install(into state: LuaState, policy: String, logger: Logger, printTarget: PrintTarget = .log,
                               extend: ((inout LuaState.Library) -> Void)? = nil) throws(LuaError) -> Internals {
        var library = LuaState.Library()
        extend?(&library)
        library.function("_print") { arguments throws(LuaError) in
            var line = arguments.first?.stringValue ?? ""
            if line.utf8.count > Self.maximumLogBytes { line = String(decoding: Array(line.utf8.prefix(Self.maximumLogBytes)), as: UTF8.self) + " …" }
            switch printTarget {
            case .log: logger.info("\(line)", metadata: ["policy": "\(policy)", "source": "print"])
            case .console(let write): write(line)
            }
            return []
        }
        library.value("api", .integer(apiLevel))
        for level in ["debug", "info", "warn", "error"] {
            library.function("log.\(level)") { arguments throws(LuaError) in
                var message = arguments.map { $0.stringValue ?? $0.json.text }.joined(separator: " ")
                if message.utf8.count > Self.maximumLogBytes { message = String(decoding: Array(message.utf8.prefix(Self.maximumLogBytes)), as: UTF8.self) + " …" }
                let logLevel: Logger.Level = level == "warn" ? .warning : Logger.Level(rawValue: level) ?? .info
                logger.log(level: logLevel, "\(message)", metadata: ["policy": "\(policy)"])
                return []
            }
        }
        library.function("json.encode") { arguments throws(LuaError) in
            [.string((arguments.first ?? .nil).json.text)]
        }
        library.function("json.decode") { arguments throws(LuaError) in
            guard let text = arguments.first?.stringValue else { throw LuaError(kind: .value, message: "kube9.json.decode expects a string") }
            guard text.utf8.count <= Self.maximumDecodeBytes else {
                return [.nil, .string("kube9.json.decode takes at most \(Self.maximumDecodeBytes) bytes")]
            }
            do {
                return [LuaValue(json: try JSON.parse(text))]
            } catch {
                return [.nil, .string("invalid JSON: \(error)")]
            }
        }
        library.function("time.now") { _ throws(LuaError) in
            var spec = timespec()
            clock_gettime(CLOCK_REALTIME, &spec)
            return [.number(Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9)]
        }
        library.function("time.parse") { arguments throws(LuaError) in
            guard let text = arguments.first?.stringValue, let seconds = Timestamp.parse(text) else { return [.nil] }
            return [.integer(seconds)]
        }
        library.function("quantity") { arguments throws(LuaError) in
            switch arguments.first {
            case .string(let text)?:
                guard let quantity = Quantity.parse(text) else { return [.nil, .string("not a quantity: \(text)")] }
                return quantity.milliValue % 1000 == 0 ? [.integer(quantity.milliValue / 1000)] : [.number(Double(quantity.milliValue) / 1000)]
            case .integer(let value)?: return [.integer(value)]
            case .number(let value)?: return [.number(value)]
            default: throw LuaError(kind: .value, message: "kube9.quantity expects a string or number")
            }
        }
        library.function("hash") { arguments throws(LuaError) in
            guard let text = arguments.first?.stringValue else { throw LuaError(kind: .value, message: "kube9.hash expects a string") }
            return [.integer(Self.hash(text))]
        }
        library.value("status.SUCCESS", "Success")
        library.value("status.UNSCHEDULABLE", "Unschedulable")
        library.value("status.UNSCHEDULABLE_AND_UNRESOLVABLE", "UnschedulableAndUnresolvable")
        library.value("status.ERROR", "Error")
        let exported = try state.install(library, as: "kube9", prelude: prelude)
        guard exported.count == 3 else { throw LuaError(kind: .value, message: "kube9 prelude returned \(exported.count) functions, expected 3") }
        return Internals(cycle: exported[0], mirrorApply: exported[1], loadBalancerPick: exported[2])
    }

    /// `kube9.hash`: a stable 63-bit hash of a string (FNV-1a, then the splitmix64 finalizer so
    /// that near-equal strings land far apart), the same in every state and process.
    public static func hash(_ text: String) -> Int64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        value = (value ^ (value >> 30)) &* 0xbf58_476d_1ce4_e5b9
        value = (value ^ (value >> 27)) &* 0x94d0_49bb_1331_11eb
        value ^= value >> 31
        return Int64(bitPattern: value & UInt64(Int64.max))
    }

    /// Lua-written helpers added to `kube9` before it is frozen.
    /// It reads globals only here, at load time, before any policy code runs: every function
    /// it calls later is one of these locals, so a policy that overwrites `pairs`, `table.sort`
    /// or `tostring` changes nothing the host runs. It returns the host's internal functions.
    static let prelude = #"""
    local kube9 = ...
    local pairs, ipairs, type, error, tostring, tonumber, select = pairs, ipairs, type, error, tostring, tonumber, select
    local sort, concat, tointeger = table.sort, table.concat, math.tointeger
    local rawget, rawset, rawlen = rawget, rawset, rawlen
    local write = kube9._print
    kube9._print = nil

    -- print as in Lua (tostring of each argument, tab-separated), to the log or the console.
    print = function(...)
      local parts = {}
      for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
      write(concat(parts, "	"))
    end

    local scheduler = {}

    local function tolerates(tolerations, taint)
      if tolerations == nil then return false end
      for _, toleration in ipairs(tolerations) do
        local key = toleration.key
        local operator = toleration.operator or "Equal"
        local key_ok = key == nil or key == "" or key == taint.key
        local value_ok = operator == "Exists" or (toleration.value or "") == (taint.value or "")
        local effect = toleration.effect
        local effect_ok = effect == nil or effect == "" or effect == taint.effect
        if key_ok and value_ok and effect_ok then return true end
      end
      return false
    end
    scheduler.tolerates = tolerates

    local function expression_holds(expression, values)
      local actual = values[expression.key]
      local op, wanted = expression.operator, expression.values or {}
      if op == "In" or op == "NotIn" then
        local found = false
        for _, value in ipairs(wanted) do if value == actual then found = true break end end
        if op == "In" then return actual ~= nil and found end
        return actual == nil or not found
      elseif op == "Exists" then return actual ~= nil
      elseif op == "DoesNotExist" then return actual == nil
      elseif op == "Gt" or op == "Lt" then
        local left, right = tointeger(tonumber(actual or "")), tointeger(tonumber(wanted[1] or ""))
        if left == nil or right == nil then return false end
        if op == "Gt" then return left > right end
        return left < right
      end
      return false
    end

    -- Required node affinity: at least one term matches; within a term, every expression.
    local function affinity_matches(terms, node)
      if terms == nil then return true end
      local labels, fields = node.labels or {}, { ["metadata.name"] = node.name }
      for _, term in ipairs(terms) do
        local expressions, field_expressions = term.matchExpressions, term.matchFields
        if (expressions ~= nil and #expressions > 0) or (field_expressions ~= nil and #field_expressions > 0) then
          local ok = true
          for _, expression in ipairs(expressions or {}) do
            if not expression_holds(expression, labels) then ok = false break end
          end
          if ok then
            for _, expression in ipairs(field_expressions or {}) do
              if not expression_holds(expression, fields) then ok = false break end
            end
          end
          if ok then return true end
        end
      end
      return false
    end
    scheduler.affinity_matches = affinity_matches

    -- The standard feasibility checks, in the order kube-scheduler reports them.
    -- pod.requests and node.free hold cpu (cores), memory (bytes) and pods (count).
    -- Written to allocate nothing: it runs once per node per pod.
    function scheduler.fits(pod, node)
      if node.ready == false then return false, "node(s) were not ready" end
      if node.unschedulable then return false, "node(s) were unschedulable" end
      local selector = pod.node_selector
      if selector ~= nil then
        local labels = node.labels
        for key, value in pairs(selector) do
          if labels == nil or labels[key] ~= value then return false, "node(s) didn't match Pod's node affinity/selector" end
        end
      end
      if pod.node_affinity ~= nil and not affinity_matches(pod.node_affinity, node) then
        return false, "node(s) didn't match Pod's node affinity/selector"
      end
      local taints = node.taints
      if taints ~= nil then
        for _, taint in ipairs(taints) do
          local effect = taint.effect
          if (effect == "NoSchedule" or effect == "NoExecute") and not tolerates(pod.tolerations, taint) then
            return false, "node(s) had untolerated taint {" .. taint.key .. (taint.value and taint.value ~= "" and (": " .. taint.value) or "") .. "}"
          end
        end
      end
      local requests, free = pod.requests, node.free
      if requests == nil or free == nil then return free ~= nil, free == nil and "node has no free resources" or nil end
      if (requests.pods or 1) > (free.pods or 0) then return false, "Too many pods" end
      if (requests.cpu or 0) > (free.cpu or 0) then return false, "Insufficient cpu" end
      if (requests.memory or 0) > (free.memory or 0) then return false, "Insufficient memory" end
      return true
    end

    kube9.scheduler = scheduler

    -- The scheduling cycle, run inside Lua with the node views mirrored into this state
    -- (see NodeMirror). Internal: policies have no reason to call these.
    local mirror, order = {}, {}
    local function mirror_apply(reset, changes)
      if reset then mirror = {} end
      local reorder = reset
      for i = 1, #changes do
        local change = changes[i]
        if mirror[change.name] == nil or change.view == nil then reorder = true end
        mirror[change.name] = change.view
      end
      if reorder then
        order = {}
        for name in pairs(mirror) do order[#order + 1] = name end
        sort(order)
      end
    end

    local function checked(name, score, what)
      if type(score) ~= "number" or score ~= score or score < 0 or score > 100 then
        error(what .. " must return a number from 0 to 100 for node " .. name .. ", got " .. tostring(score), 0)
      end
      return score
    end

    -- Returns chosen node (or nil), reasons (name -> why filtered), and scores when asked for
    -- or needed by normalize/select.
    local function cycle(policy, pod, want_scores)
      local filter, score, normalize, select = policy.filter, policy.score, policy.normalize, policy.select
      local keep = want_scores or normalize ~= nil or select ~= nil
      local reasons, scores, feasible = {}, keep and {} or nil, keep and {} or nil
      local best, best_score = nil, -1
      for i = 1, #order do
        local name = order[i]
        local node = mirror[name]
        local ok, reason = filter(pod, node)
        if ok then
          local s = checked(name, score(pod, node), "score")
          if keep then scores[name] = s; feasible[#feasible + 1] = name end
          if s > best_score then best, best_score = name, s end
        else
          reasons[name] = type(reason) == "string" and reason or "filtered by policy"
        end
      end
      if best ~= nil and normalize ~= nil then
        local normalized = normalize(pod, scores)
        if type(normalized) ~= "table" then error("normalize must return a table of node name -> score", 0) end
        best, best_score = nil, -1
        for _, name in ipairs(feasible) do
          local s = checked(name, normalized[name] or scores[name], "normalize")
          scores[name] = s
          if s > best_score then best, best_score = name, s end
        end
      end
      if best ~= nil and select ~= nil then
        local candidates = {}
        for i, name in ipairs(feasible) do candidates[i] = { name = name, score = scores[name] } end
        local picked = select(pod, candidates)
        if type(picked) ~= "string" or scores[picked] == nil then
          error("select must return the name of a feasible node, got " .. tostring(picked), 0)
        end
        best = picked
      end
      return best, reasons, scores
    end

    -- The load-balancer pick (see LoadedPolicy.pick): each service port's endpoint tables are
    -- kept here between picks and sent again only when its endpoints change; a pick rewrites
    -- their live counts (active, total, failures: three integers per endpoint) and calls the
    -- policy. A set that is missing or that the policy damaged (length, entries) answers
    -- "kube9:resync" and the host sends the tables again.
    local endpoint_sets = {}
    local function lb_pick(policy, reset, key, endpoints, counts, service, connection)
      if reset then endpoint_sets = {} end
      if endpoints ~= nil then
        endpoint_sets[key] = endpoints
      else
        endpoints = endpoint_sets[key]
        if endpoints == nil then return "kube9:resync" end
      end
      local n = rawlen(counts) // 3
      if rawlen(endpoints) ~= n then endpoint_sets[key] = nil; return "kube9:resync" end
      for i = 1, n do
        local e = rawget(endpoints, i)
        if type(e) ~= "table" then endpoint_sets[key] = nil; return "kube9:resync" end
        rawset(e, "active", rawget(counts, 3 * i - 2))
        rawset(e, "total", rawget(counts, 3 * i - 1))
        rawset(e, "failures", rawget(counts, 3 * i))
      end
      return policy.pick(service, endpoints, connection)
    end

    return cycle, mirror_apply, lb_pick
    """#
}
