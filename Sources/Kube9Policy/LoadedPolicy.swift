import Dispatch
import Kube9Lua
import Kube9Threads
import Logging
import Synchronization

/// A Lua state with the policy module loaded, owned by one caller at a time.
final class PolicyInstance: @unchecked Sendable {
    // Confinement: a PolicyInstance is taken out of the pool by exactly one caller and put back
    // when that call ends, so the non-Sendable LuaState is never used by two threads at once.
    let state: LuaState
    let module: LuaReference
    /// The PDK's own functions, taken before the policy's code ran.
    let internals: PDK.Internals
    var hooks: [String: LuaReference] = [:]
    /// Which mirror this state holds node views of, and up to which change.
    var mirror: Int?
    var mirrorSequence = -1
    /// The endpoint sets (service port key → signature) the state holds for `pick`, and how
    /// many endpoints they hold in all.
    var endpointSets: [String: Int64] = [:]
    var endpointsKept = 0
    /// The state's endpoint sets must be dropped at the next pick (a pick failed midway).
    var endpointSetsStale = false

    init(state: LuaState, module: LuaReference, internals: PDK.Internals) {
        self.state = state
        self.module = module
        self.internals = internals
    }

    func hook(_ name: String) -> LuaReference {
        if let reference = hooks[name] { return reference }
        let reference = state.reference(to: module, field: name)
        hooks[name] = reference
        return reference
    }
}

/// Call statistics of one policy version.
public struct PolicyStats: Sendable {
    public var calls: Int = 0
    public var errors: Int = 0
    /// Calls stopped by the instruction budget, deadline or memory cap.
    public var kills: Int = 0
    /// Recent call durations in microseconds (a ring of the last 1,024).
    var durations: [Double] = []
    var next = 0

    mutating func record(microseconds: Double) {
        if durations.count < 1024 { durations.append(microseconds) } else { durations[next] = microseconds }
        next = (next + 1) % 1024
    }

    /// The 99th percentile of recent call durations, in microseconds.
    public var p99Microseconds: Double {
        guard !durations.isEmpty else { return 0 }
        let sorted = durations.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
    }
}

/// One loaded version of a policy: checked against its slot's contract, with a pool of Lua
/// states so that concurrent callers do not queue on one interpreter. Immutable once built:
/// a hot swap installs a new `LoadedPolicy`; calls already running finish on the old one.
public final class LoadedPolicy: Sendable {
    public let source: PolicySource
    /// The module's declared `name`.
    public let declaredName: String
    /// Hooks the module defines.
    public let hooks: Set<String>
    let logger: Logger
    /// Where the policy's `print` goes.
    let printTarget: PDK.PrintTarget
    private let pool: Mutex<[PolicyInstance]>
    private let statistics = Mutex(PolicyStats())
    /// The most idle states kept per policy.
    static let maximumIdle = 8

    /// Loads the source into a fresh state and checks the module contract. Throws
    /// `PolicyError` (.load with file:line, or .contract) and leaves nothing installed.
    /// Blocking: async callers use `LoadedPolicy.load`, which runs it on the Lua executor.
    public init(_ source: PolicySource, logger: Logger, printTarget: PDK.PrintTarget = .log) throws(PolicyError) {
        self.source = source
        self.logger = logger
        self.printTarget = printTarget
        let (instance, name, hooks) = try Self.instantiate(source, logger: logger, printTarget: printTarget)
        self.declaredName = name
        self.hooks = hooks
        self.pool = Mutex([instance])
    }

    /// Loads on the Lua executor (see `init`).
    public static func load(_ source: PolicySource, logger: Logger) async throws(PolicyError) -> LoadedPolicy {
        try await LuaExecutor.shared.run { () throws(PolicyError) -> LoadedPolicy in try LoadedPolicy(source, logger: logger) }
    }

    deinit {
        // lua_close of every pooled state runs on the Lua executor, not on whichever thread
        // dropped the last reference (an async request, perhaps).
        let states: [AnyObject] = pool.withLock { idle in
            defer { idle.removeAll() }
            return idle
        }
        if !states.isEmpty { LuaExecutor.shared.dispose(states) }
    }

    static func instantiate(_ source: PolicySource, logger: Logger, printTarget: PDK.PrintTarget) throws(PolicyError) -> (PolicyInstance, String, Set<String>) {
        let fail = { (message: String, location: String?) in
            PolicyError(kind: .contract, slot: source.slot, name: source.name, message: message, location: location)
        }
        let state: LuaState
        let module: LuaReference
        let internals: PDK.Internals
        do {
            state = try LuaState(memoryLimit: source.budget.memoryBytes)
            internals = try PDK.install(into: state, policy: "\(source.slot.rawValue)/\(source.name)", logger: logger, printTarget: printTarget)
            module = try state.evaluate(source.source, chunkName: source.chunkName, limits: source.budget.loadLimits)
        } catch {
            throw PolicyError.from(error, slot: source.slot, name: source.name, loading: true)
        }
        guard state.typeName(of: module) == "table" else {
            throw fail("the policy file must return a module table ({ name = ..., api = 1, hooks... }), got \(state.typeName(of: module))", source.chunkName)
        }
        let api = (try? state.value(of: module, field: "api")) ?? .nil
        guard api.integerValue == PDK.apiLevel else {
            let shown = api == .nil ? "no api level" : "api = \(api.json.text)"
            throw fail("unsupported api level: the module declares \(shown); this kube9 supports api = \(PDK.apiLevel)", source.chunkName)
        }
        guard case .string(let name)? = try? state.value(of: module, field: "name"), !name.isEmpty else {
            throw fail("the module table needs a non-empty string `name`", source.chunkName)
        }
        var hooks = Set<String>()
        for hook in source.slot.requiredHooks + source.slot.optionalHooks where state.typeName(of: module, field: hook) == "function" {
            hooks.insert(hook)
        }
        for hook in source.slot.requiredHooks where !hooks.contains(hook) {
            let found = state.typeName(of: module, field: hook)
            throw fail("a \(source.slot.rawValue) policy must define the hook `\(hook)` as a function" + (found == "nil" ? "" : " (it is a \(found))"), source.chunkName)
        }
        let anyOf = source.slot.atLeastOneOf
        if !anyOf.isEmpty, hooks.isDisjoint(with: anyOf) {
            throw fail("a \(source.slot.rawValue) policy must define at least one of the hooks " + anyOf.map { "`\($0)`" }.joined(separator: ", "), source.chunkName)
        }
        return (PolicyInstance(state: state, module: module, internals: internals), name, hooks)
    }

    /// Runs a whole scheduling cycle for `pod` over the nodes in `mirror`, in one call into Lua:
    /// the state first applies the mirror changes it has not seen. Scores come back only when
    /// `wantScores` (or when the policy normalizes or selects).
    public func schedule(pod: LuaValue, mirror: NodeMirror, wantScores: Bool = false) throws(PolicyError) -> SchedulingDecision {
        guard source.slot == .scheduler else {
            throw PolicyError(kind: .contract, slot: source.slot, name: source.name, message: "only scheduler policies schedule")
        }
        let instance = try takeInstance()
        defer { pool.withLock { idle in if idle.count < Self.maximumIdle { idle.append(instance) } } }
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let state = instance.state
            let id = mirror.id
            let delta = mirror.delta(since: instance.mirror == id ? instance.mirrorSequence : -1)
            if delta.reset || !delta.changes.isEmpty {
                let changes: [LuaValue] = delta.changes.map { name, view in .map(view.map { ["name": .string(name), "view": $0] } ?? ["name": .string(name)]) }
                // The host's own call has a budget too: proportional to the work (a sort of the names).
                let limits = LuaCallLimits(instructions: 1_000_000 + 400 * Int64(changes.count), timeoutSeconds: 5)
                _ = try state.call(instance.internals.mirrorApply, [.bool(delta.reset), .array(changes)], limits: limits)
            }
            instance.mirror = id
            instance.mirrorSequence = delta.sequence
            let results = try state.call(instance.internals.cycle, references: [instance.module], [pod, .bool(wantScores)],
                                         limits: source.budget.callLimits)
            record(since: start)
            var reasons: [String: String] = [:]
            if case .map(let map)? = results.dropFirst().first { for (key, value) in map { reasons[key] = value.stringValue ?? "filtered by policy" } }
            var scores: [String: Double] = [:]
            if results.count > 2, case .map(let map) = results[2] { for (key, value) in map { scores[key] = value.doubleValue ?? 0 } }
            return SchedulingDecision(node: results.first?.stringValue, scores: scores, reasons: reasons)
        } catch {
            let policyError = PolicyError.from(error, slot: source.slot, name: source.name, loading: false)
            record(since: start, failure: policyError)
            // The state may hold a half-applied mirror: make the next cycle start over.
            instance.mirror = nil
            throw policyError
        }
    }

    /// Counts one call and its duration; a failure also counts as an error, and a kill as a kill.
    private func record(since start: UInt64, failure: PolicyError? = nil) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
        statistics.withLock { stats in
            stats.calls += 1
            if let failure {
                stats.errors += 1
                if failure.kind == .killed { stats.kills += 1 }
            }
            stats.record(microseconds: elapsed)
        }
    }

    func takeInstance() throws(PolicyError) -> PolicyInstance {
        if let pooled = pool.withLock({ $0.popLast() }) { return pooled }
        do {
            return try Self.instantiate(source, logger: logger, printTarget: printTarget).0
        } catch {
            statistics.withLock { $0.errors += 1 }
            throw error
        }
    }

    /// Runs `body` for `hook` on a pooled state: the hook must exist; the call is timed and
    /// counted; a failure is logged, turned into a PolicyError, and `onFailure` sees the state.
    private func withInstance<Result>(hook: String, onFailure: (PolicyInstance) -> Void = { _ in },
                                      _ body: (PolicyInstance) throws(LuaError) -> Result) throws(PolicyError) -> Result {
        guard hooks.contains(hook) else {
            throw PolicyError(kind: .contract, slot: source.slot, name: source.name, message: "the policy has no hook `\(hook)`")
        }
        let instance = try takeInstance()
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            pool.withLock { idle in if idle.count < Self.maximumIdle { idle.append(instance) } }
        }
        do {
            let result = try body(instance)
            record(since: start)
            return result
        } catch {
            onFailure(instance)
            let policyError = PolicyError.from(error, slot: source.slot, name: source.name, loading: false)
            record(since: start, failure: policyError)
            logger.warning("policy call failed", metadata: ["policy": "\(source.slot.rawValue)/\(source.name)", "hook": "\(hook)", "error": "\(policyError)"])
            throw policyError
        }
    }

    /// Calls `hook` with `arguments` on a pooled state under the policy's budget.
    public func call(_ hook: String, _ arguments: [LuaValue]) throws(PolicyError) -> [LuaValue] {
        try withInstance(hook: hook) { instance throws(LuaError) in
            try instance.state.call(instance.hook(hook), arguments, limits: source.budget.callLimits)
        }
    }

    /// Endpoints a state keeps for `pick` (a few MiB of its memory cap) before it starts over.
    static let maximumKeptEndpoints = 20_000

    /// A `loadbalancer` pick, as `call("pick", [service, endpoints, connection])` would make it,
    /// with the endpoint tables kept in the state between picks: they are sent (built by
    /// `endpoints`, without counts) only when the state lacks the set `key` with this
    /// `signature`; `counts` (active, total, failures per endpoint, in order) are written
    /// into them each time. Returns the policy's first result, unchecked.
    public func pick(key: String, signature: Int64, endpoints: () -> LuaValue, counts: [Int64], service: LuaValue,
                     connection: LuaValue) throws(PolicyError) -> LuaValue? {
        let endpointCount = counts.count / 3
        let countValues: LuaValue = .array(counts.map(LuaValue.integer))
        // A pick that failed midway may have left its set half-written: the next one starts over.
        return try withInstance(hook: "pick", onFailure: { $0.endpointSetsStale = true }) { instance throws(LuaError) in
            var reset = instance.endpointSetsStale
            if reset || (instance.endpointSets[key] == nil && instance.endpointsKept + endpointCount > Self.maximumKeptEndpoints) {
                instance.endpointSets = [:]
                instance.endpointsKept = 0
                reset = true
            }
            instance.endpointSetsStale = false
            func run(_ tables: LuaValue, reset: Bool) throws(LuaError) -> LuaValue? {
                try instance.state.call(instance.internals.loadBalancerPick, references: [instance.module],
                                        [.bool(reset), .string(key), tables, countValues, service, connection], limits: source.budget.callLimits).first
            }
            var result = try run(instance.endpointSets[key] == signature ? .nil : endpoints(), reset: reset)
            if result == .string("kube9:resync") { result = try run(endpoints(), reset: false) }
            if instance.endpointSets.updateValue(signature, forKey: key) == nil { instance.endpointsKept += endpointCount }
            return result
        }
    }

    /// Calls and statistics so far.
    public var stats: PolicyStats { statistics.withLock { $0 } }

    /// `schedule` on the Lua executor, for async callers.
    public func schedule(pod: LuaValue, mirror: NodeMirror, wantScores: Bool = false) async throws(PolicyError) -> SchedulingDecision {
        try await LuaExecutor.shared.run { () throws(PolicyError) -> SchedulingDecision in
            try self.schedule(pod: pod, mirror: mirror, wantScores: wantScores)
        }
    }

    /// `call` on the Lua executor, for async callers.
    public func call(_ hook: String, _ arguments: [LuaValue]) async throws(PolicyError) -> [LuaValue] {
        try await LuaExecutor.shared.run { () throws(PolicyError) -> [LuaValue] in try self.call(hook, arguments) }
    }
}
